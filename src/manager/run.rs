//! One run of a manager: a single event loop over child reports, commands, its shutdown signal
//! and one timer. No helper tasks; every decision is taken here, in order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ProcessManager;
use super::child_task;
use super::decide::{self, Decision, Policy, RestartWindow, Scope};
use super::mailbox::Command;
use super::shared::{ChildMsg, ChildShared, RawExit, RunShared, TaskEnv};
use super::slots::{AfterStop, Running, Slot, SlotState, Slots, StopRequest};
use crate::context::Context;
use crate::control::{Control, lock};
use crate::error::{Cause, ControlError, ExitStatus, Failure, SpecError, TreeError};
use crate::event::EventKind;
use crate::path::{ChildPath, relative_to};
use crate::snapshot::{ChildState, LevelSnapshot, Snapshot};
use crate::spec::{ChildSpec, Condition, Restart, Shutdown};

/// How many child reports are taken from the channel per wake-up.
const BATCH: usize = 256;

/// Why a manager is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// Asked to (by its parent, a handle, or a signal).
    Requested,
    /// A failure was not absorbed.
    Failed,
    /// Restart intensity exceeded.
    GaveUp,
    /// Significant children ended.
    AutoShutdown,
}

/// Children being stopped one at a time, in reverse declared order.
struct Sequence {
    /// Keys still to stop, in declared order: the next one is the last.
    remaining: Vec<u32>,
    /// The child being stopped now.
    current: Option<u32>,
    /// A deadline over the whole sequence.
    deadline: Option<Instant>,
    /// Abort everything at once instead.
    immediate: bool,
    /// The immediate abort has been carried out.
    aborted: bool,
    /// What happens to each child once stopped.
    then: AfterStop,
}

