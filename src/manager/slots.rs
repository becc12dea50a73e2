//! A manager's children: slots in declared order, found by key or id.

use crate::spec::SpecBody;
use std::cell::OnceCell;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use slab::Slab;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::counts::Counts;
use super::decide::RestartWindow;
use super::stopping::{self, Standing, StopTerms};
use crate::child::env::TaskEnv;
use crate::child::record::ChildRecord;
use crate::error::ExitStatus;
use crate::handle::Handle;
use crate::health::{Health, ProbeKind};
use crate::id::ChildId;
use crate::mailbox::Reply;
use crate::path::ChildPath;
use crate::snapshot::{ChildState, Snapshot};
use crate::spec::{Condition, Restart, Shutdown};

/// A moment of a manager's run, as nanoseconds after the run's slots were made: 8 bytes where
/// an `Instant` takes 16, in every running child's slot (see [`Slots::stamp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

/// Where a running child's [`StopTerms`] are in its [`Slots`]' table of stops (index + 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopId(NonZeroU32);

pub(crate) struct Running {
    pub(crate) join: AbortHandle,
    pub(crate) since: Stamp,
    pub(crate) ready: bool,
    /// The run has started (it said so, or reported ready): its failure is a crash, not a
    /// failed start. A run that does not report its start tells it with its exit instead.
    pub(crate) started: bool,
    /// Set while the child is being stopped; the terms are in [`Slots::stop`]. (Kept in a
    /// table of [`Slots`], not here: only children being stopped have them, and a shutdown of
    /// `n` children then makes one allocation that grows, not `n` small ones.)
    pub(crate) stop: Option<StopId>,
}

pub(crate) enum SlotState {
    /// Not running; starts as soon as its dependencies allow (and the manager is not busy
    /// with a group restart or a shutdown).
    Pending,
    Running(Running),
    /// Between runs; starts at `due`.
    Restarting {
        due: Instant,
    },
    /// Its last run ended for good.
    Exited,
    /// Stopped on request.
    Stopped,
}

pub(crate) struct Slot {
    pub(crate) child: Arc<ChildRecord>,
    /// What the child is: kept here rather than in `child`, which the manager alone reads it
    /// from, to keep `ChildRecord` a fast-bin allocation (see there).
    pub(crate) spec: Arc<SpecBody>,
    pub(crate) seq: u64,
    pub(crate) state: SlotState,
    pub(crate) generation: u64,
    pub(crate) restarts: u32,
    /// Consecutive restarts, for backoff; read and set through [`attempt`](Self::attempt)
    /// and [`set_attempt`](Self::set_attempt).
    attempt: u16,
    /// How its last run ended, in one byte; a failure's details are in `extra`.
    last: Option<LastExit>,
    /// The rarely used parts, boxed: one pointer in every slot instead of 40 bytes.
    extra: Option<Box<SlotExtra>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LastExit {
    Completed,
    Aborted,
    /// A failure or a panic: the status is `SlotExtra::failure`.
    Failure,
}

#[derive(Default)]
struct SlotExtra {
    /// Commands waiting for this child's stop, restart or removal to finish.
    waiters: Vec<Reply<()>>,
    /// For nested managers: the environment of the current run, to pass a stop deadline.
    link: Option<Arc<TaskEnv>>,
    /// The last exit, when it was a failure or a panic.
    failure: Option<ExitStatus>,
    /// The restarts counted against the child's own intensity, if it has one.
    window: RestartWindow,
    /// For a child added through a handle: the answer to the add, given once its first run
    /// has started, or has failed to start (see `Run::answer_start`).
    start_reply: Option<Reply<ChildPath>>,
    /// What its probes last reported, with the run they were about.
    health: Option<ProbeReports>,
}

/// The last transition of each probe of one run.
struct ProbeReports {
    generation: u64,
    readiness: Health,
    liveness: Health,
}

impl Slot {
    pub(crate) fn new(child: Arc<ChildRecord>, spec: Arc<SpecBody>, seq: u64) -> Self {
        Slot {
            child,
            spec,
            seq,
            state: SlotState::Pending,
            generation: 0,
            restarts: 0,
            attempt: 0,
            last: None,
            extra: None,
        }
    }

