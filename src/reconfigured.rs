//! What a reconfiguration did: [`Reconfigured`].

use crate::path::ChildPath;

/// What [`Handle::reconfigure`](crate::Handle::reconfigure) changed in a running manager,
/// child by child. The changes are under way when this is returned: stops and starts go on
/// as any stop and start do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconfigured {
    /// Children of the new specification that the manager did not have: started (once their
    /// dependencies hold), after the children it had.
    pub added: Vec<ChildPath>,
    /// Children the new specification does not declare (also those added at run time):
    /// stopped one at a time, last declared first, and removed.
    pub removed: Vec<ChildPath>,
    /// Children whose spec changed: given the new one, and started again if they were
    /// running (a stopped child stays stopped).
    pub restarted: Vec<ChildPath>,
    /// Nested managers given another manager of the same name: reconfigured in turn, their
    /// own unchanged children left running.
    pub reconfigured: Vec<ChildPath>,
    /// Children whose spec is the same (the same runnable, shared, under the same
    /// policies): untouched.
    pub unchanged: Vec<ChildPath>,
}
