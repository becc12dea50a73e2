//! One run of a manager: a single event loop over child reports, commands, its shutdown signal
//! and its timers, and the glue that carries out what its parts decide. No helper tasks;
//! every decision is taken here, in order. `docs/ARCHITECTURE.md` is the map.
//!
//! The parts, each in its own file: the children's [`Slots`] (states, counts, stop terms), the
//! restart [decision](decide) and the [stop machine](stopping) (both pure), the
//! [verdicts](verdict) on what an exit adds to the result (pure), the [`Timers`], the
//! [`Deferred`] work of a group restart, the [`Publisher`] of events, the [`StopChain`], and
//! [routing](route) of commands by path.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::commands::{self, Effect};
use super::decide::{self, Decision, Policy, RestartWindow, Scope};
use super::deferred::{Deferred, DeferredExit};
use super::events::Publisher;
use super::failures::Failures;
use super::reconfigure::{self, Current};
use super::route::{self, Target};
use super::slots::{Running, Slot, SlotState, Slots};
use super::stop_chain::StopChain;
use super::stopping::{
    self, AfterStop, Ask, Asker, Manner, Progress, Purpose, Sequence, Step, StopTerms,
};
use super::timers::{Timer, TimerKind, Timers};
use super::verdict::{self, OfAStop, Unasked};
use super::{Config, ProcessManager};
use crate::child::Context;
use crate::child::context::NestedRun;
use crate::child::env::TaskEnv;
use crate::child::record::{ChildRecord, ParentRun};
use crate::child::report::{ChildMsg, RawExit};
use crate::child::task::{self as child_task, StartWatch};
use crate::control::Control;
use crate::deadline;
use crate::error::{Cause, ControlError, ExitStatus, Failure, SpecError, TreeError};
use crate::event::EventKind;
use crate::id::ChildId;
use crate::lock::lock;
use crate::mailbox::{Command, LevelSnapshot, Reply, SendReply};
use crate::path::ChildPath;
use crate::policy::{AutoShutdown, Lifetime};
use crate::reconfigured::Reconfigured;
use crate::snapshot::{ChildState, IntensityUse};
use crate::spec::{ChildSpec, Restart, SpecBody};

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

/// What the run is doing.
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

impl Phase {
    fn sequence(&self) -> Option<&Sequence> {
        match self {
            Phase::Running => None,
            Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } => Some(seq),
        }
    }

    fn is_stopping(&self) -> bool {
        matches!(self, Phase::Stopping { .. })
    }
}

/// What woke the run up.
enum Wake {
    Children,
    Command(Command),
    Cancelled,
    Timer,
    /// Held events are due (see `events`).
    Events,
}

/// Where a manager's run sits in the tree.
pub(crate) enum Parent {
    /// The root, run inside this span (the caller's).
    Root(tracing::Span),
    Child(Context),
}

pub(crate) struct Run {
    mgr: ProcessManager,
    /// The run as its children see it (its path, their report channel, the event buses).
    shared: Arc<ParentRun>,
    policy: Policy,
    slots: Slots,
    rx: mpsc::UnboundedReceiver<ChildMsg>,
    /// Cancelled when this run is asked to stop (by its parent, at the root never).
    token: CancellationToken,
    tracker: TaskTracker,
    /// This manager's environment, from its parent (`None` at the root).
    env: Option<Arc<TaskEnv>>,
    /// What every child's task holds: a token of `tracker` and `env`. Dropped when the run
    /// is over, before it waits for the tracker to empty.
    tasks_env: Option<Arc<TaskEnv>>,
    /// This run's own context, for a nested manager.
    parent: Option<Context>,
    window: RestartWindow,
    timers: Timers,
    phase: Phase,
    /// The first failure not absorbed, and every later one.
    failures: Failures,
    ready_reported: bool,
    deferred: Deferred,
    /// Children a reconfiguration dropped, stopped one at a time, the first one stopping now
    /// (with its id, in case its slot is reused).
    removals: VecDeque<(u32, ChildId)>,
    started_at: Instant,
    /// The clock read once per wake-up of the run (see [`Run::now`]).
    now: Option<Instant>,
    events: Publisher,
    chain: StopChain,
    /// The steps the stop machine gives, carried out right after (kept for its room).
    steps: Vec<Step>,
    /// The specification this run follows (replaced by a reconfiguration).
    config: Arc<Config>,
}

