//! Health probes, for every kind of child: whether it is ready to serve, and whether it is
//! still alive.
//!
//! A [`Probe`] is a check run periodically beside each run of a child, with Kubernetes'
//! settings ([`Probe::initial_delay`], [`period`](Probe::period), [`timeout`](Probe::timeout),
//! [`success_threshold`](Probe::success_threshold),
//! [`failure_threshold`](Probe::failure_threshold)). A spec takes one as
//! [`ChildSpec::readiness`](crate::ChildSpec::readiness) or
//! [`ChildSpec::liveness`](crate::ChildSpec::liveness):
//!
//! - **Readiness** decides when the child counts as ready: siblings waiting for it with
//!   [`Condition::Ready`](crate::Condition::Ready) start once the probe has passed
//!   `success_threshold` times in a row — no longer when the child calls
//!   [`Context::ready`](crate::Context::ready), nor, for an OS process, once it is spawned.
//!   Readiness may go down (after `failure_threshold` failures in a row) and up again later:
//!   the snapshot's [`Health`] and the events ([`EventKind::Unhealthy`](crate::EventKind),
//!   [`EventKind::Healthy`](crate::EventKind)) show it; dependents already running are not
//!   stopped by it.
//! - **Liveness** restarts: after `failure_threshold` failures in a row the run ends as a
//!   failure, [`Unhealthy`], and the child's restart policy, intensity and backoff apply as
//!   to any other failure. Its next run starts probing afresh (after the initial delay), so
//!   one failure episode is one restart.
//!
//! A probe acts only until the run is asked to stop: a child that stops answering while it
//! drains is not cut short by its liveness probe.
//!
//! A probe costs one timer while it waits for its next period, and what its check costs when
//! it runs; nothing runs between checks. Checks: a closure ([`Probe::check`]) for in-process
//! children; with feature `process`, a command (`Probe::exec`); with feature `health`, a TCP
//! connect (`Probe::tcp`); with feature `health-http`, an HTTP GET (`Probe::http`). More kinds
//! build on [`Check`].

mod check;
#[cfg(all(feature = "process", unix))]
mod exec;
mod health_state;
#[cfg(feature = "health-http")]
mod http;
#[cfg(all(feature = "health", feature = "process", unix))]
pub(crate) mod output_line;
mod probe;
mod runner;
mod tally;
#[cfg(feature = "health")]
mod tcp;

pub use check::{Check, CheckFuture};
pub use health_state::{Health, ProbeKind, Unhealthy};
#[cfg(feature = "health-http")]
pub use http::HttpProbeError;
pub use probe::Probe;
pub(crate) use runner::ProbeRunner;