    /// Consecutive restarts, for backoff.
    pub(crate) fn attempt(&self) -> u32 {
        u32::from(self.attempt)
    }

    /// Stored in 16 bits, saturating: with it the slot takes 72 bytes instead of 80, and
    /// backoff stops growing after 31 consecutive restarts, so a count beyond 65 535 changes
    /// no delay.
    pub(crate) fn set_attempt(&mut self, attempt: u32) {
        self.attempt = u16::try_from(attempt).unwrap_or(u16::MAX);
    }

    pub(crate) fn running(&self) -> Option<&Running> {
        match &self.state {
            SlotState::Running(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn running_mut(&mut self) -> Option<&mut Running> {
        match &mut self.state {
            SlotState::Running(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn public_state(&self) -> ChildState {
        match &self.state {
            SlotState::Pending => ChildState::Waiting,
            SlotState::Running(r) if r.stop.is_some() => ChildState::Stopping,
            SlotState::Running(r) if r.ready => ChildState::Ready,
            SlotState::Running(_) => ChildState::Running,
            SlotState::Restarting { .. } => ChildState::Restarting,
            SlotState::Exited => ChildState::Exited,
            SlotState::Stopped => ChildState::Stopped,
        }
    }

    fn extra(&mut self) -> &mut SlotExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Answers `reply` once this slot's stop, restart or removal has finished.
    pub(crate) fn add_waiter(&mut self, reply: Reply<()>) {
        self.extra().waiters.push(reply);
    }

    pub(crate) fn answer_waiters(&mut self) {
        let Some(extra) = &mut self.extra else {
            return;
        };
        for w in extra.waiters.drain(..) {
            let _ = w.send(Ok(()));
        }
    }

    /// Keeps the answer to the add of this child until its first run has started.
    pub(crate) fn await_start(&mut self, reply: Reply<ChildPath>) {
        self.extra().start_reply = Some(reply);
    }

    /// Whether an add waits for this child's first run to start.
    pub(crate) fn start_awaited(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| e.start_reply.is_some())
    }

    /// Takes the answer to the add of this child, if it is still waited for.
    pub(crate) fn take_start_reply(&mut self) -> Option<Reply<ChildPath>> {
        self.extra.as_mut()?.start_reply.take()
    }

    /// The window of restarts counted against this child's own intensity (made on first use).
    pub(crate) fn own_window(&mut self) -> &mut RestartWindow {
        &mut self.extra().window
    }

    /// For nested managers: the environment of the current run.
    pub(crate) fn link(&self) -> Option<&Arc<TaskEnv>> {
        self.extra.as_ref()?.link.as_ref()
    }

    pub(crate) fn set_link(&mut self, link: Option<Arc<TaskEnv>>) {
        if link.is_some() || self.extra.is_some() {
            self.extra().link = link;
        }
    }

    /// How the last run ended, if one has.
    pub(crate) fn last_exit(&self) -> Option<ExitStatus> {
        Some(match self.last? {
            LastExit::Completed => ExitStatus::Completed,
            LastExit::Aborted => ExitStatus::Aborted,
            LastExit::Failure => self.extra.as_ref()?.failure.clone()?,
        })
    }

    /// Records that `probe` of run `generation` turned healthy (`error` is `None`) or
    /// unhealthy.
    pub(crate) fn set_probe(&mut self, generation: u64, probe: ProbeKind, error: Option<Arc<str>>) {
        let fresh = ProbeReports {
            generation,
            readiness: Health::Unknown,
            liveness: Health::Unknown,
        };
        let reports = self.extra().health.get_or_insert(fresh);
        if reports.generation != generation {
            // A report of a new run: the last run's reports are void.
            reports.generation = generation;
            reports.readiness = Health::Unknown;
            reports.liveness = Health::Unknown;
        }
        let health = match error {
            None => Health::Healthy,
            Some(error) => Health::Unhealthy { probe, error },
        };
        match probe {
            ProbeKind::Readiness => reports.readiness = health,
            ProbeKind::Liveness => reports.liveness = health,
        }
    }

    /// The health of the current run: unhealthy if a probe is; healthy if every probe the
    /// child has is; unknown otherwise.
    pub(crate) fn health(&self) -> Health {
        let Some(reports) = self.extra.as_ref().and_then(|e| e.health.as_ref()) else {
            return Health::Unknown;
        };
        if reports.generation != self.generation || self.running().is_none() {
            return Health::Unknown;
        }
        let probes = self.spec.probes();
        let states = [
            (probes.0, &reports.readiness),
            (probes.1, &reports.liveness),
        ];
        if let Some((_, unhealthy)) = states
            .iter()
            .find(|(has, h)| *has && matches!(h, Health::Unhealthy { .. }))
        {
            return (*unhealthy).clone();
        }
        if states.iter().any(|(has, _)| *has)
            && states
                .iter()
                .all(|(has, h)| !*has || **h == Health::Healthy)
        {
            return Health::Healthy;
        }
        Health::Unknown
    }

    pub(crate) fn last_exit_succeeded(&self) -> bool {
        self.last == Some(LastExit::Completed)
    }

    pub(crate) fn set_last_exit(&mut self, status: &ExitStatus) {
        self.last = Some(match status {
            ExitStatus::Completed => LastExit::Completed,
            ExitStatus::Aborted => LastExit::Aborted,
            ExitStatus::Failed(_) | ExitStatus::Panicked(_) => {
                self.extra().failure = Some(status.clone());
                LastExit::Failure
            }
        });
    }
}

/// The slots of one manager run, in declared order.
pub(crate) struct Slots {
    slab: Slab<Slot>,
    /// `(key, seq)` in declared order; entries whose slot is gone or reused are skipped and
    /// swept out once they are the majority. `None` until the first removal: until then no
    /// key has been reused, so the slab's key order is the declared order.
    order: Option<Vec<(u32, u64)>>,
    stale: usize,
    /// Keys by id, built on the first lookup: a tree nobody addresses by id never pays for it.
    by_id: OnceCell<foldhash::HashMap<ChildId, u32>>,
    next_seq: u64,
    /// Pending slots as `(seq, key)`, for starting them in declared order. Cleaned lazily by
    /// [`pending`](Self::pending): an entry whose slot left the pending state stays until
    /// then, and a slot that becomes pending again is pushed again. Cheaper than an ordered
    /// map: starting `n` children costs `n` pushes and one pass, with no allocation per child.
    pending: Vec<(u64, u32)>,
    /// `pending` is sorted by `seq` with no duplicates.
    pending_sorted: bool,
    /// How many slots are pending now.
    pending_count: usize,
    /// The origin of [`Stamp`]s.
    origin: Instant,
    /// The terms of the stops in progress, by [`StopId`].
    stops: Slab<StopTerms>,
    /// How many slots are in each state that matters, kept in step by every change here.
    counts: Counts,
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            slab: Slab::new(),
            order: None,
            stale: 0,
            by_id: OnceCell::new(),
            next_seq: 0,
            pending: Vec::new(),
            pending_sorted: true,
            pending_count: 0,
            origin: Instant::now(),
            stops: Slab::new(),
            counts: Counts::default(),
        }
    }
}

/// Entries of room the pending list keeps once it is empty.
const KEPT_PENDING_ROOM: usize = 64;

impl Slots {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Slots {
            slab: Slab::with_capacity(n),
            pending: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// How many children are in each state that matters.
    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// `now` as a [`Stamp`] of this run.
    pub(crate) fn stamp(&self, now: Instant) -> Stamp {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        Stamp(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How long before `now` the moment `since` was.
    pub(crate) fn elapsed(&self, since: Stamp, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
            .saturating_sub(Duration::from_nanos(since.0))
    }

    /// How long the slot's current run has been running.
    pub(crate) fn uptime(&self, key: u32, now: Instant) -> Option<Duration> {
        let since = self.get(key)?.running()?.since;
        Some(self.elapsed(since, now))
    }

    /// The key the next inserted slot will get.
    pub(crate) fn vacant_key(&self) -> u32 {
        self.slab.vacant_key() as u32
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Inserts a pending slot at the end of the declared order.
    pub(crate) fn insert(&mut self, slot: Slot) -> u32 {
        let seq = slot.seq;
        debug_assert_eq!(seq, self.next_seq);
        self.next_seq += 1;
        // The id is cloned only into an index that exists: most trees never build it.
        let id = self.by_id.get().is_some().then(|| slot.child.id.clone());
        // A new slot is pending: live, nothing else (the cheap path of every start).
        debug_assert!(matches!(slot.state, SlotState::Pending));
        self.counts.live += 1;
        if slot.spec.significant {
            self.counts.significant_live += 1;
        }
        let key = self.slab.insert(slot) as u32;
        if let Some(order) = &mut self.order {
            order.push((key, seq));
        }
        if let (Some(by_id), Some(id)) = (self.by_id.get_mut(), id) {
            by_id.insert(id, key);
        }
        self.push_pending(seq, key);
        key
    }

    pub(crate) fn remove(&mut self, key: u32) -> Option<Slot> {
        if !self.slab.contains(key as usize) {
            return None;
        }
        let slab = &self.slab;
        let order = self
            .order
            .get_or_insert_with(|| slab.iter().map(|(k, s)| (k as u32, s.seq)).collect());
        let slot = self.slab.remove(key as usize);
        self.counts
            .moved(Some(&slot.state), None, slot.spec.significant);
        if let Some(by_id) = self.by_id.get_mut() {
            by_id.remove(&slot.child.id);
        }
        self.stale += 1;
        if self.stale > 32 && self.stale * 2 > order.len() {
            let slab = &self.slab;
            order.retain(|&(k, seq)| slab.get(k as usize).is_some_and(|s| s.seq == seq));
            self.stale = 0;
        }
        if matches!(slot.state, SlotState::Pending) {
            self.leave_pending();
        }
        Some(slot)
    }

    pub(crate) fn get(&self, key: u32) -> Option<&Slot> {
        self.slab.get(key as usize)
    }

    pub(crate) fn get_mut(&mut self, key: u32) -> Option<&mut Slot> {
        self.slab.get_mut(key as usize)
    }

    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        let by_id = self.by_id.get_or_init(|| {
            self.slab
                .iter()
                .map(|(k, s)| (s.child.id.clone(), k as u32))
                .collect()
        });
        by_id.get(id).copied()
    }

    /// Keys in declared order.
    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        let in_slab_order = match &self.order {
            None => Some(self.slab.iter().map(|(k, _)| k as u32)),
            Some(_) => None,
        };
        let in_order = self.order.as_ref().map(|order| {
            order.iter().filter_map(|&(k, seq)| {
                self.slab
                    .get(k as usize)
                    .filter(|s| s.seq == seq)
                    .map(|_| k)
            })
        });
        in_slab_order
            .into_iter()
            .flatten()
            .chain(in_order.into_iter().flatten())
    }

    /// Keys in declared order, starting with `key`.
    pub(crate) fn keys_from(&self, key: u32) -> Vec<u32> {
        let seq = self.slab.get(key as usize).map_or(u64::MAX, |s| s.seq);
        self.keys()
            .filter(|&k| self.slab.get(k as usize).is_some_and(|s| s.seq >= seq))
            .collect()
    }

    /// The request of `key`'s stop, if it is being stopped.
    pub(crate) fn stop(&self, key: u32) -> Option<&StopTerms> {
        let id = self.get(key)?.running()?.stop?;
        self.stops.get(id.0.get() as usize - 1)
    }

    pub(crate) fn stop_mut(&mut self, key: u32) -> Option<&mut StopTerms> {
        let id = self.get(key)?.running()?.stop?;
        self.stops.get_mut(id.0.get() as usize - 1)
    }

    /// Records the stop of running child `key`; hands `request` back if `key` is not running
    /// or already stopping.
    pub(crate) fn set_stop(&mut self, key: u32, request: StopTerms) -> Result<(), StopTerms> {
        let Some(running) = self
            .slab
            .get_mut(key as usize)
            .and_then(|s| s.running_mut())
            .filter(|r| r.stop.is_none())
        else {
            return Err(request);
        };
        let entry = self.stops.vacant_entry();
        let Some(id) = u32::try_from(entry.key() + 1)
            .ok()
            .and_then(NonZeroU32::new)
        else {
            return Err(request);
        };
        entry.insert(request);
        running.stop = Some(StopId(id));
        Ok(())
    }

    /// Replaces a slot's state, keeping the pending index in step; returns the old state and,
    /// if the slot was being stopped, its stop request.
    pub(crate) fn replace_state(
        &mut self,
        key: u32,
        state: SlotState,
    ) -> Option<(SlotState, Option<StopTerms>)> {
        let slot = self.slab.get_mut(key as usize)?;
        let now_pending = matches!(state, SlotState::Pending);
        let mut old = std::mem::replace(&mut slot.state, state);
        let stop = match &mut old {
            SlotState::Running(r) => r
                .stop
                .take()
                .and_then(|id| self.stops.try_remove(id.0.get() as usize - 1)),
            _ => None,
        };
        if stop.is_some() && self.stops.is_empty() && self.stops.capacity() > 64 {
            // The stops of a large shutdown or group restart are over: give their room back.
            self.stops = Slab::new();
        }
        self.counts
            .moved(Some(&old), Some(&slot.state), slot.spec.significant);
        match (matches!(old, SlotState::Pending), now_pending) {
            (false, true) => {
                let seq = slot.seq;
                self.push_pending(seq, key);
            }
            (true, false) => self.leave_pending(),
            _ => {}
        }
        Some((old, stop))
    }

    /// Gives slot `key` another spec (a reconfiguration), keeping the counts in step should
    /// its significance change while it is live.
    pub(crate) fn replace_spec(&mut self, key: u32, spec: Arc<SpecBody>) {
        let Some(slot) = self.slab.get_mut(key as usize) else {
            return;
        };
        let live = !matches!(slot.state, SlotState::Exited | SlotState::Stopped);
        match (live, slot.spec.significant, spec.significant) {
            (true, false, true) => self.counts.significant_live += 1,
            (true, true, false) => self.counts.significant_live -= 1,
            _ => {}
        }
        slot.spec = spec;
    }

    /// Running child `key` reported ready (once per run); `false` if it is not running or was
    /// ready already.
    pub(crate) fn set_ready(&mut self, key: u32, generation: u64) -> bool {
        let Some(slot) = self.slab.get_mut(key as usize) else {
            return false;
        };
        if slot.generation != generation {
            return false;
        }
        match slot.running_mut() {
            Some(running) if !running.ready => {
                running.ready = true;
                self.counts.became_ready();
                true
            }
            _ => false,
        }
    }

    /// Moves a pending slot to `Running`, in place: the cheap path of every start (no old
    /// state to hand back). A slot that is not pending is left as it is and `running` is
    /// handed back.
    pub(crate) fn start_running(&mut self, key: u32, running: Running) -> Result<(), Running> {
        let Some(slot) = self.slab.get_mut(key as usize) else {
            return Err(running);
        };
        if !matches!(slot.state, SlotState::Pending) {
            return Err(running);
        }
        slot.state = SlotState::Running(running);
        // Pending → Running: still live, not ready yet; only `running` changes.
        self.counts.running += 1;
        self.leave_pending();
        Ok(())
    }

    /// Pending keys in declared order.
    pub(crate) fn pending(&mut self) -> Vec<u32> {
        if !self.pending_sorted {
            self.pending.sort_unstable();
            self.pending.dedup();
            self.pending_sorted = true;
        }
        let slab = &self.slab;
        self.pending.retain(|&(seq, key)| {
            slab.get(key as usize)
                .is_some_and(|s| s.seq == seq && matches!(s.state, SlotState::Pending))
        });
        self.pending.iter().map(|&(_, key)| key).collect()
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending_count > 0
    }

    /// A slot stopped being pending (its entry in the list goes stale).
    fn leave_pending(&mut self) {
        self.pending_count -= 1;
        if self.pending_count == 0 {
            // Only stale entries left: drop them, and the room of a large start, but keep a
            // little: a manager that starts each child as it inserts it (see `Run::main`)
            // empties the list once per child, and must not allocate it again each time.
            self.pending.clear();
            self.pending.shrink_to(KEPT_PENDING_ROOM);
            self.pending_sorted = true;
        }
    }

    fn push_pending(&mut self, seq: u64, key: u32) {
        // An entry at or after `seq` (even the same slot's, not yet cleaned) breaks the order.
        if self.pending.last().is_some_and(|&(last, _)| last >= seq) {
            self.pending_sorted = false;
        }
        self.pending.push((seq, key));
        self.pending_count += 1;
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.slab.iter_mut().map(|(_, s)| s)
    }
}

impl Slots {
    /// Whether the dependencies of `key` hold: each sibling it waits for has started, is
    /// ready, has completed or has ended, as its [`Condition`] asks. A dependency that has been removed
    /// holds nothing up any more.
    pub(crate) fn dependencies_hold(&self, key: u32) -> bool {
        let Some(slot) = self.get(key) else {
            return false;
        };
        slot.spec.deps.iter().all(|dep| {
            let Some(other) = self.find(&dep.on).and_then(|k| self.get(k)) else {
                return true;
            };
            let ended = matches!(other.state, SlotState::Exited);
            let completed = ended && other.last_exit_succeeded();
            match dep.condition {
                Condition::Started => other.running().is_some() || completed,
                Condition::Ready => other.running().is_some_and(|r| r.ready) || completed,
                Condition::Completed => completed,
                Condition::Ended => ended,
            }
        })
    }

    /// Every child's node of a snapshot taken at `now`, in declared order, and the index and
    /// handle of each running nested manager (asked next by the caller of the snapshot).
    /// The handles of the nested managers that run now.
    pub(crate) fn running_managers(&self) -> Vec<Handle> {
        self.keys()
            .filter_map(|key| {
                let slot = self.get(key)?;
                slot.running()?;
                Some(slot.spec.runnable().as_manager()?.handle())
            })
            .collect()
    }

    pub(crate) fn snapshot(&self, now: Instant) -> (Vec<Snapshot>, Vec<(usize, Handle)>) {
        let mut children = Vec::with_capacity(self.len());
        let mut nested = Vec::new();
        for key in self.keys() {
            let Some(slot) = self.get(key) else {
                continue;
            };
            let runnable = slot.spec.runnable();
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
                resources: slot.running().and_then(|_| runnable.resources()),
                restarts: slot.restarts,
                uptime: self.uptime(key, now),
                last_exit: slot.last_exit(),
                health: slot.health(),
                // Filled in from the nested manager's own answer (see `Handle::snapshot`).
                intensity: None,
                children: Vec::new(),
            });
        }
        (children, nested)
    }
}

/// The children as the stop machine sees them.
impl stopping::Children for Slots {
    fn standing(&self, key: u32) -> Option<Standing> {
        Some(match &self.get(key)?.state {
            SlotState::Running(r) if r.stop.is_some() => Standing::Stopping,
            SlotState::Running(_) => Standing::Running,
            SlotState::Pending | SlotState::Restarting { .. } => Standing::Waiting,
            SlotState::Exited | SlotState::Stopped => Standing::Idle,
        })
    }

    fn policy(&self, key: u32) -> Shutdown {
        self.get(key)
            .map_or(Shutdown::Brutal, |s| s.spec.shutdown_policy())
    }

    fn stops_last(&self, key: u32) -> bool {
        self.get(key)
            .is_some_and(|s| s.spec.runnable().stops_last())
    }

    fn temporary(&self, key: u32) -> bool {
        self.get(key)
            .is_some_and(|s| s.spec.restart == Restart::Temporary)
    }

    fn terms(&self, key: u32) -> Option<&StopTerms> {
        self.stop(key)
    }

    fn terms_mut(&mut self, key: u32) -> Option<&mut StopTerms> {
        self.stop_mut(key)
    }

    fn begin_stop(&mut self, key: u32, terms: StopTerms) {
        // Only asked for a running child that is not stopping (see `stopping::stop`).
        let _ = self.set_stop(key, terms);
    }

    fn running(&self) -> Vec<u32> {
        self.keys()
            .filter(|&k| self.get(k).is_some_and(|s| s.running().is_some()))
            .collect()
    }

    fn any_running(&self) -> bool {
        self.counts.running > 0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_slot_takes_72_bytes() {
        // One per child, in one slab: 8 bytes more here are 8 bytes more per child. (72 since
        // the spec moved here from `ChildRecord`, which that took from 152 to 120 bytes.)
        assert_eq!(std::mem::size_of::<super::Slot>(), 72);
    }
}
