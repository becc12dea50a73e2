//! A manager's command mailbox: queues commands before the first run, refuses them between
//! runs, so no command waits for an answer that will never come.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use super::fanout::SendReply;
use crate::control::{Control, lock};
use crate::error::{ControlError, Failure};
use crate::path::ChildPath;
use crate::snapshot::LevelSnapshot;
use crate::spec::ChildSpec;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ControlError>>;

/// A request to a manager. Paths are full paths; `None` means the manager itself.
pub(crate) enum Command {
    Shutdown {
        immediate: bool,
    },
    /// An immediate shutdown forced from outside (a second signal): `failure` says so in the
    /// run's result.
    Interrupt {
        failure: Failure,
    },
    Send {
        path: Box<str>,
        msg: Control,
        reply: SendReply,
    },
    Add {
        parent: Box<str>,
        spec: ChildSpec,
        reply: Reply<ChildPath>,
    },
    Stop {
        path: Box<str>,
        reply: Reply<()>,
    },
    Restart {
        path: Box<str>,
        reply: Reply<()>,
    },
    Remove {
        path: Box<str>,
        reply: Reply<()>,
    },
    Snapshot {
        reply: Reply<LevelSnapshot>,
    },
}

impl Command {
    /// Answers the command with `err` (used when it cannot be carried out at all).
    pub(crate) fn refuse(self, err: ControlError) {
        match self {
            Command::Shutdown { .. } | Command::Interrupt { .. } => {}
            // Part of a message to a subtree: a manager that is not running is skipped, as a
            // child that is not running is.
            Command::Send {
                reply: SendReply::Many(_),
                ..
            } => {}
            Command::Send { reply, .. } => reply.answer(Err(err)),
            Command::Add { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Command::Stop { reply, .. }
            | Command::Restart { reply, .. }
            | Command::Remove { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

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

    /// A run is about to begin (its parent has just spawned it): commands queue for it again
    /// instead of being refused as between runs.
    pub(crate) fn expect_run(&self) {
        let mut state = lock(&self.state);
        if *state == State::Stopped {
            *state = State::NotStarted;
        }
    }

    /// The run announced by [`expect_run`](Self::expect_run) ended without taking the
    /// receiver (its task was aborted before it first ran): refuses what queued for it.
    pub(crate) fn run_never_opened(&self, path: &ChildPath) {
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
