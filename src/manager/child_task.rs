//! The task that runs one child: catches panics and always reports how the run ended.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::shared::{ChildMsg, ChildShared, RawExit, TaskEnv};
use crate::context::Context;
use crate::path::JoinedPath;

/// Spawns one run of a child on the current runtime, tracked by its manager's `tracker`.
///
/// The task holds `env` so that the managers above it wait for it (see [`TaskEnv`]). Its exit
/// is reported exactly once: by the run returning, by a panic, or, when the task is aborted or
/// dropped, by the guard's destructor.
pub(crate) fn spawn(
    child: Arc<ChildShared>,
    ctx: Context,
    env: Option<Arc<TaskEnv>>,
    tracker: &TaskTracker,
) -> AbortHandle {
    let span = tracing::info_span!(
        "child",
        path = %JoinedPath(child.run.path.as_str(), &child.spec.id)
    );
    // Made here and moved into the task, not made by the task: a task aborted before its
    // first poll drops its future unpolled, and the guard must be in it to report the exit.
    let mut guard = ExitGuard {
        child,
        generation: ctx.generation,
        reported: false,
    };
    let run = async move {
        let _env = env;
        let outcome = AssertUnwindSafe(guard.child.spec.runnable.run(ctx))
            .catch_unwind()
            .await;
        let exit = match outcome {
            Ok(Ok(())) => RawExit::Completed,
            Ok(Err(e)) => RawExit::Failed(e),
            Err(payload) => RawExit::Panicked(panic_message(payload.as_ref())),
        };
        guard.report(exit);
    };
    // Only the abort handle is kept: exits are reported through the channel, and dropping the
    // join handle now, while the task runs, is the cheap path. A span that no subscriber wants
    // is left out of the task: it would only make every child's task bigger.
    let join = if span.is_disabled() {
        tokio::spawn(tracker.track_future(run))
    } else {
        tokio::spawn(tracker.track_future(run.instrument(span)))
    };
    join.abort_handle()
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
        self.child.stop.pass_on();
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
