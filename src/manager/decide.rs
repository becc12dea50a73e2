//! What a manager does when a child's run ends: a pure function of the strategy, the child's
//! spec, how it exited, and the restart history. Unit-tested without a runtime.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::policy::{AutoShutdown, Backoff, Intensity, Strategy};
use crate::spec::Restart;

/// Restart timestamps inside the intensity window.
#[derive(Debug, Default)]
pub(crate) struct RestartWindow {
    times: VecDeque<Instant>,
}

impl RestartWindow {
    /// Records a restart at `now` if the intensity allows it; `false` means one too many.
    pub(crate) fn try_record(&mut self, now: Instant, intensity: &Intensity) -> bool {
        while let Some(&t) = self.times.front() {
            if now.saturating_duration_since(t) >= intensity.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        if self.times.len() >= intensity.max_restarts as usize {
            return false;
        }
        self.times.push_back(now);
        true
    }

    /// How many restarts recorded before `now` still count against an intensity of `period`
    /// (as [`try_record`](Self::try_record) would count them at `now`), without forgetting
    /// the older ones: a snapshot reads it and changes nothing.
    pub(crate) fn used(&self, now: Instant, period: Duration) -> u32 {
        let used = self
            .times
            .iter()
            .rev()
            .take_while(|&&t| now.saturating_duration_since(t) < period)
            .count();
        u32::try_from(used).unwrap_or(u32::MAX)
    }
}

/// Which children a restart covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Only the child that exited.
    One,
    /// Every child.
    All,
    /// The child that exited and every child declared after it.
    Rest,
}

/// The facts about one exit that a decision depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exit {
    pub(crate) restart: Restart,
    pub(crate) failed: bool,
    pub(crate) significant: bool,
    /// How long the run lasted.
    pub(crate) uptime: Duration,
    /// Consecutive restarts of this child so far.
    pub(crate) attempt: u32,
    /// Whether another significant child is still alive (for `AllSignificant`).
    pub(crate) other_significant_alive: bool,
    /// Whether a failure that no restart absorbs escalates ([`ChildSpec::escalates`]); when
    /// not, the child ends for good, failed, and its manager carries on.
    ///
    /// [`ChildSpec::escalates`]: crate::ChildSpec::escalates
    pub(crate) escalates: bool,
    /// Whether the restart window is the child's own intensity (not its manager's).
    pub(crate) own_intensity: bool,
}

/// The manager-wide policies a decision depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    pub(crate) auto_shutdown: AutoShutdown,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Decision {
    /// Restart `scope` after `delay`; `attempt` is the child's new consecutive-restart count.
    Restart {
        scope: Scope,
        delay: Duration,
        attempt: u32,
    },
    /// The child is done; nothing else happens.
    Done,
    /// The child is done and its manager shuts down successfully (auto-shutdown).
    AutoShutdown,
    /// The failure is not absorbed: the manager stops and fails with it.
    Escalate,
    /// The restart would exceed the intensity: the manager stops and gives up.
    GiveUp,
}

/// Decides what follows an exit. `random` is uniform in `[0, 1)`, for jitter.
pub(crate) fn decide(
    policy: &Policy,
    exit: Exit,
    window: &mut RestartWindow,
    now: Instant,
    random: f64,
) -> Decision {
    let wants_restart = match exit.restart {
        Restart::Permanent => true,
        Restart::Transient => exit.failed,
        Restart::Temporary => false,
    };
    if wants_restart {
        if !window.try_record(now, &policy.intensity) {
            // The child's own limit, on a child whose failures stay its own: it ends here.
            if exit.own_intensity && !exit.escalates {
                return ended(policy, exit);
            }
            return Decision::GiveUp;
        }
        let attempt = if exit.uptime >= policy.backoff.reset_uptime() {
            0
        } else {
            exit.attempt
        };
        let scope = match policy.strategy {
            Strategy::OneForOne => Scope::One,
            Strategy::OneForAll => Scope::All,
            Strategy::RestForOne => Scope::Rest,
        };
        return Decision::Restart {
            scope,
            delay: policy.backoff.delay(attempt, random),
            attempt: attempt.saturating_add(1),
        };
    }
    if exit.failed && exit.escalates {
        return Decision::Escalate;
    }
    ended(policy, exit)
}

