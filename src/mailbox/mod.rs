//! How commands reach a manager: the [`Command`]s a [`Handle`](crate::Handle) sends, the
//! mailbox that queues them before the first run and refuses them between runs (so no command
//! waits for an answer that will never come), and the [fan-in](fanout) of a message sent to a
//! subtree.

mod command;
pub(crate) mod fanout;

pub(crate) use command::{Command, LevelSnapshot, Reply};
pub(crate) use fanout::SendReply;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::error::ControlError;
use crate::lock::lock;
use crate::path::ChildPath;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Never run: commands queue until the first run.
    NotStarted,
    Running,
    /// Between runs or done: commands are refused at once.
    Stopped,
}

pub(crate) struct Mailbox {
    state: Mutex<State>,
    tx: mpsc::UnboundedSender<Command>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Mailbox {
            state: Mutex::new(State::NotStarted),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Delivers `cmd`, or gives it back when the manager is between runs or done.
    pub(crate) fn send(&self, cmd: Command) -> Result<(), Command> {
        let state = lock(&self.state);
        if *state == State::Stopped {
            return Err(cmd);
        }
        self.tx.send(cmd).map_err(|e| e.0)
    }

    /// Takes the receiver for a run; `None` when a run is already in progress. The receiver
    /// goes back to the mailbox when the returned guard is dropped, also when the run's task
    /// is aborted.
    pub(crate) fn open<'a>(&'a self, path: &ChildPath) -> Option<OpenMailbox<'a>> {
        let rx = lock(&self.rx).take()?;
        *lock(&self.state) = State::Running;
        Some(OpenMailbox {
            mailbox: self,
            rx,
            path: path.clone(),
        })
    }

    /// A run at `path` is about to begin (its parent is spawning it): commands queue for it
    /// again instead of being refused as between runs, until the run opens the mailbox, or
    /// the returned [`ExpectedRun`] is dropped without that (the run's task was dropped before
    /// it first ran), which refuses what queued.
    pub(crate) fn expect_run(self: &Arc<Self>, path: ChildPath) -> ExpectedRun {
        let mut state = lock(&self.state);
        if *state == State::Stopped {
            *state = State::NotStarted;
        }
        ExpectedRun {
            mailbox: self.clone(),
            path,
        }
    }

    /// The run announced by [`expect_run`](Self::expect_run) ended without taking the
    /// receiver: refuses what queued for it. Does nothing once a run has taken it.
    fn run_never_opened(&self, path: &ChildPath) {
        let mut rx = lock(&self.rx);
        if let Some(rx) = rx.as_mut() {
            *lock(&self.state) = State::Stopped;
            refuse_queued(rx, path);
        }
    }

    /// Ends a run: refuses everything still queued and keeps the receiver for the next run.
    fn close(&self, mut rx: mpsc::UnboundedReceiver<Command>, path: &ChildPath) {
        *lock(&self.state) = State::Stopped;
        refuse_queued(&mut rx, path);
        *lock(&self.rx) = Some(rx);
    }
}

/// A run of a mailbox's manager that its parent has spawned and that has not opened the mailbox
/// yet: held by the run's context, and dropped as the run opens the mailbox (which makes the
/// drop do nothing) or as its task is dropped unpolled (which refuses what queued for it).
pub(crate) struct ExpectedRun {
    mailbox: Arc<Mailbox>,
    path: ChildPath,
}

impl Drop for ExpectedRun {
    fn drop(&mut self) {
        self.mailbox.run_never_opened(&self.path);
    }
}

fn refuse_queued(rx: &mut mpsc::UnboundedReceiver<Command>, path: &ChildPath) {
    while let Ok(cmd) = rx.try_recv() {
        cmd.refuse(ControlError::NotRunning {
            path: path.to_string(),
        });
    }
}

/// A run's hold on its manager's mailbox. Dropping it ends the run for the mailbox: what is
/// still queued is refused and the receiver is kept for the next run — whether the run
/// returned or its task was aborted.
pub(crate) struct OpenMailbox<'a> {
    mailbox: &'a Mailbox,
    rx: mpsc::UnboundedReceiver<Command>,
    path: ChildPath,
}

impl OpenMailbox<'_> {
    pub(crate) fn receiver(&mut self) -> &mut mpsc::UnboundedReceiver<Command> {
        &mut self.rx
    }
}

impl Drop for OpenMailbox<'_> {
    fn drop(&mut self) {
        // A closed stand-in for the moment the real receiver is handed back.
        let (_, stand_in) = mpsc::unbounded_channel();
        let rx = std::mem::replace(&mut self.rx, stand_in);
        self.mailbox.close(rx, &self.path);
    }
}
