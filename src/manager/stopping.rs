//! Stopping children, as a pure state machine: whom to ask, when to abort, what to wait for.
//!
//! Two levels, both without a runtime, unit-tested by the tables at the end of this file:
//!
//! - **One child's stop** ([`stop`], [`deadline_passed`]): a child asked to stop gets its
//!   [`StopTerms`] (what follows, its deadline: its own [`Shutdown`] timeout clamped by any
//!   deadline above); `Brutal` or an immediate stop aborts it at once; `Timeout` arms a timer
//!   whose expiry aborts it; `Infinity` waits. Asked again while it stops, it keeps the stricter
//!   terms.
//! - **A sequence** ([`Sequence`]): a shutdown or a group restart stops many children, one at
//!   a time in reverse declared order ([`StopOrder::Reverse`]) or all at once
//!   ([`StopOrder::Concurrent`]); children that [stop last](crate::Runnable::stops_last) come
//!   after every other has ended; an immediate shutdown aborts everything at once. It moves on
//!   as children end ([`Sequence::ended`], then [`Sequence::advance`]).
//!
//! The machine reads what it needs of the children through [`Children`] and says what to do
//! as [`Step`]s; the manager's run carries them out (raises stop signals, aborts tasks, sets
//! timers). It keeps no clock: the caller passes the time of its wake-up.

use tokio::time::Instant;

use crate::policy::StopOrder;
use crate::spec::Shutdown;

/// What follows once a child that is being stopped has exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterStop {
    /// It stays stopped.
    Stay,
    /// It starts again (a commanded restart, or a member of a group restart).
    Start,
    /// It is removed.
    Remove,
}

impl AfterStop {
    /// What follows a stop that is asked for again while it is under way, `self` having been
    /// asked first. A removal is final. Otherwise the latest command wins (a stop after a
    /// restart keeps the child stopped, a restart after a stop starts it again); a sequence
    /// never undoes a command's stop or removal by restarting the child with its group, but
    /// its `Stay` (a shutdown) cancels a restart.
    pub(crate) fn then(self, new: AfterStop, asker: Asker) -> AfterStop {
        match (self, new) {
            (AfterStop::Remove, _) => AfterStop::Remove,
            (_, new) if asker == Asker::Command => new,
            (current, AfterStop::Start) => current,
            (_, new) => new,
        }
    }
}

/// Who asks a child to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asker {
    /// A command (stop, restart, remove) for this one child.
    Command,
    /// A sequence (a shutdown, a group restart), in its turn.
    Sequence,
}

/// How a child is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Manner {
    /// Asked, then aborted if it has not ended by its deadline (its [`Shutdown`] policy).
    Graceful,
    /// Aborted at once, without asking.
    Immediate,
}

/// A stop in progress, kept with the child by the caller (see [`Children`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopTerms {
    pub(crate) then: AfterStop,
    /// When it was asked (its own timeout counts from here).
    pub(crate) started: Instant,
    /// When it is aborted if it has not ended.
    pub(crate) deadline: Option<Instant>,
    /// Aborted on purpose (`Brutal`, or an immediate stop): its end is no failure.
    pub(crate) brutal: bool,
    /// Aborted because the deadline passed: a failure when its manager is shutting down.
    pub(crate) timed_out: bool,
}

/// Where a child stands, as far as stopping it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Its run is under way and nobody asked it to stop.
    Running,
    /// Its run is under way and it is being stopped (it has [`StopTerms`]).
    Stopping,
    /// Declared, not running: waiting to start, or between restarts.
    Waiting,
    /// Not running and not about to: exited, stopped, or removed.
    Idle,
}

/// The children, as the machine sees them: their facts, and the terms of their stops. Each
/// fact is asked for on its own, as the machine needs it: some cost a virtual call.
pub(crate) trait Children {
    /// Where the child stands; `None` for no such child.
    fn standing(&self, key: u32) -> Option<Standing>;
    /// Its shutdown policy (asked only of a child that exists).
    fn policy(&self, key: u32) -> Shutdown;
    /// Whether it [stops last](crate::Runnable::stops_last).
    fn stops_last(&self, key: u32) -> bool;
    /// Whether it is temporary: a group restart removes it instead of starting it again.
    fn temporary(&self, key: u32) -> bool;
    /// The terms of the stop of `key`, if it is being stopped.
    fn terms(&self, key: u32) -> Option<&StopTerms>;
    /// The same, to change them.
    fn terms_mut(&mut self, key: u32) -> Option<&mut StopTerms>;
    /// `key`, running, is now being stopped on these terms.
    fn begin_stop(&mut self, key: u32, terms: StopTerms);
    /// Every child whose run is under way, in any order.
    fn running(&self) -> Vec<u32>;
    /// Whether any child's run is under way (in O(1): it is asked after every exit).
    fn any_running(&self) -> bool;
}

