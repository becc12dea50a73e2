//! Where a process child's stdout and stderr go.
//!
//! Spawning stays in one place: this module only says what each stream is connected to;
//! [`capture`](super::capture) reads the piped ones into the command's output sink.

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
    /// Piped and read line by line into the command's
    /// [`OutputSink`](super::output::OutputSink), given with
    /// [`Command::capture`](super::Command::capture) (which sets both streams to this). Without
    /// a sink the stream is discarded, as with [`Null`](Output::Null).
    Capture,
}

impl Output {
    /// The `Stdio` to spawn with; `captured` says whether a sink will read a piped stream.
    pub(crate) fn stdio(self, captured: bool) -> Stdio {
        match self {
            Output::Inherit => Stdio::inherit(),
            Output::Null => Stdio::null(),
            Output::Capture if captured => Stdio::piped(),
            Output::Capture => Stdio::null(),
        }
    }
}
