//! Ready-made children.

mod idle;
#[cfg(all(feature = "signal", unix))]
mod signal;

pub use idle::Idle;
#[cfg(all(feature = "signal", unix))]
pub use signal::{Signals, SignalsError};
