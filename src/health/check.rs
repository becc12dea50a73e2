//! What a probe runs: a [`Check`].

use std::future::Future;
use std::pin::Pin;

use crate::error::BoxError;

/// The future a [`Check`] returns: `Ok` when the child is healthy, the reason otherwise.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>;

/// One check of a child's health, run at each period of its [`Probe`](super::Probe) (within
/// the probe's timeout: a check still running then counts as failed, and is dropped).
pub trait Check: Send + Sync + 'static {
    /// Checks once.
    fn check(&self) -> CheckFuture<'_>;

    /// What it checks, for errors and events (`tcp 127.0.0.1:8080`).
    fn describe(&self) -> String;
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