/// Runs `mgr` once, until it stops; returns the first failure and all later ones.
pub(crate) async fn run(mgr: &ProcessManager, parent: Parent) -> Result<(), TreeError> {
    let inner = &mgr.inner;
    let config = inner.config();
    let (path, token, tree, mut buses, span, nested, parent) = match parent {
        Parent::Root(span) => (
            ChildPath::root(&inner.name),
            CancellationToken::new(),
            mgr.handle(),
            Vec::new(),
            span,
            None,
            None,
        ),
        Parent::Child(mut ctx) => {
            let above = &ctx.child.parent;
            let nested = ctx.nested.take();
            (
                ctx.path(),
                ctx.shutdown_token(),
                above.tree.clone(),
                above.buses.to_vec(),
                above.span.clone(),
                nested,
                Some(ctx),
            )
        }
    };
    let front = &inner.front;
    let opened = front.mailbox.open(&path);
    // The run has opened the mailbox (or found it taken): what its parent announced is over.
    let env = nested.map(|nested| {
        let NestedRun { env, expected } = *nested;
        drop(expected);
        env
    });
    let Some(mut commands) = opened else {
        return Err(TreeError::new(vec![Failure {
            path,
            cause: Cause::AlreadyRunning,
        }]));
    };
    *lock(&front.path) = path.clone();
    front.bus.run_started();
    buses.insert(0, front.bus.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(ParentRun {
        path: path.clone(),
        tx,
        buses: buses.into_boxed_slice(),
        tree,
        span,
    });
    let tracker = TaskTracker::new();
    let tasks_env = TaskEnv::new(env.clone(), tracker.token());
    let mut run = Run {
        mgr: mgr.clone(),
        events: Publisher::new(shared.clone()),
        shared,
        policy: config.policy,
        slots: Slots::with_capacity(config.specs.len()),
        rx,
        token,
        tracker,
        env,
        tasks_env: Some(tasks_env),
        parent,
        window: RestartWindow::default(),
        timers: Timers::new(),
        phase: Phase::Running,
        failures: Failures::default(),
        ready_reported: false,
        deferred: Deferred::default(),
        removals: VecDeque::new(),
        started_at: Instant::now(),
        now: None,
        chain: StopChain::new(config.stop_chain),
        steps: Vec::new(),
        config,
    };
    tracing::debug!(manager = %path, children = run.config.specs.len(), "manager starting");
    let result = run.main(commands.receiver()).await;
    run.events.publish();
    // Refuses what is still queued (also done by the guard if this task is aborted).
    drop(commands);
    run.tasks_env = None;
    run.tracker.close();
    run.tracker.wait().await;
    match &result {
        Ok(()) => tracing::debug!(manager = %path, "manager stopped"),
        Err(e) => tracing::debug!(manager = %path, error = %e, "manager stopped with an error"),
    }
    result
}

/// The loop.
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
            self.begin_shutdown(Reason::Requested, Manner::Graceful);
        } else {
            let config = self.config.clone();
            // The children declared before the first one with dependencies start as they are
            // inserted: the same order as one pass of `start_pending` over them, but the first
            // child runs as soon as it is inserted, not once all are, and each child's record
            // is still in cache when its task is spawned. The rest wait for `start_pending`.
            let now = self.now();
            let mut in_order = true;
            for spec in &config.specs {
                let key = self.insert(spec);
                in_order &= spec.body.deps.is_empty();
                if in_order {
                    self.spawn(key, now);
                }
            }
            self.start_pending();
        }
        // Its children's tasks are spawned (or wait for their dependencies): a nested manager
        // has started. A child of it that then fails to start fails it with `FailedToStart`,
        // which its parent treats as its own failed start (see `start_failure`).
        if let Some(parent) = &self.parent {
            parent.started();
        }
        for cmd in queued {
            self.on_command(cmd);
        }

        let cancelled = self.token.clone().cancelled_owned();
        tokio::pin!(cancelled);
        let mut cancel_seen = false;
        let mut msgs = Vec::with_capacity(BATCH);
        let mut children_woke = false;
        loop {
            self.progress();
            if let Some(result) = self.outcome() {
                return result;
            }
            if children_woke && let Some(seq) = self.phase.sequence() {
                self.chain.follow(seq, &self.rx).await;
            }
            self.events.end_of_wake_up();
            let wake = tokio::select! {
                biased;
                _ = self.rx.recv_many(&mut msgs, BATCH) => Wake::Children,
                Some(cmd) = commands.recv() => Wake::Command(cmd),
                _ = &mut cancelled, if !cancel_seen => Wake::Cancelled,
                () = self.timers.due() => Wake::Timer,
                () = self.events.flush_due() => Wake::Events,
            };
            // Everything this wake-up does happens at one instant.
            self.now = None;
            children_woke = matches!(wake, Wake::Children);
            match wake {
                Wake::Children => self.on_child_msgs(&mut msgs),
                Wake::Command(cmd) => self.on_command(cmd),
                Wake::Cancelled => {
                    cancel_seen = true;
                    self.begin_shutdown(Reason::Requested, Manner::Graceful);
                }
                Wake::Timer => self.on_timer(),
                Wake::Events => self.events.on_flush_due(),
            }
        }
    }

    /// The time of the current wake-up: the clock is read once per wake-up, not once per
    /// child, since one batch can stop or settle 100 000 children. Deadlines and uptimes are
    /// then counted from the moment the manager woke up, at most one batch's work earlier.
    fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }

    /// The run's result, once it is over: after a shutdown once nothing runs; with
    /// [`Lifetime::UntilDone`], also once no child is left to run (children stopped by
    /// commands can be started again: they keep it running).
    fn outcome(&mut self) -> Option<Result<(), TreeError>> {
        let counts = self.slots.counts();
        let done = match &self.phase {
            Phase::Running => {
                self.config.lifetime == Lifetime::UntilDone
                    && counts.live == 0
                    && counts.stopped == 0
                    && !self.deferred.has_exits()
            }
            // Every child asked has ended, and nothing runs any more.
            Phase::Stopping { seq, .. } => seq.is_over(&self.slots),
            Phase::Regrouping { .. } => false,
        };
        done.then(|| self.failures.take_result())
    }
}

/// Starting children.
impl Run {
    fn insert(&mut self, spec: &ChildSpec) -> u32 {
        let key = self.slots.vacant_key();
        let child = Arc::new(ChildRecord {
            id: spec.id.clone(),
            key,
            parent: self.shared.clone(),
            stop: Default::default(),
        });
        self.slots
            .insert(Slot::new(child, spec.body.clone(), self.slots.next_seq()))
    }

    /// Moves a slot to `state` (the slots keep their counts in step); returns the old state
    /// and, if the slot was being stopped, its stop's terms.
    fn set_state(&mut self, key: u32, state: SlotState) -> Option<(SlotState, Option<StopTerms>)> {
        self.slots.replace_state(key, state)
    }

    /// Starts, in declared order, every pending child whose dependencies hold.
    fn start_pending(&mut self) {
        if !matches!(self.phase, Phase::Running) || !self.slots.has_pending() {
            return;
        }
        // One clock reading for the whole batch: starting 100 000 children takes milliseconds.
        let now = self.now();
        for key in self.slots.pending() {
            if self.slots.dependencies_hold(key) {
                self.spawn(key, now);
            }
        }
    }

    fn spawn(&mut self, key: u32, now: Instant) {
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
        self.events.emit(|| child.path(), || EventKind::Starting);
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        if is_manager {
            // Its events must follow the ones that led to it (see `events`).
            self.events.publish();
        }
        // A run that does not report its start is watched by its task; told at once when an
        // add waits for it.
        let watch = StartWatch::new(!slot.spec.runnable().reports_start(), slot.start_awaited());
        // The task takes this reference: one atomic increment less per start.
        let join = child_task::spawn(&slot.spec, child, ctx, tasks_env, watch);
        let running = Running {
            join,
            since: self.slots.stamp(now),
            ready: false,
            started: false,
            stop: None,
        };
        // Only pending slots are spawned; should one not be, its run is not left behind
        // untracked.
        if let Err(running) = self.slots.start_running(key, running) {
            running.join.abort();
        }
        if let Some(slot) = self.slots.get(key) {
            self.events
                .emit(|| slot.child.path(), || EventKind::Running);
        }
        self.events.spawned_child(is_manager);
    }

