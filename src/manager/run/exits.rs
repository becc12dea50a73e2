//! Reports from children: readiness and exits, and the restart decisions they lead to.

use super::*;
use crate::deadline;

/// How a run that this manager was stopping ended.
pub(super) struct Ended<'a> {
    pub(super) status: &'a ExitStatus,
    pub(super) uptime: Duration,
    /// It ended because it was asked to stop.
    pub(super) asked: bool,
}

impl Run {
    /// Handles a batch of reports from children.
    pub(super) fn on_child_msgs(&mut self, msgs: &mut Vec<ChildMsg>) {
        // A shutdown request that arrived with these reports comes first: exits during a
        // shutdown are not restarted. (Checked once per batch: the check takes a lock.)
        if matches!(self.phase, Phase::Running) && self.token.is_cancelled() {
            self.begin_shutdown(Reason::Requested, false);
        }
        for msg in msgs.drain(..) {
            self.on_child_msg(msg);
        }
    }

    fn on_child_msg(&mut self, msg: ChildMsg) {
        match msg {
            ChildMsg::Ready { key, generation } => self.on_ready(key, generation),
            ChildMsg::StopForGood { key, generation } => {
                let current = self
                    .slots
                    .get(key)
                    .is_some_and(|s| s.generation == generation);
                if current && self.slots.get(key).is_some_and(|s| s.running().is_some()) {
                    self.begin_stop(key, None, AfterStop::Stay, false, true);
                }
            }
            ChildMsg::Exited {
                key,
                generation,
                exit,
                asked,
            } => self.on_exit(key, generation, exit, asked),
        }
    }

    pub(super) fn on_ready(&mut self, key: u32, generation: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let Some(running) = slot.running_mut() else {
            return;
        };
        if running.ready {
            return;
        }
        running.ready = true;
        self.counts.ready += 1;
        let child = slot.child.clone();
        tracing::debug!(path = %child.path(), "child ready");
        self.emit(|| child.path(), || EventKind::Ready);
    }

    /// `asked`: the run ended because it was asked to stop (see
    /// [`StopSignal::end_of_run`](crate::child::stop_signal::StopSignal::end_of_run)).
    pub(super) fn on_exit(&mut self, key: u32, generation: u64, exit: RawExit, asked: bool) {
        let now = self.now();
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        if slot.generation != generation || slot.running().is_none() {
            return;
        }
        let Some((SlotState::Running(running), stop)) = self.set_state(key, SlotState::Exited)
        else {
            return;
        };
        let uptime = self.slots.elapsed(running.since, now);
        let status = match exit {
            RawExit::Completed => ExitStatus::Completed,
            RawExit::Failed(e) => ExitStatus::Failed(Arc::from(e)),
            RawExit::Panicked(m) => ExitStatus::Panicked(Arc::from(m)),
            RawExit::Aborted => ExitStatus::Aborted,
        };
        let slot = self.slots.get_mut(key).expect("slot checked above");
        slot.set_last_exit(&status);
        slot.set_link(None);
        // Borrowed, not cloned: a clone is two atomic operations on a line the child's task
        // has just written.
        let slot = self.slots.get(key).expect("slot checked above");
        let child = &slot.child;
        let unread = child.stop.clear_inbox();
        if unread > 0 {
            tracing::warn!(path = %child.path(), unread, "child exited with unread control messages");
        }
        match &status {
            ExitStatus::Failed(e) => {
                tracing::warn!(path = %child.path(), error = %e, "child failed")
            }
            ExitStatus::Panicked(m) => {
                tracing::warn!(path = %child.path(), panic = %m, "child panicked")
            }
            _ => tracing::debug!(path = %child.path(), status = %status, "child exited"),
        }
        {
            let status = status.clone();
            self.emit(|| child.path(), move || EventKind::Exited { status });
        }

        let stop = stop.or_else(|| asked.then(|| self.chained_stop(key, now)).flatten());
        if let Some(stop) = stop {
            let ended = Ended {
                status: &status,
                uptime,
                asked,
            };
            self.after_stop(key, stop, ended);
            return;
        }
        match &mut self.phase {
            Phase::Running => self.decide(key, status, uptime),
            Phase::Regrouping { seq, restart, .. } => {
                if restart.contains(&key) {
                    // It is restarted with its group anyway.
                    seq.remaining.retain(|&k| k != key);
                    self.set_state(key, SlotState::Pending);
                } else {
                    self.deferred_exits.push(DeferredExit {
                        key,
                        status,
                        uptime,
                    });
                }
            }
            Phase::Stopping { .. } => {
                self.record_unasked_exit(key, &status, uptime);
                self.finish_slot(key);
            }
        }
    }

