//! The answer to a message sent to many children at once (a subtree, the whole tree).

use std::sync::{Arc, Mutex};

use super::Reply;
use crate::error::ControlError;
use crate::lock::lock;

/// Where the answer to a [`Send`](super::Command::Send) goes.
pub(crate) enum SendReply {
    /// One sender waits for this message's answer.
    One(Reply<()>),
    /// The message is part of one sent to a subtree: its outcome joins the others'.
    Many(Arc<Fanout>),
}

impl SendReply {
    /// Answers: `One` gets `result`; `Many` notes a refusal among the others.
    pub(crate) fn answer(self, result: Result<(), ControlError>) {
        match self {
            SendReply::One(reply) => {
                let _ = reply.send(result);
            }
            SendReply::Many(fanout) => {
                if let Err(e) = result {
                    fanout.undelivered(e);
                }
            }
        }
    }

    /// This reply as one shared by the deliveries of a message to a subtree.
    pub(crate) fn into_fanout(self) -> Arc<Fanout> {
        match self {
            SendReply::Many(fanout) => fanout,
            SendReply::One(reply) => Fanout::new(reply),
        }
    }
}

/// Collects what could not be delivered of one message sent to a subtree, through every
/// manager on the way, and answers the sender when the last of them lets go of it: `Ok` when
/// every running child that reads messages got it, [`ControlError::NotDelivered`] otherwise.
/// No manager waits for another: each hands the message on with a clone and drops it.
pub(crate) struct Fanout {
    reply: Mutex<Option<Reply<()>>>,
    undelivered: Mutex<Vec<ControlError>>,
    /// Runs when the last manager lets go, before the sender is answered.
    when_done: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Fanout {
    fn new(reply: Reply<()>) -> Arc<Self> {
        Arc::new(Fanout {
            reply: Mutex::new(Some(reply)),
            undelivered: Mutex::new(Vec::new()),
            when_done: Mutex::new(None),
        })
    }

    /// Runs `done` once every manager on the way has handed the message on (when the last
    /// of them lets go of it), before the sender hears the answer.
    pub(crate) fn when_done(&self, done: impl FnOnce() + Send + 'static) {
        *lock(&self.when_done) = Some(Box::new(done));
    }

    /// Notes a child that the message did not reach.
    pub(crate) fn undelivered(&self, error: ControlError) {
        tracing::warn!(%error, "message not delivered");
        lock(&self.undelivered).push(error);
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        if let Some(done) = lock(&self.when_done).take() {
            done();
        }
        let Some(reply) = lock(&self.reply).take() else {
            return;
        };
        let undelivered = std::mem::take(&mut *lock(&self.undelivered));
        let result = if undelivered.is_empty() {
            Ok(())
        } else {
            Err(ControlError::NotDelivered { undelivered })
        };
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_hears_once_every_holder_has_let_go_with_what_was_not_delivered() {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let fanout = SendReply::One(tx).into_fanout();
        let below = fanout.clone();
        fanout.undelivered(ControlError::InboxFull {
            path: "root/a".into(),
            capacity: 64,
        });
        drop(fanout);
        assert!(rx.try_recv().is_err(), "a holder is left");
        drop(below);
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(
            matches!(err, ControlError::NotDelivered { undelivered } if undelivered.len() == 1)
        );
    }

    #[test]
    fn a_message_that_reached_everyone_is_answered_ok() {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        drop(SendReply::One(tx).into_fanout());
        rx.try_recv().unwrap().unwrap();
    }
}
