//! A child that does nothing until it is asked to stop.

use crate::child::Context;
use crate::error::RunResult;
use crate::runnable::Runnable;

/// Keeps its manager alive until shutdown: a manager whose children have all ended stops, so
/// a manager that only gets children at runtime (through a [`Handle`](crate::Handle)) needs
/// one `Idle` child.
///
/// ```
/// use overseer::{builtin::Idle, ChildSpec, ProcessManager};
///
/// let pool = ProcessManager::builder("pool")
///     .child(ChildSpec::new("idle", Idle))
///     .build()
///     .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Idle;

#[async_trait::async_trait]
impl Runnable for Idle {
    async fn run(&self, ctx: Context) -> RunResult {
        ctx.shutdown_requested().await;
        Ok(())
    }

    /// It has nothing to do with them.
    fn reads_messages(&self) -> bool {
        false
    }
}