    /// The terms of the stop of a child asked by its sibling's task (the stop chain of a
    /// one-at-a-time sequence, see `Run::link_sequence`) before this manager got to it: the
    /// terms `stop_or_settle` gives a child it asks. Only for a run that was asked.
    fn chained_stop(&self, key: u32, now: Instant) -> Option<StopRequest> {
        let slot = self.slots.get(key)?;
        let (Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. }) = &self.phase else {
            return None;
        };
        Some(StopRequest {
            then: slot.after_sequence_stop(seq.then),
            started: now,
            deadline: None,
            brutal: false,
            timed_out: false,
        })
    }

    /// A child that this manager was stopping has exited.
    ///
    /// During a shutdown, a run that ended on its own before it was asked (its exit reached
    /// this manager only after the request) is judged as an exit nobody asked for, as it would
    /// have been had it arrived a moment earlier (see `record_unasked_exit`); an abort is not
    /// such an end, it is the stop itself.
    pub(super) fn after_stop(&mut self, key: u32, stop: StopRequest, ended: Ended<'_>) {
        let Ended {
            status,
            uptime,
            asked,
        } = ended;
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        let on_its_own = !asked && !matches!(status, ExitStatus::Aborted);
        if stopping && on_its_own {
            self.record_unasked_exit(key, status, uptime);
        }
        // The path is built only when there is something to report: most stops end cleanly.
        let report =
            stop.timed_out || (stopping && !on_its_own && !stop.brutal && !status.is_success());
        if let Some(path) = report
            .then(|| self.slots.get(key).map(|s| s.child.path()))
            .flatten()
        {
            if stop.timed_out {
                let timeout = stop.deadline.map_or(Duration::ZERO, |d| {
                    d.saturating_duration_since(stop.started)
                });
                tracing::warn!(path = %path, ?timeout, "child did not stop in time and was aborted");
                if stopping {
                    self.record(vec![Failure {
                        path,
                        cause: Cause::StopTimeout { timeout },
                    }]);
                }
            } else if stopping && !stop.brutal {
                let failures = failures_of(&path, status);
                self.record(failures);
            }
        }
        match stop.then {
            AfterStop::Stay => {
                self.set_state(key, SlotState::Stopped);
                self.emit_stopped(key);
            }
            AfterStop::Start => {
                self.set_state(key, SlotState::Pending);
            }
            AfterStop::Remove => {
                self.emit_stopped(key);
                self.remove(key);
            }
        }
        if let Some(slot) = self.slots.get_mut(key) {
            slot.answer_waiters();
        }
        self.sequence_child_done(key);
    }

    pub(super) fn sequence_child_done(&mut self, key: u32) {
        let seq = match &mut self.phase {
            Phase::Running => return,
            Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } => seq,
        };
        if seq.current == Some(key) {
            seq.current = None;
        }
    }

    /// Applies the restart decision for an exit that nobody asked for.
    pub(super) fn decide(&mut self, key: u32, status: ExitStatus, uptime: Duration) {
        let Some(decision) = self.decision(key, &status, uptime) else {
            return;
        };
        let Some(path) = self.slots.get(key).map(|s| s.child.path()) else {
            return;
        };
        match decision {
            Decision::Restart {
                scope,
                delay,
                attempt,
            } => {
                let slot = self.slots.get_mut(key).expect("slot checked above");
                slot.set_attempt(attempt);
                slot.restarts = slot.restarts.saturating_add(1);
                let restarts = slot.restarts;
                tracing::info!(path = %path, ?delay, restarts, "restarting child");
                self.emit(
                    || path.clone(),
                    || EventKind::Restarting { delay, restarts },
                );
                match scope {
                    Scope::One => self.schedule_start(key, delay),
                    Scope::All => {
                        let group: Vec<u32> = self.slots.keys().collect();
                        self.begin_regroup(key, group, delay);
                    }
                    Scope::Rest => {
                        let group = self.slots.keys_from(key);
                        self.begin_regroup(key, group, delay);
                    }
                }
            }
            Decision::Done => self.finish_slot(key),
            Decision::AutoShutdown => {
                tracing::info!(path = %path, "significant child ended; shutting down");
                self.finish_slot(key);
                self.begin_shutdown(Reason::AutoShutdown, false);
            }
            Decision::Escalate => {
                let failures = failures_of(&path, &status);
                self.record(failures);
                self.finish_slot(key);
                self.begin_shutdown(Reason::Failed, false);
            }
            Decision::GiveUp => {
                self.record_give_up(path, &status);
                self.finish_slot(key);
                self.begin_shutdown(Reason::GaveUp, false);
            }
        }
    }

    /// A child ended for good: temporary children are removed, others stay as exited.
    pub(super) fn finish_slot(&mut self, key: u32) {
        self.emit_stopped(key);
        let temporary = self
            .slots
            .get(key)
            .is_some_and(|s| s.spec.restart == Restart::Temporary);
        if temporary {
            self.remove(key);
        } else {
            self.set_state(key, SlotState::Exited);
        }
    }

    pub(super) fn remove(&mut self, key: u32) {
        self.set_state(key, SlotState::Exited);
        if let Some(mut slot) = self.slots.remove(key) {
            slot.answer_waiters();
        }
    }

    pub(super) fn emit_stopped(&self, key: u32) {
        if let Some(slot) = self.slots.get(key) {
            self.emit(|| slot.child.path(), || EventKind::Stopped);
        }
    }

    /// Records what a run that ended on its own, unasked, while this manager stops its
    /// children, adds to the result. During a cascade or after giving up, every failure is
    /// kept. During a shutdown that was requested (by a parent, a handle, a signal or
    /// significant children), the exit gets the decision it would have got a moment earlier,
    /// without the restart: a failure a restart would have absorbed is reported like any
    /// absorbed failure (a warning and an `Exited` event) and the shutdown still succeeds; a
    /// failure that would have started a cascade (a temporary child's) or exceeded the restart
    /// intensity is kept, and the shutdown then keeps every later failure too. So the outcome
    /// does not depend on whether the failure came just before the request or just after.
    pub(super) fn record_unasked_exit(&mut self, key: u32, status: &ExitStatus, uptime: Duration) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let path = slot.child.path();
        let requested = matches!(
            self.phase,
            Phase::Stopping {
                reason: Reason::Requested | Reason::AutoShutdown,
                ..
            }
        );
        if !requested {
            self.record(failures_of(&path, status));
            return;
        }
        let Some(decision) = self.decision(key, status, uptime) else {
            return;
        };
        match decision {
            Decision::Restart { .. } | Decision::Done | Decision::AutoShutdown => {
                if !status.is_success() {
                    tracing::debug!(path = %path, "failure absorbed: the manager is stopping, no restart");
                }
            }
            Decision::Escalate => {
                self.record(failures_of(&path, status));
                self.set_stop_reason(Reason::Failed);
            }
            Decision::GiveUp => {
                self.record_give_up(path, status);
                self.set_stop_reason(Reason::GaveUp);
            }
        }
    }

    /// The restart decision for `key`'s run that ended with `status` after `uptime`; a
    /// restart it allows is counted in the restart window.
    fn decision(&mut self, key: u32, status: &ExitStatus, uptime: Duration) -> Option<Decision> {
        let slot = self.slots.get(key)?;
        let exit = decide::Exit {
            restart: slot.spec.restart,
            failed: !status.is_success(),
            significant: slot.spec.significant,
            uptime,
            attempt: slot.attempt(),
            other_significant_alive: self.counts.significant_live > 0,
        };
        let now = self.now();
        Some(decide::decide(
            &self.policy,
            exit,
            &mut self.window,
            now,
            fastrand::f64(),
        ))
    }

    fn set_stop_reason(&mut self, new: Reason) {
        if let Phase::Stopping { reason, .. } = &mut self.phase {
            *reason = new;
        }
    }

    /// Records (and announces) that the restart intensity was exceeded by `last_child`'s
    /// exit; a nested manager's own failures come first.
    fn record_give_up(&mut self, last_child: ChildPath, status: &ExitStatus) {
        let failure = Failure {
            path: self.shared.path.clone(),
            cause: Cause::GaveUp {
                max_restarts: self.policy.intensity.max_restarts,
                period: self.policy.intensity.period,
                last_child,
                last_exit: status.clone(),
            },
        };
        tracing::error!(manager = %self.shared.path, failure = %failure, "restart intensity exceeded; giving up");
        {
            let failure = failure.clone();
            self.emit(
                || self.shared.path.clone(),
                move || EventKind::GaveUp { failure },
            );
        }
        // A nested manager's own failures happened first: they lead.
        if let ExitStatus::Failed(e) = status
            && let Some(nested) = e.downcast_ref::<TreeError>()
        {
            self.record(nested.clone().into_failures());
        }
        self.record(vec![failure]);
    }

    pub(super) fn record(&mut self, failures: Vec<Failure>) {
        self.failures.extend(failures);
    }

    pub(super) fn schedule_start(&mut self, key: u32, delay: Duration) {
        if delay.is_zero() {
            self.set_state(key, SlotState::Pending);
            return;
        }
        let due = deadline::from_now_or_far(delay);
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let timer = Timer {
            at: due,
            seq: slot.seq,
            key,
            generation: slot.generation,
            kind: TimerKind::Restart,
        };
        self.set_state(key, SlotState::Restarting { due });
        self.push_timer(timer);
    }
}
