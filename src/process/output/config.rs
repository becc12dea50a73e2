//! The builder that says where a child's output goes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::rotate::Rotation;
use super::{Line, OutputError, OutputSink};

/// The default maximum line length: 64 KiB.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// The default number of lines a live subscriber may fall behind before it lags.
pub const DEFAULT_FOLLOW_CAPACITY: usize = 1024;

/// The largest [`max_line`](OutputConfig::max_line) accepted: 64 MiB. A reader allocates
/// `max_line + 64 KiB` per stream when it starts.
pub const MAX_MAX_LINE: usize = 64 * 1024 * 1024;

/// The largest [`follow_capacity`](OutputConfig::follow_capacity) accepted: 1 Mi lines (the
/// subscribers' ring is allocated when the sink is built).
pub const MAX_FOLLOW_CAPACITY: usize = 1 << 20;

/// A per-line callback, shared by the stdout and stderr readers.
pub type LineCallback = Arc<dyn Fn(&Line) + Send + Sync + 'static>;

/// Where the output of a child goes: log files (rotated by size), an in-memory tail, live
/// subscribers, a callback. Every destination is optional; the default keeps nothing but still
/// drains the pipes, so the child never blocks on a full pipe.
///
/// ```
/// use overseer::process::output::OutputConfig;
///
/// let dir = std::env::temp_dir();
/// let sink = OutputConfig::new()
///     .log_file(dir.join("overseer-doc-app.log"))
///     .rotate(10 * 1024 * 1024, 5)
///     .tail(100)
///     .timestamps(true)
///     .on_line(|line| {
///         if line.text().starts_with("progress:") { /* parse it */ }
///     })
///     .build()?;
/// # let _ = std::fs::remove_file(dir.join("overseer-doc-app.log"));
/// # let _ = sink;
/// # Ok::<(), overseer::process::output::OutputError>(())
/// ```
#[derive(Clone)]
pub struct OutputConfig {
    pub(super) stdout_file: Option<PathBuf>,
    pub(super) stderr_file: Option<PathBuf>,
    pub(super) rotation: Option<Rotation>,
    pub(super) tail: usize,
    pub(super) timestamps: bool,
    pub(super) max_line: usize,
    pub(super) follow_capacity: usize,
    pub(super) on_line: Option<LineCallback>,
}

impl OutputConfig {
    /// Nothing kept, no timestamps, lines cut at [`DEFAULT_MAX_LINE`], subscribers may fall
    /// [`DEFAULT_FOLLOW_CAPACITY`] lines behind.
    pub fn new() -> Self {
        OutputConfig {
            stdout_file: None,
            stderr_file: None,
            rotation: None,
            tail: 0,
            timestamps: false,
            max_line: DEFAULT_MAX_LINE,
            follow_capacity: DEFAULT_FOLLOW_CAPACITY,
            on_line: None,
        }
    }

    /// Appends stdout and stderr to one file, their lines interleaved in the order they were
    /// read; each line is written whole (the two streams never mix within a line).
    ///
    /// Cost: writes are buffered and handed to the OS once per pipe read; the file is written
    /// synchronously from the reading task (page-cache speed; no `fsync`). The parent directory
    /// must exist.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.stdout_file = Some(path.clone());
        self.stderr_file = Some(path);
        self
    }

    /// Appends stdout to this file (see [`log_file`](Self::log_file)).
    pub fn stdout_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdout_file = Some(path.into());
        self
    }

    /// Appends stderr to this file (see [`log_file`](Self::log_file)); may be the stdout file.
    pub fn stderr_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stderr_file = Some(path.into());
        self
    }

    /// Rotates every log file by size: before a line that would make `app.log` larger than
    /// `max_bytes`, `app.log` becomes `app.log.1` (`.1` becomes `.2`, …) and at most `keep`
    /// rotated files are kept, the oldest deleted. `keep == 0` truncates `app.log` instead.
    ///
    /// Guarantee: rotation happens only between lines, so every line (with its timestamp) is
    /// wholly in one file, none lost or repeated; a file is larger than `max_bytes` only when it
    /// holds a single line that is. Cost: `keep + 1` renames per rotation.
    /// Without this call files grow without bound. `max_bytes` must not be 0.
    pub fn rotate(mut self, max_bytes: u64, keep: usize) -> Self {
        self.rotation = Some(Rotation { max_bytes, keep });
        self
    }

    /// Keeps the last `lines` lines of both streams in memory, for
    /// [`OutputSink::tail`](OutputSink::tail). 0 (the default) keeps none.
    ///
    /// Cost: one allocation per line for its bytes, and at most `lines` lines (each at most the
    /// maximum line length) held.
    pub fn tail(mut self, lines: usize) -> Self {
        self.tail = lines;
        self
    }

    /// Prefixes each line in the log files with the time it was read, as RFC 3339 UTC with
    /// milliseconds and a space (`2025-01-31T12:00:00.123Z `). Lines in memory always carry
    /// their time ([`Line::time`]). Cost: one formatting per pipe read, not per line.
    pub fn timestamps(mut self, enabled: bool) -> Self {
        self.timestamps = enabled;
        self
    }

    /// Cuts lines longer than `bytes` (not counting the `\n` or `\r\n` that ends them) into
    /// pieces of at most `bytes` (moved back to a UTF-8
    /// character boundary when there is one within 3 bytes). Each piece is a [`Line`] and a
    /// line of its own in the log file; all but the last are marked
    /// [`is_continued`](Line::is_continued). Bounds memory: a reader holds
    /// `bytes + 64 KiB`. From 1 to [`MAX_MAX_LINE`]; default [`DEFAULT_MAX_LINE`].
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// How many lines a live subscriber may fall behind before it lags (its next `recv`
    /// returns `Lagged(missed)` and it continues with the oldest line still kept). The reader
    /// never waits for subscribers. From 1 to [`MAX_FOLLOW_CAPACITY`]; default
    /// [`DEFAULT_FOLLOW_CAPACITY`].
    pub fn follow_capacity(mut self, lines: usize) -> Self {
        self.follow_capacity = lines;
        self
    }

    /// Calls `callback` with every line of both streams, in order per stream, on the reading
    /// task. It must be quick and must not block: the child's pipe is not drained while it
    /// runs. A panic in it is caught and reported through `tracing`; later lines still get it.
    pub fn on_line(mut self, callback: impl Fn(&Line) + Send + Sync + 'static) -> Self {
        self.on_line = Some(Arc::new(callback));
        self
    }

    /// Checks the configuration and opens the log files (appending).
    ///
    /// # Errors
    /// [`OutputError::InvalidConfig`] for `max_bytes`, `max_line` or `follow_capacity` of 0,
    /// or `max_line` or `follow_capacity` above [`MAX_MAX_LINE`] or [`MAX_FOLLOW_CAPACITY`];
    /// [`OutputError::Open`] when a log file cannot be opened.
    pub fn build(self) -> Result<Arc<OutputSink>, OutputError> {
        OutputSink::new(self).map(Arc::new)
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig::new()
    }
}

impl fmt::Debug for OutputConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputConfig")
            .field("stdout_file", &self.stdout_file)
            .field("stderr_file", &self.stderr_file)
            .field("rotation", &self.rotation)
            .field("tail", &self.tail)
            .field("timestamps", &self.timestamps)
            .field("max_line", &self.max_line)
            .field("follow_capacity", &self.follow_capacity)
            .field("on_line", &self.on_line.as_ref().map(|_| "Fn(&Line)"))
            .finish()
    }
}