/// What the caller must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Ask the child's run to stop. A nested manager takes `deadline` as the deadline of its
    /// own shutdown. `in_turn`: false for a child asked by a command while a sequence runs,
    /// whose end must not pass the stop on ahead of the sequence (see `stop_chain`).
    Ask {
        key: u32,
        deadline: Option<Instant>,
        in_turn: bool,
    },
    /// Abort the child's task.
    Abort { key: u32 },
    /// Call [`deadline_passed`] for `key` at `at`.
    Timer { key: u32, at: Instant },
    /// The child was not running: it is stopped now, without being asked (a shutdown).
    Settle { key: u32 },
    /// A one-at-a-time sequence has begun: its children may be linked (see `stop_chain`).
    Link,
}

/// What one child is asked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ask {
    pub(crate) then: AfterStop,
    pub(crate) asker: Asker,
    pub(crate) manner: Manner,
    /// A deadline from above (the sequence's), which the child's own timeout cannot exceed.
    pub(crate) deadline: Option<Instant>,
    /// See [`Step::Ask`].
    pub(crate) in_turn: bool,
}

/// Asks running child `key` to stop on `ask`'s terms at `now`; a child already stopping
/// keeps the stricter terms. Does nothing for a child that does not run.
pub(crate) fn stop<C: Children>(
    kids: &mut C,
    key: u32,
    ask: Ask,
    now: Instant,
    out: &mut Vec<Step>,
) {
    let Some(standing) = kids.standing(key) else {
        return;
    };
    if matches!(standing, Standing::Waiting | Standing::Idle) {
        return;
    }
    let policy = kids.policy(key);
    let brutal = ask.manner == Manner::Immediate || policy == Shutdown::Brutal;
    let own = match policy {
        // A timeout too large for the clock never expires.
        Shutdown::Timeout(d) => crate::deadline::after(now, d),
        Shutdown::Brutal | Shutdown::Infinity => None,
    };
    let deadline = earliest(own, ask.deadline);
    match standing {
        Standing::Running => {
            kids.begin_stop(
                key,
                StopTerms {
                    then: ask.then,
                    started: now,
                    deadline,
                    brutal,
                    timed_out: false,
                },
            );
            if brutal {
                out.push(Step::Abort { key });
                return;
            }
            out.push(Step::Ask {
                key,
                deadline,
                in_turn: ask.in_turn,
            });
            if let Some(at) = deadline {
                out.push(Step::Timer { key, at });
            }
        }
        Standing::Stopping => {
            let Some(terms) = kids.terms_mut(key) else {
                return;
            };
            terms.then = terms.then.then(ask.then, ask.asker);
            let escalate = brutal && !terms.brutal;
            terms.brutal |= brutal;
            let tighter = deadline.filter(|&d| terms.deadline.is_none_or(|old| d < old));
            if tighter.is_some() {
                terms.deadline = tighter;
            }
            if escalate {
                out.push(Step::Abort { key });
            }
            if let Some(at) = tighter {
                out.push(Step::Timer { key, at });
            }
        }
        Standing::Waiting | Standing::Idle => {}
    }
}

/// The timer set for `key` at `at` is due: the child is aborted if that is still its stop's
/// deadline and it is still asked to stop gracefully.
pub(crate) fn deadline_passed<C: Children>(
    kids: &mut C,
    key: u32,
    at: Instant,
    out: &mut Vec<Step>,
) {
    if let Some(terms) = kids.terms_mut(key)
        && terms.deadline == Some(at)
        && !terms.brutal
        && !terms.timed_out
    {
        terms.timed_out = true;
        out.push(Step::Abort { key });
    }
}

/// Whether a timer set for `key` at `at` can still do something (see [`deadline_passed`]).
pub(crate) fn deadline_is_live<C: Children>(kids: &C, key: u32, at: Instant) -> bool {
    kids.terms(key)
        .is_some_and(|t| t.deadline == Some(at) && !t.brutal && !t.timed_out)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Why a sequence stops its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The manager shuts down: children stay stopped, and those not running are settled.
    Shutdown,
    /// A group restart: children are started again once all are down (temporary ones are
    /// removed instead), and those not running are left to it.
    GroupRestart,
}