/// The child has ended for good: done, or the end of its manager (auto-shutdown).
fn ended(policy: &Policy, exit: Exit) -> Decision {
    if exit.significant {
        match policy.auto_shutdown {
            AutoShutdown::AnySignificant => return Decision::AutoShutdown,
            AutoShutdown::AllSignificant if !exit.other_significant_alive => {
                return Decision::AutoShutdown;
            }
            _ => {}
        }
    }
    Decision::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy(strategy: Strategy) -> Policy {
        Policy {
            strategy,
            intensity: Intensity {
                max_restarts: 2,
                period: 10 * S,
            },
            backoff: Backoff::none(),
            auto_shutdown: AutoShutdown::Never,
        }
    }

    fn exit(restart: Restart, failed: bool) -> Exit {
        Exit {
            restart,
            failed,
            significant: false,
            uptime: Duration::ZERO,
            attempt: 0,
            other_significant_alive: false,
            escalates: true,
            own_intensity: false,
        }
    }

    fn run(p: &Policy, e: Exit) -> Decision {
        decide(p, e, &mut RestartWindow::default(), Instant::now(), 0.0)
    }

    fn restart(scope: Scope) -> Decision {
        Decision::Restart {
            scope,
            delay: Duration::ZERO,
            attempt: 1,
        }
    }

    #[test]
    fn a_permanent_child_is_restarted_whether_it_completed_or_failed() {
        let p = policy(Strategy::OneForOne);
        assert_eq!(
            run(&p, exit(Restart::Permanent, false)),
            restart(Scope::One)
        );
        assert_eq!(run(&p, exit(Restart::Permanent, true)), restart(Scope::One));
    }

    #[test]
    fn a_transient_child_is_restarted_only_after_a_failure() {
        let p = policy(Strategy::OneForOne);
        assert_eq!(run(&p, exit(Restart::Transient, true)), restart(Scope::One));
        assert_eq!(run(&p, exit(Restart::Transient, false)), Decision::Done);
    }

    #[test]
    fn a_temporary_child_is_never_restarted_and_its_failure_escalates() {
        let p = policy(Strategy::OneForOne);
        assert_eq!(run(&p, exit(Restart::Temporary, false)), Decision::Done);
        assert_eq!(run(&p, exit(Restart::Temporary, true)), Decision::Escalate);
    }

    #[test]
    fn a_failure_that_does_not_escalate_ends_only_the_child() {
        let p = policy(Strategy::OneForOne);
        let mut e = exit(Restart::Temporary, true);
        e.escalates = false;
        assert_eq!(run(&p, e), Decision::Done);
        e.restart = Restart::Transient;
        assert_eq!(
            run(&p, e),
            restart(Scope::One),
            "a restart still comes first"
        );
    }

    #[test]
    fn a_child_that_does_not_escalate_ends_at_its_own_limit_but_not_at_its_managers() {
        let mut p = policy(Strategy::OneForOne);
        p.intensity.max_restarts = 0;
        let mut e = exit(Restart::Permanent, true);
        e.escalates = false;
        e.own_intensity = true;
        assert_eq!(run(&p, e), Decision::Done);
        e.own_intensity = false;
        assert_eq!(run(&p, e), Decision::GiveUp);
    }

    #[test]
    fn a_significant_child_whose_failure_does_not_escalate_still_shuts_its_manager_down() {
        let mut p = policy(Strategy::OneForOne);
        p.auto_shutdown = AutoShutdown::AnySignificant;
        let mut e = exit(Restart::Temporary, true);
        e.significant = true;
        e.escalates = false;
        assert_eq!(run(&p, e), Decision::AutoShutdown);
    }

    #[test]
    fn the_strategy_chooses_the_scope_of_a_restart() {
        let e = exit(Restart::Permanent, true);
        assert_eq!(run(&policy(Strategy::OneForAll), e), restart(Scope::All));
        assert_eq!(run(&policy(Strategy::RestForOne), e), restart(Scope::Rest));
    }

    #[test]
    fn one_restart_too_many_within_the_period_gives_up() {
        let p = policy(Strategy::OneForOne);
        let mut w = RestartWindow::default();
        let t0 = Instant::now();
        let e = exit(Restart::Permanent, true);
        assert!(matches!(
            decide(&p, e, &mut w, t0, 0.0),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            decide(&p, e, &mut w, t0 + S, 0.0),
            Decision::Restart { .. }
        ));
        assert_eq!(decide(&p, e, &mut w, t0 + 2 * S, 0.0), Decision::GiveUp);
    }

    #[test]
    fn restarts_older_than_the_period_leave_the_window() {
        let p = policy(Strategy::OneForOne);
        let mut w = RestartWindow::default();
        let t0 = Instant::now();
        let e = exit(Restart::Permanent, true);
        for k in 0..10 {
            let d = decide(&p, e, &mut w, t0 + k * 6 * S, 0.0);
            assert!(matches!(d, Decision::Restart { .. }), "restart {k}: {d:?}");
        }
    }

    #[test]
    fn the_restarts_used_are_those_inside_the_period_and_reading_them_forgets_none() {
        let intensity = Intensity {
            max_restarts: 5,
            period: 10 * S,
        };
        let mut window = RestartWindow::default();
        let t0 = Instant::now();
        assert_eq!(window.used(t0, intensity.period), 0);
        assert!(window.try_record(t0, &intensity));
        assert!(window.try_record(t0 + 4 * S, &intensity));
        assert_eq!(window.used(t0 + 4 * S, intensity.period), 2);
        assert_eq!(window.used(t0 + 12 * S, intensity.period), 1, "t0 has left");
        assert_eq!(window.used(t0 + 14 * S, intensity.period), 0);
        // Reading did not drop t0: at t0 + 5 s both restarts still count.
        assert_eq!(window.used(t0 + 5 * S, intensity.period), 2);
    }

    #[test]
    fn zero_max_restarts_gives_up_at_the_first_restart() {
        let mut p = policy(Strategy::OneForOne);
        p.intensity.max_restarts = 0;
        assert_eq!(run(&p, exit(Restart::Permanent, false)), Decision::GiveUp);
    }

    #[test]
    fn backoff_grows_with_consecutive_restarts_and_resets_after_a_stable_run() {
        let mut p = policy(Strategy::OneForOne);
        p.intensity.max_restarts = 100;
        p.backoff = Backoff::exponential(S, 60 * S).reset_after(30 * S);
        let mut e = exit(Restart::Permanent, true);
        e.attempt = 3;
        assert_eq!(
            run(&p, e),
            Decision::Restart {
                scope: Scope::One,
                delay: 8 * S,
                attempt: 4
            }
        );
        e.uptime = 30 * S;
        assert_eq!(
            run(&p, e),
            Decision::Restart {
                scope: Scope::One,
                delay: S,
                attempt: 1
            }
        );
    }

    #[test]
    fn any_significant_shuts_down_when_one_significant_child_ends() {
        let mut p = policy(Strategy::OneForOne);
        p.auto_shutdown = AutoShutdown::AnySignificant;
        let mut e = exit(Restart::Transient, false);
        e.significant = true;
        e.other_significant_alive = true;
        assert_eq!(run(&p, e), Decision::AutoShutdown);
    }

    #[test]
    fn all_significant_waits_for_the_last_significant_child() {
        let mut p = policy(Strategy::OneForOne);
        p.auto_shutdown = AutoShutdown::AllSignificant;
        let mut e = exit(Restart::Temporary, false);
        e.significant = true;
        e.other_significant_alive = true;
        assert_eq!(run(&p, e), Decision::Done);
        e.other_significant_alive = false;
        assert_eq!(run(&p, e), Decision::AutoShutdown);
    }

    #[test]
    fn a_failed_significant_transient_child_is_restarted_not_shut_down() {
        let mut p = policy(Strategy::OneForOne);
        p.auto_shutdown = AutoShutdown::AnySignificant;
        let mut e = exit(Restart::Transient, true);
        e.significant = true;
        assert_eq!(run(&p, e), restart(Scope::One));
    }
}