enum Phase {
    Running,
    /// A group restart: stopping the group, then starting it again after `delay`.
    Regrouping {
        seq: Sequence,
        /// The whole group, in declared order, without its temporary bystanders.
        restart: Vec<u32>,
        /// The child whose exit caused the group restart.
        failed: u32,
        delay: Duration,
    },
    Stopping {
        seq: Sequence,
        reason: Reason,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum TimerKind {
    Restart,
    StopDeadline,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Timer {
    at: Instant,
    seq: u64,
    key: u32,
    generation: u32,
    kind: TimerKind,
}

/// An exit whose decision waits until a group restart is over.
struct DeferredExit {
    key: u32,
    status: ExitStatus,
    uptime: Duration,
}

#[derive(Default)]
struct Counts {
    /// Pending, running or between runs.
    live: usize,
    running: usize,
    ready: usize,
    significant_live: usize,
}

enum Wake {
    Children,
    Command(Command),
    Cancelled,
    Timer,
}

/// Where a manager's run sits in the tree.
pub(crate) enum Parent {
    Root,
    Child(Context),
}

pub(crate) struct Run {
    mgr: ProcessManager,
    shared: Arc<RunShared>,
    policy: Policy,
    slots: Slots,
    rx: mpsc::UnboundedReceiver<ChildMsg>,
    token: CancellationToken,
    tracker: TaskTracker,
    env: Option<Arc<TaskEnv>>,
    parent: Option<Context>,
    window: RestartWindow,
    timers: BinaryHeap<Reverse<Timer>>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    phase: Phase,
    failures: Vec<Failure>,
    counts: Counts,
    ready_reported: bool,
    deferred_commands: VecDeque<Command>,
    deferred_exits: Vec<DeferredExit>,
    started_at: Instant,
}

/// Runs `mgr` once, until it stops; returns the first failure and all later ones.
pub(crate) async fn run(mgr: &ProcessManager, parent: Parent) -> Result<(), TreeError> {
    let inner = &mgr.inner;
    let (path, token, tree, mut buses, env, parent) = match parent {
        Parent::Root => (
            ChildPath::root(&inner.name),
            CancellationToken::new(),
            mgr.handle(),
            Vec::new(),
            None,
            None,
        ),
        Parent::Child(mut ctx) => {
            let run = &ctx.child.run;
            (
                ctx.path(),
                ctx.token.clone(),
                run.tree.clone(),
                run.buses.to_vec(),
                ctx.link.take(),
                Some(ctx),
            )
        }
    };
    let Some(mut commands) = inner.mailbox.open() else {
        return Err(TreeError::new(vec![Failure {
            path,
            cause: Cause::AlreadyRunning,
        }]));
    };
    *lock(&inner.path) = path.clone();
    buses.insert(0, inner.bus.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(RunShared {
        path: path.clone(),
        tx,
        buses: buses.into_boxed_slice(),
        tree,
    });
    let mut run = Run {
        mgr: mgr.clone(),
        shared,
        policy: inner.policy,
        slots: Slots::with_capacity(inner.specs.len()),
        rx,
        token,
        tracker: TaskTracker::new(),
        env,
        parent,
        window: RestartWindow::default(),
        timers: BinaryHeap::new(),
        sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
        armed: None,
        phase: Phase::Running,
        failures: Vec::new(),
        counts: Counts::default(),
        ready_reported: false,
        deferred_commands: VecDeque::new(),
        deferred_exits: Vec::new(),
        started_at: Instant::now(),
    };
    tracing::debug!(manager = %path, children = inner.specs.len(), "manager starting");
    let result = run.main(&mut commands).await;
    inner.mailbox.close(commands, &path);
    run.tracker.close();
    run.tracker.wait().await;
    match &result {
        Ok(()) => tracing::debug!(manager = %path, "manager stopped"),
        Err(e) => tracing::debug!(manager = %path, error = %e, "manager stopped with an error"),
    }
    result
}

impl Run {
    async fn main(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Result<(), TreeError> {
        // Commands sent before the start: a shutdown among them means no child starts.
        let mut queued = Vec::new();
        while let Ok(cmd) = commands.try_recv() {
            queued.push(cmd);
        }
        if queued.iter().any(|c| matches!(c, Command::Shutdown { .. })) {
            self.begin_shutdown(Reason::Requested, false);
        } else {
            for spec in self.mgr.inner.specs.clone() {
                self.insert(spec);
            }
            self.start_pending();
        }
        for cmd in queued {
            self.on_command(cmd);
        }

        let cancelled = self.token.clone().cancelled_owned();
        tokio::pin!(cancelled);
        let mut cancel_seen = false;
        let mut msgs = Vec::with_capacity(BATCH);
        loop {
            self.progress();
            if let Some(result) = self.outcome() {
                return result;
            }
            let wake = tokio::select! {
                biased;
                _ = self.rx.recv_many(&mut msgs, BATCH) => Wake::Children,
                Some(cmd) = commands.recv() => Wake::Command(cmd),
                _ = &mut cancelled, if !cancel_seen => Wake::Cancelled,
                _ = &mut self.sleep, if self.armed.is_some() => Wake::Timer,
            };
            match wake {
                Wake::Children => {
                    for msg in msgs.drain(..) {
                        self.on_child_msg(msg);
                    }
                }
                Wake::Command(cmd) => self.on_command(cmd),
                Wake::Cancelled => {
                    cancel_seen = true;
                    self.begin_shutdown(Reason::Requested, false);
                }
                Wake::Timer => self.on_timer(),
            }
        }
    }

    /// The run's result, once it is over.
    fn outcome(&mut self) -> Option<Result<(), TreeError>> {
        let done = match &self.phase {
            Phase::Running => self.counts.live == 0 && self.deferred_exits.is_empty(),
            Phase::Stopping { seq, .. } => {
                seq.remaining.is_empty() && seq.current.is_none() && self.counts.running == 0
            }
            Phase::Regrouping { .. } => false,
        };
        if !done {
            return None;
        }
        let failures = std::mem::take(&mut self.failures);
        Some(if failures.is_empty() {
            Ok(())
        } else {
            Err(TreeError::new(failures))
        })
    }

    // ----- children: insert, start ------------------------------------------------------

    fn insert(&mut self, spec: Arc<ChildSpec>) -> u32 {
        let key = self.slots.vacant_key();
        let child = Arc::new(ChildShared {
            spec,
            key,
            run: self.shared.clone(),
            inbox: Default::default(),
        });
        let significant = child.spec.significant;
        let key = self.slots.insert(Slot::new(child, self.slots.next_seq()));
        self.counts.live += 1;
        if significant {
            self.counts.significant_live += 1;
        }
        key
    }

    /// Moves a slot to `state`, keeping the counts in step; returns the old state.
    fn set_state(&mut self, key: u32, state: SlotState) -> Option<SlotState> {
        let old = self.slots.replace_state(key, state)?;
        let slot = self.slots.get(key)?;
        let flags = |s: &SlotState| {
            let live = matches!(
                s,
                SlotState::Pending | SlotState::Running(_) | SlotState::Restarting { .. }
            );
            let running = matches!(s, SlotState::Running(_));
            let ready = matches!(s, SlotState::Running(r) if r.ready);
            (live, running, ready)
        };
        let (was_live, was_running, was_ready) = flags(&old);
        let (is_live, is_running, is_ready) = flags(&slot.state);
        adjust(&mut self.counts.live, was_live, is_live);
        adjust(&mut self.counts.running, was_running, is_running);
        adjust(&mut self.counts.ready, was_ready, is_ready);
        if slot.child.spec.significant {
            adjust(&mut self.counts.significant_live, was_live, is_live);
        }
        Some(old)
    }

    /// Starts, in declared order, every pending child whose dependencies hold.
    fn start_pending(&mut self) {
        if !matches!(self.phase, Phase::Running) || !self.slots.has_pending() {
            return;
        }
        for key in self.slots.pending() {
            if self.dependencies_hold(key) {
                self.spawn(key);
            }
        }
    }

    fn dependencies_hold(&self, key: u32) -> bool {
        let Some(slot) = self.slots.get(key) else {
            return false;
        };
        slot.child.spec.deps.iter().all(|dep| {
            // A dependency that has been removed holds nothing up any more.
            let Some(other) = self.slots.find(&dep.on).and_then(|k| self.slots.get(k)) else {
                return true;
            };
            let completed = matches!(other.state, SlotState::Exited)
                && other.last_exit.as_ref().is_some_and(ExitStatus::is_success);
            match dep.condition {
                Condition::Started => other.running().is_some() || completed,
                Condition::Ready => other.running().is_some_and(|r| r.ready) || completed,
                Condition::Completed => completed,
            }
        })
    }

    fn spawn(&mut self, key: u32) {
        let is_manager;
        let (child, ctx) = {
            let Some(slot) = self.slots.get_mut(key) else {
                return;
            };
            slot.generation = slot.generation.wrapping_add(1);
            is_manager = slot.child.spec.runnable.as_manager().is_some();
            // Not a child token of the manager's: a cancelled manager must stop its children
            // itself, in reverse order, rather than have them all cancelled at once.
            let token = CancellationToken::new();
            slot.link = is_manager.then(|| TaskEnv::new(self.env.clone(), self.tracker.token()));
            let ctx = Context::new(
                slot.child.clone(),
                token,
                slot.generation,
                slot.restarts,
                slot.link.clone(),
            );
            (slot.child.clone(), ctx)
        };
        let token = ctx.token.clone();
        self.shared.emit(|| child.path(), || EventKind::Starting);
        let join = child_task::spawn(child.clone(), ctx, self.env.clone(), &self.tracker);
        self.set_state(
            key,
            SlotState::Running(Running {
                token,
                join,
                since: Instant::now(),
                ready: false,
                stop: None,
            }),
        );
        self.shared.emit(|| child.path(), || EventKind::Running);
    }

    // ----- reports from children ---------------------------------------------------------

    fn on_child_msg(&mut self, msg: ChildMsg) {
        // A shutdown request that arrived with these reports comes first: exits during a
        // shutdown are not restarted.
        if matches!(self.phase, Phase::Running) && self.token.is_cancelled() {
            self.begin_shutdown(Reason::Requested, false);
        }
        match msg {
            ChildMsg::Ready { key, generation } => self.on_ready(key, generation),
            ChildMsg::Exited {
                key,
                generation,
                exit,
            } => self.on_exit(key, generation, exit),
        }
    }

    fn on_ready(&mut self, key: u32, generation: u32) {
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
        self.shared.emit(|| child.path(), || EventKind::Ready);
    }

    fn on_exit(&mut self, key: u32, generation: u32, exit: RawExit) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        if slot.generation != generation || slot.running().is_none() {
            return;
        }
        let Some(SlotState::Running(running)) = self.set_state(key, SlotState::Exited) else {
            return;
        };
        let now = Instant::now();
        let uptime = now.saturating_duration_since(running.since);
        let status = match exit {
            RawExit::Completed => ExitStatus::Completed,
            RawExit::Failed(e) => ExitStatus::Failed(Arc::from(e)),
            RawExit::Panicked(m) => ExitStatus::Panicked(Arc::from(m)),
            RawExit::Aborted => ExitStatus::Aborted,
        };
        let slot = self.slots.get_mut(key).expect("slot checked above");
        slot.last_exit = Some(status.clone());
        slot.link = None;
        let child = slot.child.clone();
        let unread = child.inbox.clear();
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
            self.shared
                .emit(|| child.path(), move || EventKind::Exited { status });
        }

        if let Some(stop) = running.stop {
            self.after_stop(key, stop, &status);
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
                let failures = failures_of(&child.path(), &status);
                self.record(failures);
                self.finish_slot(key);
            }
        }
    }

    /// A child that was asked to stop has exited.
    fn after_stop(&mut self, key: u32, stop: StopRequest, status: &ExitStatus) {
        let path = self.slots.get(key).map(|s| s.child.path());
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        if let Some(path) = path {
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

    fn sequence_child_done(&mut self, key: u32) {
        let seq = match &mut self.phase {
            Phase::Running => return,
            Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } => seq,
        };
        if seq.current == Some(key) {
            seq.current = None;
        }
    }

    /// Applies the restart decision for an exit that nobody asked for.
    fn decide(&mut self, key: u32, status: ExitStatus, uptime: Duration) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let spec = slot.child.spec.clone();
        let failed = !status.is_success();
        let exit = decide::Exit {
            restart: spec.restart,
            failed,
            significant: spec.significant,
            uptime,
            attempt: slot.attempt,
            other_significant_alive: self.counts.significant_live > 0,
        };
        let now = Instant::now();
        let decision = decide::decide(&self.policy, exit, &mut self.window, now, fastrand::f64());
        let path = slot.child.path();
        match decision {
            Decision::Restart {
                scope,
                delay,
                attempt,
            } => {
                let slot = self.slots.get_mut(key).expect("slot checked above");
                slot.attempt = attempt;
                slot.restarts = slot.restarts.saturating_add(1);
                let restarts = slot.restarts;
                tracing::info!(path = %path, ?delay, restarts, "restarting child");
                self.shared.emit(
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
                let failure = Failure {
                    path: self.shared.path.clone(),
                    cause: Cause::GaveUp {
                        max_restarts: self.policy.intensity.max_restarts,
                        period: self.policy.intensity.period,
                        last_child: path,
                        last_exit: status.clone(),
                    },
                };
                tracing::error!(manager = %self.shared.path, failure = %failure, "restart intensity exceeded; giving up");
                {
                    let failure = failure.clone();
                    self.shared.emit(
                        || self.shared.path.clone(),
                        move || EventKind::GaveUp { failure },
                    );
                }
                // A nested manager's own failures happened first: they lead.
                if let ExitStatus::Failed(e) = &status
                    && let Some(nested) = e.downcast_ref::<TreeError>()
                {
                    self.record(nested.clone().into_failures());
                }
                self.record(vec![failure]);
                self.finish_slot(key);
                self.begin_shutdown(Reason::GaveUp, false);
            }
        }
    }

    /// A child ended for good: temporary children are removed, others stay as exited.
    fn finish_slot(&mut self, key: u32) {
        self.emit_stopped(key);
        let temporary = self
            .slots
            .get(key)
            .is_some_and(|s| s.child.spec.restart == Restart::Temporary);
        if temporary {
            self.remove(key);
        } else {
            self.set_state(key, SlotState::Exited);
        }
    }

    fn remove(&mut self, key: u32) {
        self.set_state(key, SlotState::Exited);
        if let Some(mut slot) = self.slots.remove(key) {
            slot.answer_waiters();
        }
    }

    fn emit_stopped(&self, key: u32) {
        if let Some(slot) = self.slots.get(key) {
            let child = slot.child.clone();
            self.shared.emit(|| child.path(), || EventKind::Stopped);
        }
    }

    fn record(&mut self, failures: Vec<Failure>) {
        self.failures.extend(failures);
    }

    fn schedule_start(&mut self, key: u32, delay: Duration) {
        if delay.is_zero() {
            self.set_state(key, SlotState::Pending);
            return;
        }
        let due = Instant::now() + delay;
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

    // ----- stopping ----------------------------------------------------------------------

    /// Asks a running child to stop under its shutdown policy, clamped by `deadline`.
    fn begin_stop(
        &mut self,
        key: u32,
        deadline: Option<Instant>,
        then: AfterStop,
        immediate: bool,
    ) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let policy = slot.child.spec.shutdown_policy();
        let seq_no = slot.seq;
        let generation = slot.generation;
        let link = slot.link.clone();
        let Some(running) = slot.running_mut() else {
            return;
        };
        let now = Instant::now();
        let brutal = immediate || policy == Shutdown::Brutal;
        let own = match policy {
            Shutdown::Timeout(d) => Some(now + d),
            Shutdown::Brutal | Shutdown::Infinity => None,
        };
        let deadline = match (own, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(stop) = &mut running.stop {
            // Already stopping: keep the stricter terms.
            if then != AfterStop::Stay {
                stop.then = then;
            }
            if brutal && !stop.brutal {
                stop.brutal = true;
                running.join.abort();
            }
            if let Some(d) = deadline
                && stop.deadline.is_none_or(|old| d < old)
            {
                stop.deadline = Some(d);
                self.push_timer(Timer {
                    at: d,
                    seq: seq_no,
                    key,
                    generation,
                    kind: TimerKind::StopDeadline,
                });
            }
            return;
        }
        running.stop = Some(StopRequest {
            then,
            started: now,
            deadline,
            brutal,
            timed_out: false,
        });
        if brutal {
            running.join.abort();
            return;
        }
        if let Some(link) = link {
            *lock(&link.stop_deadline) = deadline;
        }
        running.token.cancel();
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

    /// Starts a group restart: stops the group's running members in reverse order, then
    /// starts the group again (without its temporary members) after `delay`.
    fn begin_regroup(&mut self, failed: u32, group: Vec<u32>, delay: Duration) {
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
            let temporary = slot.child.spec.restart == Restart::Temporary;
            match &slot.state {
                SlotState::Running(r) if r.stop.is_none() => {
                    remaining.push(key);
                    if !temporary {
                        restart.push(key);
                    }
                }
                SlotState::Pending | SlotState::Restarting { .. } if !temporary => {
                    restart.push(key)
                }
                _ => {}
            }
        }
        // Members between runs wait for the group; their restart timers go stale.
        for &key in &restart {
            if matches!(
                self.slots.get(key).map(|s| &s.state),
                Some(SlotState::Restarting { .. })
            ) {
                self.set_state(key, SlotState::Pending);
            }
        }
        self.phase = Phase::Regrouping {
            seq: Sequence {
                remaining,
                current: None,
                deadline: None,
                immediate: false,
                aborted: false,
                then: AfterStop::Start,
            },
            restart,
            failed,
            delay,
        };
        // The failed child is not running; nothing can start until the group is down.
        self.set_state(failed, SlotState::Pending);
    }

    /// Starts stopping every child, in reverse declared order.
    fn begin_shutdown(&mut self, reason: Reason, immediate: bool) {
        if let Phase::Stopping { seq, .. } = &mut self.phase {
            if immediate && !seq.immediate {
                seq.immediate = true;
            }
            return;
        }
        let now = Instant::now();
        let own = self.mgr.inner.shutdown_timeout.map(|d| now + d);
        let from_parent = self.env.as_ref().and_then(|e| *lock(&e.stop_deadline));
        let deadline = match (own, from_parent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut seq = Sequence {
            remaining: self.slots.keys().collect(),
            current: None,
            deadline,
            immediate,
            aborted: false,
            then: AfterStop::Stay,
        };
        // A group restart in progress becomes part of the shutdown.
        if let Phase::Regrouping { seq: old, .. } = &self.phase {
            seq.current = old.current;
            for exit in std::mem::take(&mut self.deferred_exits) {
                if let Some(slot) = self.slots.get(exit.key) {
                    let failures = failures_of(&slot.child.path(), &exit.status);
                    self.record(failures);
                }
            }
            let refusal = self.shutting_down();
            for cmd in self.deferred_commands.drain(..) {
                cmd.refuse(refusal.clone());
            }
        }
        tracing::debug!(manager = %self.shared.path, ?reason, "manager shutting down");
        self.phase = Phase::Stopping { seq, reason };
    }

    /// Drives the sequence of the current phase as far as it goes without waiting.
    fn progress(&mut self) {
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
                let keys = std::mem::take(&mut seq.remaining);
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
                    self.begin_stop(key, deadline, AfterStop::Stay, true);
                }
                return;
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

    /// Stops `key` if it runs (returns `true`: wait for it); otherwise settles it at once.
    fn stop_or_settle(
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
        // A temporary bystander of a group restart is not started again.
        let then = if then == AfterStop::Start && slot.child.spec.restart == Restart::Temporary {
            AfterStop::Remove
        } else {
            then
        };
        match &slot.state {
            SlotState::Running(_) => {
                self.begin_stop(key, deadline, then, immediate);
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

    fn finish_regroup(&mut self) {
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
                self.shared.emit(
                    || child.path(),
                    || EventKind::Restarting { delay, restarts },
                );
            }
            self.schedule_start(key, delay);
        }
        for exit in std::mem::take(&mut self.deferred_exits) {
            if matches!(self.phase, Phase::Running) {
                self.decide(exit.key, exit.status, exit.uptime);
            } else {
                let path = self.slots.get(exit.key).map(|s| s.child.path());
                if let Some(path) = path {
                    let failures = failures_of(&path, &exit.status);
                    self.record(failures);
                }
                self.finish_slot(exit.key);
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
    fn report_ready(&mut self) {
        if self.ready_reported || self.counts.ready != self.counts.live || self.counts.live == 0 {
            return;
        }
        self.ready_reported = true;
        if let Some(ctx) = &self.parent {
            ctx.ready();
        }
    }

    // ----- timers ------------------------------------------------------------------------

    fn push_timer(&mut self, timer: Timer) {
        // Deadlines of stops that already finished sit at the top: drop them first, so the
        // heap stays as small as the number of timers that can still fire.
        while let Some(Reverse(top)) = self.timers.peek() {
            if self.timer_is_live(top) {
                break;
            }
            self.timers.pop();
        }
        let at = timer.at;
        self.timers.push(Reverse(timer));
        if self.armed.is_none_or(|armed| at < armed) {
            self.sleep.as_mut().reset(at);
            self.armed = Some(at);
        }
    }

    fn timer_is_live(&self, timer: &Timer) -> bool {
        let Some(slot) = self.slots.get(timer.key) else {
            return false;
        };
        if slot.generation != timer.generation {
            return false;
        }
        match timer.kind {
            TimerKind::Restart => {
                matches!(slot.state, SlotState::Restarting { due } if due == timer.at)
            }
            TimerKind::StopDeadline => slot.running().is_some_and(|r| {
                r.stop
                    .as_ref()
                    .is_some_and(|s| s.deadline == Some(timer.at) && !s.brutal && !s.timed_out)
            }),
        }
    }

    fn on_timer(&mut self) {
        self.armed = None;
        let now = Instant::now();
        while let Some(Reverse(timer)) = self.timers.peek().copied() {
            if timer.at > now {
                self.sleep.as_mut().reset(timer.at);
                self.armed = Some(timer.at);
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(timer.key) else {
                continue;
            };
            if slot.generation != timer.generation {
                continue;
            }
            match timer.kind {
                TimerKind::Restart => {
                    if matches!(slot.state, SlotState::Restarting { due } if due == timer.at)
                        && matches!(self.phase, Phase::Running)
                    {
                        self.set_state(timer.key, SlotState::Pending);
                    }
                }
                TimerKind::StopDeadline => {
                    if let Some(running) = slot.running_mut()
                        && let Some(stop) = &mut running.stop
                        && stop.deadline == Some(timer.at)
                        && !stop.brutal
                        && !stop.timed_out
                    {
                        stop.timed_out = true;
                        running.join.abort();
                    }
                }
            }
        }
    }

    // ----- commands ----------------------------------------------------------------------

    fn on_command(&mut self, cmd: Command) {
        let busy = matches!(self.phase, Phase::Regrouping { .. });
        match cmd {
            Command::Shutdown { immediate } => {
                if self.parent.is_some() && !immediate {
                    // A nested manager is stopped for good by its parent, not restarted.
                    let path = self.shared.path.to_string();
                    let tree = self.shared.tree.clone();
                    let (reply, _) = tokio::sync::oneshot::channel();
                    if tree
                        .send_command(Command::Stop {
                            path: path.into(),
                            reply,
                        })
                        .is_err()
                    {
                        self.begin_shutdown(Reason::Requested, false);
                    }
                } else {
                    self.begin_shutdown(Reason::Requested, immediate);
                }
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

    fn on_child_command(
        &mut self,
        path: Box<str>,
        reply: super::mailbox::Reply<()>,
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
        let slot = self.slots.get_mut(key).expect("resolved key exists");
        match (&slot.state, then) {
            (SlotState::Running(_), _) => {
                if then == AfterStop::Start {
                    slot.restarts = slot.restarts.saturating_add(1);
                }
                slot.waiters.push(reply);
                self.begin_stop(key, None, then, false);
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
            (_, AfterStop::Start) => {
                slot.restarts = slot.restarts.saturating_add(1);
                self.set_state(key, SlotState::Pending);
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn on_send(&mut self, path: &str, msg: Control, reply: Option<super::mailbox::Reply<()>>) {
        let answer = |r: Result<(), ControlError>, reply: Option<super::mailbox::Reply<()>>| {
            if let Some(reply) = reply {
                let _ = reply.send(r);
            }
        };
        match self.resolve(path) {
            Err(e) => answer(Err(e), reply),
            Ok(Target::This) => {
                if matches!(msg, Control::Shutdown) {
                    self.on_command(Command::Shutdown { immediate: false });
                } else {
                    let keys: Vec<u32> = self.slots.keys().collect();
                    for key in keys {
                        self.deliver(key, msg.clone(), None);
                    }
                }
                answer(Ok(()), reply);
            }
            Ok(Target::Child(key)) => {
                if matches!(msg, Control::Shutdown) {
                    let (tx, _) = tokio::sync::oneshot::channel();
                    self.on_child_command(path.into(), tx, AfterStop::Stay);
                    answer(Ok(()), reply);
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

    /// Delivers a message to one direct child: into its inbox, or down its subtree.
    fn deliver(&mut self, key: u32, msg: Control, reply: Option<super::mailbox::Reply<()>>) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let path = slot.child.path();
        let result = if slot.running().is_none() {
            Err(ControlError::NotRunning {
                path: path.to_string(),
            })
        } else if let Some(mgr) = slot.child.spec.runnable.as_manager() {
            let cmd = Command::Send {
                path: path.as_str().into(),
                msg,
                reply,
            };
            if let Err(cmd) = mgr.inner.mailbox.send(cmd) {
                cmd.refuse(ControlError::NotRunning {
                    path: path.to_string(),
                });
            }
            return;
        } else {
            slot.child
                .inbox
                .push(msg)
                .map_err(|_| ControlError::InboxFull {
                    path: path.to_string(),
                    capacity: crate::control::INBOX_CAPACITY,
                })
        };
        match reply {
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "broadcast message not delivered");
                }
            }
        }
    }

    /// Passes a command to the nested manager at `key`.
    fn forward(&mut self, key: u32, cmd: Command) {
        let Some(slot) = self.slots.get(key) else {
            return cmd.refuse(ControlError::ManagerGone);
        };
        let path = slot.child.path().to_string();
        let Some(mgr) = slot.child.spec.runnable.as_manager() else {
            let err = match cmd {
                Command::Add { .. } => ControlError::NotAManager { path },
                _ => ControlError::UnknownPath { path },
            };
            return cmd.refuse(err);
        };
        if slot.running().is_none() {
            return cmd.refuse(ControlError::NotRunning { path });
        }
        if let Err(cmd) = mgr.inner.mailbox.send(cmd) {
            cmd.refuse(ControlError::NotRunning { path });
        }
    }

    fn add(&mut self, spec: ChildSpec) -> Result<ChildPath, ControlError> {
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
        if spec.significant && self.policy.auto_shutdown == super::AutoShutdown::Never {
            return Err(SpecError::SignificantWithoutAutoShutdown {
                id: spec.id.to_string(),
            }
            .into());
        }
        if let Some(dep) = spec.deps.iter().find(|d| self.slots.find(&d.on).is_none()) {
            return Err(SpecError::UnknownDependency {
                id: spec.id.to_string(),
                on: dep.on.to_string(),
            }
            .into());
        }
        let path = self.shared.path.join(&spec.id);
        tracing::debug!(path = %path, "child added");
        self.insert(Arc::new(spec));
        Ok(path)
    }

    fn shutting_down(&self) -> ControlError {
        ControlError::ShuttingDown {
            path: self.shared.path.to_string(),
        }
    }

    fn resolve(&self, path: &str) -> Result<Target, ControlError> {
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

    fn snapshot_level(&self) -> LevelSnapshot {
        let now = Instant::now();
        let mut children = Vec::with_capacity(self.slots.len());
        let mut nested = Vec::new();
        for key in self.slots.keys() {
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            let runnable = &slot.child.spec.runnable;
            if let Some(mgr) = runnable.as_manager()
                && slot.running().is_some()
            {
                nested.push((children.len(), mgr.clone()));
            }
            children.push(Snapshot {
                path: slot.child.path(),
                kind: runnable.kind(),
                state: slot.public_state(),
                pid: slot.running().and_then(|_| runnable.pid()),
                restarts: slot.restarts,
                uptime: slot.uptime(now),
                last_exit: slot.last_exit.clone(),
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

impl Drop for Run {
    /// A run dropped before it finished (its task was aborted) aborts every child it still
    /// has; the [`TaskEnv`] chain keeps the managers above waiting until they are gone.
    fn drop(&mut self) {
        for slot in self.slots.iter_mut() {
            if let SlotState::Running(r) = &slot.state {
                r.join.abort();
            }
        }
    }
}

enum Target {
    This,
    Child(u32),
    Below(u32),
}

fn adjust(count: &mut usize, was: bool, is: bool) {
    match (was, is) {
        (false, true) => *count += 1,
        (true, false) => *count -= 1,
        _ => {}
    }
}

/// The failures an exit stands for: none for a success or a requested abort, the nested
/// manager's own failures (flattened) for a nested manager.
fn failures_of(path: &ChildPath, status: &ExitStatus) -> Vec<Failure> {
    let cause = match status {
        ExitStatus::Completed => return Vec::new(),
        ExitStatus::Failed(e) => {
            if let Some(tree) = e.downcast_ref::<TreeError>() {
                return tree.clone().into_failures();
            }
            Cause::Error(e.clone())
        }
        ExitStatus::Panicked(m) => Cause::Panic(m.clone()),
        ExitStatus::Aborted => Cause::Aborted,
    };
    vec![Failure {
        path: path.clone(),
        cause,
    }]
}
