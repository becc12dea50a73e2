//! A manager's timers: restart delays and stop deadlines, in one heap behind one `Sleep`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::pin::Pin;

use tokio::time::{Instant, Sleep};

/// What a timer is for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum TimerKind {
    /// A child between runs starts again.
    Restart,
    /// A child that is being stopped is aborted (see `stopping::deadline_passed`).
    StopDeadline,
}

/// One timer: for the run `generation` of the slot `key` (declared `seq`-th).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Timer {
    pub(crate) at: Instant,
    pub(crate) seq: u64,
    pub(crate) key: u32,
    pub(crate) generation: u64,
    pub(crate) kind: TimerKind,
}

/// Earliest first; among timers due at the same instant, the child declared last first. That
/// is the order of a stop sequence, which sets its children's deadlines last-declared first:
/// with equal deadlines (a concurrent stop reads the clock once), each push then stays where
/// it lands in the heap instead of climbing to its top.
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

/// Pending timers. Timers are never cancelled: one that no longer matters (its child ended,
/// was restarted, or got a tighter deadline) is dropped when it comes up, or earlier when it
/// sits at the top as a new one is pushed, so the heap stays about as large as the number of
/// timers that can still fire. No timer costs a wake-up of its own: the `Sleep` is set to the
/// earliest.
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    sleep: Pin<Box<Sleep>>,
    /// When the `Sleep` is set to fire; `None` when it is not set.
    armed: Option<Instant>,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }

    /// Adds `timer`, first dropping from the top those that `is_live` says no longer matter.
    pub(crate) fn push(&mut self, timer: Timer, is_live: impl Fn(&Timer) -> bool) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if is_live(top) {
                break;
            }
            self.heap.pop();
        }
        let at = timer.at;
        self.heap.push(Reverse(timer));
        if self.armed.is_none_or(|armed| at < armed) {
            self.sleep.as_mut().reset(at);
            self.armed = Some(at);
        }
    }

    /// Completes when the earliest timer is due; never while none is set. Cancel safe.
    pub(crate) async fn due(&mut self) {
        if self.armed.is_some() {
            self.sleep.as_mut().await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    /// Takes the next timer due at `now`, if any; once none is due, sets the `Sleep` to the
    /// next one. Call it until it returns `None` after [`due`](Self::due) completed.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<Timer> {
        self.armed = None;
        let Reverse(top) = *self.heap.peek()?;
        if top.at > now {
            self.sleep.as_mut().reset(top.at);
            self.armed = Some(top.at);
            return None;
        }
        self.heap.pop();
        Some(top)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn timer(at: Instant, key: u32) -> Timer {
        Timer {
            at,
            seq: u64::from(key),
            key,
            generation: 1,
            kind: TimerKind::StopDeadline,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timers_come_due_earliest_first_and_the_sleep_follows_the_earliest() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        for (secs, key) in [(3, 3), (1, 1), (2, 2)] {
            timers.push(timer(t0 + Duration::from_secs(secs), key), |_| true);
        }
        let mut order = Vec::new();
        while order.len() < 3 {
            timers.due().await;
            let now = Instant::now();
            while let Some(t) = timers.next_due(now) {
                order.push((t.key, now.duration_since(t0).as_secs()));
            }
        }
        assert_eq!(order, [(1, 1), (2, 2), (3, 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn timers_that_no_longer_matter_are_dropped_from_the_top_as_others_come() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.push(timer(t0 + Duration::from_secs(1), 1), |_| true);
        timers.push(timer(t0 + Duration::from_secs(2), 2), |_| true);
        // Key 1's timer is stale now: it goes as the next one comes.
        timers.push(timer(t0 + Duration::from_secs(3), 3), |t| t.key != 1);
        assert_eq!(timers.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_timer_set_nothing_comes_due() {
        let mut timers = Timers::new();
        let waited = tokio::time::timeout(Duration::from_secs(3600), timers.due()).await;
        assert!(waited.is_err());
        assert!(timers.next_due(Instant::now()).is_none());
    }

    #[test]
    fn among_timers_due_at_once_the_child_declared_last_comes_first() {
        let at = Instant::now();
        let (early, late) = (timer(at, 1), timer(at, 2));
        assert!(late < early);
    }
}
