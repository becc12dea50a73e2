//! The shared destination of a child's stdout and stderr lines.

use std::io;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::broadcast;

use super::config::LineCallback;
use super::rotate::RotatingFile;
use super::tail::Tail;
use super::{Line, OutputConfig, OutputError, Stream};

/// Where the lines of a child's stdout and stderr go, shared by the two readers
/// ([`pump`](OutputSink::pump)) and by anyone who reads the tail or follows live.
///
/// Built by [`OutputConfig::build`]. It outlives a run of the child: a restarted child can
/// pump into the same sink, so files, tail and subscribers continue.
///
/// Guarantees: lines of one stream reach every destination in the order the child wrote them;
/// nothing here waits on a reader of the output (subscribers lag, they never block the pump).
pub struct OutputSink {
    files: Vec<Mutex<RotatingFile>>,
    stdout_file: Option<usize>,
    stderr_file: Option<usize>,
    stdout_path: Option<PathBuf>,
    stderr_path: Option<PathBuf>,
    tail: Option<Mutex<Tail>>,
    /// The followers' channel, made by the first [`subscribe`](Self::subscribe): its ring of
    /// `follow_capacity` slots costs nothing for output nobody follows.
    follow: std::sync::OnceLock<broadcast::Sender<Line>>,
    follow_capacity: usize,
    on_line: Option<LineCallback>,
    timestamps: bool,
    pub(super) max_line: usize,
    file_errors: AtomicU64,
}

/// A piece of a read buffer that is one line to deliver, or, when no destination needs
/// lines ([`OutputSink::wants_lines`] is false), a run of whole lines for the log file.
#[derive(Clone, Debug)]
pub(super) struct Piece {
    /// The line's bytes, without its `\n` (a run: with every `\n` but the last).
    pub(super) range: Range<usize>,
    /// The child's line goes on in the next piece.
    pub(super) continued: bool,
    /// A `\n` follows `range` in the buffer (the line was ended by the child).
    pub(super) newline: bool,
}

impl OutputSink {
    pub(super) fn new(config: OutputConfig) -> Result<Self, OutputError> {
        if config.max_line == 0 {
            return Err(OutputError::InvalidConfig {
                reason: "max_line is 0; give the longest line to keep whole, e.g. 65536",
            });
        }
        if config.max_line > super::config::MAX_MAX_LINE {
            return Err(OutputError::InvalidConfig {
                reason: "max_line is above 64 MiB (MAX_MAX_LINE); a reader allocates that much",
            });
        }
        if config.follow_capacity > super::config::MAX_FOLLOW_CAPACITY {
            return Err(OutputError::InvalidConfig {
                reason: "follow_capacity is above 1 Mi lines (MAX_FOLLOW_CAPACITY)",
            });
        }
        if config.follow_capacity == 0 {
            return Err(OutputError::InvalidConfig {
                reason: "follow_capacity is 0; give how many lines a subscriber may fall behind",
            });
        }
        if config.rotation.is_some_and(|r| r.max_bytes == 0) {
            return Err(OutputError::InvalidConfig {
                reason: "rotate max_bytes is 0; give the largest size of a log file in bytes",
            });
        }
        let mut files = Vec::new();
        let mut open = |path: Option<PathBuf>| -> Result<Option<usize>, OutputError> {
            let Some(path) = path else { return Ok(None) };
            let file = RotatingFile::open(path.clone(), config.rotation)
                .map_err(|source| OutputError::Open { path, source })?;
            files.push(Mutex::new(file));
            Ok(Some(files.len() - 1))
        };
        let stdout_file = open(config.stdout_file.clone())?;
        let stderr_file = match (&config.stdout_file, &config.stderr_file) {
            (Some(out), Some(err)) if out == err => stdout_file,
            _ => open(config.stderr_file.clone())?,
        };
        Ok(OutputSink {
            files,
            stdout_file,
            stderr_file,
            stdout_path: config.stdout_file,
            stderr_path: config.stderr_file,
            tail: (config.tail > 0).then(|| Mutex::new(Tail::new(config.tail))),
            follow: std::sync::OnceLock::new(),
            follow_capacity: config.follow_capacity,
            on_line: config.on_line,
            timestamps: config.timestamps,
            max_line: config.max_line,
            file_errors: AtomicU64::new(0),
        })
    }

    /// The last lines of both streams, oldest first (empty when no tail was configured).
    /// Cost: one `Arc` clone per kept line, under a lock the readers take once per pipe read.
    pub fn tail(&self) -> Vec<Line> {
        match &self.tail {
            Some(tail) => lock(tail).to_vec(),
            None => Vec::new(),
        }
    }

