//! Inserting and starting children.

use super::*;
use crate::child::context::NestedRun;

impl Run {
    pub(super) fn insert(&mut self, spec: &ChildSpec) -> u32 {
        let key = self.slots.vacant_key();
        let child = Arc::new(ChildRecord {
            id: spec.id.clone(),
            key,
            parent: self.shared.clone(),
            stop: Default::default(),
        });
        let significant = spec.body.significant;
        let key = self
            .slots
            .insert(Slot::new(child, spec.body.clone(), self.slots.next_seq()));
        self.counts.live += 1;
        if significant {
            self.counts.significant_live += 1;
        }
        key
    }

    /// Moves a slot to `state`, keeping the counts in step; returns the old state and, if
    /// the slot was being stopped, its stop request.
    pub(super) fn set_state(
        &mut self,
        key: u32,
        state: SlotState,
    ) -> Option<(SlotState, Option<StopRequest>)> {
        let (old, stop) = self.slots.replace_state(key, state)?;
        let slot = self.slots.get(key)?;
        let flags = |s: &SlotState| {
            let live = matches!(
                s,
                SlotState::Pending | SlotState::Running(_) | SlotState::Restarting { .. }
            );
            let running = matches!(s, SlotState::Running(_));
            let ready = matches!(s, SlotState::Running(r) if r.ready);
            let stopped = matches!(s, SlotState::Stopped);
            (live, running, ready, stopped)
        };
        let (was_live, was_running, was_ready, was_stopped) = flags(&old);
        let (is_live, is_running, is_ready, is_stopped) = flags(&slot.state);
        adjust(&mut self.counts.live, was_live, is_live);
        adjust(&mut self.counts.running, was_running, is_running);
        adjust(&mut self.counts.ready, was_ready, is_ready);
        adjust(&mut self.counts.stopped, was_stopped, is_stopped);
        if slot.spec.significant {
            adjust(&mut self.counts.significant_live, was_live, is_live);
        }
        Some((old, stop))
    }

    /// Starts, in declared order, every pending child whose dependencies hold.
    pub(super) fn start_pending(&mut self) {
        if !matches!(self.phase, Phase::Running) || !self.slots.has_pending() {
            return;
        }
        // One clock reading for the whole batch: starting 100 000 children takes milliseconds.
        let now = self.now();
        for key in self.slots.pending() {
            if self.dependencies_hold(key) {
                self.spawn(key, now);
            }
        }
    }

    pub(super) fn dependencies_hold(&self, key: u32) -> bool {
        let Some(slot) = self.slots.get(key) else {
            return false;
        };
        slot.spec.deps.iter().all(|dep| {
            // A dependency that has been removed holds nothing up any more.
            let Some(other) = self.slots.find(&dep.on).and_then(|k| self.slots.get(k)) else {
                return true;
            };
            let completed = matches!(other.state, SlotState::Exited) && other.last_exit_succeeded();
            match dep.condition {
                Condition::Started => other.running().is_some() || completed,
                Condition::Ready => other.running().is_some_and(|r| r.ready) || completed,
                Condition::Completed => completed,
            }
        })
    }

    pub(super) fn spawn(&mut self, key: u32, now: Instant) {
        // Only gone once the run is over.
        let Some(tasks_env) = self.tasks_env.clone() else {
            return;
        };
        let is_manager;
        let (child, ctx) = {
            let Some(slot) = self.slots.get_mut(key) else {
                return;
            };
            slot.generation += 1;
            // A clone only for a nested manager (an `Arc`).
            let manager = slot.spec.runnable().as_manager().cloned();
            is_manager = manager.is_some();
            let nested = manager.map(|manager| {
                let env = TaskEnv::new(self.env.clone(), self.tracker.token());
                slot.set_link(Some(env.clone()));
                // Commands for its new run queue from now on, though its task has not run yet.
                let expected = manager.expect_run(slot.child.path());
                Box::new(NestedRun { env, expected })
            });
            let ctx = Context::new(slot.child.clone(), slot.generation, slot.restarts, nested);
            (slot.child.clone(), ctx)
        };
        self.emit(|| child.path(), || EventKind::Starting);
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        if is_manager {
            // Its events must follow the ones that led to it (see `events`).
            self.publish_events();
        }
        // The task takes this reference: one atomic increment less per start.
        let join = child_task::spawn(&slot.spec, child, ctx, tasks_env);
        let running = Running {
            join,
            since: self.slots.stamp(now),
            ready: false,
            stop: None,
        };
        // Pending → Running: still live, not ready yet; only `running` changes. Only pending
        // slots are spawned; should one not be, its run is not left behind untracked.
        match self.slots.start_running(key, running) {
            Ok(()) => self.counts.running += 1,
            Err(running) => running.join.abort(),
        }
        if let Some(slot) = self.slots.get(key) {
            self.emit(|| slot.child.path(), || EventKind::Running);
        }
        self.spawned_child(is_manager);
    }
}
