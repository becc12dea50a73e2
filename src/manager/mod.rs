//! [`ProcessManager`]: the inner node of the tree.

mod builder;
mod commands;
mod counts;
mod decide;
mod deferred;
mod events;
mod failures;
mod route;
mod run;
mod slots;
mod stop_chain;
mod stopping;
mod timers;
mod verdict;

use std::sync::Arc;
use std::time::Duration;

pub use builder::ProcessManagerBuilder;

use crate::child::Context;
use crate::error::{BoxError, RunResult, TreeError};
use crate::handle::{Front, Handle};
use crate::lock::lock;
use crate::mailbox::ExpectedRun;
use crate::path::ChildPath;
use crate::policy::{Lifetime, StopOrder};
use crate::runnable::{ChildKind, Runnable};
use crate::spec::ChildSpec;
use decide::Policy;

/// A supervisor: starts its children in order, watches them, restarts them by its strategy,
/// and stops them in reverse order. A `ProcessManager` is itself a [`Runnable`], so managers
/// nest to any depth.
///
/// Cloning is cheap and yields the same manager. A manager runs at most once at a time; after
/// a run ends it can run again (its parent restarting it), starting from its declared children.
///
/// A manager runs until it is shut down; one that should end once its work is done says so
/// with [`Lifetime::UntilDone`](crate::Lifetime::UntilDone):
///
/// ```
/// use overseer::{ChildSpec, Lifetime, ProcessManager, Restart};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = ProcessManager::builder("root")
///     .lifetime(Lifetime::UntilDone)
///     .child(ChildSpec::task("once", |_ctx| async { Ok(()) }).restart(Restart::Temporary))
///     .build()
///     .expect("valid tree");
/// tree.run().await.expect("the only child completed");
/// # }
/// ```
#[derive(Clone)]
pub struct ProcessManager {
    pub(crate) inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    pub(crate) name: Arc<str>,
    pub(crate) policy: Policy,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) stop_order: StopOrder,
    /// Whether one-at-a-time stops use the stop chain (see `stop_chain`).
    pub(crate) stop_chain: bool,
    pub(crate) lifetime: Lifetime,
    pub(crate) specs: Vec<ChildSpec>,
    /// What its handles reach: its mailbox, its event bus, its path.
    pub(crate) front: Arc<Front>,
}

impl ProcessManager {
    /// Starts building a manager; `name` is its path when it is the root.
    pub fn builder(name: impl Into<Arc<str>>) -> ProcessManagerBuilder {
        ProcessManagerBuilder::new(name.into())
    }

    /// The manager's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A handle to send commands to this manager and the tree below it, subscribe to events,
    /// and take snapshots. Commands sent before the first run wait for it.
    pub fn handle(&self) -> Handle {
        Handle::new(self.inner.front.clone())
    }

    /// A [`ChildSpec`] for this manager as a nested child, under its own name.
    pub fn into_spec(self) -> ChildSpec {
        ChildSpec::new(self.inner.name.clone(), self)
    }

    /// Its parent is about to start a run of it at `path`: commands sent to it queue for that
    /// run (see [`ExpectedRun`]).
    pub(crate) fn expect_run(&self, path: ChildPath) -> ExpectedRun {
        self.inner.front.mailbox.expect_run(path)
    }

    /// Runs this manager as the root of a tree, until it stops: after a requested shutdown
    /// (`Ok`, unless children failed while stopping), once no child is left to run (`Ok`),
    /// or after a failure that no restart absorbed (`Err` with the first failure first).
    ///
    /// The manager's loop runs as its own Tokio task, so its latency does not depend on the
    /// task that awaits this. Dropping the returned future aborts the whole tree.
    pub async fn run(&self) -> Result<(), TreeError> {
        let mgr = self.clone();
        let join = tokio::spawn(async move { run::run(&mgr, run::Parent::Root).await });
        let guard = AbortOnDrop(join.abort_handle());
        let result = join.await;
        std::mem::forget(guard);
        match result {
            Ok(result) => result,
            Err(e) => Err(TreeError::new(vec![crate::error::Failure {
                path: lock(&self.inner.front.path).clone(),
                cause: if e.is_panic() {
                    crate::error::Cause::Panic(Arc::from("the manager's loop panicked"))
                } else {
                    crate::error::Cause::Aborted
                },
            }])),
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait::async_trait]
impl Runnable for ProcessManager {
    async fn run(&self, ctx: Context) -> RunResult {
        run::run(self, run::Parent::Child(ctx))
            .await
            .map_err(|e| Box::new(e) as BoxError)
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Manager
    }

    fn as_manager(&self) -> Option<&ProcessManager> {
        Some(self)
    }

    /// It says it has started once its children's tasks are spawned.
    fn reports_start(&self) -> bool {
        true
    }

    /// A nested manager's own children carry their timeouts: wait for it.
    fn default_shutdown(&self) -> crate::spec::Shutdown {
        crate::spec::Shutdown::Infinity
    }
}

impl std::fmt::Debug for ProcessManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessManager")
            .field("name", &self.inner.name)
            .field("children", &self.inner.specs.len())
            .finish()
    }
}
