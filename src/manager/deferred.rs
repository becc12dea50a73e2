//! What waits for a group restart to be over: commands, and exits of children outside it.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{ControlError, ExitStatus};
use crate::mailbox::Command;

/// An exit whose decision waits until a group restart is over.
pub(crate) struct DeferredExit {
    pub(crate) key: u32,
    pub(crate) status: ExitStatus,
    pub(crate) uptime: Duration,
}

/// While a group restart stops and starts its members, commands that change children (add,
/// stop, restart, remove) and the exits of children outside the group wait here, in the order
/// they came; messages and snapshots do not wait. Once the group restart is over, the exits
/// get their decisions first, then the commands are carried out; a shutdown settles the exits
/// (as exits during a shutdown) and refuses the commands.
#[derive(Default)]
pub(crate) struct Deferred {
    commands: VecDeque<Command>,
    exits: Vec<DeferredExit>,
}

impl Deferred {
    pub(crate) fn command(&mut self, cmd: Command) {
        self.commands.push_back(cmd);
    }

    pub(crate) fn exit(&mut self, exit: DeferredExit) {
        self.exits.push(exit);
    }

    /// Whether exits wait (a manager does not end while they do).
    pub(crate) fn has_exits(&self) -> bool {
        !self.exits.is_empty()
    }

    /// Takes the waiting exits, in the order they came.
    pub(crate) fn take_exits(&mut self) -> Vec<DeferredExit> {
        std::mem::take(&mut self.exits)
    }

    /// Puts back exits taken by [`take_exits`](Self::take_exits) that must wait again (another
    /// group restart began), ahead of any that came since.
    pub(crate) fn put_back_exits(&mut self, exits: impl IntoIterator<Item = DeferredExit>) {
        let later = std::mem::take(&mut self.exits);
        self.exits.extend(exits);
        self.exits.extend(later);
    }

    /// The next waiting command.
    pub(crate) fn next_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// Refuses every waiting command with the error `err` makes (only if one waits).
    pub(crate) fn refuse_commands(&mut self, err: impl FnOnce() -> ControlError) {
        if self.commands.is_empty() {
            return;
        }
        let err = err();
        for cmd in self.commands.drain(..) {
            cmd.refuse(err.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(key: u32) -> DeferredExit {
        DeferredExit {
            key,
            status: ExitStatus::Completed,
            uptime: Duration::ZERO,
        }
    }

    #[test]
    fn exits_put_back_come_before_those_that_came_since() {
        let mut d = Deferred::default();
        d.exit(exit(1));
        d.exit(exit(2));
        let mut taken = d.take_exits().into_iter();
        assert_eq!(taken.next().map(|e| e.key), Some(1));
        d.exit(exit(3));
        d.put_back_exits(taken);
        let keys: Vec<u32> = d.take_exits().iter().map(|e| e.key).collect();
        assert_eq!(keys, [2, 3]);
        assert!(!d.has_exits());
    }

    #[test]
    fn refused_commands_are_answered_with_the_error() {
        let mut d = Deferred::default();
        let (reply, mut rx) = tokio::sync::oneshot::channel();
        d.command(Command::Stop {
            path: "root/a".into(),
            reply,
        });
        let err = ControlError::ShuttingDown {
            path: "root".into(),
        };
        d.refuse_commands(|| err.clone());
        assert_eq!(rx.try_recv().unwrap(), Err(err));
        assert!(d.next_command().is_none());
    }
}
