//! What a stop, restart or removal command does to one child, by the child's state: a pure
//! table (see [`effect`]).

use super::stopping::AfterStop;

/// Where a child is, as a command sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Running,
    /// Waiting to start (its dependencies, or a group restart).
    Pending,
    /// Waiting for its restart delay.
    Restarting,
    /// Ended for good.
    Exited,
    /// Stopped by a command or a shutdown.
    Stopped,
}

/// What the manager does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Stop the running child; what follows is the command's. `count_restart`: one more
    /// restart to count (not when a restart under way absorbs this one).
    Stop { count_restart: bool },
    /// Remove it now.
    Remove,
    /// It is stopped now, without running again until restarted.
    MarkStopped,
    /// Start it now. `count_restart`: one more restart to count (not for a child waiting for
    /// its restart delay, whose restart was counted when it was scheduled).
    Start { count_restart: bool },
    /// Nothing changes: a stop of a child that does not run, or a restart of a child about to
    /// start.
    Nothing,
}

/// What command `then` (stop: `Stay`, restart: `Start`, remove: `Remove`) does to a child in
/// `state`; `restart_under_way`: it is being stopped to be started again. Concurrent restarts
/// coalesce: one that meets a restart under way, or a child about to start, is that restart.
pub(crate) fn effect(state: State, then: AfterStop, restart_under_way: bool) -> Effect {
    match (state, then) {
        (State::Running, then) => Effect::Stop {
            count_restart: then == AfterStop::Start && !restart_under_way,
        },
        (_, AfterStop::Remove) => Effect::Remove,
        (State::Pending | State::Restarting, AfterStop::Stay) => Effect::MarkStopped,
        (State::Exited | State::Stopped, AfterStop::Stay) => Effect::Nothing,
        (State::Pending, AfterStop::Start) => Effect::Nothing,
        (State::Restarting, AfterStop::Start) => Effect::Start {
            count_restart: false,
        },
        (State::Exited | State::Stopped, AfterStop::Start) => Effect::Start {
            count_restart: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AfterStop::{Remove, Start, Stay};
    use Effect::{MarkStopped, Nothing, Stop};
    use State::*;

    const STOP_COUNTED: Effect = Stop {
        count_restart: true,
    };
    const STOP_UNCOUNTED: Effect = Stop {
        count_restart: false,
    };
    const START_COUNTED: Effect = Effect::Start {
        count_restart: true,
    };
    const START_UNCOUNTED: Effect = Effect::Start {
        count_restart: false,
    };

    #[test]
    fn what_each_command_does_in_each_state() {
        let table = [
            (Running, Stay, false, STOP_UNCOUNTED),
            (Running, Start, false, STOP_COUNTED),
            // A restart that meets one under way is that one.
            (Running, Start, true, STOP_UNCOUNTED),
            (Running, Remove, false, STOP_UNCOUNTED),
            (Pending, Stay, false, MarkStopped),
            (Restarting, Stay, false, MarkStopped),
            (Exited, Stay, false, Nothing),
            (Stopped, Stay, false, Nothing),
            (Pending, Start, false, Nothing),
            (Restarting, Start, false, START_UNCOUNTED),
            (Exited, Start, false, START_COUNTED),
            (Stopped, Start, false, START_COUNTED),
            (Pending, Remove, false, Effect::Remove),
            (Stopped, Remove, false, Effect::Remove),
        ];
        for (state, then, under_way, want) in table {
            assert_eq!(
                effect(state, then, under_way),
                want,
                "{state:?} {then:?} {under_way}"
            );
        }
    }
}