    /// Starts `key` again after `delay` (at once when it is zero).
    fn schedule_start(&mut self, key: u32, delay: Duration) {
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

    /// Tells the parent this manager is ready once every live child is (at once when it has
    /// none: an empty pool is up).
    fn report_ready(&mut self) {
        let counts = self.slots.counts();
        if self.ready_reported || counts.ready != counts.live {
            return;
        }
        self.ready_reported = true;
        match &self.parent {
            Some(ctx) => ctx.ready(),
            // The root has no parent to tell: its subscribers hear it (a nested manager's
            // readiness is announced by its parent, as for any child), when it has children
            // running (not when all of them have already ended).
            None if counts.live > 0 => self
                .events
                .emit(|| self.shared.path.clone(), || EventKind::Ready),
            None => {}
        }
    }
}

/// Stopping children: what the stop machine (`stopping`) decides, carried out.
impl Run {
    /// Drives the current phase as far as it goes without waiting: starts what can start, or
    /// moves the sequence under way on.
    fn progress(&mut self) {
        loop {
            let now = self.now();
            let mut steps = std::mem::take(&mut self.steps);
            let progress = match &mut self.phase {
                Phase::Running => {
                    self.steps = steps;
                    self.start_pending();
                    self.report_ready();
                    return;
                }
                Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } => {
                    seq.advance(&mut self.slots, now, &mut steps)
                }
            };
            self.carry_out(&mut steps);
            self.steps = steps;
            if progress == Progress::Over && matches!(self.phase, Phase::Regrouping { .. }) {
                self.finish_regroup();
                continue;
            }
            return;
        }
    }

    /// Carries out the stop machine's steps, in order; leaves `steps` empty.
    fn carry_out(&mut self, steps: &mut Vec<Step>) {
        for step in steps.drain(..) {
            match step {
                Step::Ask {
                    key,
                    deadline,
                    in_turn,
                } => {
                    if !in_turn {
                        self.chain.unlink(&self.slots, key);
                    }
                    let Some(slot) = self.slots.get(key) else {
                        continue;
                    };
                    if let Some(link) = slot.link() {
                        // A nested manager: the deadline of its own shutdown.
                        *lock(&link.stop_deadline) = deadline;
                    }
                    slot.child.stop.request(slot.generation);
                }
                Step::Abort { key } => {
                    if let Some(running) = self.slots.get(key).and_then(|s| s.running()) {
                        running.join.abort();
                    }
                }
                Step::Timer { key, at } => {
                    let Some(slot) = self.slots.get(key) else {
                        continue;
                    };
                    let timer = Timer {
                        at,
                        seq: slot.seq,
                        key,
                        generation: slot.generation,
                        kind: TimerKind::StopDeadline,
                    };
                    self.push_timer(timer);
                }
                Step::Settle { key } => {
                    self.answer_start_on_the_way_out(key);
                    self.set_state(key, SlotState::Stopped);
                    self.emit_stopped(key);
                    if let Some(slot) = self.slots.get_mut(key) {
                        slot.answer_waiters();
                    }
                }
                Step::Link => {
                    if let Some(seq) = self.phase.sequence() {
                        self.chain.link(&self.slots, seq);
                    }
                }
            }
        }
    }

    /// Asks child `key` to stop for a command (stop, restart, remove).
    fn stop_for_command(&mut self, key: u32, then: AfterStop) {
        let now = self.now();
        // Out of turn while a sequence runs: its end must not pass the stop on ahead of it.
        let in_turn = self
            .phase
            .sequence()
            .is_none_or(|s| s.current() == Some(key));
        let ask = Ask {
            then,
            asker: Asker::Command,
            manner: Manner::Graceful,
            deadline: None,
            in_turn,
        };
        let mut steps = std::mem::take(&mut self.steps);
        stopping::stop(&mut self.slots, key, ask, now, &mut steps);
        self.carry_out(&mut steps);
        self.steps = steps;
    }

    /// Starts a group restart after `failed`'s exit: stops the group's running members in
    /// reverse order, then starts the group again (without its temporary members) after
    /// `delay`.
    fn begin_regroup(&mut self, failed: u32, group: Vec<u32>, delay: Duration) {
        let mut restart = Vec::with_capacity(group.len());
        let mut to_stop = Vec::with_capacity(group.len());
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
                    to_stop.push(key);
                    if !temporary {
                        restart.push(key);
                    }
                }
                // Already being stopped by a command: not restarted with the group, but waited
                // for in turn (as a shutdown does), so that a child that stops last is asked
                // only once it has ended.
                SlotState::Running(_) => to_stop.push(key),
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
        let order = self.config.stop_order;
        let seq = Sequence::new(
            &self.slots,
            Purpose::GroupRestart,
            order,
            Manner::Graceful,
            None,
            to_stop,
        );
        self.phase = Phase::Regrouping {
            seq,
            restart,
            failed,
            delay,
        };
        // The failed child is not running; nothing can start until the group is down.
        self.set_state(failed, SlotState::Pending);
    }

    /// Starts stopping every child, in the manager's stop order; a shutdown under way only
    /// becomes immediate if asked so.
    fn begin_shutdown(&mut self, reason: Reason, manner: Manner) {
        if let Phase::Stopping { seq, .. } = &mut self.phase {
            if manner == Manner::Immediate {
                seq.escalate();
            }
            return;
        }
        let now = self.now();
        let own = self
            .config
            .shutdown_timeout
            .and_then(|d| deadline::after(now, d));
        let from_parent = self.env.as_ref().and_then(|e| *lock(&e.stop_deadline));
        let deadline = match (own, from_parent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let keys = self.slots.keys().collect();
        let order = self.config.stop_order;
        let mut seq = Sequence::new(
            &self.slots,
            Purpose::Shutdown,
            order,
            manner,
            deadline,
            keys,
        );
        // A group restart in progress becomes part of the shutdown.
        if let Phase::Regrouping { seq: old, .. } = &self.phase {
            seq.take_over(old);
        }
        // What waited for a group restart (also one that has just ended, when the shutdown
        // request came with its last exit) is settled now.
        let deferred = self.deferred.take_exits();
        let path = &self.shared.path;
        self.deferred.refuse_commands(|| shutting_down(path));
        tracing::debug!(manager = %self.shared.path, ?reason, "manager shutting down");
        self.events
            .emit(|| self.shared.path.clone(), || EventKind::ShuttingDown);
        self.phase = Phase::Stopping { seq, reason };
        for exit in deferred {
            self.record_unasked_exit(exit.key, &exit.status, exit.uptime);
            self.finish_slot(exit.key);
        }
    }

    /// The group of a group restart is down: it starts again (after its delay), the exits
    /// that waited get their decisions, and the commands that waited are carried out.
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
            self.begin_shutdown(Reason::Requested, Manner::Graceful);
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
                self.events.emit(
                    || child.path(),
                    || EventKind::Restarting { delay, restarts },
                );
            }
            self.schedule_start(key, delay);
        }
        let mut deferred = self.deferred.take_exits().into_iter();
        while let Some(exit) = deferred.next() {
            match self.phase {
                Phase::Running => self.decide(exit.key, exit.status, exit.uptime),
                // One of them began another group restart: the rest wait for that one.
                Phase::Regrouping { .. } => {
                    self.deferred
                        .put_back_exits(std::iter::once(exit).chain(deferred));
                    break;
                }
                Phase::Stopping { .. } => {
                    self.record_unasked_exit(exit.key, &exit.status, exit.uptime);
                    self.finish_slot(exit.key);
                }
            }
        }
        while matches!(self.phase, Phase::Running) {
            let Some(cmd) = self.deferred.next_command() else {
                break;
            };
            self.on_command(cmd);
        }
    }
}

