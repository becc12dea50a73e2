//! Control messages and the per-child inbox they are delivered to.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

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

/// A child's inbox: the messages not yet read and the waker of a run waiting for one. Kept
/// with the child's stop signal (see `StopSignal::with_inbox`), made on the first message or
/// the first read, so children that never use control messages cost nothing for it.
#[derive(Default)]
pub(crate) struct InboxState {
    queue: VecDeque<Control>,
    waker: Option<Waker>,
}

pub(crate) struct InboxFull;

impl InboxState {
    /// Queues `msg`. A `Reload` right behind another unread one is the same request: it is
    /// taken as delivered without taking room (the order of the messages is kept).
    pub(crate) fn push(&mut self, msg: Control) -> Result<(), InboxFull> {
        if matches!(msg, Control::Reload) && matches!(self.queue.back(), Some(Control::Reload)) {
            return Ok(());
        }
        if self.queue.len() >= INBOX_CAPACITY {
            return Err(InboxFull);
        }
        self.queue.push_back(msg);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        Ok(())
    }

    pub(crate) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Control> {
        match self.queue.pop_front() {
            Some(msg) => Poll::Ready(msg),
            None => {
                match &mut self.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    w => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// How many messages are queued.
    pub(crate) fn unread(&self) -> usize {
        self.queue.len()
    }
}

/// Locks a std mutex, ignoring poisoning: every critical section here leaves its data valid.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
