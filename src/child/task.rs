//! The task that runs one child: catches panics and always reports how the run ended.

use crate::spec::SpecBody;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use pin_project_lite::pin_project;
use tokio::task::AbortHandle;
use tracing::Instrument;

use super::env::TaskEnv;
use super::record::ChildRecord;
use super::report::{ChildMsg, RawExit};
use crate::child::Context;
use crate::error::RunResult;
use crate::path::JoinedPath;
use crate::runnable::Task;

/// Spawns one run of `child` (made from `spec`) on the current runtime. The task holds `env`, the environment its
/// manager gives every child's task, so that its manager and the managers above it wait for
/// it (see [`TaskEnv`]).
///
/// A closure child ([`ChildSpec::task`](crate::ChildSpec::task)) is started through its
/// [`DirectRun`]: its future lives in the task itself. Any other runnable is run through
/// [`Runnable::run`](crate::Runnable::run), whose future is boxed.
///
/// The run's exit is reported exactly once: by the run returning, by a panic, or, when the
/// task is aborted or dropped (even before its first poll), by the guard's destructor.
///
/// `watch` says how the run's start is told (see [`StartWatch`]).
pub(crate) fn spawn(
    spec: &SpecBody,
    child: Arc<ChildRecord>,
    ctx: Context,
    env: Arc<TaskEnv>,
    watch: StartWatch,
) -> AbortHandle {
    if let Some(direct) = spec.direct.clone() {
        return direct.spawn(child, ctx, env, watch);
    }
    // The task owns the runnable: `run`'s future borrows it.
    let runnable = spec.runnable.clone();
    let generation = ctx.generation;
    spawn_run(
        child,
        generation,
        async move { runnable.run(ctx).await },
        env,
        watch,
    )
}

/// How a run's start is found out, for a runnable that does not report it itself (see
/// [`Runnable::reports_start`](crate::Runnable::reports_start)): the run has started once its
/// future has waited for something (returned `Pending`), i.e. got past what it does at once.
/// The exit report says whether it had ([`ChildMsg::Exited`]'s `started`); with `announce`,
/// the task also tells its manager at that moment ([`ChildMsg::Started`]), for a manager that
/// waits for it (a child added through a handle). One byte in the child's task.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StartWatch(u8);

impl StartWatch {
    /// The run's start is inferred from its first `Pending`.
    const IMPLICIT: u8 = 1;
    /// ... and told to the manager then.
    const ANNOUNCE: u8 = 2;
    /// The run has returned `Pending`.
    const WAITED: u8 = 4;

    /// `implicit`: the runnable does not report its start; `announce`: the manager waits for it.
    pub(crate) fn new(implicit: bool, announce: bool) -> Self {
        let mut flags = 0;
        if implicit {
            flags |= Self::IMPLICIT;
            if announce {
                flags |= Self::ANNOUNCE;
            }
        }
        StartWatch(flags)
    }

    /// The run returned `Pending`: whether to tell the manager now (once).
    fn waited(&mut self) -> bool {
        let announce = self.0 & Self::ANNOUNCE != 0;
        self.0 = (self.0 | Self::WAITED) & !Self::ANNOUNCE;
        announce
    }

    /// Whether the run had started, as far as its task can tell.
    fn started(self) -> bool {
        self.0 & (Self::IMPLICIT | Self::WAITED) == Self::IMPLICIT | Self::WAITED
    }
}

/// A runnable whose runs can be spawned without boxing their futures: a closure child, whose
/// future type is known where its spec is made. Its [`spawn`](Self::spawn) does what this
/// module's [`spawn()`] does, with the run's future in the task: a closure's future costs no
/// allocation of its own, and its room comes out of the task's, which Tokio rounds up to a
/// multiple of 128 bytes anyway.
pub(crate) trait DirectRun: Send + Sync + 'static {
    fn spawn(
        self: Arc<Self>,
        child: Arc<ChildRecord>,
        ctx: Context,
        env: Arc<TaskEnv>,
        watch: StartWatch,
    ) -> AbortHandle;
}

impl<F, Fut> DirectRun for Task<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RunResult> + Send + 'static,
{
    fn spawn(
        self: Arc<Self>,
        child: Arc<ChildRecord>,
        ctx: Context,
        env: Arc<TaskEnv>,
        watch: StartWatch,
    ) -> AbortHandle {
        let generation = ctx.generation;
        // The closure is called by the task, as `Runnable::run` would be: under the task's
        // span and its panic catcher, never on the manager's loop.
        let run = StartThenRun::Start {
            start: move |ctx| self.call(ctx),
            ctx,
        };
        spawn_run(child, generation, run, env, watch)
    }
}

/// Spawns `run`, run `generation` of `child`, in a task that reports how it ends.
fn spawn_run<F>(
    child: Arc<ChildRecord>,
    generation: u64,
    run: F,
    env: Arc<TaskEnv>,
    watch: StartWatch,
) -> AbortHandle
where
    F: Future<Output = RunResult> + Send + 'static,
{
    let span = tracing::info_span!(
        "child",
        path = %JoinedPath(child.parent.path.as_str(), &child.id)
    );
    // Made here and moved into the task, not made by the task: a task aborted before its
    // first poll drops its future unpolled, and the guard must be in it to report the exit.
    let guard = ExitGuard {
        child: Some(child),
        run: RunWord::new(generation, watch),
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
        tokio::spawn(task)
    } else {
        tokio::spawn(task.instrument(span))
    };
    join.abort_handle()
}

