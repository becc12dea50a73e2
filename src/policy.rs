//! Policies: a manager's strategy, restart intensity, backoff, auto-shutdown and stop order;
//! a child may set its own backoff and intensity (see [`ChildSpec`](crate::ChildSpec)).

use std::time::Duration;

use crate::error::SpecError;

/// Which children are restarted when one of them needs a restart (OTP's strategies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the child that exited is restarted. The default.
    #[default]
    OneForOne,
    /// All children are stopped (in reverse order) and started again (in order).
    OneForAll,
    /// The exited child and every child declared after it are stopped (in reverse order) and
    /// started again (in order).
    RestForOne,
}

/// How a manager stops its children when it shuts down or restarts a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StopOrder {
    /// One at a time, in reverse declared order: each child is asked to stop only after the
    /// one declared after it has exited (OTP's order). The default. Each child's task asks the
    /// next child as its run ends, so a step costs one task wake-up, not a round trip through
    /// the manager; but the stops add up: `n` children that each take time `t` to stop take
    /// about `n · t`.
    #[default]
    Reverse,
    /// All at once: every child is asked to stop (in reverse declared order, without waiting)
    /// and the manager waits for all of them, as OTP does for `simple_one_for_one` pools. For
    /// many interchangeable children that take time to stop (connections to drain, processes
    /// to exit): their stops overlap, about `t` instead of `n · t`. For children that stop at
    /// once the two cost about the same (see BENCHMARKS.md).
    ///
    /// In either order a child that [stops last](crate::Runnable::stops_last) is asked only
    /// once every other child has ended.
    Concurrent,
}

/// How long a manager runs when nothing asks it to stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// Until it is shut down, also once none of its children is left to run (or it never had
    /// any): a pool that starts empty and gets its children through a
    /// [`Handle`](crate::Handle) needs nothing else to stay up. The default, as for an OTP
    /// supervisor.
    #[default]
    UntilShutdown,
    /// Until it is shut down, or until none of its children is left to run: none is running,
    /// waiting to start or waiting to restart (every child ended for good, e.g. temporary
    /// children that completed), and none was stopped by a command (it could be started
    /// again). It then ends successfully. For a batch of work that ends by itself.
    UntilDone,
}

/// When the exit of significant children shuts their manager down (OTP's `auto_shutdown`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoShutdown {
    /// Never; significant children are refused. The default.
    #[default]
    Never,
    /// When any significant child ends for good, the manager shuts down successfully.
    AnySignificant,
    /// When every significant child has ended for good, the manager shuts down successfully.
    AllSignificant,
}

/// At most `max_restarts` restarts within any sliding `period`; one more and the manager
/// gives up: it stops all children and fails with
/// [`Cause::GaveUp`](crate::Cause::GaveUp). A restart of a whole group (`OneForAll`,
/// `RestForOne`) counts once.
///
/// The default, [`Intensity::SERVICE`], is 5 restarts in 10 seconds (systemd's start limit),
/// chosen with the default [`Backoff`] so that a service rides out transient faults without
/// hot-looping: a child that crashes at once every time is given up on after about 3 s.
/// [`Intensity::OTP`] is Erlang/OTP's default, 1 restart in 5 seconds, for trees that should
/// escalate at the second failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Intensity {
    /// Restarts allowed within `period`.
    pub max_restarts: u32,
    /// The length of the sliding window.
    pub period: Duration,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::SERVICE
    }
}

impl Intensity {
    /// The default: 5 restarts in 10 seconds.
    pub const SERVICE: Intensity = Intensity {
        max_restarts: 5,
        period: Duration::from_secs(10),
    };

    /// Erlang/OTP's default: 1 restart in 5 seconds.
    pub const OTP: Intensity = Intensity {
        max_restarts: 1,
        period: Duration::from_secs(5),
    };

    /// At most `max_restarts` in any sliding `period`.
    pub const fn new(max_restarts: u32, period: Duration) -> Self {
        Intensity {
            max_restarts,
            period,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if self.period.is_zero() {
            return Err(SpecError::ZeroPeriod);
        }
        Ok(())
    }
}

/// The delay before a child is restarted.
///
/// The delay for a child's `n`-th consecutive restart (`n` from 0) is
/// - `none()`: zero;
/// - `fixed(d)`: `d`;
/// - `exponential(initial, max)`: `min(max, initial · 2ⁿ)`;
///
/// then, with jitter `j`, multiplied by a random factor in `(1 − j, 1]`, so jitter only ever
/// shortens a delay and the cap holds. A run that lasted at least
/// [`reset_after`](Self::reset_after) (default 60 s) resets `n` to 0.
///
/// The default, [`Backoff::SERVICE`], is exponential from 100 ms to 15 s with 10 % jitter:
/// a child that fails once is back 100 ms later, one that keeps failing waits longer each
/// time, and many children failing at once do not all restart in the same instant. OTP
/// restarts at once ([`Backoff::none`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    exponential: bool,
    jitter: f64,
    reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::SERVICE
    }
}

