//! The one trait every child implements, and the adapter that turns a closure into a child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::child::Context;
use crate::error::RunResult;
use crate::manager::ProcessManager;
use crate::spec::Shutdown;

/// What a node of the tree is, as shown in snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildKind {
    /// An in-process future.
    Task,
    /// A nested [`ProcessManager`].
    Manager,
    /// An OS process.
    Process,
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildKind::Task => "task",
            ChildKind::Manager => "manager",
            ChildKind::Process => "process",
        })
    }
}

/// Something a manager can run, stop and run again: an in-process task, an OS process adapter,
/// or a nested [`ProcessManager`].
///
/// A run gets a [`Context`] and should return when [`Context::shutdown_requested`] fires
/// (or earlier, when its work is done). Each restart calls `run` again on the same value, so
/// state that must not survive a restart belongs inside `run`.
///
/// The trait is object safe; managers keep children as `Arc<dyn Runnable>`.
///
/// ```
/// use overseer::{Context, Runnable, RunResult};
///
/// struct Ticker;
///
/// #[overseer::async_trait]
/// impl Runnable for Ticker {
///     async fn run(&self, ctx: Context) -> RunResult {
///         ctx.shutdown_requested().await;
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Runnable: Send + Sync + 'static {
    /// Runs once, until the work is done, it fails, or shutdown is requested through `ctx`.
    async fn run(&self, ctx: Context) -> RunResult;

    /// What kind of node this is, for snapshots. Defaults to [`ChildKind::Task`].
    fn kind(&self) -> ChildKind {
        ChildKind::Task
    }

    /// The OS process id of the current run, for runnables that are OS processes.
    fn pid(&self) -> Option<u32> {
        None
    }

    /// Whether its runs report their start themselves with
    /// [`Context::started`](crate::Context::started) (or `ready`). Defaults to `false`: a run
    /// has then started once its future has waited for anything (returned `Pending`), i.e.
    /// once it got past what it does at once. Say `true` when a run waits for things before it
    /// can be said to be up, as an OS process's pre-start steps; a run that ends with a
    /// failure before it started failed to start (see the crate docs, *Starting*).
    fn reports_start(&self) -> bool {
        false
    }

    /// Whether its runs read control messages ([`Context::recv`]). Defaults to `true`; a
    /// runnable that never reads them (like [`Idle`](crate::builtin::Idle)) says `false`, so
    /// that messages sent to its subtree skip it instead of piling up unread (see
    /// [`ChildSpec::reads_messages`](crate::ChildSpec::reads_messages), which overrides this).
    fn reads_messages(&self) -> bool {
        true
    }

    /// The nested manager, when this runnable is one. Managers use it to route commands down
    /// the tree; implementors other than [`ProcessManager`] keep the default `None`.
    fn as_manager(&self) -> Option<&ProcessManager> {
        None
    }

    /// The shutdown policy a [`ChildSpec`](crate::ChildSpec) uses when none is set with
    /// [`ChildSpec::shutdown`](crate::ChildSpec::shutdown). Defaults to a graceful stop with
    /// [`Shutdown::DEFAULT_TIMEOUT`]; nested managers wait ([`Shutdown::Infinity`]) and OS
    /// processes allow their own stop sequence to finish.
    fn default_shutdown(&self) -> Shutdown {
        Shutdown::Timeout(Shutdown::DEFAULT_TIMEOUT)
    }

    /// Whether this child is asked to stop only once every other child of its manager has
    /// ended, whatever the manager's [`StopOrder`](crate::StopOrder): in a shutdown and in a
    /// group restart it comes after the rest. Among several such children the stop order
    /// holds. Defaults to `false`; [`Signals`] says `true`, so that it still hears a second
    /// signal while the others stop.
    ///
    /// "Ended" means the other child's run has been reported over. A nested manager aborted
    /// at its stop timeout is over at once, while the abort of its own children may still be
    /// finishing; the manager's run waits for those tasks before it returns.
    #[cfg_attr(
        all(feature = "signal", unix),
        doc = "",
        doc = "[`Signals`]: crate::builtin::Signals"
    )]
    #[cfg_attr(
        not(all(feature = "signal", unix)),
        doc = "",
        doc = "[`Signals`]: crate#features"
    )]
    fn stops_last(&self) -> bool {
        false
    }
}

/// A child made from a closure: see [`task`].
#[derive(Clone)]
pub struct Task<F> {
    f: F,
}

impl<F> fmt::Debug for Task<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Task")
    }
}

/// Makes a child from a closure `|ctx| async move { .. }`; each run calls the closure again.
///
/// Usually reached through [`ChildSpec::task`](crate::ChildSpec::task), which takes the closure
/// directly.
///
/// ```
/// use overseer::{task, ChildSpec};
///
/// let child = task(|ctx| async move {
///     ctx.shutdown_requested().await;
///     Ok(())
/// });
/// let spec = ChildSpec::new("worker", child);
/// ```
pub fn task<F, Fut>(f: F) -> Task<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RunResult> + Send + 'static,
{
    Task { f }
}

impl<F> Task<F> {
    /// Calls the closure: one run's future.
    pub(crate) fn call<Fut>(&self, ctx: Context) -> Fut
    where
        F: Fn(Context) -> Fut,
    {
        (self.f)(ctx)
    }
}

// Written out rather than through `#[async_trait]`: boxing the closure's future directly keeps
// `self` and the already-moved `ctx` out of the box, 48 bytes less per running child.
impl<F, Fut> Runnable for Task<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RunResult> + Send + 'static,
{
    fn run<'life0, 'async_trait>(
        &'life0 self,
        ctx: Context,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin((self.f)(ctx))
    }
}