/// Where a sequence is, after [`Sequence::advance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// It waits for a child to end.
    Waiting,
    /// Every child it asked has ended (for a shutdown, once nothing runs any more).
    Over,
}

/// Many children being stopped: a shutdown or a group restart.
#[derive(Debug)]
pub(crate) struct Sequence {
    purpose: Purpose,
    order: StopOrder,
    manner: Manner,
    /// A deadline over the whole sequence.
    deadline: Option<Instant>,
    /// `Reverse`: the keys still to ask, in declared order with those that stop last moved to
    /// the front: the next to ask is the last. `Concurrent`: before a round, the keys to ask;
    /// after it, the keys still to wait for, the first asked last.
    remaining: Vec<u32>,
    /// `Concurrent`: those that stop last, asked once every other key has ended (`None` until
    /// the first round has set them apart).
    last: Option<Vec<u32>>,
    /// `Concurrent`: the current round has asked its keys.
    asked_all: bool,
    /// `Reverse`: the child being stopped now.
    current: Option<u32>,
    /// `Reverse`: the children have been offered to the stop chain ([`Step::Link`]).
    linked: bool,
    /// `Immediate`: everything has been aborted.
    aborted: bool,
}

impl Sequence {
    /// A sequence over `keys` (in declared order) for `purpose`.
    pub(crate) fn new<C: Children>(
        kids: &C,
        purpose: Purpose,
        order: StopOrder,
        manner: Manner,
        deadline: Option<Instant>,
        keys: Vec<u32>,
    ) -> Self {
        let stops_last = |k: &u32| kids.stops_last(*k);
        let remaining = match order {
            // Taken from the end: those that stop last go first in the list.
            StopOrder::Reverse if keys.iter().any(stops_last) => {
                let (mut last, others): (Vec<u32>, Vec<u32>) =
                    keys.into_iter().partition(stops_last);
                last.extend(others);
                last
            }
            _ => keys,
        };
        Sequence {
            purpose,
            order,
            manner,
            deadline,
            remaining,
            last: None,
            asked_all: false,
            current: None,
            linked: false,
            aborted: false,
        }
    }

    /// A shutdown that takes over from a group restart under way: the child the group
    /// restart is stopping now is waited for before the next is asked.
    pub(crate) fn take_over(&mut self, restart: &Sequence) {
        self.current = restart.current;
    }

    /// From now on, abort everything at once.
    pub(crate) fn escalate(&mut self) {
        self.manner = Manner::Immediate;
    }

