//! Where a process child's stdout and stderr go.
//!
//! Spawning stays in one place: this module only says what each stream is connected to;
//! [`capture`](super::capture) reads the piped ones into the command's output sink.

use super::spawn::Stream;

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
    /// What to spawn the stream with; `captured` says whether a sink will read a piped
    /// stream.
    pub(crate) fn stream(self, captured: bool) -> Stream {
        match self {
            Output::Inherit => Stream::Inherit,
            Output::Null => Stream::Null,
            Output::Capture if captured => Stream::Pipe,
            Output::Capture => Stream::Null,
        }
    }
}
