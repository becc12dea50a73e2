//! Ready-made children.

#[cfg(feature = "metrics")]
mod http;
mod idle;
#[cfg(all(feature = "signal", unix))]
mod signal;
#[cfg(all(feature = "systemd", unix))]
mod systemd;

#[cfg(feature = "metrics")]
pub use http::{EndpointsError, HttpEndpoints};
pub use idle::Idle;
#[cfg(all(feature = "signal", unix))]
pub use signal::{Signals, SignalsError};
#[cfg(all(feature = "systemd", unix))]
pub use systemd::Systemd;