    /// `Reverse`: the child being stopped, then those still to ask, in the order they will
    /// be asked (for the stop chain).
    pub(crate) fn upcoming(&self) -> impl Iterator<Item = u32> + '_ {
        self.current
            .into_iter()
            .chain(self.remaining.iter().rev().copied())
    }

    /// The child being stopped in turn (`Reverse`).
    pub(crate) fn current(&self) -> Option<u32> {
        self.current
    }

    /// One at a time, its children linked, a child being stopped: the next exits come one
    /// after the other without the manager asking.
    pub(crate) fn follows_a_chain(&self) -> bool {
        self.linked
            && self.order == StopOrder::Reverse
            && self.manner == Manner::Graceful
            && self.current.is_some()
    }

    /// What follows the stop of a child (`temporary` or not) asked by this sequence.
    pub(crate) fn then_for(&self, temporary: bool) -> AfterStop {
        match self.purpose {
            Purpose::Shutdown => AfterStop::Stay,
            // A temporary bystander of a group restart is removed, not started again (OTP).
            Purpose::GroupRestart if temporary => AfterStop::Remove,
            Purpose::GroupRestart => AfterStop::Start,
        }
    }

    /// `key` has ended (or left the sequence): the next one may be asked.
    pub(crate) fn ended(&mut self, key: u32) {
        if self.current == Some(key) {
            self.current = None;
        }
    }

    /// `key` ended on its own during a group restart and starts again with its group: it is
    /// no longer waited for.
    pub(crate) fn forget(&mut self, key: u32) {
        self.remaining.retain(|&k| k != key);
        self.ended(key);
    }

    /// Asks as many children as can be asked now; says whether the sequence is over.
    pub(crate) fn advance<C: Children>(
        &mut self,
        kids: &mut C,
        now: Instant,
        out: &mut Vec<Step>,
    ) -> Progress {
        if self.manner == Manner::Immediate {
            return self.abort_all(kids, now, out);
        }
        match self.order {
            StopOrder::Concurrent => self.advance_concurrent(kids, now, out),
            StopOrder::Reverse => self.advance_one_at_a_time(kids, now, out),
        }
    }

    fn abort_all<C: Children>(
        &mut self,
        kids: &mut C,
        now: Instant,
        out: &mut Vec<Step>,
    ) -> Progress {
        if !self.aborted {
            self.aborted = true;
            // Those that stop last and were not asked yet come after the others.
            let mut keys = self.last.take().unwrap_or_default();
            keys.append(&mut self.remaining);
            self.current = None;
            for key in keys.into_iter().rev() {
                self.stop_or_settle(kids, key, now, out);
            }
            // Children stopping already (asked in turn, or by a command) are aborted too.
            for key in kids.running() {
                let ask = Ask {
                    then: AfterStop::Stay,
                    asker: Asker::Sequence,
                    manner: Manner::Immediate,
                    deadline: self.deadline,
                    in_turn: true,
                };
                stop(kids, key, ask, now, out);
            }
        }
        self.over_when_nothing_runs(kids)
    }

    fn advance_concurrent<C: Children>(
        &mut self,
        kids: &mut C,
        now: Instant,
        out: &mut Vec<Step>,
    ) -> Progress {
        loop {
            if !self.asked_all {
                self.asked_all = true;
                let keys = std::mem::take(&mut self.remaining);
                // First round: all but those that stop last; second round: those.
                let others = if self.last.is_none() {
                    let stops_last = |k: &u32| kids.stops_last(*k);
                    let (last, others): (Vec<u32>, Vec<u32>) =
                        keys.into_iter().partition(stops_last);
                    self.last = Some(last);
                    others
                } else {
                    keys
                };
                let mut waiting = Vec::with_capacity(others.len());
                for key in others.into_iter().rev() {
                    if self.stop_or_settle(kids, key, now, out) {
                        waiting.push(key);
                    }
                }
                // Wait for the first asked last: `remaining` pops from the end.
                waiting.reverse();
                self.remaining = waiting;
                continue;
            }
            // Amortised O(1) per exit: each key is popped once, and a running key at the end
            // stops the scan.
            while let Some(&key) = self.remaining.last() {
                if is_running(kids, key) {
                    return Progress::Waiting;
                }
                self.remaining.pop();
            }
            if let Some(last) = &mut self.last
                && !last.is_empty()
            {
                // Everyone else has ended: now those that stop last.
                self.remaining = std::mem::take(last);
                self.asked_all = false;
                continue;
            }
            return self.over_when_nothing_runs(kids);
        }
    }

    fn advance_one_at_a_time<C: Children>(
        &mut self,
        kids: &mut C,
        now: Instant,
        out: &mut Vec<Step>,
    ) -> Progress {
        if !self.linked {
            self.linked = true;
            out.push(Step::Link);
        }
        if let Some(current) = self.current {
            if is_running(kids, current) {
                return Progress::Waiting;
            }
            self.current = None;
        }
        while let Some(key) = self.remaining.pop() {
            if self.stop_or_settle(kids, key, now, out) {
                self.current = Some(key);
                return Progress::Waiting;
            }
        }
        self.over_when_nothing_runs(kids)
    }

    /// Stops `key` if it runs (returns `true`: wait for it); otherwise, in a shutdown,
    /// settles it at once.
    fn stop_or_settle<C: Children>(
        &self,
        kids: &mut C,
        key: u32,
        now: Instant,
        out: &mut Vec<Step>,
    ) -> bool {
        let Some(standing) = kids.standing(key) else {
            return false;
        };
        match standing {
            Standing::Running | Standing::Stopping => {
                let ask = Ask {
                    then: self.then_for(kids.temporary(key)),
                    asker: Asker::Sequence,
                    manner: self.manner,
                    deadline: self.deadline,
                    in_turn: true,
                };
                stop(kids, key, ask, now, out);
                true
            }
            Standing::Waiting if self.purpose == Purpose::Shutdown => {
                out.push(Step::Settle { key });
                false
            }
            Standing::Waiting | Standing::Idle => false,
        }
    }

    /// Whether the sequence is over (see [`over_when_nothing_runs`](Self::over_when_nothing_runs)).
    pub(crate) fn is_over<C: Children>(&self, kids: &C) -> bool {
        self.over_when_nothing_runs(kids) == Progress::Over
    }

    /// A group restart is over once its children have ended; a shutdown once nothing runs
    /// (a child stopped by a command meanwhile included).
    fn over_when_nothing_runs<C: Children>(&self, kids: &C) -> Progress {
        let nothing_left = self.remaining.is_empty() && self.current.is_none();
        let over = match self.purpose {
            Purpose::GroupRestart => nothing_left,
            Purpose::Shutdown => nothing_left && !kids.any_running(),
        };
        if over {
            Progress::Over
        } else {
            Progress::Waiting
        }
    }
}

