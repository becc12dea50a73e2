//! The task that runs one child: catches panics and always reports how the run ended.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use pin_project_lite::pin_project;
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::shared::{ChildMsg, ChildShared, RawExit, TaskEnv};
use crate::error::RunResult;
use crate::path::JoinedPath;

/// Spawns one run of `child` on the current runtime, tracked by its manager's `tracker`. The
/// task holds `env` so that the managers above it wait for it (see [`TaskEnv`]).
///
/// The run's exit is reported exactly once: by the run returning, by a panic, or, when the
/// task is aborted or dropped (even before its first poll), by the guard's destructor.
pub(crate) fn spawn(
    child: Arc<ChildShared>,
    ctx: crate::context::Context,
    env: Option<Arc<TaskEnv>>,
    tracker: &TaskTracker,
) -> AbortHandle {
    let generation = ctx.generation;
    // The task owns the runnable: `run`'s future borrows it.
    let runnable = child.spec.runnable.clone();
    let run = async move { runnable.run(ctx).await };
    let span = tracing::info_span!(
        "child",
        path = %JoinedPath(child.run.path.as_str(), &child.id)
    );
    // Made here and moved into the task, not made by the task: a task aborted before its
    // first poll drops its future unpolled, and the guard must be in it to report the exit.
    let guard = ExitGuard {
        child,
        generation,
        reported: false,
    };
    let task = ChildRun {
        run: AssertUnwindSafe(run).catch_unwind(),
        guard,
        _env: env,
    };
    // Only the abort handle is kept: exits are reported through the channel, and dropping
    // the join handle now, while the task runs, is the cheap path. A span that no
    // subscriber wants is left out of the task: it would only make every child's task
    // bigger.
    let join = if span.is_disabled() {
        tokio::spawn(tracker.track_future(task))
    } else {
        tokio::spawn(tracker.track_future(task.instrument(span)))
    };
    join.abort_handle()
}

pin_project! {
    /// One run of a child as a task's future. Written out rather than as an `async` block,
    /// which would keep room for the run's future twice (before and after it is wrapped).
    struct ChildRun<F> {
        #[pin]
        run: CatchUnwind<AssertUnwindSafe<F>>,
        guard: ExitGuard,
        // Dropped with the task, after the exit is reported.
        _env: Option<Arc<TaskEnv>>,
    }
}

impl<F: Future<Output = RunResult>> Future for ChildRun<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let exit = match ready!(this.run.poll(cx)) {
            Ok(Ok(())) => RawExit::Completed,
            Ok(Err(e)) => RawExit::Failed(e),
            Err(payload) => RawExit::Panicked(panic_message(payload.as_ref())),
        };
        this.guard.report(exit);
        Poll::Ready(())
    }
}

struct ExitGuard {
    child: Arc<ChildShared>,
    generation: u64,
    reported: bool,
}

impl ExitGuard {
    fn report(&mut self, exit: RawExit) {
        self.reported = true;
        // Before the exit is sent: the next child of a stop sequence hears of it first.
        self.child.stop.pass_on(self.generation);
        let _ = self.child.run.tx.send(ChildMsg::Exited {
            key: self.child.key,
            generation: self.generation,
            exit,
        });
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if !self.reported {
            self.report(RawExit::Aborted);
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