/// Reports from children: readiness and exits, and what follows them.
impl Run {
    /// Handles a batch of reports from children.
    fn on_child_msgs(&mut self, msgs: &mut Vec<ChildMsg>) {
        // A shutdown request that arrived with these reports comes first: exits during a
        // shutdown are not restarted. (Checked once per batch: the check takes a lock.)
        if matches!(self.phase, Phase::Running) && self.token.is_cancelled() {
            self.begin_shutdown(Reason::Requested, Manner::Graceful);
        }
        for msg in msgs.drain(..) {
            match msg {
                ChildMsg::Ready { key, generation } => self.on_ready(key, generation),
                ChildMsg::Health {
                    key,
                    generation,
                    probe,
                    error,
                } => self.on_health(key, generation, probe, error),
                ChildMsg::Exited {
                    key,
                    generation,
                    exit,
                    asked,
                    started,
                } => self.on_exit(key, generation, exit, asked, started),
                ChildMsg::Started { key, generation } => self.on_started(key, generation),
                ChildMsg::StopForGood { key, generation } => {
                    let current = self
                        .slots
                        .get(key)
                        .is_some_and(|s| s.generation == generation && s.running().is_some());
                    if current {
                        self.command_child(key, AfterStop::Stay, None);
                    }
                }
            }
        }
    }

    fn on_ready(&mut self, key: u32, generation: u64) {
        // Ready implies started.
        self.on_started(key, generation);
        if self.slots.get(key).is_some_and(|s| s.spec.ready_by_probe) {
            return; // its readiness probe decides
        }
        self.mark_ready(key, generation);
    }