fn is_running<C: Children>(kids: &C, key: u32) -> bool {
    matches!(
        kids.standing(key),
        Some(Standing::Running | Standing::Stopping)
    )
}

#[cfg(test)]
mod tests {
    //! Tables of scripted sequences: children `a`, `b`, `c`, … in declared order, each with a
    //! shutdown policy; a script of events (`end b`: b's run ends; `due a`: a's stop deadline
    //! passes; `escalate`: an immediate shutdown is asked), each followed by
    //! [`Sequence::advance`]; and the steps each event gives, as text. Times are seconds after
    //! the start.

    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    #[derive(Clone, Copy)]
    struct Kid {
        standing: Standing,
        policy: Shutdown,
        stops_last: bool,
        temporary: bool,
        terms: Option<StopTerms>,
    }

    struct Kids(BTreeMap<u32, Kid>);

    impl Children for Kids {
        fn standing(&self, key: u32) -> Option<Standing> {
            self.0.get(&key).map(|k| k.standing)
        }
        fn policy(&self, key: u32) -> Shutdown {
            self.0[&key].policy
        }
        fn stops_last(&self, key: u32) -> bool {
            self.0[&key].stops_last
        }
        fn temporary(&self, key: u32) -> bool {
            self.0[&key].temporary
        }
        fn terms(&self, key: u32) -> Option<&StopTerms> {
            self.0.get(&key)?.terms.as_ref()
        }
        fn terms_mut(&mut self, key: u32) -> Option<&mut StopTerms> {
            self.0.get_mut(&key)?.terms.as_mut()
        }
        fn begin_stop(&mut self, key: u32, terms: StopTerms) {
            let kid = self.0.get_mut(&key).unwrap();
            assert_eq!(kid.standing, Standing::Running, "asked twice");
            kid.standing = Standing::Stopping;
            kid.terms = Some(terms);
        }
        fn running(&self) -> Vec<u32> {
            self.0
                .iter()
                .filter(|(_, k)| matches!(k.standing, Standing::Running | Standing::Stopping))
                .map(|(&key, _)| key)
                .collect()
        }
        fn any_running(&self) -> bool {
            !self.running().is_empty()
        }
    }

    /// A child: `T5` (a 5 s timeout), `B` (brutal), `I` (infinity); a leading `*` makes it
    /// stop last, a leading `~` makes it temporary, a trailing `?` makes it waiting to start.
    fn kid(spec: &str) -> Kid {
        let stops_last = spec.starts_with('*');
        let temporary = spec.starts_with('~');
        let waiting = spec.ends_with('?');
        let core = spec.trim_start_matches(['*', '~']).trim_end_matches('?');
        let policy = match core {
            "B" => Shutdown::Brutal,
            "I" => Shutdown::Infinity,
            t => Shutdown::Timeout(Duration::from_secs(t[1..].parse().unwrap())),
        };
        Kid {
            standing: if waiting {
                Standing::Waiting
            } else {
                Standing::Running
            },
            policy,
            stops_last,
            temporary,
            terms: None,
        }
    }

    fn name(key: u32) -> char {
        char::from(b'a' + key as u8)
    }

    fn key(name: &str) -> u32 {
        u32::from(name.as_bytes()[0] - b'a')
    }

