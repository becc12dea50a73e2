//! Stopping children: single stops, group restarts, shutdown sequences.

use super::*;

impl Run {
    /// Asks a running child to stop under its shutdown policy, clamped by `deadline`.
    /// `commanded`: asked by a command (stop, restart, remove) rather than by a stop sequence;
    /// it decides which `then` wins when the child is already stopping (see
    /// [`AfterStop::then`]).
    pub(super) fn begin_stop(
        &mut self,
        key: u32,
        deadline: Option<Instant>,
        then: AfterStop,
        immediate: bool,
        commanded: bool,
    ) {
        let now = self.now();
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let policy = slot.spec.shutdown_policy();
        let seq_no = slot.seq;
        let generation = slot.generation;
        let link = slot.link().cloned();
        let Some(running) = slot.running() else {
            return;
        };
        let already_stopping = running.stop.is_some();
        let brutal = immediate || policy == Shutdown::Brutal;
        let own = match policy {
            // A timeout too large for the clock never expires.
            Shutdown::Timeout(d) => crate::deadline::after(now, d),
            Shutdown::Brutal | Shutdown::Infinity => None,
        };
        let deadline = match (own, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if already_stopping {
            let Some(stop) = self.slots.stop_mut(key) else {
                return;
            };
            // Already stopping: keep the stricter terms.
            stop.then = stop.then.then(then, commanded);
            let escalate = brutal && !stop.brutal;
            stop.brutal |= brutal;
            let tighter = deadline.filter(|&d| stop.deadline.is_none_or(|old| d < old));
            if tighter.is_some() {
                stop.deadline = tighter;
            }
            if escalate {
                self.abort(key);
            }
            if let Some(at) = tighter {
                self.push_timer(Timer {
                    at,
                    seq: seq_no,
                    key,
                    generation,
                    kind: TimerKind::StopDeadline,
                });
            }
            return;
        }
        let request = StopRequest {
            then,
            started: now,
            deadline,
            brutal,
            timed_out: false,
        };
        if self.slots.set_stop(key, request).is_err() {
            return;
        }
        if brutal {
            self.abort(key);
            return;
        }
        if let Some(link) = link {
            *lock(&link.stop_deadline) = deadline;
        }
        let out_of_turn = commanded
            && matches!(
                &self.phase,
                Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } if seq.current != Some(key)
            );
        if let Some(slot) = self.slots.get(key) {
            if out_of_turn {
                // Asked by a command while a stop sequence runs: its end must not pass the
                // stop on ahead of the sequence (see `link_sequence`).
                slot.child.stop.chain(None);
            }
            slot.child.stop.request(generation);
        }
        if let Some(at) = deadline {
            self.push_timer(Timer {
                at,
                seq: seq_no,
                key,
                generation,
                kind: TimerKind::StopDeadline,
            });
        }
    }

    /// `keys` (in declared order) with the children that [stop last](crate::Runnable::stops_last)
    /// moved to the front, each part still in declared order: a sequence takes its next key
    /// from the end, so they come after everyone else.
    fn stop_last_first(&self, keys: Vec<u32>) -> Vec<u32> {
        if !keys.iter().any(|&k| self.slots.stops_last(k)) {
            return keys;
        }
        let (mut last, others): (Vec<u32>, Vec<u32>) =
            keys.into_iter().partition(|&k| self.slots.stops_last(k));
        last.extend(others);
        last
    }

    /// Aborts `key`'s running task.
    pub(super) fn abort(&self, key: u32) {
        if let Some(running) = self.slots.get(key).and_then(|s| s.running()) {
            running.join.abort();
        }
    }

