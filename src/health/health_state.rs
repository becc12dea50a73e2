//! A child's health as snapshots and events show it, and the failure a liveness probe ends a
//! run with.

use std::sync::Arc;

/// Which of a child's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Decides when the child counts as ready ([`ChildSpec::readiness`](crate::ChildSpec::readiness)).
    Readiness,
    /// Restarts the child when it stops answering ([`ChildSpec::liveness`](crate::ChildSpec::liveness)).
    Liveness,
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProbeKind::Readiness => "readiness",
            ProbeKind::Liveness => "liveness",
        })
    }
}

/// A child's health in its current run, as its probes last found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// No probe has decided yet in this run (or the child has none).
    #[default]
    Unknown,
    /// Every probe of the child passed its success threshold and has not failed since.
    Healthy,
    /// A probe failed its failure threshold (and has not passed since).
    Unhealthy {
        /// Which probe.
        probe: ProbeKind,
        /// Its last error.
        error: Arc<str>,
    },
}

/// The failure of a run that a liveness probe ended: its check failed `failure_threshold`
/// times in a row. Find it with `downcast_ref::<Unhealthy>()` on the run's failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unhealthy: {probe} failed: {last_error}")]
pub struct Unhealthy {
    /// What the probe checks (`tcp 127.0.0.1:8080`).
    pub probe: String,
    /// Its last error.
    pub last_error: String,
}
