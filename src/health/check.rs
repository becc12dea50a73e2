//! What a probe runs: a [`Check`].

use std::future::Future;
use std::pin::Pin;

use crate::error::BoxError;

/// The future a [`Check`] returns: `Ok` when the child is healthy, the reason otherwise.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>;

/// One check of a child's health, run at each period of its [`Probe`](super::Probe) (within
/// the probe's timeout: a check still running then counts as failed, and is dropped).
pub trait Check: std::any::Any + Send + Sync {
    /// Checks once.
    fn check(&self) -> CheckFuture<'_>;

    /// What it checks, for errors and events (`tcp 127.0.0.1:8080`).
    fn describe(&self) -> String;

    /// Whether `other` checks exactly the same thing, so that a reconfiguration declaring the
    /// probe again keeps the child running. Defaults to `false`: only the very same check
    /// (shared) is the same; the built-in TCP, HTTP and exec checks compare what they check.
    fn same_as(&self, other: &dyn Check) -> bool {
        let _ = other;
        false
    }
}

/// `other` as a `T`, if it is one (for `same_as`).
#[allow(dead_code)] // used by the TCP, HTTP and exec checks, each behind a feature
pub(crate) fn downcast<T: Check>(other: &dyn Check) -> Option<&T> {
    let other: &dyn std::any::Any = other;
    other.downcast_ref::<T>()
}

/// A closure as a check (see [`Probe::check`](super::Probe::check)).
pub(crate) struct ClosureCheck<F> {
    pub(crate) name: String,
    pub(crate) f: F,
}

impl<F, Fut> Check for ClosureCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn check(&self) -> CheckFuture<'_> {
        Box::pin((self.f)())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
