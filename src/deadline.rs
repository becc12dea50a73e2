//! Deadlines from durations that may be too large for the clock (`Duration::MAX` as "never").

use std::time::Duration;

use tokio::time::Instant;

/// About thirty years: the stand-in for "never" where a moment must exist (a timer).
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `start + timeout`, or `None` when that is beyond what the clock can hold: a timeout that
/// large never expires.
pub(crate) fn after(start: Instant, timeout: Duration) -> Option<Instant> {
    start.checked_add(timeout)
}

/// `start + delay`, or about thirty years after `start` when that is beyond what the clock
/// can hold: for a timer that must be set, where such a delay means "never".
pub(crate) fn after_or_far(start: Instant, delay: Duration) -> Instant {
    start
        .checked_add(delay)
        .or_else(|| start.checked_add(FAR))
        .unwrap_or(start)
}

/// [`after_or_far`] from now.
pub(crate) fn from_now_or_far(delay: Duration) -> Instant {
    after_or_far(Instant::now(), delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_too_large_for_the_clock_is_never_or_far_away_not_a_panic() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(1)),
            Some(now + Duration::from_secs(1))
        );
        assert_eq!(after(now, Duration::MAX), None);
        assert_eq!(after_or_far(now, Duration::MAX), now + FAR);
    }
}