    struct Case<'a> {
        purpose: Purpose,
        order: StopOrder,
        manner: Manner,
        /// A deadline over the sequence, in seconds.
        deadline: Option<u64>,
        kids: &'a [&'a str],
        /// Each event, and the steps it must give.
        script: &'a [(&'a str, &'a [&'a str])],
    }

    fn run(case: &Case<'_>) {
        let t0 = Instant::now();
        let secs = |at: Instant| at.duration_since(t0).as_secs();
        let mut kids = Kids(
            case.kids
                .iter()
                .enumerate()
                .map(|(i, s)| (i as u32, kid(s)))
                .collect(),
        );
        let deadline = case.deadline.map(|s| t0 + Duration::from_secs(s));
        let keys = kids.0.keys().copied().collect();
        let mut seq = Sequence::new(&kids, case.purpose, case.order, case.manner, deadline, keys);
        let mut over = false;
        for (event, expected) in case.script {
            let mut out = Vec::new();
            let words: Vec<&str> = event.split(' ').collect();
            match words.as_slice() {
                ["start"] => {}
                ["end", who] => {
                    let kid = kids.0.get_mut(&key(who)).unwrap();
                    kid.standing = Standing::Idle;
                    kid.terms = None;
                    seq.ended(key(who));
                }
                ["due", who] => {
                    let at = kids.0[&key(who)].terms.unwrap().deadline.unwrap();
                    deadline_passed(&mut kids, key(who), at, &mut out);
                }
                ["escalate"] => seq.escalate(),
                other => panic!("unknown event {other:?}"),
            }
            let progress = seq.advance(&mut kids, t0, &mut out);
            let mut got: Vec<String> = out
                .iter()
                .map(|step| match *step {
                    Step::Ask { key, deadline, .. } => match deadline {
                        Some(at) => format!("ask {} by {}", name(key), secs(at)),
                        None => format!("ask {}", name(key)),
                    },
                    Step::Abort { key } => format!("abort {}", name(key)),
                    Step::Timer { key, at } => format!("timer {} {}", name(key), secs(at)),
                    Step::Settle { key } => format!("settle {}", name(key)),
                    Step::Link => "link".to_string(),
                })
                .collect();
            // `over` is said once, after the event that ends the sequence.
            if progress == Progress::Over && !over {
                over = true;
                got.push("over".to_string());
            }
            assert_eq!(got, *expected, "after `{event}`");
        }
        assert!(over, "the script ends before the sequence is over");
    }

    const SHUTDOWN: Purpose = Purpose::Shutdown;
    const RESTART: Purpose = Purpose::GroupRestart;
    const REVERSE: StopOrder = StopOrder::Reverse;
    const CONCURRENT: StopOrder = StopOrder::Concurrent;
    const GRACEFUL: Manner = Manner::Graceful;
    const IMMEDIATE: Manner = Manner::Immediate;

    #[test]
    fn reverse_asks_one_child_at_a_time_last_declared_first_each_by_its_own_policy() {
        run(&Case {
            purpose: SHUTDOWN,
            order: REVERSE,
            manner: GRACEFUL,
            deadline: None,
            kids: &["T5", "B", "I"],
            script: &[
                ("start", &["link", "ask c"]),
                ("end c", &["abort b"]),
                ("end b", &["ask a by 5", "timer a 5"]),
                ("due a", &["abort a"]),
                ("end a", &["over"]),
            ],
        });
    }

    #[test]
    fn concurrent_asks_every_child_at_once_in_reverse_order_and_waits_for_all() {
        run(&Case {
            purpose: SHUTDOWN,
            order: CONCURRENT,
            manner: GRACEFUL,
            deadline: None,
            kids: &["T5", "B", "I"],
            script: &[
                ("start", &["ask c", "abort b", "ask a by 5", "timer a 5"]),
                ("end a", &[]),
                ("end b", &[]),
                ("end c", &["over"]),
            ],
        });
    }

    #[test]
    fn a_child_that_stops_last_is_asked_once_every_other_has_ended_in_either_order() {
        for order in [REVERSE, CONCURRENT] {
            let first: &[&str] = if order == REVERSE {
                &["link", "ask c"]
            } else {
                &["ask c", "ask b"]
            };
            let after_c: &[&str] = if order == REVERSE { &["ask b"] } else { &[] };
            run(&Case {
                purpose: SHUTDOWN,
                order,
                manner: GRACEFUL,
                deadline: None,
                kids: &["*I", "I", "I"],
                script: &[
                    ("start", first),
                    ("end c", after_c),
                    ("end b", &["ask a"]),
                    ("end a", &["over"]),
                ],
            });
        }
    }

    #[test]
    fn an_immediate_shutdown_aborts_every_child_at_once_whatever_its_policy_and_order() {
        for order in [REVERSE, CONCURRENT] {
            run(&Case {
                purpose: SHUTDOWN,
                order,
                manner: IMMEDIATE,
                deadline: None,
                kids: &["*I", "T5", "B", "I"],
                script: &[
                    ("start", &["abort d", "abort c", "abort b", "abort a"]),
                    ("end a", &[]),
                    ("end c", &[]),
                    ("end b", &[]),
                    ("end d", &["over"]),
                ],
            });
        }
    }

    #[test]
    fn escalating_a_graceful_shutdown_aborts_the_children_not_asked_yet_and_those_stopping() {
        run(&Case {
            purpose: SHUTDOWN,
            order: REVERSE,
            manner: GRACEFUL,
            deadline: None,
            kids: &["T5", "T5", "I"],
            script: &[
                ("start", &["link", "ask c"]),
                ("escalate", &["abort b", "abort a", "abort c"]),
                ("end c", &[]),
                ("end b", &[]),
                ("end a", &["over"]),
            ],
        });
        run(&Case {
            purpose: SHUTDOWN,
            order: CONCURRENT,
            manner: GRACEFUL,
            deadline: None,
            kids: &["T5", "I"],
            script: &[
                ("start", &["ask b", "ask a by 5", "timer a 5"]),
                ("escalate", &["abort b", "abort a"]),
                ("end a", &[]),
                ("end b", &["over"]),
            ],
        });
    }

    #[test]
    fn a_child_that_ends_on_its_own_mid_stop_is_skipped_when_its_turn_comes() {
        run(&Case {
            purpose: SHUTDOWN,
            order: REVERSE,
            manner: GRACEFUL,
            deadline: None,
            kids: &["I", "I", "I"],
            script: &[
                ("start", &["link", "ask c"]),
                // Not asked yet: nothing to do until c ends.
                ("end b", &[]),
                ("end c", &["ask a"]),
                ("end a", &["over"]),
            ],
        });
        run(&Case {
            purpose: SHUTDOWN,
            order: CONCURRENT,
            manner: GRACEFUL,
            deadline: None,
            kids: &["*I", "I", "I"],
            script: &[
                ("start", &["ask c", "ask b"]),
                // The one that stops last ends on its own before its round: never asked.
                ("end a", &[]),
                ("end b", &[]),
                ("end c", &["over"]),
            ],
        });
    }

    #[test]
    fn a_deadline_over_the_sequence_clamps_each_childs_own_timeout_and_bounds_infinity() {
        // A nested manager (`Infinity` by default) gets the deadline to pass on to its own
        // children with its ask.
        run(&Case {
            purpose: SHUTDOWN,
            order: REVERSE,
            manner: GRACEFUL,
            deadline: Some(3),
            kids: &["T5", "T1", "I"],
            script: &[
                ("start", &["link", "ask c by 3", "timer c 3"]),
                ("due c", &["abort c"]),
                ("end c", &["ask b by 1", "timer b 1"]),
                ("end b", &["ask a by 3", "timer a 3"]),
                ("end a", &["over"]),
            ],
        });
    }

    #[test]
    fn a_shutdown_settles_the_children_waiting_to_start_and_a_group_restart_leaves_them() {
        run(&Case {
            purpose: SHUTDOWN,
            order: REVERSE,
            manner: GRACEFUL,
            deadline: None,
            kids: &["I?", "I", "I?"],
            script: &[
                ("start", &["link", "settle c", "ask b"]),
                ("end b", &["settle a", "over"]),
            ],
        });
        run(&Case {
            purpose: RESTART,
            order: CONCURRENT,
            manner: GRACEFUL,
            deadline: None,
            kids: &["I?", "I"],
            script: &[("start", &["ask b"]), ("end b", &["over"])],
        });
    }

    #[test]
    fn a_group_restart_starts_its_members_again_and_removes_its_temporary_ones() {
        let t0 = Instant::now();
        let mut kids = Kids([(0, kid("I")), (1, kid("~I"))].into_iter().collect());
        let mut seq = Sequence::new(&kids, RESTART, REVERSE, GRACEFUL, None, vec![0, 1]);
        let mut out = Vec::new();
        seq.advance(&mut kids, t0, &mut out);
        assert_eq!(kids.0[&1].terms.unwrap().then, AfterStop::Remove);
        kids.0.get_mut(&1).unwrap().standing = Standing::Idle;
        seq.ended(1);
        seq.advance(&mut kids, t0, &mut out);
        assert_eq!(kids.0[&0].terms.unwrap().then, AfterStop::Start);
    }

    #[test]
    fn a_group_restart_is_over_when_its_members_have_ended_though_others_run() {
        let t0 = Instant::now();
        let mut kids = Kids([(0, kid("I")), (1, kid("I"))].into_iter().collect());
        let mut seq = Sequence::new(&kids, RESTART, CONCURRENT, GRACEFUL, None, vec![1]);
        let mut out = Vec::new();
        assert_eq!(seq.advance(&mut kids, t0, &mut out), Progress::Waiting);
        kids.0.get_mut(&1).unwrap().standing = Standing::Idle;
        seq.ended(1);
        assert_eq!(seq.advance(&mut kids, t0, &mut out), Progress::Over);
    }

    fn one(policy: &str, standing: Standing) -> Kids {
        let mut kid = kid(policy);
        kid.standing = standing;
        Kids([(0, kid)].into_iter().collect())
    }

    fn ask(then: AfterStop, asker: Asker, manner: Manner, deadline: Option<Instant>) -> Ask {
        Ask {
            then,
            asker,
            manner,
            deadline,
            in_turn: true,
        }
    }

    #[test]
    fn a_child_asked_again_while_it_stops_keeps_the_stricter_terms() {
        let t0 = Instant::now();
        let mut kids = one("T5", Standing::Running);
        let mut out = Vec::new();
        stop(
            &mut kids,
            0,
            ask(AfterStop::Start, Asker::Command, GRACEFUL, None),
            t0,
            &mut out,
        );
        let in5 = t0 + Duration::from_secs(5);
        assert_eq!(
            out,
            [
                Step::Ask {
                    key: 0,
                    deadline: Some(in5),
                    in_turn: true
                },
                Step::Timer { key: 0, at: in5 }
            ]
        );
        // A later deadline changes nothing; an earlier one arms a timer; a shutdown's `Stay`
        // cancels the restart.
        out.clear();
        let later = Some(t0 + Duration::from_secs(9));
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Sequence, GRACEFUL, later),
            t0,
            &mut out,
        );
        assert!(out.is_empty());
        let sooner = t0 + Duration::from_secs(2);
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Sequence, GRACEFUL, Some(sooner)),
            t0,
            &mut out,
        );
        assert_eq!(out, [Step::Timer { key: 0, at: sooner }]);
        assert_eq!(kids.0[&0].terms.unwrap().then, AfterStop::Stay);
        // Immediate: aborted now, and the timer no longer matters.
        out.clear();
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Sequence, IMMEDIATE, None),
            t0,
            &mut out,
        );
        assert_eq!(out, [Step::Abort { key: 0 }]);
        assert!(!deadline_is_live(&kids, 0, sooner));
        out.clear();
        deadline_passed(&mut kids, 0, sooner, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn only_the_current_deadline_of_a_graceful_stop_aborts_and_only_once() {
        let t0 = Instant::now();
        let mut kids = one("T5", Standing::Running);
        let mut out = Vec::new();
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Command, GRACEFUL, None),
            t0,
            &mut out,
        );
        out.clear();
        deadline_passed(&mut kids, 0, t0 + Duration::from_secs(4), &mut out);
        assert!(out.is_empty(), "a stale timer");
        let at = t0 + Duration::from_secs(5);
        deadline_passed(&mut kids, 0, at, &mut out);
        deadline_passed(&mut kids, 0, at, &mut out);
        assert_eq!(out, [Step::Abort { key: 0 }]);
        assert!(kids.0[&0].terms.unwrap().timed_out);
    }

    #[test]
    fn infinity_without_a_deadline_above_arms_no_timer_and_brutal_asks_nothing() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut kids = one("I", Standing::Running);
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Command, GRACEFUL, None),
            t0,
            &mut out,
        );
        assert_eq!(
            out,
            [Step::Ask {
                key: 0,
                deadline: None,
                in_turn: true
            }]
        );
        out.clear();
        let mut kids = one("B", Standing::Running);
        stop(
            &mut kids,
            0,
            ask(AfterStop::Stay, Asker::Command, GRACEFUL, None),
            t0,
            &mut out,
        );
        assert_eq!(out, [Step::Abort { key: 0 }]);
        assert!(kids.0[&0].terms.unwrap().brutal);
    }

    #[test]
    fn a_child_that_does_not_run_is_not_asked() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for standing in [Standing::Waiting, Standing::Idle] {
            let mut kids = one("T5", standing);
            stop(
                &mut kids,
                0,
                ask(AfterStop::Stay, Asker::Command, GRACEFUL, None),
                t0,
                &mut out,
            );
        }
        assert!(out.is_empty());
    }

    #[test]
    fn the_latest_command_wins_a_removal_is_final_and_a_group_restart_undoes_no_command() {
        use AfterStop::{Remove, Start, Stay};
        let (cmd, seq) = (Asker::Command, Asker::Sequence);
        // Commands: the latest wins, but a removal stays a removal.
        assert_eq!(Start.then(Stay, cmd), Stay);
        assert_eq!(Stay.then(Start, cmd), Start);
        assert_eq!(Remove.then(Start, cmd), Remove);
        assert_eq!(Stay.then(Remove, cmd), Remove);
        // Sequences: a group restart's `Start` changes nothing, a shutdown's `Stay` cancels a
        // restart.
        assert_eq!(Stay.then(Start, seq), Stay);
        assert_eq!(Remove.then(Start, seq), Remove);
        assert_eq!(Start.then(Stay, seq), Stay);
        assert_eq!(Remove.then(Stay, seq), Remove);
    }
}