    /// A probe of run `generation` of `key` turned healthy (`error` is `None`) or unhealthy;
    /// a readiness probe that passes makes the run ready.
    fn on_health(
        &mut self,
        key: u32,
        generation: u64,
        probe: crate::health::ProbeKind,
        error: Option<Arc<str>>,
    ) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.generation != generation || slot.running().is_none() {
            return;
        }
        slot.set_probe(generation, probe, error.clone());
        let healthy = error.is_none();
        match &error {
            None => tracing::debug!(path = %slot.child.path(), %probe, "child healthy"),
            Some(error) => {
                tracing::warn!(path = %slot.child.path(), %probe, %error, "child unhealthy")
            }
        }
        let slot = &*slot;
        self.events.emit(
            || slot.child.path(),
            || match error {
                None => EventKind::Healthy { probe },
                Some(error) => EventKind::Unhealthy { probe, error },
            },
        );
        if healthy && probe == crate::health::ProbeKind::Readiness {
            self.on_started(key, generation);
            self.mark_ready(key, generation);
        }
    }

    /// Run `generation` of `key` is ready (once per run): dependents may start.
    fn mark_ready(&mut self, key: u32, generation: u64) {
        if !self.slots.set_ready(key, generation) {
            return;
        }
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        tracing::debug!(path = %slot.child.path(), "child ready");
        self.events.emit(|| slot.child.path(), || EventKind::Ready);
    }

    /// Run `generation` of `key` has started: an add that waits for it is answered.
    fn on_started(&mut self, key: u32, generation: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let Some(running) = slot.running_mut() else {
            return;
        };
        if running.started {
            return;
        }
        running.started = true;
        if let Some(reply) = slot.take_start_reply() {
            let _ = reply.send(Ok(slot.child.path()));
        }
    }

    /// Run `generation` of `key` ended with `exit`; `asked`: it ended because it was asked to
    /// stop (see [`StopSignal::end_of_run`](crate::child::stop_signal::StopSignal::end_of_run));
    /// `started`: its task saw it start (see [`StartWatch`]).
    fn on_exit(&mut self, key: u32, generation: u64, exit: RawExit, asked: bool, started: bool) {
        let now = self.now();
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        if slot.generation != generation || slot.running().is_none() {
            return;
        }
        let Some((SlotState::Running(running), terms)) = self.set_state(key, SlotState::Exited)
        else {
            return;
        };
        let uptime = self.slots.elapsed(running.since, now);
        let started = started || running.started;
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
            self.events
                .emit(|| child.path(), move || EventKind::Exited { status });
        }

        // Asked by the stop chain before this manager got to it: the sequence's terms.
        let chained = || {
            let seq = self.phase.sequence()?;
            self.chain.terms_of_chained_exit(&self.slots, seq, key, now)
        };
        let terms = terms.or_else(|| if asked { chained() } else { None });
        if let Some(terms) = terms {
            self.after_stop(key, terms, &status, uptime, asked);
            return;
        }
        if matches!(self.phase, Phase::Running) && self.start_failure(key, &status, started) {
            self.failed_to_start(key, &status);
            return;
        }
        // It has run: an add that waits for its start has its answer.
        self.answer_start(key, Ok);
        match &mut self.phase {
            Phase::Running => self.decide(key, status, uptime),
            Phase::Regrouping { seq, restart, .. } => {
                if restart.contains(&key) {
                    // It is restarted with its group anyway.
                    seq.forget(key);
                    self.set_state(key, SlotState::Pending);
                } else {
                    self.deferred.exit(DeferredExit {
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

    /// A child that this manager was stopping has exited (see [`verdict::of_a_stop`]).
    fn after_stop(
        &mut self,
        key: u32,
        terms: StopTerms,
        status: &ExitStatus,
        uptime: Duration,
        asked: bool,
    ) {
        let stopping = self.phase.is_stopping();
        match verdict::of_a_stop(stopping, &terms, asked, status) {
            OfAStop::Clean => {}
            OfAStop::Unasked => self.record_unasked_exit(key, status, uptime),
            OfAStop::TimedOut => {
                if let Some(path) = self.slots.get(key).map(|s| s.child.path()) {
                    let timeout = terms.deadline.map_or(Duration::ZERO, |d| {
                        d.saturating_duration_since(terms.started)
                    });
                    tracing::warn!(path = %path, ?timeout, "child did not stop in time and was aborted");
                    if stopping {
                        self.failures.push(path, Cause::StopTimeout { timeout });
                    }
                }
            }
            OfAStop::Failed => {
                if let Some(path) = self.slots.get(key).map(|s| s.child.path()) {
                    self.failures.exit(&path, status);
                }
            }
        }
        match terms.then {
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
                if self.removals.front().is_some_and(|(k, _)| *k == key) {
                    self.removals.pop_front();
                    self.next_removal();
                }
            }
        }
        if let Some(slot) = self.slots.get_mut(key) {
            slot.answer_waiters();
        }
        self.answer_start_on_the_way_out(key);
        if let Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } = &mut self.phase {
            seq.ended(key);
        }
    }

    /// Whether the exit (`status`) of `key`'s run is a failed start: the child's first run
    /// ended with a failure before it had `started`. A nested manager has started once its
    /// children's tasks are spawned; its failed start is instead one of its own children's,
    /// which it ends with (`Cause::FailedToStart` first).
    fn start_failure(&self, key: u32, status: &ExitStatus, started: bool) -> bool {
        let Some(slot) = self.slots.get(key) else {
            return false;
        };
        if slot.generation != 1 {
            return false;
        }
        match status {
            ExitStatus::Failed(e) => match e.downcast_ref::<TreeError>() {
                Some(tree) if slot.spec.runnable().as_manager().is_some() => {
                    matches!(tree.cause(), Cause::FailedToStart { .. })
                }
                _ => !started,
            },
            ExitStatus::Panicked(_) => !started,
            ExitStatus::Completed | ExitStatus::Aborted => false,
        }
    }

    /// `key` failed to start (see [`start_failure`](Self::start_failure)): an added child is
    /// refused and removed again, its manager's children as they were; a declared child fails
    /// its manager at once (a cascade, without the restarts that could not help).
    fn failed_to_start(&mut self, key: u32, status: &ExitStatus) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let path = slot.child.path();
        let nested = match status {
            ExitStatus::Failed(e) => e.downcast_ref::<TreeError>().cloned(),
            _ => None,
        };
        let failure = match &nested {
            // The nested manager's own failures say which child failed to start.
            Some(tree) => tree.first().clone(),
            None => Failure {
                path: path.clone(),
                cause: Cause::FailedToStart {
                    // Only failures are failed starts.
                    cause: Box::new(cause_of(status).unwrap_or(Cause::Aborted)),
                },
            },
        };
        tracing::warn!(failure = %failure, "child failed to start");
        if let Some(reply) = slot.take_start_reply() {
            let _ = reply.send(Err(ControlError::FailedToStart(failure)));
            self.emit_stopped(key);
            self.remove(key);
            return;
        }
        match nested {
            Some(tree) => self.failures.extend(tree.into_failures()),
            None => self.failures.record(failure),
        }
        self.finish_slot(key);
        self.begin_shutdown(Reason::Failed, Manner::Graceful);
    }

    /// Answers an add that waits for `key`'s start with what `answer` makes of its path.
    fn answer_start(
        &mut self,
        key: u32,
        answer: impl FnOnce(ChildPath) -> Result<ChildPath, ControlError>,
    ) {
        if let Some(slot) = self.slots.get_mut(key)
            && let Some(reply) = slot.take_start_reply()
        {
            let _ = reply.send(answer(slot.child.path()));
        }
    }

    /// `key` leaves before its start was told (a stop, a removal, a settled shutdown): an add
    /// that waits for it learns that it was added, or that the manager shuts down.
    fn answer_start_on_the_way_out(&mut self, key: u32) {
        // Nearly always nobody waits: then nothing is built.
        if !self.slots.get(key).is_some_and(Slot::start_awaited) {
            return;
        }
        let shutting_down = self
            .phase
            .is_stopping()
            .then(|| shutting_down(&self.shared.path));
        self.answer_start(key, |path| match shutting_down {
            Some(err) => Err(err),
            None => Ok(path),
        });
    }

    /// Applies the restart decision for an exit that nobody asked for.
    fn decide(&mut self, key: u32, status: ExitStatus, uptime: Duration) {
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
                self.events.emit(
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
            Decision::Done => {
                if status.is_success() {
                    self.finish_slot(key);
                } else {
                    // A failure that does not escalate (`ChildSpec::escalates(false)`): the
                    // child stays, exited, with its failure in its snapshot, even when it
                    // is temporary.
                    self.fail_dependents_of(key, &status);
                    self.answer_start_on_the_way_out(key);
                    self.emit_stopped(key);
                    self.set_state(key, SlotState::Exited);
                }
            }
            Decision::AutoShutdown => {
                tracing::info!(path = %path, "significant child ended; shutting down");
                self.finish_slot(key);
                self.begin_shutdown(Reason::AutoShutdown, Manner::Graceful);
            }
            Decision::Escalate => {
                self.failures.exit(&path, &status);
                self.fail_dependents_of(key, &status);
                self.finish_slot(key);
                self.begin_shutdown(Reason::Failed, Manner::Graceful);
            }
            Decision::GiveUp => {
                self.record_give_up(key, path, &status);
                self.fail_dependents_of(key, &status);
                self.finish_slot(key);
                self.begin_shutdown(Reason::GaveUp, Manner::Graceful);
            }
        }
    }

    /// `key` ended for good with `status`, a failure: the siblings waiting for it can never
    /// start, and fail to start with [`UnmetDependency`](crate::UnmetDependency), each a
    /// failure of the manager after the one that ended `key` (when that one escalates), so
    /// that the result names both the child that waited and the sibling it waited for.
    fn fail_dependents_of(&mut self, key: u32, status: &ExitStatus) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let (id, on) = (slot.child.id.clone(), slot.child.path());
        let waiting: Vec<(u32, crate::Condition)> = self
            .slots
            .pending()
            .into_iter()
            .filter_map(|k| {
                // A sibling that waits for it to end, however, may start now.
                let dep = self
                    .slots
                    .get(k)?
                    .spec
                    .deps
                    .iter()
                    .find(|d| *id == *d.on && d.condition != crate::Condition::Ended)?;
                Some((k, dep.condition))
            })
            .collect();
        for (waiter, condition) in waiting {
            let Some(child) = self.slots.get(waiter).map(|s| s.child.path()) else {
                continue;
            };
            let unmet = crate::UnmetDependency {
                child: child.to_string(),
                on: on.to_string(),
                condition,
                ended: match cause_of(status) {
                    Some(cause) => cause.to_string(),
                    None => "it did not complete".to_string(),
                },
            };
            tracing::warn!(%unmet, "dependency can never be met");
            self.failed_to_start(waiter, &ExitStatus::Failed(Arc::new(unmet)));
        }
    }

    /// A child ended for good: temporary children are removed, others stay as exited.
    fn finish_slot(&mut self, key: u32) {
        self.answer_start_on_the_way_out(key);
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

    fn remove(&mut self, key: u32) {
        self.answer_start_on_the_way_out(key);
        if let Some(slot) = self.slots.get(key) {
            self.events
                .emit(|| slot.child.path(), || EventKind::Removed);
        }
        if let Some(mut slot) = self.slots.remove(key) {
            slot.answer_waiters();
        }
    }

    fn emit_stopped(&self, key: u32) {
        if let Some(slot) = self.slots.get(key) {
            self.events
                .emit(|| slot.child.path(), || EventKind::Stopped);
        }
    }

    /// Records what a run that ended on its own, unasked, while this manager stops its
    /// children, adds to the result (see [`verdict::of_an_unasked_exit_during_a_shutdown`]).
    fn record_unasked_exit(&mut self, key: u32, status: &ExitStatus, uptime: Duration) {
        let Some(path) = self.slots.get(key).map(|s| s.child.path()) else {
            return;
        };
        let requested = matches!(
            self.phase,
            Phase::Stopping {
                reason: Reason::Requested | Reason::AutoShutdown,
                ..
            }
        );
        let verdict = verdict::of_an_unasked_exit_during_a_shutdown(requested, || {
            self.decision(key, status, uptime).unwrap_or(Decision::Done)
        });
        match verdict {
            Unasked::Absorbed => {
                if !status.is_success() {
                    tracing::debug!(path = %path, "failure absorbed: the manager is stopping, no restart");
                }
            }
            Unasked::Fails => {
                self.failures.exit(&path, status);
                if requested {
                    self.set_stop_reason(Reason::Failed);
                }
            }
            Unasked::GivesUp => {
                self.record_give_up(key, path, status);
                self.set_stop_reason(Reason::GaveUp);
            }
        }
    }

    /// The restart decision for `key`'s run that ended with `status` after `uptime`, under
    /// the manager's policy with the child's own backoff and intensity in place of its
    /// manager's; a restart it allows is counted in the restart window (the child's own, if
    /// it has its own intensity).
    fn decision(&mut self, key: u32, status: &ExitStatus, uptime: Duration) -> Option<Decision> {
        let now = self.now();
        let significant_alive = self.slots.counts().significant_live > 0;
        let slot = self.slots.get_mut(key)?;
        let exit = decide::Exit {
            restart: slot.spec.restart,
            failed: !status.is_success(),
            significant: slot.spec.significant,
            uptime,
            attempt: slot.attempt(),
            other_significant_alive: significant_alive,
            escalates: slot.spec.escalates,
            own_intensity: slot.spec.intensity.is_some(),
        };
        let mut policy = self.policy;
        if let Some(backoff) = slot.spec.backoff {
            policy.backoff = backoff;
        }
        let window = match slot.spec.intensity {
            Some(intensity) => {
                policy.intensity = intensity;
                slot.own_window()
            }
            None => &mut self.window,
        };
        Some(decide::decide(&policy, exit, window, now, fastrand::f64()))
    }

    fn set_stop_reason(&mut self, new: Reason) {
        if let Phase::Stopping { reason, .. } = &mut self.phase {
            *reason = new;
        }
    }

    /// Records (and announces) that the restart intensity was exceeded by `last_child`'s
    /// exit.
    fn record_give_up(&mut self, key: u32, last_child: ChildPath, status: &ExitStatus) {
        let manager = &self.shared.path;
        // The limit that was exceeded: the child's own, or its manager's.
        let intensity = self
            .slots
            .get(key)
            .and_then(|s| s.spec.intensity)
            .unwrap_or(self.policy.intensity);
        let failure = self
            .failures
            .give_up(manager, &intensity, last_child, status);
        tracing::error!(manager = %manager, failure = %failure, "restart intensity exceeded; giving up");
        self.events
            .emit(|| manager.clone(), move || EventKind::GaveUp { failure });
    }
}

/// Commands from handles: shutdown, messages, add / stop / restart / remove, snapshots.
impl Run {
    fn on_command(&mut self, cmd: Command) {
        let busy = matches!(self.phase, Phase::Regrouping { .. });
        match cmd {
            Command::Shutdown { immediate } => {
                if let (Some(parent), false) = (&self.parent, immediate) {
                    // A nested manager is stopped for good by its parent, not restarted.
                    if !parent.stop_for_good() {
                        self.begin_shutdown(Reason::Requested, Manner::Graceful);
                    }
                } else {
                    let manner = if immediate {
                        Manner::Immediate
                    } else {
                        Manner::Graceful
                    };
                    self.begin_shutdown(Reason::Requested, manner);
                }
            }
            Command::Interrupt { failure } => {
                self.failures.record(failure);
                self.begin_shutdown(Reason::Requested, Manner::Immediate);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(Ok(self.snapshot_level()));
            }
            Command::Ping { reply } => {
                let _ = reply.send(Ok(self.slots.running_managers()));
            }
            Command::Send { path, msg, reply } => self.on_send(&path, msg, reply),
            cmd if busy => self.deferred.command(cmd),
            Command::Add {
                parent,
                spec,
                reply,
            } => match self.resolve(&parent) {
                // Answered once the child's first run has started (or failed to start).
                Ok(Target::This) => match self.add(spec) {
                    Ok(key) => {
                        if let Some(slot) = self.slots.get_mut(key) {
                            slot.await_start(reply);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                },
                Ok(Target::Child(key) | Target::Below(key)) => route::forward(
                    &self.slots,
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
            Command::Reconfigure { path, new, reply } => match self.resolve(&path) {
                Ok(Target::This) => {
                    let path = &self.shared.path;
                    self.events.emit(|| path.clone(), || EventKind::Reloading);
                    let result = self.reconfigure(&new);
                    let path = &self.shared.path;
                    self.events.emit(|| path.clone(), || EventKind::Reloaded);
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(result);
                        }
                        None => {
                            if let Err(e) = result {
                                tracing::warn!(manager = %self.shared.path, error = %e, "nested reconfiguration refused");
                            }
                        }
                    }
                }
                Ok(Target::Child(key) | Target::Below(key)) => {
                    route::forward(&self.slots, key, Command::Reconfigure { path, new, reply })
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(e));
                    }
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

    /// A stop, restart or removal for the node at `path`: carried out here for a child,
    /// handed down for a node below one.
    fn on_child_command(&mut self, path: Box<str>, reply: Reply<()>, then: AfterStop) {
        match self.resolve(&path) {
            Ok(Target::Child(key)) => self.command_child(key, then, Some(reply)),
            Ok(Target::Below(key)) => {
                let cmd = match then {
                    AfterStop::Stay => Command::Stop { path, reply },
                    AfterStop::Start => Command::Restart { path, reply },
                    AfterStop::Remove => Command::Remove { path, reply },
                };
                route::forward(&self.slots, key, cmd);
            }
            Ok(Target::This) => {
                let _ = reply.send(Err(ControlError::NotFound {
                    path: format!("{path} (a manager cannot stop, restart or remove itself; address it from its parent)"),
                }));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Stops, restarts or removes child `key`; `reply`, if any, is answered once that is done.
    fn command_child(&mut self, key: u32, then: AfterStop, reply: Option<Reply<()>>) {
        let answer = |reply: Option<Reply<()>>, result| {
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        };
        if then == AfterStop::Start && self.phase.is_stopping() {
            return answer(reply, Err(shutting_down(&self.shared.path)));
        }
        // Restarts that meet one already under way (or a child about to start) coalesce into
        // it: `restarts` counts the runs that were started again, not the requests.
        let restarting = self
            .slots
            .stop(key)
            .is_some_and(|s| s.then == AfterStop::Start);
        let Some(slot) = self.slots.get_mut(key) else {
            return answer(reply, Err(ControlError::ManagerGone));
        };
        let state = match slot.state {
            SlotState::Running(_) => commands::State::Running,
            SlotState::Pending => commands::State::Pending,
            SlotState::Restarting { .. } => commands::State::Restarting,
            SlotState::Exited => commands::State::Exited,
            SlotState::Stopped => commands::State::Stopped,
        };
        match commands::effect(state, then, restarting) {
            Effect::Stop { count_restart } => {
                if count_restart {
                    slot.restarts = slot.restarts.saturating_add(1);
                }
                if let Some(reply) = reply {
                    slot.add_waiter(reply);
                }
                self.stop_for_command(key, then);
            }
            Effect::Remove => {
                self.emit_stopped(key);
                self.remove(key);
                answer(reply, Ok(()));
            }
            Effect::MarkStopped => {
                self.set_state(key, SlotState::Stopped);
                self.emit_stopped(key);
                answer(reply, Ok(()));
            }
            Effect::Start { count_restart } => {
                if count_restart {
                    slot.restarts = slot.restarts.saturating_add(1);
                }
                self.set_state(key, SlotState::Pending);
                answer(reply, Ok(()));
            }
            Effect::Nothing => answer(reply, Ok(())),
        }
    }

    fn on_send(&mut self, path: &str, msg: Control, reply: SendReply) {
        match self.resolve(path) {
            Err(e) => reply.answer(Err(e)),
            Ok(Target::This) => {
                if matches!(msg, Control::Shutdown) {
                    self.on_command(Command::Shutdown { immediate: false });
                    reply.answer(Ok(()));
                } else {
                    // Every running child that reads messages gets it; the sender hears once
                    // every manager below has handed it on.
                    // Announced where it was asked for, not by each manager it passes.
                    let asked_here = matches!(reply, SendReply::One(_));
                    let fanout = reply.into_fanout();
                    if asked_here && matches!(msg, Control::Reload) {
                        self.announce_reload(&fanout);
                    }
                    for key in self.slots.keys() {
                        route::deliver(
                            &self.slots,
                            key,
                            msg.clone(),
                            SendReply::Many(fanout.clone()),
                        );
                    }
                }
            }
            Ok(Target::Child(key)) => {
                if matches!(msg, Control::Shutdown) {
                    self.command_child(key, AfterStop::Stay, None);
                    reply.answer(Ok(()));
                } else {
                    route::deliver(&self.slots, key, msg, reply);
                }
            }
            Ok(Target::Below(key)) => route::forward(
                &self.slots,
                key,
                Command::Send {
                    path: path.into(),
                    msg,
                    reply,
                },
            ),
        }
    }

    /// A reload of the whole subtree begins ([`EventKind::Reloading`] now, the held events
    /// before it) and ends when `fanout` has been handed on by every manager below
    /// ([`EventKind::Reloaded`], published from wherever that happens).
    fn announce_reload(&self, fanout: &crate::mailbox::fanout::Fanout) {
        if !self.shared.wants_events() {
            return;
        }
        let path = &self.shared.path;
        self.events.emit(|| path.clone(), || EventKind::Reloading);
        self.events.publish();
        let run = self.shared.clone();
        fanout.when_done(move || {
            let event = crate::event::Event {
                path: run.path.clone(),
                kind: EventKind::Reloaded,
                at: Instant::now(),
            };
            run.publish(event);
        });
    }

    /// Adds a child to this manager, checked first: nothing changes when it is refused.
    fn add(&mut self, spec: ChildSpec) -> Result<u32, ControlError> {
        if self.phase.is_stopping() {
            return Err(shutting_down(&self.shared.path));
        }
        spec.validate()?;
        if let Some(slot) = self.slots.find(&spec.id).and_then(|k| self.slots.get(k)) {
            let path = slot.child.path().to_string();
            return Err(match slot.state {
                SlotState::Exited | SlotState::Stopped => ControlError::AlreadyPresent { path },
                _ => ControlError::AlreadyStarted { path },
            });
        }
        if spec.body.significant && self.policy.auto_shutdown == AutoShutdown::Never {
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
        tracing::debug!(path = %self.shared.path.join(&spec.id), "child added");
        Ok(self.insert(&spec))
    }

    /// Takes the specification of `new` (see [`Handle::reconfigure`](crate::Handle) and
    /// [`reconfigure::plan`]): the policies at once, the children as the plan says.
    fn reconfigure(&mut self, new: &ProcessManager) -> Result<Reconfigured, ControlError> {
        if self.phase.is_stopping() {
            return Err(shutting_down(&self.shared.path));
        }
        if new.name() != self.mgr.name() {
            return Err(SpecError::ManagerNameMismatch {
                id: self.mgr.name().to_string(),
                name: new.name().to_string(),
            }
            .into());
        }
        let config = new.inner.config();
        let plan = {
            let current: Vec<Current<'_>> = self
                .slots
                .keys()
                .filter_map(|key| {
                    let slot = self.slots.get(key)?;
                    Some(Current {
                        key,
                        id: &slot.child.id,
                        spec: &slot.spec,
                    })
                })
                .collect();
            reconfigure::plan(&current, &config.specs)
        };
        tracing::info!(
            manager = %self.shared.path,
            added = plan.add.len(),
            removed = plan.remove.len(),
            restarted = plan.restart.len(),
            nested = plan.nested.len(),
            "manager reconfigured"
        );
        self.policy = config.policy;
        self.chain = StopChain::new(config.stop_chain);
        self.config = config.clone();
        *lock(&self.mgr.inner.config) = config;
        let path_of = |slots: &Slots, key: u32| slots.get(key).map(|s| s.child.path());
        let mut report = Reconfigured {
            unchanged: plan
                .unchanged
                .iter()
                .filter_map(|&key| path_of(&self.slots, key))
                .collect(),
            ..Reconfigured::default()
        };
        for key in plan.remove {
            if let Some(slot) = self.slots.get(key) {
                report.removed.push(slot.child.path());
                self.removals.push_back((key, slot.child.id.clone()));
            }
        }
        self.next_removal();
        for (key, spec) in plan.restart {
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            let running = slot.running().is_some();
            report.restarted.extend(path_of(&self.slots, key));
            self.slots.replace_spec(key, spec.body.clone());
            if running {
                self.command_child(key, AfterStop::Start, None);
            }
        }
        for (key, spec) in plan.nested {
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            // The running manager stays (its mailbox, its events); it takes the spec's
            // policies, and the new manager's specification in turn.
            let kept = slot.spec.clone();
            let body = SpecBody {
                runnable: kept.runnable.clone(),
                direct: kept.direct.clone(),
                ..(*spec.body).clone()
            };
            let path = slot.child.path();
            let running = slot.running().is_some();
            self.slots.replace_spec(key, Arc::new(body));
            if let Some(nested) = spec.body.runnable().as_manager()
                && let Some(current) = kept.runnable().as_manager()
            {
                if running {
                    let cmd = Command::Reconfigure {
                        path: path.as_str().into(),
                        new: nested.clone(),
                        reply: None,
                    };
                    if let Err(cmd) = current.handle().send_command(cmd) {
                        cmd.refuse(ControlError::NotRunning {
                            path: path.to_string(),
                        });
                    }
                } else {
                    // Not running: its next run starts from the new specification.
                    *lock(&current.inner.config) = nested.inner.config();
                }
            }
            report.reconfigured.push(path);
        }
        for spec in plan.add {
            let key = self.insert(&spec);
            report.added.extend(path_of(&self.slots, key));
        }
        Ok(report)
    }

    /// Asks the first child a reconfiguration dropped to stop (and be removed); those that do
    /// not run are removed at once. The next is asked once it is removed (`after_stop`).
    fn next_removal(&mut self) {
        if self.phase.is_stopping() {
            // The shutdown stops them all (in its own order).
            self.removals.clear();
        }
        while let Some((key, id)) = self.removals.front().cloned() {
            if self.slots.get(key).is_none_or(|slot| slot.child.id != id) {
                // Gone another way (removed by a command, a temporary child that ended).
                self.removals.pop_front();
                continue;
            }
            if self
                .slots
                .stop(key)
                .is_some_and(|s| s.then == AfterStop::Remove)
            {
                return; // already being removed: its end moves the queue on
            }
            self.command_child(key, AfterStop::Remove, None);
            if self.slots.get(key).is_some_and(|slot| slot.child.id == id) {
                return; // stopping: its end moves the queue on
            }
            self.removals.pop_front();
        }
    }

    fn resolve(&self, path: &str) -> Result<Target, ControlError> {
        route::resolve(self.shared.path.as_str(), path, |id| self.slots.find(id))
    }

    fn snapshot_level(&self) -> LevelSnapshot {
        let now = Instant::now();
        let (children, nested) = self.slots.snapshot(now);
        LevelSnapshot {
            state: match self.phase {
                Phase::Stopping { .. } => ChildState::Stopping,
                _ if self.ready_reported => ChildState::Ready,
                _ => ChildState::Running,
            },
            uptime: now.saturating_duration_since(self.started_at),
            intensity: IntensityUse {
                restarts: self.window.used(now, self.policy.intensity.period),
                max_restarts: self.policy.intensity.max_restarts,
                period: self.policy.intensity.period,
            },
            children,
            nested,
        }
    }
}

/// Timers: restart delays and stop deadlines.
impl Run {
    fn push_timer(&mut self, timer: Timer) {
        let slots = &self.slots;
        self.timers.push(timer, |t| timer_is_live(slots, t));
    }

    fn on_timer(&mut self) {
        let now = self.now();
        let mut steps = std::mem::take(&mut self.steps);
        while let Some(timer) = self.timers.next_due(now) {
            let Some(slot) = self.slots.get(timer.key) else {
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
                    stopping::deadline_passed(&mut self.slots, timer.key, timer.at, &mut steps);
                }
            }
        }
        self.carry_out(&mut steps);
        self.steps = steps;
    }
}

/// Whether `timer` can still do something.
fn timer_is_live(slots: &Slots, timer: &Timer) -> bool {
    let Some(slot) = slots.get(timer.key) else {
        return false;
    };
    if slot.generation != timer.generation {
        return false;
    }
    match timer.kind {
        TimerKind::Restart => {
            matches!(slot.state, SlotState::Restarting { due } if due == timer.at)
        }
        TimerKind::StopDeadline => stopping::deadline_is_live(slots, timer.key, timer.at),
    }
}

impl Drop for Run {
    /// A run dropped before it finished (its task was aborted) aborts every child it still
    /// has; the [`TaskEnv`] chain keeps the managers above waiting until they are gone.
    /// Either way, dropping the run ends the subscriptions to its events.
    fn drop(&mut self) {
        // A run aborted in the middle of a wake-up still delivers what it held.
        self.events.publish();
        self.mgr.inner.front.bus.end_of_run();
        for slot in self.slots.iter_mut() {
            if let SlotState::Running(r) = &slot.state {
                r.join.abort();
            }
        }
    }
}

fn shutting_down(path: &ChildPath) -> ControlError {
    ControlError::ShuttingDown {
        path: path.to_string(),
    }
}

/// The cause a failed exit stands for; `None` for a success.
fn cause_of(status: &ExitStatus) -> Option<Cause> {
    match status {
        ExitStatus::Failed(e) => Some(Cause::Error(e.clone())),
        ExitStatus::Panicked(m) => Some(Cause::Panic(m.clone())),
        ExitStatus::Aborted => Some(Cause::Aborted),
        ExitStatus::Completed => None,
    }
}
