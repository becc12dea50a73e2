//! A manager's command mailbox: queues commands before the first run, refuses them between
//! runs, so no command waits for an answer that will never come.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use crate::control::{Control, lock};
use crate::error::ControlError;
use crate::path::ChildPath;
use crate::snapshot::LevelSnapshot;
use crate::spec::ChildSpec;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ControlError>>;

/// A request to a manager. Paths are full paths; `None` means the manager itself.
pub(crate) enum Command {
    Shutdown {
        immediate: bool,
    },
    Send {
        path: Box<str>,
        msg: Control,
        reply: Option<Reply<()>>,
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
            Command::Shutdown { .. } => {}
            Command::Send { reply, .. } => {
                if let Some(r) = reply {
                    let _ = r.send(Err(err));
                }
            }
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

    /// Takes the receiver for a run; `None` when a run is already in progress.
    pub(crate) fn open(&self) -> Option<mpsc::UnboundedReceiver<Command>> {
        let rx = lock(&self.rx).take()?;
        *lock(&self.state) = State::Running;
        Some(rx)
    }

    /// Ends a run: refuses everything still queued and keeps the receiver for the next run.
    pub(crate) fn close(&self, mut rx: mpsc::UnboundedReceiver<Command>, path: &ChildPath) {
        *lock(&self.state) = State::Stopped;
        while let Ok(cmd) = rx.try_recv() {
            cmd.refuse(ControlError::NotRunning {
                path: path.to_string(),
            });
        }
        *lock(&self.rx) = Some(rx);
    }
}