    /// Starts a group restart: stops the group's running members in reverse order, then
    /// starts the group again (without its temporary members) after `delay`.
    pub(super) fn begin_regroup(&mut self, failed: u32, group: Vec<u32>, delay: Duration) {
        let mut restart = Vec::with_capacity(group.len());
        let mut remaining = Vec::with_capacity(group.len());
        for &key in &group {
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            if key == failed {
                restart.push(key);
                continue;
            }
            let temporary = slot.spec.restart == Restart::Temporary;
            match &slot.state {
                SlotState::Running(r) if r.stop.is_none() => {
                    remaining.push(key);
                    if !temporary {
                        restart.push(key);
                    }
                }
                // Already being stopped by a command: not restarted with the group, but waited
                // for in turn (as a shutdown does), so that a child that stops last is asked
                // only once it has ended.
                SlotState::Running(_) => remaining.push(key),
                // Between runs, or done (a transient child that completed): started again with
                // the group, as OTP does. A child stopped by a command stays stopped.
                SlotState::Pending | SlotState::Restarting { .. } | SlotState::Exited
                    if !temporary =>
                {
                    restart.push(key)
                }
                _ => {}
            }
        }
        // Members between runs (or done) wait for the group; restart timers go stale.
        for &key in &restart {
            if matches!(
                self.slots.get(key).map(|s| &s.state),
                Some(SlotState::Restarting { .. } | SlotState::Exited)
            ) {
                self.set_state(key, SlotState::Pending);
            }
        }
        let remaining = self.stop_last_first(remaining);
        self.phase = Phase::Regrouping {
            seq: Sequence {
                remaining,
                current: None,
                concurrent: self.mgr.inner.stop_order == StopOrder::Concurrent,
                asked_all: false,
                linked: false,
                deadline: None,
                immediate: false,
                aborted: false,
                then: AfterStop::Start,
                last: None,
            },
            restart,
            failed,
            delay,
        };
        // The failed child is not running; nothing can start until the group is down.
        self.set_state(failed, SlotState::Pending);
    }

