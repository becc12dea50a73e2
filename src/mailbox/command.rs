//! The commands a handle sends to a manager.

use std::time::Duration;

use tokio::sync::oneshot;

use super::fanout::SendReply;
use crate::control::Control;
use crate::error::{ControlError, Failure};
use crate::handle::Handle;
use crate::manager::ProcessManager;
use crate::path::ChildPath;
use crate::reconfigured::Reconfigured;
use crate::snapshot::{ChildState, IntensityUse, Snapshot};
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
    /// A liveness check: answered from the manager's loop at once, with the handles of its
    /// running nested managers (asked next by the caller).
    Ping {
        reply: Reply<Vec<Handle>>,
    },
    /// The specification of `new` for the manager at `path` (see `manager::reconfigure`);
    /// `reply` is `None` for a nested manager reconfigured by its parent's reconfiguration.
    Reconfigure {
        path: Box<str>,
        new: ProcessManager,
        reply: Option<Reply<Reconfigured>>,
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
            Command::Ping { reply } => {
                let _ = reply.send(Err(err));
            }
            Command::Reconfigure { reply, .. } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(err));
                }
            }
        }
    }
}

/// What one manager answers to a snapshot request: its own nodes, plus the handles of the
/// nested managers the caller asks next (so no manager's loop ever waits on another's).
pub(crate) struct LevelSnapshot {
    pub(crate) state: ChildState,
    pub(crate) uptime: Duration,
    /// The manager's restart intensity and its use now.
    pub(crate) intensity: IntensityUse,
    pub(crate) children: Vec<Snapshot>,
    /// The index in `children` of each running nested manager, and its handle.
    pub(crate) nested: Vec<(usize, Handle)>,
}
