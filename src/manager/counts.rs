//! How many of a manager's children are in each state that decides what the manager does.

use super::slots::SlotState;

/// Kept in step with the slots' states by [`Slots`](super::slots::Slots), which updates them
/// on every change of state, so that the manager's checks (is anything left? is every child
/// ready?) cost nothing per check.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Pending, running or between runs: still the manager's work.
    pub(crate) live: usize,
    pub(crate) running: usize,
    pub(crate) ready: usize,
    /// Live significant children (for auto-shutdown).
    pub(crate) significant_live: usize,
    /// Stopped (by a command, or by a shutdown under way): still declared, so a manager whose
    /// children were stopped by commands keeps running.
    pub(crate) stopped: usize,
}

/// The flags of one state that the counts follow, as bits: one branch-free comparison tells
/// whether a move changes any count.
const LIVE: u8 = 1;
const RUNNING: u8 = 2;
const READY: u8 = 4;
const STOPPED: u8 = 8;

#[inline]
fn flags(state: &SlotState) -> u8 {
    match state {
        SlotState::Pending | SlotState::Restarting { .. } => LIVE,
        SlotState::Running(r) if r.ready => LIVE | RUNNING | READY,
        SlotState::Running(_) => LIVE | RUNNING,
        SlotState::Stopped => STOPPED,
        SlotState::Exited => 0,
    }
}

#[inline]
fn adjust(count: &mut usize, bit: u8, was: u8, is: u8) {
    if (was ^ is) & bit != 0 {
        if is & bit != 0 {
            *count += 1;
        } else {
            *count -= 1;
        }
    }
}

impl Counts {
    /// A slot (significant or not) went from `old` to `new`; `None` stands for no slot (one
    /// inserted, or removed).
    #[inline]
    pub(crate) fn moved(
        &mut self,
        old: Option<&SlotState>,
        new: Option<&SlotState>,
        significant: bool,
    ) {
        let (was, is) = (old.map_or(0, flags), new.map_or(0, flags));
        if was == is {
            return;
        }
        adjust(&mut self.live, LIVE, was, is);
        adjust(&mut self.running, RUNNING, was, is);
        adjust(&mut self.ready, READY, was, is);
        adjust(&mut self.stopped, STOPPED, was, is);
        if significant {
            adjust(&mut self.significant_live, LIVE, was, is);
        }
    }

    /// A running child reported ready.
    pub(crate) fn became_ready(&mut self) {
        self.ready += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_follow_a_child_through_its_states_and_out() {
        let mut c = Counts::default();
        c.moved(None, Some(&SlotState::Pending), true);
        assert_eq!((c.live, c.running, c.significant_live), (1, 0, 1));
        c.moved(Some(&SlotState::Pending), Some(&SlotState::Stopped), true);
        assert_eq!((c.live, c.stopped, c.significant_live), (0, 1, 0));
        c.moved(Some(&SlotState::Stopped), Some(&SlotState::Exited), true);
        assert_eq!(c, Counts::default());
    }

    #[test]
    fn a_move_between_two_states_with_the_same_flags_changes_nothing() {
        let mut c = Counts::default();
        c.moved(None, Some(&SlotState::Exited), false);
        assert_eq!(c, Counts::default());
        c.moved(None, Some(&SlotState::Pending), false);
        let due = tokio::time::Instant::now();
        c.moved(
            Some(&SlotState::Pending),
            Some(&SlotState::Restarting { due }),
            false,
        );
        assert_eq!((c.live, c.running), (1, 0));
    }
}