    /// Starts stopping every child, in reverse declared order.
    pub(super) fn begin_shutdown(&mut self, reason: Reason, immediate: bool) {
        if let Phase::Stopping { seq, .. } = &mut self.phase {
            if immediate && !seq.immediate {
                seq.immediate = true;
            }
            return;
        }
        let now = self.now();
        let own = self
            .mgr
            .inner
            .shutdown_timeout
            .and_then(|d| crate::deadline::after(now, d));
        let from_parent = self.env.as_ref().and_then(|e| *lock(&e.stop_deadline));
        let deadline = match (own, from_parent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut seq = Sequence {
            remaining: self.stop_last_first(self.slots.keys().collect()),
            current: None,
            concurrent: self.mgr.inner.stop_order == StopOrder::Concurrent,
            asked_all: false,
            linked: false,
            deadline,
            immediate,
            aborted: false,
            then: AfterStop::Stay,
            last: None,
        };
        // A group restart in progress becomes part of the shutdown.
        if let Phase::Regrouping { seq: old, .. } = &self.phase {
            seq.current = old.current;
        }
        // What waited for a group restart (also one that has just ended, when the shutdown
        // request came with its last exit) is settled now.
        let deferred = std::mem::take(&mut self.deferred_exits);
        if !self.deferred_commands.is_empty() {
            let refusal = self.shutting_down();
            for cmd in self.deferred_commands.drain(..) {
                cmd.refuse(refusal.clone());
            }
        }
        tracing::debug!(manager = %self.shared.path, ?reason, "manager shutting down");
        self.phase = Phase::Stopping { seq, reason };
        for exit in deferred {
            self.record_unasked_exit(exit.key, &exit.status, exit.uptime);
            self.finish_slot(exit.key);
        }
    }

    /// Drives the sequence of the current phase as far as it goes without waiting.
    pub(super) fn progress(&mut self) {
        loop {
            let (seq, stopping) = match &mut self.phase {
                Phase::Running => {
                    self.start_pending();
                    self.report_ready();
                    return;
                }
                Phase::Regrouping { seq, .. } => (seq, false),
                Phase::Stopping { seq, .. } => (seq, true),
            };
            if seq.immediate {
                if seq.aborted {
                    return;
                }
                seq.aborted = true;
                let (deadline, then) = (seq.deadline, seq.then);
                // Those that stop last and were not asked yet come after the others.
                let mut keys = seq.last.take().unwrap_or_default();
                keys.append(&mut seq.remaining);
                seq.current = None;
                for key in keys.into_iter().rev() {
                    self.stop_or_settle(key, deadline, then, true, stopping);
                }
                let running: Vec<u32> = self
                    .slots
                    .keys()
                    .filter(|&k| self.slots.get(k).is_some_and(|s| s.running().is_some()))
                    .collect();
                for key in running {
                    self.begin_stop(key, deadline, AfterStop::Stay, true, false);
                }
                return;
            }
            if seq.concurrent {
                if !seq.asked_all {
                    seq.asked_all = true;
                    let (deadline, then) = (seq.deadline, seq.then);
                    let keys = std::mem::take(&mut seq.remaining);
                    // First round: all but those that stop last; second round: those.
                    let others = if seq.last.is_none() {
                        let (last, others): (Vec<u32>, Vec<u32>) =
                            keys.into_iter().partition(|&k| self.slots.stops_last(k));
                        if let Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } =
                            &mut self.phase
                        {
                            seq.last = Some(last);
                        }
                        others
                    } else {
                        keys
                    };
                    let mut waiting = Vec::with_capacity(others.len());
                    for key in others.into_iter().rev() {
                        if self.stop_or_settle(key, deadline, then, false, stopping) {
                            waiting.push(key);
                        }
                    }
                    // Wait for the first asked last: `remaining` pops from the end.
                    waiting.reverse();
                    if let Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } =
                        &mut self.phase
                    {
                        seq.remaining = waiting;
                    }
                    continue;
                }
                // Amortised O(1) per exit: each key is popped once, and a running key at the
                // end stops the scan.
                while let Some(&key) = seq.remaining.last() {
                    if self.slots.get(key).is_some_and(|s| s.running().is_some()) {
                        return;
                    }
                    seq.remaining.pop();
                }
                if let Some(last) = &mut seq.last
                    && !last.is_empty()
                {
                    // Everyone else has ended: now those that stop last.
                    seq.remaining = std::mem::take(last);
                    seq.asked_all = false;
                    continue;
                }
                if let Phase::Regrouping { .. } = self.phase {
                    self.finish_regroup();
                    continue;
                }
                return;
            }
            if !seq.linked {
                seq.linked = true;
                self.link_sequence();
                continue;
            }
            if let Some(current) = seq.current {
                let still_running = self
                    .slots
                    .get(current)
                    .is_some_and(|s| s.running().is_some());
                if still_running {
                    return;
                }
                seq.current = None;
            }
            match seq.remaining.pop() {
                Some(key) => {
                    let (deadline, then) = (seq.deadline, seq.then);
                    if self.stop_or_settle(key, deadline, then, false, stopping) {
                        if let Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } =
                            &mut self.phase
                        {
                            seq.current = Some(key);
                        }
                        return;
                    }
                }
                None => {
                    if let Phase::Regrouping { .. } = self.phase {
                        self.finish_regroup();
                        continue;
                    }
                    return;
                }
            }
        }
    }

    /// Links the running children of a one-at-a-time sequence: each child's task, as its run
    /// ends, asks the next running child of the sequence to stop (see
    /// [`StopSignal::end_of_run`](crate::child::stop_signal::StopSignal::end_of_run)). The stop
    /// then goes down the sequence without waiting for this manager between two children; the
    /// manager follows behind and does the bookkeeping (the stop's terms and deadline, the
    /// exit) for each child as usual, asking it again, which changes nothing.
    ///
    /// The order is kept: a child is asked only once the run before it has ended. Children
    /// that must not be asked this way are left to the manager: a `Brutal` child (it is
    /// aborted, not asked) and a nested manager (it must get its deadline first).
    pub(super) fn link_sequence(&self) {
        let (Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. }) = &self.phase else {
            return;
        };
        let running = |key: u32| self.slots.get(key).filter(|s| s.running().is_some());
        let mut before = seq.current.and_then(running).map(|s| &s.child);
        for &key in seq.remaining.iter().rev() {
            let Some(slot) = running(key) else {
                continue;
            };
            if slot.running().is_some_and(|r| r.stop.is_some()) {
                // Already stopping, asked out of turn (by a command): its end must not ask the
                // next child. The chain breaks here; the manager asks the next one in turn.
                slot.child.stop.chain(None);
                before = None;
                continue;
            }
            let askable = slot.link().is_none() && slot.spec.shutdown_policy() != Shutdown::Brutal;
            if let Some(before) = before {
                before
                    .stop
                    .chain(askable.then(|| (slot.child.clone(), slot.generation)));
            }
            before = Some(&slot.child);
        }
        if let Some(last) = before {
            last.stop.chain(None);
        }
    }

    /// Stops `key` if it runs (returns `true`: wait for it); otherwise settles it at once.
    pub(super) fn stop_or_settle(
        &mut self,
        key: u32,
        deadline: Option<Instant>,
        then: AfterStop,
        immediate: bool,
        shutting_down: bool,
    ) -> bool {
        let Some(slot) = self.slots.get(key) else {
            return false;
        };
        let then = slot.after_sequence_stop(then);
        match &slot.state {
            SlotState::Running(_) => {
                self.begin_stop(key, deadline, then, immediate, false);
                true
            }
            SlotState::Pending | SlotState::Restarting { .. } if shutting_down => {
                self.set_state(key, SlotState::Stopped);
                self.emit_stopped(key);
                if let Some(slot) = self.slots.get_mut(key) {
                    slot.answer_waiters();
                }
                false
            }
            _ => false,
        }
    }

    pub(super) fn finish_regroup(&mut self) {
        let Phase::Regrouping {
            restart,
            delay,
            failed,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Running)
        else {
            return;
        };
        if self.token.is_cancelled() {
            self.begin_shutdown(Reason::Requested, false);
            return;
        }
        for key in restart {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            if !matches!(slot.state, SlotState::Pending) {
                continue;
            }
            if key != failed {
                // Bystanders are restarted too; the intensity counted the group once.
                slot.restarts = slot.restarts.saturating_add(1);
                let (child, restarts) = (slot.child.clone(), slot.restarts);
                self.emit(
                    || child.path(),
                    || EventKind::Restarting { delay, restarts },
                );
            }
            self.schedule_start(key, delay);
        }
        let mut deferred = std::mem::take(&mut self.deferred_exits).into_iter();
        while let Some(exit) = deferred.next() {
            match self.phase {
                Phase::Running => self.decide(exit.key, exit.status, exit.uptime),
                // One of them began another group restart: the rest wait for that one.
                Phase::Regrouping { .. } => {
                    self.deferred_exits.push(exit);
                    self.deferred_exits.extend(deferred);
                    break;
                }
                Phase::Stopping { .. } => {
                    self.record_unasked_exit(exit.key, &exit.status, exit.uptime);
                    self.finish_slot(exit.key);
                }
            }
        }
        while matches!(self.phase, Phase::Running) {
            let Some(cmd) = self.deferred_commands.pop_front() else {
                break;
            };
            self.on_command(cmd);
        }
    }

    /// Tells the parent this manager is ready once every live child is.
    pub(super) fn report_ready(&mut self) {
        if self.ready_reported || self.counts.ready != self.counts.live || self.counts.live == 0 {
            return;
        }
        self.ready_reported = true;
        if let Some(ctx) = &self.parent {
            ctx.ready();
        }
    }
}
