//! Following a job from any process: its status changes ([`Store::watch`]) and its output
//! lines ([`Store::follow`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::JobError;
use super::state::Job;
use super::store::Store;
use super::wait::{Interrupt, RECHECK, Waiter, Woken};
use crate::process::output::Stream;

/// The longest line [`Store::follow`] hands over in one piece; longer ones come in pieces
/// of this size, so memory stays bounded whatever the job writes.
pub const MAX_FOLLOW_LINE: usize = 64 * 1024;

/// One line of a job's output, without its `\n`.
#[derive(Clone, Copy, Debug)]
pub struct LogLine<'a> {
    /// The stream it was written to.
    pub stream: Stream,
    /// Its bytes (not necessarily UTF-8).
    pub bytes: &'a [u8],
}

impl LogLine<'_> {
    /// The line as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes)
    }
}

/// What [`Store::follow`] reads.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    stdout: bool,
    stderr: bool,
    from_end: bool,
    interrupt: Option<Interrupt>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            stdout: true,
            stderr: true,
            from_end: false,
            interrupt: None,
        }
    }
}

impl FollowOptions {
    /// Both streams, from the start of the logs.
    pub fn new() -> Self {
        FollowOptions::default()
    }

    /// Whether to read stdout (default yes).
    pub fn stdout(mut self, yes: bool) -> Self {
        self.stdout = yes;
        self
    }

    /// Whether to read stderr (default yes).
    pub fn stderr(mut self, yes: bool) -> Self {
        self.stderr = yes;
        self
    }

    /// Start at the current end of the logs instead of their start.
    pub fn from_end(mut self, yes: bool) -> Self {
        self.from_end = yes;
        self
    }

    /// Return when `interrupt` is triggered.
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }
}

/// One log file read as it grows.
struct Tail {
    stream: Stream,
    file: File,
    partial: Vec<u8>,
}

