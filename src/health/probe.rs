//! A [`Probe`]: a check and when to run it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::check::{Check, ClosureCheck};
use crate::error::BoxError;

/// A check of a child's health and when to run it, with Kubernetes' settings and defaults:
/// no initial delay, a period of 10 s, a timeout of 1 s, 1 success and 3 failures in a row to
/// change the child's standing. Given to a spec as
/// [`ChildSpec::readiness`](crate::ChildSpec::readiness) or
/// [`ChildSpec::liveness`](crate::ChildSpec::liveness); see the [module docs](super).
///
/// Settings are checked when the manager is built: a zero period or timeout, or a zero
/// threshold, is refused with [`SpecError::InvalidProbe`](crate::SpecError::InvalidProbe).
///
/// ```
/// use std::time::Duration;
/// use overseer::health::Probe;
///
/// let probe = Probe::check("cache warm", || async { Ok(()) })
///     .initial_delay(Duration::from_millis(100))
///     .period(Duration::from_secs(2))
///     .failure_threshold(5);
/// # drop(probe);
/// ```
#[derive(Clone)]
pub struct Probe {
    pub(crate) check: Arc<dyn Check>,
    pub(crate) initial_delay: Duration,
    pub(crate) period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) success_threshold: u32,
    pub(crate) failure_threshold: u32,
}

impl Probe {
    /// A probe of `check` with the default settings.
    pub fn new(check: impl Check) -> Self {
        Probe {
            check: Arc::new(check),
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        }
    }

    /// A probe whose check is a closure, named `name` in errors and events: for in-process
    /// children (a channel's depth, a connection pool's state, a shared flag).
    pub fn check<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(ClosureCheck {
            name: name.into(),
            f,
        })
    }

    /// How long after the run starts the first check is made (default none).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// How long from one check's start to the next one's (default 10 s; not zero).
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// How long a check may take before it counts as failed (default 1 s; not zero).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many checks in a row must pass for the child to count as healthy (default 1; not
    /// zero).
    pub fn success_threshold(mut self, n: u32) -> Self {
        self.success_threshold = n;
        self
    }

    /// How many checks in a row must fail for the child to count as unhealthy (default 3;
    /// not zero).
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n;
        self
    }

    /// What it checks (`tcp 127.0.0.1:8080`).
    pub fn describe(&self) -> String {
        self.check.describe()
    }

    /// Whether `other` is the same probe: the same settings and the same check (shared, or one
    /// that says it is the same).
    pub(crate) fn same_as(&self, other: &Probe) -> bool {
        (Arc::ptr_eq(&self.check, &other.check) || self.check.same_as(&*other.check))
            && self.initial_delay == other.initial_delay
            && self.period == other.period
            && self.timeout == other.timeout
            && self.success_threshold == other.success_threshold
            && self.failure_threshold == other.failure_threshold
    }

    /// Why these settings are refused, if they are.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        if self.period.is_zero() {
            Some("the period must be longer than zero")
        } else if self.timeout.is_zero() {
            Some("the timeout must be longer than zero")
        } else if self.success_threshold == 0 || self.failure_threshold == 0 {
            Some("the success and failure thresholds must be at least 1")
        } else {
            None
        }
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("check", &self.check.describe())
            .field("initial_delay", &self.initial_delay)
            .field("period", &self.period)
            .field("timeout", &self.timeout)
            .field("success_threshold", &self.success_threshold)
            .field("failure_threshold", &self.failure_threshold)
            .finish()
    }
}
