//! The stop chain: a one-at-a-time stop that goes from child to child without waiting for
//! the manager between two of them. An optimisation only, with one switch
//! ([`ProcessManagerBuilder::stop_chain`](crate::ProcessManagerBuilder::stop_chain)): with it
//! off, the manager asks each child itself, and the behaviour is the same (a test runs the
//! stop-order suite both ways).
//!
//! How it works:
//!
//! 1. When a [`StopOrder::Reverse`](crate::StopOrder::Reverse) sequence begins
//!    ([`Step::Link`](super::stopping::Step::Link)), [`StopChain::link`] gives each running
//!    child of it a link to the next one to stop ([`StopSignal::chain`]).
//! 2. As a child's run ends, its task passes the stop on to the next child before it reports
//!    its exit ([`StopSignal::end_of_run`]) — only if the run was asked to stop: one that ended
//!    on its own, ahead of its turn, must not hurry the next child ahead of those before it.
//! 3. The manager follows behind and does the bookkeeping for each child as usual, asking it
//!    again (which changes nothing); an exit that comes before the manager asked is taken as
//!    the end of the stop the sequence would have asked for ([`StopChain::terms_of_chained_exit`]).
//! 4. While it follows a chain, the manager yields to the runtime a few times before it
//!    sleeps ([`StopChain::follow`]): the chain passes the stop on faster than a worker thread
//!    parks and wakes up again.
//!
//! The order is kept: a child is asked only once the run before it has ended. Children that
//! must not be asked this way are left to the manager: a `Brutal` child (it is aborted, not
//! asked), a nested manager (it must get its deadline first), and a child asked out of turn by
//! a command (its end would pass the stop on ahead of the sequence: its link is cut).
//!
//! [`StopSignal::chain`]: crate::child::stop_signal::StopSignal::chain
//! [`StopSignal::end_of_run`]: crate::child::stop_signal::StopSignal::end_of_run

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::slots::Slots;
use super::stopping::{Sequence, StopTerms};
use crate::child::report::ChildMsg;
use crate::spec::Shutdown;

/// How many times a manager that follows a stop chain yields to the runtime, while no report
/// has come, before it waits for the next one. Without these yields, the manager's worker
/// would go to sleep after each exit and the child's task that reports the next one would pay
/// for waking it (BENCHMARKS.md has the measurement). Bounded: a chain of slow children costs
/// the manager this many yields per child, a few microseconds, and no yield is made outside a
/// stop sequence or when the manager was woken by anything but a child's report.
const YIELDS: u32 = 16;

/// The stop chain of one manager, on or off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopChain {
    enabled: bool,
}

impl StopChain {
    pub(crate) fn new(enabled: bool) -> Self {
        StopChain { enabled }
    }

    /// Links the running children of `seq`, in the order it will ask them: each child's task,
    /// as its run ends, asks the next one to stop.
    pub(crate) fn link(&self, slots: &Slots, seq: &Sequence) {
        if !self.enabled {
            return;
        }
        let running = |key: u32| slots.get(key).filter(|s| s.running().is_some());
        let mut upcoming = seq.upcoming();
        // The child being stopped now: already asked, in turn.
        let mut before = seq
            .current()
            .and_then(|_| upcoming.next())
            .and_then(running)
            .map(|s| &s.child);
        for key in upcoming {
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

    /// `key` is asked to stop out of turn (by a command while a sequence runs): its end must
    /// not pass the stop on ahead of the sequence.
    pub(crate) fn unlink(&self, slots: &Slots, key: u32) {
        if let Some(slot) = slots.get(key) {
            slot.child.stop.chain(None);
        }
    }

    /// The terms of the stop of `key`, whose run ended after the chain asked it to stop but
    /// before the manager did: those the sequence gives the children it asks. `None` when the
    /// chain is off (no run was asked by it).
    pub(crate) fn terms_of_chained_exit(
        &self,
        slots: &Slots,
        seq: &Sequence,
        key: u32,
        now: Instant,
    ) -> Option<StopTerms> {
        if !self.enabled {
            return None;
        }
        let temporary = super::stopping::Children::temporary(slots, key);
        Some(StopTerms {
            then: seq.then_for(temporary),
            started: now,
            deadline: None,
            brutal: false,
            timed_out: false,
        })
    }

    /// After a wake-up by a child's report, while `seq` follows a chain: yields a few times
    /// for the next report to come (see [`YIELDS`]).
    pub(crate) async fn follow(&self, seq: &Sequence, rx: &mpsc::UnboundedReceiver<ChildMsg>) {
        if !self.enabled || !seq.follows_a_chain() {
            return;
        }
        for _ in 0..YIELDS {
            if !rx.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