pin_project! {
    /// A run that begins by calling `start` with its context, on its first poll, and then
    /// runs the future that returns in place.
    ///
    /// Unlike `futures_util`'s `Flatten`, the future is kept once it has completed: it is
    /// dropped with the task, after the exit has been reported, as a boxed run's is.
    #[project = StartThenRunProj]
    #[project_replace = StartThenRunReplace]
    enum StartThenRun<S, Fut> {
        Start { start: S, ctx: Context },
        Running { #[pin] fut: Fut },
        // Only while `start` is being called: if it panics, the run is over and never polled
        // again.
        Starting,
    }
}

impl<S, Fut> Future for StartThenRun<S, Fut>
where
    S: FnOnce(Context) -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Fut::Output> {
        loop {
            match self.as_mut().project() {
                StartThenRunProj::Running { fut } => return fut.poll(cx),
                StartThenRunProj::Start { .. } => {
                    if let StartThenRunReplace::Start { start, ctx } =
                        self.as_mut().project_replace(StartThenRun::Starting)
                    {
                        self.set(StartThenRun::Running { fut: start(ctx) });
                    }
                }
                StartThenRunProj::Starting => return Poll::Pending,
            }
        }
    }
}

pin_project! {
    /// One run of a child as a task's future. Written out rather than as an `async` block,
    /// which would keep room for the run's future twice (before and after it is wrapped).
    struct ChildRun<F> {
        #[pin]
        run: CatchUnwind<AssertUnwindSafe<F>>,
        guard: ExitGuard,
        // Dropped with the task, after the exit is reported: the manager's tracker and those
        // above it wait for it (see `TaskEnv`).
        _env: Arc<TaskEnv>,
    }
}

impl<F: Future<Output = RunResult>> Future for ChildRun<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.project();
        let exit = match this.run.poll(cx) {
            Poll::Pending => {
                this.guard.waited();
                return Poll::Pending;
            }
            Poll::Ready(Ok(Ok(()))) => RawExit::Completed,
            Poll::Ready(Ok(Err(e))) => RawExit::Failed(e),
            Poll::Ready(Err(payload)) => RawExit::Panicked(panic_message(payload.as_ref())),
        };
        this.guard.report(exit);
        Poll::Ready(())
    }
}

/// Reports the run's exit, once (`child` is `None` once it has), and watches its start.
/// 16 bytes in every child's task: one more byte would cost a child's task 8 bytes, and a
/// trivial child's task 128 (its allocation is rounded up to 128-byte steps).
struct ExitGuard {
    child: Option<Arc<ChildRecord>>,
    run: RunWord,
}

/// A run's generation and its [`StartWatch`] in one word: the generation in the low 56 bits
/// (a child would need a restart every nanosecond for two years to reach 2⁵⁶), the watch in
/// the high byte.
#[derive(Clone, Copy)]
struct RunWord(u64);

impl RunWord {
    const WATCH_SHIFT: u32 = 56;
    const GENERATION: u64 = (1 << Self::WATCH_SHIFT) - 1;

    fn new(generation: u64, watch: StartWatch) -> Self {
        RunWord((generation & Self::GENERATION) | (u64::from(watch.0) << Self::WATCH_SHIFT))
    }

    fn generation(self) -> u64 {
        self.0 & Self::GENERATION
    }

    fn watch(self) -> StartWatch {
        StartWatch((self.0 >> Self::WATCH_SHIFT) as u8)
    }

    fn set_watch(&mut self, watch: StartWatch) {
        *self = RunWord::new(self.generation(), watch);
    }
}

impl ExitGuard {
    /// The run returned `Pending`; tells the manager it started, if it waits for that.
    fn waited(&mut self) {
        let mut watch = self.run.watch();
        let announce = watch.waited();
        self.run.set_watch(watch);
        if announce && let Some(child) = &self.child {
            let _ = child.parent.tx.send(ChildMsg::Started {
                key: child.key,
                generation: self.run.generation(),
            });
        }
    }

    fn report(&mut self, exit: RawExit) {
        let Some(child) = self.child.take() else {
            return;
        };
        let generation = self.run.generation();
        // Before the exit is sent: the next child of a stop sequence hears of it first.
        let asked = child.stop.end_of_run(generation);
        let _ = child.parent.tx.send(ChildMsg::Exited {
            key: child.key,
            generation,
            exit,
            asked,
            started: self.run.watch().started(),
        });
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.report(RawExit::Aborted);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_guard_takes_16_bytes() {
        assert_eq!(std::mem::size_of::<ExitGuard>(), 16);
    }

    #[test]
    fn a_run_word_keeps_the_generation_and_the_watch_apart() {
        let mut word = RunWord::new(12_345, StartWatch::new(true, true));
        assert_eq!(word.generation(), 12_345);
        let mut watch = word.watch();
        assert!(watch.waited(), "announced once");
        word.set_watch(watch);
        assert_eq!(word.generation(), 12_345);
        assert!(word.watch().started());
        let mut watch = word.watch();
        assert!(!watch.waited(), "not twice");
        assert!(
            !RunWord::new(7, StartWatch::new(false, true))
                .watch()
                .started()
        );
    }
}
