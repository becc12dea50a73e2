//! What runs beside a child's run, inside the run's own future: a health probe, a file
//! watch. Added to a spec by wrapping its runnable ([`Accompanied`]); it costs no task and no
//! timer of its own beyond what the companion itself waits on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::record::ChildRecord;
use super::report::ChildMsg;
use crate::error::RunResult;
use crate::handle::Handle;
use crate::manager::ProcessManager;
use crate::path::ChildPath;
use crate::runnable::{ChildKind, Runnable};
use crate::spec::Shutdown;

/// A boxed future a companion returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that runs beside each run of a child, from the run's start to its end.
pub(crate) trait Companion: std::any::Any + Send + Sync {
    /// Runs beside one run (`run` says which). Completes only to end the run early: with
    /// `Err`, the run ends with that failure (a liveness probe that gave up); with `Ok`, the
    /// companion is done and the run goes on without it. Dropped, unfinished, when the run
    /// ends.
    fn beside(&self, run: RunView) -> BoxFuture<'_, RunResult>;

    /// Whether `other` would do exactly what this one does, so that a reconfiguration that
    /// declares it again keeps the child running. Defaults to `false` (only the very same
    /// companion, shared, is the same).
    fn same_as(&self, other: &dyn Companion) -> bool {
        let _ = other;
        false
    }
}

/// `other` as a `T`, if it is one (for `same_as`).
pub(crate) fn downcast<T: Companion>(other: &dyn Companion) -> Option<&T> {
    let other: &dyn std::any::Any = other;
    other.downcast_ref::<T>()
}

/// What a companion sees of the run it accompanies: who it is, and the few things it may do.
pub(crate) struct RunView {
    child: Arc<ChildRecord>,
    generation: u64,
    shutdown: CancellationToken,
}

impl RunView {
    fn of(ctx: &Context) -> Self {
        RunView {
            child: ctx.child.clone(),
            generation: ctx.generation,
            shutdown: ctx.shutdown_token(),
        }
    }

    /// The child's path (allocates).
    pub(crate) fn path(&self) -> ChildPath {
        self.child.parent.path.join(&self.child.id)
    }

    /// A handle to the whole tree.
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    pub(crate) fn handle(&self) -> Handle {
        self.child.parent.tree.clone()
    }

    /// Cancelled when the run is asked to stop.
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Sends `msg` about this run to the manager; `false` once the manager's run is over.
    pub(crate) fn report(&self, msg: impl FnOnce(u32, u64) -> ChildMsg) -> bool {
        self.child
            .parent
            .tx
            .send(msg(self.child.key, self.generation))
            .is_ok()
    }
}

/// A runnable with a companion beside each of its runs; everything else is the inner
/// runnable's.
pub(crate) struct Accompanied {
    pub(crate) inner: Arc<dyn Runnable>,
    pub(crate) companion: Arc<dyn Companion>,
}

#[async_trait::async_trait]
impl Runnable for Accompanied {
    /// The companion acts only until the run is asked to stop: a stop under way is never cut
    /// short by it (a liveness probe failing while a server drains, say).
    async fn run(&self, ctx: Context) -> RunResult {
        let view = RunView::of(&ctx);
        let stop = view.shutdown.clone();
        let beside = self.companion.beside(view);
        let run = self.inner.run(ctx);
        tokio::pin!(run);
        tokio::select! {
            biased;
            result = &mut run => result,
            () = stop.cancelled() => run.await,
            result = beside => match result {
                Err(e) => Err(e),
                Ok(()) => run.await,
            },
        }
    }

    fn kind(&self) -> ChildKind {
        self.inner.kind()
    }

    fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    fn resources(&self) -> Option<crate::snapshot::Resources> {
        self.inner.resources()
    }

    fn reports_start(&self) -> bool {
        self.inner.reports_start()
    }

    fn reads_messages(&self) -> bool {
        self.inner.reads_messages()
    }

    fn as_manager(&self) -> Option<&ProcessManager> {
        self.inner.as_manager()
    }

    fn default_shutdown(&self) -> Shutdown {
        self.inner.default_shutdown()
    }

    fn stops_last(&self) -> bool {
        self.inner.stops_last()
    }

    fn same_as(&self, other: &dyn Runnable) -> bool {
        let other: &dyn std::any::Any = other;
        other.downcast_ref::<Accompanied>().is_some_and(|other| {
            (Arc::ptr_eq(&self.companion, &other.companion)
                || self.companion.same_as(&*other.companion))
                && (Arc::ptr_eq(&self.inner, &other.inner) || self.inner.same_as(&*other.inner))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::{Cause, ChildSpec};

    /// Fails the run once `fail` is set and the run is asked nothing; records its drop.
    struct Failing {
        fail: bool,
        dropped: Arc<AtomicBool>,
    }

    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Companion for Failing {
        fn beside(&self, run: RunView) -> BoxFuture<'_, RunResult> {
            let flag = DropFlag(self.dropped.clone());
            Box::pin(async move {
                let _flag = flag;
                assert_eq!(run.path(), "root/c");
                if self.fail {
                    tokio::task::yield_now().await;
                    return Err("unhealthy".into());
                }
                Ok(())
            })
        }
    }

    fn tree(fail: bool, dropped: &Arc<AtomicBool>) -> crate::ProcessManager {
        let companion = Arc::new(Failing {
            fail,
            dropped: dropped.clone(),
        });
        let child = ChildSpec::task("c", |ctx| async move {
            ctx.started();
            ctx.shutdown_requested().await;
            Ok(())
        })
        .restart(crate::Restart::Temporary)
        .significant(true)
        .with_companion(companion);
        crate::ProcessManager::builder("root")
            .auto_shutdown(crate::AutoShutdown::AnySignificant)
            .child(child)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_companion_that_fails_ends_the_run_with_its_failure() {
        let dropped = Arc::default();
        let err = tree(true, &dropped).run().await.unwrap_err();
        assert!(
            matches!(err.cause(), Cause::Error(e) if e.to_string() == "unhealthy"),
            "{err}"
        );
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_companion_that_is_done_leaves_the_run_going_and_is_dropped() {
        let dropped = Arc::default();
        let tree = tree(false, &dropped);
        let handle = tree.handle();
        let run = tokio::spawn(async move { tree.run().await });
        while !dropped.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        let snap = handle.snapshot().await.unwrap();
        assert_eq!(
            snap.find("root/c").unwrap().state,
            crate::ChildState::Running
        );
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    }
}
