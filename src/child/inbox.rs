//! A child's inbox of control messages.

use std::collections::VecDeque;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::control::{Control, INBOX_CAPACITY};

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