    /// Follows the output live from now on: every later line of both streams, in order per
    /// stream. A subscriber that falls more than the follow capacity behind gets
    /// `Err(RecvError::Lagged(missed))` once and goes on with the oldest line still kept.
    /// Cost: the first subscription makes the channel (its ring of follow-capacity slots,
    /// about 70 bytes each); while at least one subscriber exists, one allocation per line.
    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.follow
            .get_or_init(|| broadcast::channel(self.follow_capacity).0)
            .subscribe()
    }

    /// How many subscribers follow the output now.
    fn followers(&self) -> usize {
        self.follow
            .get()
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// The log file of `stream` (the live one, without a rotation suffix), if any.
    pub fn log_path(&self, stream: Stream) -> Option<&Path> {
        match stream {
            Stream::Stdout => self.stdout_path.as_deref(),
            Stream::Stderr => self.stderr_path.as_deref(),
        }
    }

    /// How many times writing a log file failed since the sink was built. The lines buffered
    /// for that file when it failed (at most 128 KiB) are missing from it, not from the tail,
    /// subscribers or callback; the file is reopened for the next lines. Each failure is also reported
    /// through `tracing` at `warn` level.
    pub fn file_errors(&self) -> u64 {
        self.file_errors.load(Ordering::Relaxed)
    }

    /// Whether anything needs the output cut into single lines: a tail, a callback, a
    /// subscriber, or timestamps (one per line in the log file). Otherwise the pump may hand
    /// over runs of whole lines, which only the log file gets.
    pub(super) fn wants_lines(&self) -> bool {
        self.timestamps || self.tail.is_some() || self.on_line.is_some() || self.followers() > 0
    }

    /// Delivers the pieces of one pipe read to every destination (the log file's writer
    /// buffers them; [`flush`](Self::flush) hands them to the OS). `lines` says whether each
    /// piece is a single line (else runs of lines, for the log file only).
    pub(super) fn deliver(
        &self,
        stream: Stream,
        time: SystemTime,
        buf: &[u8],
        pieces: &[Piece],
        lines: bool,
    ) {
        if pieces.is_empty() {
            return;
        }
        self.write_file(stream, time, buf, pieces);
        if !lines {
            return;
        }
        let wants_lines = self.tail.is_some() || self.on_line.is_some() || self.followers() > 0;
        if !wants_lines {
            return;
        }
        let lines: Vec<Line> = pieces
            .iter()
            .map(|p| Line::new(stream, time, &buf[p.range.clone()], p.continued))
            .collect();
        if let Some(tail) = &self.tail {
            let mut tail = lock(tail);
            for line in &lines {
                tail.push(line.clone());
            }
        }
        for line in lines {
            if let Some(callback) = &self.on_line {
                if catch_unwind(AssertUnwindSafe(|| callback(&line))).is_err() {
                    tracing::error!(%stream, "the output line callback panicked");
                }
            }
            // An error only means there is no subscriber right now.
            if let Some(follow) = self.follow.get() {
                let _ = follow.send(line);
            }
        }
    }

    /// Hands the buffered lines of `stream`'s log file to the operating system.
    pub(super) fn flush(&self, stream: Stream) {
        self.with_file(stream, RotatingFile::flush);
    }

    fn write_file(&self, stream: Stream, time: SystemTime, buf: &[u8], pieces: &[Piece]) {
        let prefix = match self.timestamps {
            true => timestamp(time),
            false => String::new(),
        };
        self.with_file(stream, |file| {
            file.write_pieces(prefix.as_bytes(), buf, pieces)
        });
    }

    /// Runs `write` on the log file of `stream`, if any; an error is counted, reported and
    /// forgotten (the file is reopened for the next lines).
    fn with_file(&self, stream: Stream, write: impl FnOnce(&mut RotatingFile) -> io::Result<()>) {
        let index = match stream {
            Stream::Stdout => self.stdout_file,
            Stream::Stderr => self.stderr_file,
        };
        let Some(file) = index.and_then(|i| self.files.get(i)) else {
            return;
        };
        let mut file = lock(file);
        if let Err(error) = write(&mut file) {
            self.file_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                path = %file.path().display(),
                %stream,
                %error,
                "cannot write the log file; the lines it buffered are missing from it"
            );
            file.reset();
        }
    }
}

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSink")
            .field("files", &self.files.len())
            .field("tail", &self.tail.is_some())
            .field("subscribers", &self.followers())
            .field("timestamps", &self.timestamps)
            .field("max_line", &self.max_line)
            .finish_non_exhaustive()
    }
}

/// Our critical sections never run user code, so a poisoned lock holds consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `time` in RFC 3339 with milliseconds and a space after it. A clock outside the years
/// 1970–9999, which the format cannot show, gives a placeholder of the same width.
fn timestamp(time: SystemTime) -> String {
    /// 10000-01-01T00:00:00Z, in seconds after the Unix epoch.
    const YEAR_10000: u64 = 253_402_300_800;
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) if since.as_secs() < YEAR_10000 => {
            format!("{} ", humantime::format_rfc3339_millis(time))
        }
        _ => "????-??-??T??:??:??.???Z ".to_owned(),
    }
}

#[cfg(test)]
mod timestamp_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::timestamp;

    #[test]
    fn a_clock_outside_what_rfc_3339_can_show_gives_a_placeholder_not_a_panic() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z ");
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(timestamp(before_1970), "????-??-??T??:??:??.???Z ");
        let year_10000 = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(timestamp(year_10000), "????-??-??T??:??:??.???Z ");
    }
}
