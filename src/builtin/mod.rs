//! Ready-made children.

#[cfg(feature = "metrics")]
mod http;
mod idle;
#[cfg(all(feature = "signal", unix))]
mod signal;

#[cfg(feature = "metrics")]
pub use http::{EndpointsError, HttpEndpoints};
pub use idle::Idle;
#[cfg(all(feature = "signal", unix))]
pub use signal::{Signals, SignalsError};