impl Backoff {
    /// The default stable uptime after which the restart count resets.
    pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(60);

    /// The default: exponential from 100 ms, doubling up to 15 s, shortened by up to 10 %.
    pub const SERVICE: Backoff =
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(15)).jitter(0.1);

    /// Restart at once (OTP's behaviour).
    pub const fn none() -> Self {
        Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            exponential: false,
            jitter: 0.0,
            reset_after: Self::DEFAULT_RESET_AFTER,
        }
    }

    /// Always wait `delay`.
    pub const fn fixed(delay: Duration) -> Self {
        Backoff {
            initial: delay,
            max: delay,
            exponential: false,
            jitter: 0.0,
            reset_after: Self::DEFAULT_RESET_AFTER,
        }
    }

    /// Wait `initial`, doubling on every consecutive restart, never more than `max`.
    pub const fn exponential(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            exponential: true,
            jitter: 0.0,
            reset_after: Self::DEFAULT_RESET_AFTER,
        }
    }

    /// Randomly shortens each delay by up to `fraction` (0.0 to 1.0) of it.
    pub const fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// A run that lasted at least `uptime` resets the consecutive-restart count.
    pub const fn reset_after(mut self, uptime: Duration) -> Self {
        self.reset_after = uptime;
        self
    }

    pub(crate) fn reset_uptime(&self) -> Duration {
        self.reset_after
    }

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(SpecError::InvalidBackoff {
                reason: "jitter must be between 0.0 and 1.0",
            });
        }
        if self.max < self.initial {
            return Err(SpecError::InvalidBackoff {
                reason: "the maximum delay must not be shorter than the initial delay",
            });
        }
        Ok(())
    }

    /// The delay before restart number `attempt` (0-based, consecutive), given a uniform
    /// random number `random` in `[0, 1)`.
    pub(crate) fn delay(&self, attempt: u32, random: f64) -> Duration {
        let base = if self.exponential {
            let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
            self.initial.saturating_mul(factor).min(self.max)
        } else {
            self.initial
        };
        if self.jitter > 0.0 {
            // Never more than `base`; a product too large for a `Duration` (`base` near
            // `Duration::MAX`, where seconds as `f64` round up) keeps `base`.
            let factor = 1.0 - self.jitter * random.clamp(0.0, 1.0);
            Duration::try_from_secs_f64(base.as_secs_f64() * factor).map_or(base, |d| d.min(base))
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_jittered_delay_too_large_for_a_duration_is_the_delay_itself_not_a_panic() {
        let b = Backoff::fixed(Duration::MAX).jitter(0.5);
        assert_eq!(b.delay(0, 1e-17), Duration::MAX);
        assert!(b.delay(0, 1.0) <= Duration::MAX);
    }

    #[test]
    fn no_backoff_restarts_at_once() {
        assert_eq!(Backoff::none().delay(7, 0.5), Duration::ZERO);
    }

    #[test]
    fn fixed_backoff_always_waits_the_same() {
        let b = Backoff::fixed(100 * MS);
        assert_eq!(b.delay(0, 0.0), 100 * MS);
        assert_eq!(b.delay(9, 0.0), 100 * MS);
    }

    #[test]
    fn exponential_backoff_doubles_up_to_its_cap() {
        let b = Backoff::exponential(10 * MS, 100 * MS);
        let delays: Vec<_> = (0..6).map(|n| b.delay(n, 0.0)).collect();
        assert_eq!(
            delays,
            [10 * MS, 20 * MS, 40 * MS, 80 * MS, 100 * MS, 100 * MS]
        );
        assert_eq!(b.delay(u32::MAX, 0.0), 100 * MS);
    }

    #[test]
    fn jitter_only_shortens_a_delay_within_its_fraction() {
        let b = Backoff::exponential(100 * MS, 1000 * MS).jitter(0.5);
        for r in [0.0, 0.25, 0.5, 0.999] {
            let d = b.delay(3, r);
            assert!(d <= 800 * MS && d > 400 * MS, "{d:?}");
        }
        assert_eq!(b.delay(3, 0.0), 800 * MS);
    }

    #[test]
    fn out_of_range_backoff_is_refused() {
        assert!(Backoff::none().jitter(1.5).validate().is_err());
        assert!(Backoff::exponential(10 * MS, MS).validate().is_err());
        assert!(
            Backoff::exponential(MS, 10 * MS)
                .jitter(0.3)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn a_zero_intensity_period_is_refused() {
        let i = Intensity {
            max_restarts: 3,
            period: Duration::ZERO,
        };
        assert_eq!(i.validate(), Err(SpecError::ZeroPeriod));
    }
}
