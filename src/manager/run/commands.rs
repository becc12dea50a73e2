//! Commands from handles: shutdown, messages, add / stop / restart / remove, snapshots.

use super::*;
use crate::mailbox::SendReply;

impl Run {
    pub(super) fn on_command(&mut self, cmd: Command) {
        let busy = matches!(self.phase, Phase::Regrouping { .. });
        match cmd {
            Command::Shutdown { immediate } => {
                if let (Some(parent), false) = (&self.parent, immediate) {
                    // A nested manager is stopped for good by its parent, not restarted.
                    if !parent.stop_for_good() {
                        self.begin_shutdown(Reason::Requested, false);
                    }
                } else {
                    self.begin_shutdown(Reason::Requested, immediate);
                }
            }
            Command::Interrupt { failure } => {
                self.record(vec![failure]);
                self.begin_shutdown(Reason::Requested, true);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(Ok(self.snapshot_level()));
            }
            Command::Send { path, msg, reply } => self.on_send(&path, msg, reply),
            cmd if busy => self.deferred_commands.push_back(cmd),
            Command::Add {
                parent,
                spec,
                reply,
            } => match self.resolve(&parent) {
                Ok(Target::This) => {
                    let _ = reply.send(self.add(spec));
                }
                Ok(Target::Child(key) | Target::Below(key)) => self.forward(
                    key,
                    Command::Add {
                        parent,
                        spec,
                        reply,
                    },
                ),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Stop { path, reply } => self.on_child_command(path, reply, AfterStop::Stay),
            Command::Restart { path, reply } => {
                self.on_child_command(path, reply, AfterStop::Start)
            }
            Command::Remove { path, reply } => {
                self.on_child_command(path, reply, AfterStop::Remove)
            }
        }
    }

    pub(super) fn on_child_command(
        &mut self,
        path: Box<str>,
        reply: crate::mailbox::Reply<()>,
        then: AfterStop,
    ) {
        let key = match self.resolve(&path) {
            Ok(Target::Child(key)) => key,
            Ok(Target::Below(key)) => {
                let cmd = match then {
                    AfterStop::Stay => Command::Stop { path, reply },
                    AfterStop::Start => Command::Restart { path, reply },
                    AfterStop::Remove => Command::Remove { path, reply },
                };
                return self.forward(key, cmd);
            }
            Ok(Target::This) => {
                let _ = reply.send(Err(ControlError::UnknownPath {
                    path: format!("{path} (a manager cannot stop, restart or remove itself; address it from its parent)"),
                }));
                return;
            }
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        if then == AfterStop::Start && matches!(self.phase, Phase::Stopping { .. }) {
            let _ = reply.send(Err(self.shutting_down()));
            return;
        }
        // Restarts that meet one already under way (or a child about to start) coalesce into
        // it: `restarts` counts the runs that were started again, not the requests.
        let restarting = self
            .slots
            .stop(key)
            .is_some_and(|s| s.then == AfterStop::Start);
        let slot = self.slots.get_mut(key).expect("resolved key exists");
        match (&slot.state, then) {
            (SlotState::Running(_), _) => {
                if then == AfterStop::Start && !restarting {
                    slot.restarts = slot.restarts.saturating_add(1);
                }
                slot.add_waiter(reply);
                self.begin_stop(key, None, then, false, true);
            }
            (_, AfterStop::Remove) => {
                self.emit_stopped(key);
                self.remove(key);
                let _ = reply.send(Ok(()));
            }
            (_, AfterStop::Stay) => {
                if slot.is_live() {
                    self.set_state(key, SlotState::Stopped);
                    self.emit_stopped(key);
                }
                let _ = reply.send(Ok(()));
            }
            // About to start: the restart is the start under way.
            (SlotState::Pending, AfterStop::Start) => {
                let _ = reply.send(Ok(()));
            }
            // Waiting for its backoff: started now; the restart was counted when it was
            // scheduled.
            (SlotState::Restarting { .. }, AfterStop::Start) => {
                self.set_state(key, SlotState::Pending);
                let _ = reply.send(Ok(()));
            }
            (_, AfterStop::Start) => {
                slot.restarts = slot.restarts.saturating_add(1);
                self.set_state(key, SlotState::Pending);
                let _ = reply.send(Ok(()));
            }
        }
    }

    pub(super) fn on_send(&mut self, path: &str, msg: Control, reply: SendReply) {
        match self.resolve(path) {
            Err(e) => reply.answer(Err(e)),
            Ok(Target::This) => {
                if matches!(msg, Control::Shutdown) {
                    self.on_command(Command::Shutdown { immediate: false });
                    reply.answer(Ok(()));
                } else {
                    // Every running child that reads messages gets it; the sender hears once
                    // every manager below has handed it on.
                    let fanout = reply.into_fanout();
                    let keys: Vec<u32> = self.slots.keys().collect();
                    for key in keys {
                        self.deliver(key, msg.clone(), SendReply::Many(fanout.clone()));
                    }
                }
            }
            Ok(Target::Child(key)) => {
                if matches!(msg, Control::Shutdown) {
                    let (tx, _) = tokio::sync::oneshot::channel();
                    self.on_child_command(path.into(), tx, AfterStop::Stay);
                    reply.answer(Ok(()));
                } else {
                    self.deliver(key, msg, reply);
                }
            }
            Ok(Target::Below(key)) => self.forward(
                key,
                Command::Send {
                    path: path.into(),
                    msg,
                    reply,
                },
            ),
        }
    }

    /// Delivers a message to one direct child: into its inbox, or down its subtree. As part of
    /// a message to a subtree ([`SendReply::Many`]), a child that is not running or does not
    /// read messages is skipped.
    pub(super) fn deliver(&mut self, key: u32, msg: Control, reply: SendReply) {
        let Some(slot) = self.slots.get(key) else {
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
                    capacity: crate::control::INBOX_CAPACITY,
                })
        };
        reply.answer(result);
    }

