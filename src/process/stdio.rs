//! Where a process child's stdout and stderr go.
//!
//! This is the seam for output handling: capturing output line by line (log files, tails,
//! followers) plugs in here as further variants, so that spawning stays in one place.

use std::process::Stdio;

/// Where one of a child's output streams goes.
///
/// Whatever the choice, stopping a child never waits for its output to end: a grandchild that
/// keeps the stream open cannot hold up a stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// The supervisor's own stream (the default): no copy, no cost.
    #[default]
    Inherit,
    /// Discarded (`/dev/null`).
    Null,
}

impl Output {
    /// The `Stdio` to spawn with.
    pub(crate) fn stdio(self) -> Stdio {
        match self {
            Output::Inherit => Stdio::inherit(),
            Output::Null => Stdio::null(),
        }
    }
}
