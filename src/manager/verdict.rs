//! What an exit adds to a manager's result: pure judgements, tested by table.
//!
//! A run's result is its manager's failures (`Run::failures`): the first one that was not
//! absorbed, and every later one. Two kinds of exit need judging beyond the restart decision
//! (`decide`):
//!
//! - the exit of a child this manager was stopping ([`of_a_stop`]);
//! - the exit of a child that ended on its own while this manager shuts down
//!   ([`of_an_unasked_exit_during_a_shutdown`]).

use super::decide::Decision;
use super::stopping::StopTerms;
use crate::error::ExitStatus;

/// What the exit of a child that was being stopped means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OfAStop {
    /// A clean stop, an abort asked for, or a stop outside a shutdown (a command, a group
    /// restart): nothing to add.
    Clean,
    /// During a shutdown, the run ended on its own an instant before it was asked: it is
    /// judged as an exit nobody asked for, as it would have been a moment earlier.
    Unasked,
    /// It did not stop by its deadline and was aborted: a failure during a shutdown, a
    /// warning otherwise.
    TimedOut,
    /// During a shutdown, it was asked and ended with a failure (an error, a panic).
    Failed,
}

/// Judges the exit (`status`) of a child stopped on `terms`; `asked`: the run had been asked
/// to stop when it ended; `shutting_down`: its manager shuts down.
pub(crate) fn of_a_stop(
    shutting_down: bool,
    terms: &StopTerms,
    asked: bool,
    status: &ExitStatus,
) -> OfAStop {
    // An abort is the stop itself, not an end of its own.
    let on_its_own = !asked && !matches!(status, ExitStatus::Aborted);
    if shutting_down && on_its_own {
        OfAStop::Unasked
    } else if terms.timed_out {
        OfAStop::TimedOut
    } else if shutting_down && !terms.brutal && !status.is_success() {
        OfAStop::Failed
    } else {
        OfAStop::Clean
    }
}

/// What an exit nobody asked for adds during a shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unasked {
    /// Nothing: a failure that a restart would have absorbed is only reported (a warning
    /// and an `Exited` event), and a success is a success.
    Absorbed,
    /// Its failure is kept, and the shutdown is now a failure (it keeps every later one).
    Fails,
    /// The restart it would have needed exceeds the intensity: the manager gives up.
    GivesUp,
}

/// Judges an exit nobody asked for while the manager shuts down. `requested`: the shutdown
/// was asked for (by a parent, a handle, a signal, or significant children), rather than
/// caused by a failure; `decision`: what the exit would have got a moment earlier (asked for
/// only when it matters: deciding counts a restart in the intensity window).
///
/// So the outcome of a requested shutdown does not depend on whether a failure came just
/// before the request or just after it. During a cascade or after giving up, every failure is
/// kept.
pub(crate) fn of_an_unasked_exit_during_a_shutdown(
    requested: bool,
    decision: impl FnOnce() -> Decision,
) -> Unasked {
    if !requested {
        return Unasked::Fails;
    }
    match decision() {
        Decision::Restart { .. } | Decision::Done | Decision::AutoShutdown => Unasked::Absorbed,
        Decision::Escalate => Unasked::Fails,
        Decision::GiveUp => Unasked::GivesUp,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::manager::decide::Scope;
    use crate::manager::stopping::AfterStop;

    fn terms(brutal: bool, timed_out: bool) -> StopTerms {
        StopTerms {
            then: AfterStop::Stay,
            started: Instant::now(),
            deadline: None,
            brutal,
            timed_out,
        }
    }

    #[test]
    fn the_exit_of_a_stopped_child_by_table() {
        let failed = ExitStatus::Failed(Arc::new(std::io::Error::other("x")));
        let (ok, aborted) = (ExitStatus::Completed, ExitStatus::Aborted);
        use OfAStop::*;
        // (shutting down, brutal, timed out, asked, status) → verdict
        let table = [
            (true, false, false, true, &ok, Clean),
            (true, false, false, true, &failed, Failed),
            (true, true, false, false, &aborted, Clean),
            (true, false, true, true, &aborted, TimedOut),
            (true, false, false, false, &failed, Unasked),
            (true, false, false, false, &ok, Unasked),
            // An abort is never an end of its own.
            (true, true, false, false, &aborted, Clean),
            // Outside a shutdown (a command, a group restart) only a timeout is worth a word.
            (false, false, false, true, &failed, Clean),
            (false, false, false, false, &failed, Clean),
            (false, false, true, true, &aborted, TimedOut),
        ];
        for (shutting_down, brutal, timed_out, asked, status, want) in table {
            let got = of_a_stop(shutting_down, &terms(brutal, timed_out), asked, status);
            assert_eq!(
                got, want,
                "shutting down {shutting_down}, brutal {brutal}, timed out {timed_out}, asked {asked}, {status}"
            );
        }
    }

    #[test]
    fn an_unasked_exit_during_a_shutdown_by_table() {
        let restart = Decision::Restart {
            scope: Scope::One,
            delay: Duration::ZERO,
            attempt: 1,
        };
        use Unasked::*;
        let table = [
            (true, restart, Absorbed),
            (true, Decision::Done, Absorbed),
            (true, Decision::AutoShutdown, Absorbed),
            (true, Decision::Escalate, Fails),
            (true, Decision::GiveUp, GivesUp),
            // A cascade or a manager that gave up keeps every failure.
            (false, restart, Fails),
            (false, Decision::Done, Fails),
        ];
        for (requested, decision, want) in table {
            assert_eq!(
                of_an_unasked_exit_during_a_shutdown(requested, || decision),
                want,
                "requested {requested}, {decision:?}"
            );
        }
    }
}