    /// Passes a command to the nested manager at `key`.
    pub(super) fn forward(&mut self, key: u32, cmd: Command) {
        let Some(slot) = self.slots.get(key) else {
            return cmd.refuse(ControlError::ManagerGone);
        };
        let path = slot.child.path().to_string();
        let Some(mgr) = slot.spec.runnable().as_manager() else {
            let err = match cmd {
                Command::Add { .. } => ControlError::NotAManager { path },
                _ => ControlError::UnknownPath { path },
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

    pub(super) fn add(&mut self, spec: ChildSpec) -> Result<ChildPath, ControlError> {
        if matches!(self.phase, Phase::Stopping { .. }) {
            return Err(self.shutting_down());
        }
        spec.validate()?;
        if self.slots.find(&spec.id).is_some() {
            return Err(SpecError::DuplicateId {
                parent: self.shared.path.to_string(),
                id: spec.id.to_string(),
            }
            .into());
        }
        if spec.body.significant && self.policy.auto_shutdown == super::super::AutoShutdown::Never {
            return Err(SpecError::SignificantWithoutAutoShutdown {
                id: spec.id.to_string(),
            }
            .into());
        }
        if let Some(dep) = spec
            .body
            .deps
            .iter()
            .find(|d| self.slots.find(&d.on).is_none())
        {
            return Err(SpecError::UnknownDependency {
                id: spec.id.to_string(),
                on: dep.on.to_string(),
            }
            .into());
        }
        let path = self.shared.path.join(&spec.id);
        tracing::debug!(path = %path, "child added");
        self.insert(&spec);
        Ok(path)
    }

    pub(super) fn shutting_down(&self) -> ControlError {
        ControlError::ShuttingDown {
            path: self.shared.path.to_string(),
        }
    }

    pub(super) fn resolve(&self, path: &str) -> Result<Target, ControlError> {
        let unknown = || ControlError::UnknownPath {
            path: path.to_string(),
        };
        let rel = relative_to(path, self.shared.path.as_str()).ok_or_else(unknown)?;
        if rel.is_empty() {
            return Ok(Target::This);
        }
        let (first, rest) = match rel.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (rel, None),
        };
        let key = self.slots.find(first).ok_or_else(unknown)?;
        Ok(match rest {
            None => Target::Child(key),
            Some(_) => Target::Below(key),
        })
    }

    pub(super) fn snapshot_level(&self) -> LevelSnapshot {
        let now = Instant::now();
        let mut children = Vec::with_capacity(self.slots.len());
        let mut nested = Vec::new();
        for key in self.slots.keys() {
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            let runnable = &slot.spec.runnable();
            if let Some(mgr) = runnable.as_manager()
                && slot.running().is_some()
            {
                nested.push((children.len(), mgr.handle()));
            }
            children.push(Snapshot {
                path: slot.child.path(),
                kind: runnable.kind(),
                state: slot.public_state(),
                pid: slot.running().and_then(|_| runnable.pid()),
                restarts: slot.restarts,
                uptime: self.slots.uptime(key, now),
                last_exit: slot.last_exit(),
                children: Vec::new(),
            });
        }
        LevelSnapshot {
            state: match self.phase {
                Phase::Stopping { .. } => ChildState::Stopping,
                _ if self.ready_reported => ChildState::Ready,
                _ => ChildState::Running,
            },
            uptime: now.saturating_duration_since(self.started_at),
            children,
            nested,
        }
    }
}
