//! Waiting for a job by event: inotify on its directory (state, result, log writes), a pidfd
//! of its shim or its process, and an [`Interrupt`] from another thread.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::inotify;

/// A wake-up for a blocking [`Store::watch`](super::Store::watch),
/// [`follow`](super::Store::follow) or [`wait`](super::Store::wait) from another thread:
/// once [`trigger`](Self::trigger)ed, they return at their next step. Cheap to clone (a pipe
/// shared by the clones).
#[derive(Clone, Debug)]
pub struct Interrupt {
    pipe: Arc<(OwnedFd, OwnedFd)>,
}

impl Interrupt {
    /// A new interrupt, not triggered.
    pub fn new() -> io::Result<Interrupt> {
        let (read, write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        Ok(Interrupt {
            pipe: Arc::new((read, write)),
        })
    }

    /// Wakes every wait that uses this interrupt, now and later.
    pub fn trigger(&self) {
        let _ = rustix::io::write(&self.pipe.1, &[1]);
    }

    /// Whether it was triggered.
    pub fn is_triggered(&self) -> bool {
        matches!(poll_one(&self.pipe.0, Some(Instant::now())), Ok(true))
    }

    fn fd(&self) -> &OwnedFd {
        &self.pipe.0
    }
}

/// Waits until `fd` is readable (a pidfd: its process has ended) or `deadline` passes;
/// `Ok(true)` if readable.
pub(crate) fn readable(fd: &impl AsFd, deadline: Option<Instant>) -> io::Result<bool> {
    poll_one(fd, deadline)
}

fn poll_one(fd: &impl AsFd, deadline: Option<Instant>) -> io::Result<bool> {
    let mut fds = [libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    poll(&mut fds, deadline)?;
    Ok(fds[0].revents != 0)
}

/// `poll(2)` until an event or the deadline, retrying on `EINTR`.
fn poll(fds: &mut [libc::pollfd], deadline: Option<Instant>) -> io::Result<()> {
    loop {
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up, so that a wait never returns before its deadline.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        // SAFETY: `poll` with a valid array of `fds.len()` entries.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// What a wait ended on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Something was written in the job's directory; `state` if it was `state.json` or the
    /// result file (or the inotify queue overflowed, so it may have been).
    Files {
        /// The job's state or result may have changed.
        state: bool,
    },
    /// The watched process ended.
    Process,
    /// The interrupt was triggered.
    Interrupted,
    /// The deadline passed.
    Deadline,
}

/// The events a wait for a job listens to.
pub(crate) struct Waiter {
    inotify: OwnedFd,
}

impl Waiter {
    /// Watches `dir` for writes to its files and for files renamed into it.
    pub(crate) fn new(dir: &Path) -> io::Result<Waiter> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &fd,
            dir,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::MOVED_TO
                | inotify::WatchFlags::CLOSE_WRITE
                | inotify::WatchFlags::CREATE
                | inotify::WatchFlags::DELETE_SELF
                | inotify::WatchFlags::MOVE_SELF,
        )?;
        Ok(Waiter { inotify: fd })
    }

    /// Waits for the next event: a change in the directory, the end of `process` (a pidfd),
    /// `interrupt`, or `deadline`. Pending directory events are drained.
    pub(crate) fn wait(
        &self,
        process: Option<&OwnedFd>,
        interrupt: Option<&Interrupt>,
        deadline: Option<Instant>,
    ) -> io::Result<Woken> {
        let entry = |fd: &OwnedFd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            entry(&self.inotify),
            entry(&self.inotify),
            entry(&self.inotify),
        ];
        let mut n = 1;
        let process_at = process.map(|p| {
            fds[n] = entry(p);
            n += 1;
            n - 1
        });
        let interrupt_at = interrupt.map(|i| {
            fds[n] = entry(i.fd());
            n += 1;
            n - 1
        });
        poll(&mut fds[..n], deadline)?;
        if interrupt_at.is_some_and(|i| fds[i].revents != 0) {
            return Ok(Woken::Interrupted);
        }
        if fds[0].revents != 0 {
            let state = self.drain();
            return Ok(Woken::Files { state });
        }
        if process_at.is_some_and(|i| fds[i].revents != 0) {
            return Ok(Woken::Process);
        }
        Ok(Woken::Deadline)
    }

    /// Reads every pending event; whether one was about anything but a log file.
    fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut state = false;
        while let Ok(n) = rustix::io::read(&self.inotify, &mut buf) {
            if n == 0 {
                break;
            }
            // `struct inotify_event`: wd, mask, cookie, len (4 bytes each), then `len` bytes
            // of NUL-padded name.
            let mut rest = &buf[..n];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[12], rest[13], rest[14], rest[15]]) as usize;
                let end = (16 + len).min(rest.len());
                let name = &rest[16..end];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if name != b"stdout.log" && name != b"stderr.log" {
                    state = true;
                }
                rest = &rest[end..];
            }
        }
        state
    }
}

/// The longest a wait sleeps without an event before it looks again: a guard against an
/// event that never comes (an inotify queue overflow is itself an event; this covers a
/// starter that died while its job was pending, which no descriptor reports).
pub(crate) const RECHECK: Duration = Duration::from_secs(2);
