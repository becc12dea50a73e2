//! One captured line and the stream it came from.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Which pipe of the child a line was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a child's output, as kept in the tail and sent to subscribers and the callback.
///
/// The bytes are exactly what the child wrote, without the terminating `\n` (and without a `\r`
/// just before it). They need not be UTF-8: [`text`](Line::text) shows them lossily.
///
/// A line longer than the configured maximum is delivered as several `Line`s, each at most that
/// long; every piece but the last has [`is_continued`](Line::is_continued) set.
///
/// Cloning is cheap: the bytes are shared (`Arc<[u8]>`), so a clone costs one atomic increment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    stream: Stream,
    time: SystemTime,
    bytes: Arc<[u8]>,
    continued: bool,
}

impl Line {
    /// A line from raw bytes; a trailing `\r` of a last piece is removed. Allocates once to copy
    /// the bytes.
    pub(crate) fn new(stream: Stream, time: SystemTime, bytes: &[u8], continued: bool) -> Self {
        let bytes = match continued {
            true => bytes,
            false => bytes.strip_suffix(b"\r").unwrap_or(bytes),
        };
        Line {
            stream,
            time,
            bytes: Arc::from(bytes),
            continued,
        }
    }

    /// The stream the line was read from.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// When the line was read from the pipe (the time of the read that completed it; lines
    /// completed by the same read share it).
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The raw bytes, without the line terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes as text: borrowed when they are valid UTF-8 (no cost), otherwise a copy where
    /// each invalid sequence is replaced by `U+FFFD`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// Whether the child's line goes on in the next `Line` of the same stream (this piece was
    /// cut at the maximum line length).
    pub fn is_continued(&self) -> bool {
        self.continued
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}
