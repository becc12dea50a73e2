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
use super::config::StopOrder;
use super::decide::{self, Decision, Policy, RestartWindow, Scope};
use super::slots::{AfterStop, Running, Slot, SlotState, Slots, StopRequest};
use crate::child::Context;
use crate::child::context::NestedRun;
use crate::child::env::TaskEnv;
use crate::child::record::{ChildRecord, ParentRun};
use crate::child::report::{ChildMsg, RawExit};
use crate::child::task as child_task;
use crate::control::Control;
use crate::error::{Cause, ControlError, ExitStatus, Failure, SpecError, TreeError};
use crate::event::EventKind;
use crate::lock::lock;
use crate::mailbox::Command;
use crate::mailbox::LevelSnapshot;
use crate::path::{ChildPath, relative_to};
use crate::snapshot::{ChildState, Snapshot};
use crate::spec::{ChildSpec, Condition, Restart, Shutdown};

mod commands;
mod events;
mod exits;
mod start;
mod stopping;
mod timers;

/// How many child reports are taken from the channel per wake-up.
const BATCH: usize = 256;

/// How many times a manager that follows a stop chain (see `Run::link_sequence`) yields to the
/// runtime, while no report has come, before it waits for the next one. A chain passes the
/// stop from child to child faster than a worker thread parks and wakes up again: without
/// these yields, the manager's worker would go to sleep after each exit and the child's task
/// that reports the next one would pay for waking it (measured: 10k children stopped in
/// reverse order took 20–40 % longer). Bounded: a chain of slow children costs the manager
/// this many yields per child, a few microseconds, and no yield is made outside a stop
/// sequence or when the manager was woken by anything but a child's report.
const STOP_CHAIN_YIELDS: u32 = 16;

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

/// Children being stopped one at a time, in reverse declared order, or all at once.
struct Sequence {
    /// Keys still to stop, in declared order: the next one is the last. Once a concurrent
    /// sequence has asked every child, the keys still to wait for, in the same order.
    remaining: Vec<u32>,
    /// Ask every child at once ([`StopOrder::Concurrent`]).
    concurrent: bool,
    /// A concurrent sequence has asked every child.
    asked_all: bool,
    /// A one-at-a-time sequence has linked its children (see `Run::link_sequence`).
    linked: bool,
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
    /// A concurrent sequence, once it has asked the others: the children that
    /// [stop last](crate::Runnable::stops_last), in declared order, asked once every key of
    /// `remaining` has ended (`None` until then).
    last: Option<Vec<u32>>,
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
        /// Why the manager stops.
        reason: Reason,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum TimerKind {
    Restart,
    StopDeadline,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Timer {
    at: Instant,
    seq: u64,
    key: u32,
    generation: u64,
    kind: TimerKind,
}

/// Earliest first; among timers due at the same instant, the child declared last first. That
/// is the order of a stop sequence, which pushes its children's deadlines last-declared
/// first: with equal deadlines (a concurrent stop reads the clock once), each push then stays
/// where it lands in the heap instead of climbing to its top.
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| other.seq.cmp(&self.seq))
            .then_with(|| self.key.cmp(&other.key))
            .then_with(|| self.generation.cmp(&other.generation))
            .then_with(|| self.kind.cmp(&other.kind))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
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
    /// Stopped (by a command, or by a shutdown under way): still declared, so a manager whose
    /// children were stopped by commands keeps running.
    stopped: usize,
}

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
    Root,
    Child(Context),
}

