//! Where a command's path leads from one manager, and handing it on: into a child's inbox,
//! or to the nested manager below.

use super::slots::Slots;
use crate::control::{Control, INBOX_CAPACITY};
use crate::error::ControlError;
use crate::mailbox::{Command, SendReply};
use crate::path::relative_to;

/// What a path names, seen from a manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The manager itself.
    This,
    /// One of its children (by key).
    Child(u32),
    /// Something below one of its children (by key), which must be a manager.
    Below(u32),
}

/// Resolves `path` (a full path) from the manager at `here`, whose children `find` looks up
/// by id.
pub(crate) fn resolve(
    here: &str,
    path: &str,
    find: impl FnOnce(&str) -> Option<u32>,
) -> Result<Target, ControlError> {
    let unknown = || ControlError::NotFound {
        path: path.to_string(),
    };
    let rel = relative_to(path, here).ok_or_else(unknown)?;
    if rel.is_empty() {
        return Ok(Target::This);
    }
    let (first, rest) = match rel.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (rel, None),
    };
    let key = find(first).ok_or_else(unknown)?;
    Ok(match rest {
        None => Target::Child(key),
        Some(_) => Target::Below(key),
    })
}

/// Delivers `msg` to the direct child `key`: into its inbox, or down its subtree (through the
/// nested manager's own mailbox, as any handle does). As part of a message to a subtree
/// ([`SendReply::Many`]), a child that is not running or does not read messages is skipped.
pub(crate) fn deliver(slots: &Slots, key: u32, msg: Control, reply: SendReply) {
    let Some(slot) = slots.get(key) else {
        return;
    };
    let many = matches!(reply, SendReply::Many(_));
    let path = || slot.child.path().to_string();
    let result = if slot.running().is_none() {
        if many {
            return;
        }
        Err(ControlError::NotRunning { path: path() })
    } else if let Some(mgr) = slot.spec.runnable().as_manager() {
        let cmd = Command::Send {
            path: path().into(),
            msg,
            reply,
        };
        if let Err(cmd) = mgr.handle().send_command(cmd) {
            cmd.refuse(ControlError::NotRunning { path: path() });
        }
        return;
    } else if !slot.spec.reads_messages() {
        if many {
            return;
        }
        Err(ControlError::NotListening { path: path() })
    } else {
        slot.child
            .stop
            .with_inbox(|inbox| inbox.push(msg))
            .map_err(|_| ControlError::InboxFull {
                path: path(),
                capacity: INBOX_CAPACITY,
            })
    };
    reply.answer(result);
}

/// Passes `cmd`, for a node below the direct child `key`, to that child, which must be a
/// running manager.
pub(crate) fn forward(slots: &Slots, key: u32, cmd: Command) {
    let Some(slot) = slots.get(key) else {
        return cmd.refuse(ControlError::ManagerGone);
    };
    let path = slot.child.path().to_string();
    let Some(mgr) = slot.spec.runnable().as_manager() else {
        let err = match cmd {
            Command::Add { .. } => ControlError::NotAManager { path },
            _ => ControlError::NotFound { path },
        };
        return cmd.refuse(err);
    };
    if slot.running().is_none() {
        return cmd.refuse(ControlError::NotRunning { path });
    }
    if let Err(cmd) = mgr.handle().send_command(cmd) {
        cmd.refuse(ControlError::NotRunning { path });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(id: &str) -> Option<u32> {
        match id {
            "a" => Some(0),
            "sub" => Some(1),
            _ => None,
        }
    }

    #[test]
    fn a_path_names_the_manager_a_child_or_something_below_a_child() {
        assert_eq!(resolve("root", "root", find), Ok(Target::This));
        assert_eq!(resolve("root", "root/a", find), Ok(Target::Child(0)));
        assert_eq!(resolve("root", "root/sub/x/y", find), Ok(Target::Below(1)));
        assert_eq!(resolve("root/sub", "root/sub", find), Ok(Target::This));
    }

    #[test]
    fn a_path_outside_the_manager_or_to_no_child_is_unknown() {
        for path in ["other", "rooty/a", "root/zzz", "root/zzz/a"] {
            assert_eq!(
                resolve("root", path, find),
                Err(ControlError::NotFound { path: path.into() }),
                "{path}"
            );
        }
    }
}