impl Tail {
    /// Reads what is new and hands over each complete line.
    fn read(
        &mut self,
        buf: &mut [u8],
        on_line: &mut impl FnMut(LogLine<'_>) -> ControlFlow<()>,
    ) -> io::Result<ControlFlow<()>> {
        loop {
            let n = match self.file.read(buf) {
                Ok(0) => return Ok(ControlFlow::Continue(())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut chunk = &buf[..n];
            while let Some(at) = memchr::memchr(b'\n', chunk) {
                let flow = if self.partial.is_empty() {
                    on_line(LogLine {
                        stream: self.stream,
                        bytes: &chunk[..at],
                    })
                } else {
                    self.partial.extend_from_slice(&chunk[..at]);
                    let flow = on_line(LogLine {
                        stream: self.stream,
                        bytes: &self.partial,
                    });
                    self.partial.clear();
                    flow
                };
                if flow.is_break() {
                    return Ok(flow);
                }
                chunk = &chunk[at + 1..];
            }
            self.partial.extend_from_slice(chunk);
            while self.partial.len() >= MAX_FOLLOW_LINE {
                let rest = self.partial.split_off(MAX_FOLLOW_LINE);
                let flow = on_line(LogLine {
                    stream: self.stream,
                    bytes: &self.partial,
                });
                self.partial = rest;
                if flow.is_break() {
                    return Ok(flow);
                }
            }
        }
    }

    /// Hands over a last line without `\n`, if any.
    fn finish(
        &mut self,
        on_line: &mut impl FnMut(LogLine<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.partial.is_empty() {
            return ControlFlow::Continue(());
        }
        let flow = on_line(LogLine {
            stream: self.stream,
            bytes: &self.partial,
        });
        self.partial.clear();
        flow
    }
}

/// A pidfd that ends when the job can next change on its own: its starter's while pending,
/// its shim's while that lives, else its process's. `None` if none of them is alive.
fn end_of(job: &Job) -> Option<OwnedFd> {
    use super::state::Status;
    let records = match job.status {
        Status::Pending => vec![&job.starter],
        Status::Running => vec![&job.shim, &job.process],
        _ => vec![],
    };
    records
        .into_iter()
        .filter_map(|r| job.identity(r))
        .find_map(|i| i.hold().ok().flatten())
}

impl Store {
    /// Calls `on_change` with job `id` now and after each change of its status, until the
    /// job has finished (its last call has the finished job), `on_change` breaks,
    /// `interrupt` is triggered, or `timeout` passes. Returns the job as last seen. Works
    /// from any process, also one started after the job's starter died.
    ///
    /// Event-driven: inotify on the job's directory (a status change is a rename of
    /// `state.json` or of the result file into it) and a pidfd of the process whose end is
    /// the next change (the shim, or the job when its shim is gone); a look every
    /// 2 seconds guards against a change no event reports (a starter that died while its
    /// job was pending). Statuses are seen in order, but two changes between two looks are
    /// seen as the last one.
    pub fn watch(
        &self,
        id: &str,
        interrupt: Option<&Interrupt>,
        timeout: Option<Duration>,
        mut on_change: impl FnMut(&Job) -> ControlFlow<()>,
    ) -> Result<Job, JobError> {
        let dir = self.job_dir(id)?;
        let end = timeout.map(|t| Instant::now() + t);
        let waiter = waiter(&dir, self, id)?;
        let mut job = self.get(id)?;
        let mut seen = None;
        let mut process = None;
        loop {
            if seen != Some(job.status) {
                seen = Some(job.status);
                process = end_of(&job);
                if on_change(&job).is_break() {
                    return Ok(job);
                }
            }
            if job.status.is_finished() {
                return Ok(job);
            }
            let next = Instant::now() + RECHECK;
            let deadline = end.map_or(next, |e| e.min(next));
            match waiter
                .wait(process.as_ref(), interrupt, Some(deadline))
                .map_err(|e| JobError::io("cannot watch", &dir, e))?
            {
                Woken::Interrupted => return Ok(job),
                Woken::Process => process = None,
                Woken::Deadline if end.is_some_and(|e| Instant::now() >= e) => return Ok(job),
                _ => {}
            }
            job = self.get(id)?;
            if process.is_none() {
                process = end_of(&job);
            }
        }
    }

    /// Reads job `id`'s output as it is written, handing each line to `on_line`, until the
    /// job has finished and everything it wrote is read (then a last line without `\n` is
    /// handed over too), `on_line` breaks, or the interrupt is triggered. Returns the job as
    /// last seen. Works from any process, at any time: while the job runs, after it ended,
    /// after the caller or the starter restarted.
    ///
    /// Event-driven like [`watch`](Self::watch): each write to a log wakes it (inotify).
    /// Lines of stdout come in their order, lines of stderr in theirs; between the two
    /// streams, the order is the order in which they were read, not written.
    ///
    /// Cost per line over reading the file: the callback and a `memchr`; per wake-up, one
    /// `read` per stream and, when the state may have changed, one [`get`](Self::get). See
    /// `BENCHMARKS.md`.
    pub fn follow(
        &self,
        id: &str,
        options: &FollowOptions,
        mut on_line: impl FnMut(LogLine<'_>) -> ControlFlow<()>,
    ) -> Result<Job, JobError> {
        let dir = self.job_dir(id)?;
        let waiter = waiter(&dir, self, id)?;
        let mut tails = Vec::new();
        for (wanted, stream) in [
            (options.stdout, Stream::Stdout),
            (options.stderr, Stream::Stderr),
        ] {
            if !wanted {
                continue;
            }
            let path = self.log_path(id, stream)?;
            let mut file =
                File::open(&path).map_err(|e| JobError::io("cannot open the log", &path, e))?;
            if options.from_end {
                file.seek(SeekFrom::End(0))
                    .map_err(|e| JobError::io("cannot read the log", &path, e))?;
            }
            tails.push(Tail {
                stream,
                file,
                partial: Vec::new(),
            });
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut job = self.get(id)?;
        let mut process = end_of(&job);
        let read_err = |e| JobError::io("cannot read the log of", &dir, e);
        loop {
            // The status first, then the logs: a job seen finished has written everything
            // its process wrote before the read that follows.
            let finished = job.status.is_finished();
            for tail in &mut tails {
                if tail
                    .read(&mut buf, &mut on_line)
                    .map_err(read_err)?
                    .is_break()
                {
                    return Ok(job);
                }
            }
            if finished {
                for tail in &mut tails {
                    if tail.finish(&mut on_line).is_break() {
                        break;
                    }
                }
                return Ok(job);
            }
            let woken = waiter
                .wait(
                    process.as_ref(),
                    options.interrupt.as_ref(),
                    Some(Instant::now() + RECHECK),
                )
                .map_err(|e| JobError::io("cannot follow", &dir, e))?;
            match woken {
                Woken::Interrupted => return Ok(job),
                Woken::Files { state: false } => continue,
                Woken::Process => process = None,
                _ => {}
            }
            let before = job.status;
            job = self.get(id)?;
            if process.is_none() || job.status != before {
                process = end_of(&job);
            }
        }
    }
}

/// A waiter on the job's directory, or `NotFound` if there is no such job.
fn waiter(dir: &Path, store: &Store, id: &str) -> Result<Waiter, JobError> {
    Waiter::new(dir).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => JobError::NotFound {
            id: id.to_owned(),
            store: store.dir().to_path_buf(),
        },
        _ => JobError::io("cannot watch", dir, e),
    })
}