pub(crate) struct Run {
    mgr: ProcessManager,
    shared: Arc<ParentRun>,
    policy: Policy,
    slots: Slots,
    rx: mpsc::UnboundedReceiver<ChildMsg>,
    token: CancellationToken,
    tracker: TaskTracker,
    /// This manager's link, from its parent (`None` at the root).
    env: Option<Arc<TaskEnv>>,
    /// What every child's task holds: a token of `tracker` and `env`. Dropped when the run
    /// is over, before it waits for the tracker to empty.
    tasks_env: Option<Arc<TaskEnv>>,
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
    /// The clock read once per wake-up of the run (see [`Run::now`]).
    now: Option<Instant>,
    /// Events not yet published (see `events`).
    held: events::HeldEvents,
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
            let run = &ctx.child.parent;
            let nested = ctx.nested.take();
            (
                ctx.path(),
                ctx.shutdown_token(),
                run.tree.clone(),
                run.buses.to_vec(),
                nested,
                Some(ctx),
            )
        }
    };
    let front = &inner.front;
    let opened = front.mailbox.open(&path);
    // The run has opened the mailbox (or found it taken): what its parent announced is over.
    let env = env.map(|nested| {
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
    });
    let tracker = TaskTracker::new();
    let tasks_env = TaskEnv::new(env.clone(), tracker.token());
    let mut run = Run {
        mgr: mgr.clone(),
        shared,
        policy: inner.policy,
        slots: Slots::with_capacity(inner.specs.len()),
        rx,
        token,
        tracker,
        env,
        tasks_env: Some(tasks_env),
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
        now: None,
        held: events::HeldEvents::new(),
    };
    tracing::debug!(manager = %path, children = inner.specs.len(), "manager starting");
    let result = run.main(commands.receiver()).await;
    run.publish_events();
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
            let mgr = self.mgr.clone();
            // The children declared before the first one with dependencies start as they are
            // inserted: the same order as one pass of `start_pending` over them, but the first
            // child runs as soon as it is inserted, not once all are, and each child's record
            // is still in cache when its task is spawned. The rest wait for `start_pending`.
            let now = self.now();
            let mut in_order = true;
            for spec in &mgr.inner.specs {
                let key = self.insert(spec);
                in_order &= spec.body.deps.is_empty();
                if in_order {
                    self.spawn(key, now);
                }
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
        let mut children_woke = false;
        loop {
            self.progress();
            if let Some(result) = self.outcome() {
                return result;
            }
            if children_woke && self.following_a_stop_chain() {
                // See `STOP_CHAIN_YIELDS`.
                for _ in 0..STOP_CHAIN_YIELDS {
                    if !self.rx.is_empty() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
            self.end_of_wake_up();
            let wake = tokio::select! {
                biased;
                _ = self.rx.recv_many(&mut msgs, BATCH) => Wake::Children,
                Some(cmd) = commands.recv() => Wake::Command(cmd),
                _ = &mut cancelled, if !cancel_seen => Wake::Cancelled,
                _ = &mut self.sleep, if self.armed.is_some() => Wake::Timer,
                () = self.held.flush_due() => Wake::Events,
            };
            // Everything this wake-up does happens at one instant.
            self.now = None;
            children_woke = matches!(wake, Wake::Children);
            match wake {
                Wake::Children => self.on_child_msgs(&mut msgs),
                Wake::Command(cmd) => self.on_command(cmd),
                Wake::Cancelled => {
                    cancel_seen = true;
                    self.begin_shutdown(Reason::Requested, false);
                }
                Wake::Timer => self.on_timer(),
                Wake::Events => self.on_flush_due(),
            }
        }
    }

    /// The time of the current wake-up: the clock is read once per wake-up, not once per
    /// child, since one batch can stop or settle 100 000 children. Deadlines and uptimes are
    /// then counted from the moment the manager woke up, at most one batch's work earlier.
    pub(super) fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }

    /// A one-at-a-time stop sequence is under way, its children linked: their exits come one
    /// after the other without this manager asking.
    fn following_a_stop_chain(&self) -> bool {
        match &self.phase {
            Phase::Running => false,
            Phase::Regrouping { seq, .. } | Phase::Stopping { seq, .. } => {
                seq.linked && !seq.concurrent && !seq.immediate && seq.current.is_some()
            }
        }
    }

    /// The run's result, once it is over.
    fn outcome(&mut self) -> Option<Result<(), TreeError>> {
        let done = match &self.phase {
            // Children stopped by commands can be started again: they keep it running.
            Phase::Running => {
                self.counts.live == 0 && self.counts.stopped == 0 && self.deferred_exits.is_empty()
            }
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
}

impl Drop for Run {
    /// A run dropped before it finished (its task was aborted) aborts every child it still
    /// has; the [`TaskEnv`] chain keeps the managers above waiting until they are gone.
    /// Either way, dropping the run ends the subscriptions to its events.
    fn drop(&mut self) {
        // A run aborted in the middle of a wake-up still delivers what it held.
        self.publish_events();
        self.mgr.inner.front.bus.end_of_run();
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
