//! Control messages and the per-child inbox they are delivered to.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A message that travels down the tree to a child, a subtree or the whole tree.
///
/// `Shutdown` is not queued: it cancels the child's shutdown token (see
/// [`Context::shutdown_requested`](crate::Context::shutdown_requested)) and its manager then
/// applies the child's shutdown policy. `Reload` and `Custom` are queued in the child's inbox,
/// read with [`Context::recv`](crate::Context::recv).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Control {
    /// Stop gracefully.
    Shutdown,
    /// Reload configuration (SIGHUP).
    Reload,
    /// A message of the application's own.
    Custom(CustomMessage),
}

impl Control {
    /// Wraps an application value as a custom message.
    pub fn custom<T: Any + Send + Sync>(value: T) -> Self {
        Control::Custom(CustomMessage(Arc::new(value)))
    }
}

/// An application-defined message; cloning shares the value.
#[derive(Clone)]
pub struct CustomMessage(Arc<dyn Any + Send + Sync>);

impl CustomMessage {
    /// The value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for CustomMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomMessage(..)")
    }
}

/// How many unread messages a child's inbox holds before further sends are refused with
/// [`ControlError::InboxFull`](crate::ControlError::InboxFull).
pub const INBOX_CAPACITY: usize = 64;
