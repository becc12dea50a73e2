//! A captured pipe, read without a wake-up for every write of the child.
//!
//! On Linux a pipe watched through epoll (as Tokio watches it) reports every `write(2)` of the
//! child, not only the first one into an empty pipe. A child that writes its output 4 KiB at a
//! time (C's stdio on a pipe) so costs its supervisor one worker wake-up, one poll and one
//! `read(2)` per 4 KiB, whether or not the reader wants the data that soon.
//!
//! [`PacedPipe`] reads such a child in batches instead. While writes keep coming less than a
//! nap apart, it takes the pipe off the reactor and reads it once per nap: the child keeps
//! writing into the pipe's buffer (raised to 1 MiB by the capture), the supervisor reads what
//! came in one go. A nap that finds nothing puts the pipe back on the reactor, so a quiet or
//! slow child (a line now and then) is read at once, as before. See [`Pace`] for the rules,
//! and [`NapTimer`] for how long a nap lasts (250 µs on Linux).

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, Interest, ReadBuf};
use tokio::time::Instant;

use super::nap::NapTimer;

/// Pipes smaller than this are never paced: a nap could fill them and block the child. With
/// the 1 MiB the capture asks for, a child can write at about 380 MB/s through a 2 ms nap (the
/// longest with Tokio's timer, or a precise nap delayed by a busy machine) before the pipe is
/// three-quarters full; with 256 KiB, at about 95 MB/s.
const MIN_PACED_CAPACITY: usize = 256 * 1024;

/// After a nap that found the pipe three-quarters full (the child writes too fast for naps),
/// this many waits are for readiness before the next nap.
const COOL_DOWN_WAITS: u8 = 16;

/// When to nap and when to wait for readiness: the policy of [`PacedPipe`], apart from the
/// clock and the file descriptor.
#[derive(Debug)]
pub(crate) struct Pace {
    /// The pipe's capacity in bytes (0: unknown).
    capacity: usize,
    /// Writes that come less than this apart make the pipe busy: about a nap's length, so
    /// that a nap is likely to find data.
    busy_gap: Duration,
    /// Writes come less than a nap apart: the next wait is a nap.
    busy: bool,
    /// Bytes read since the last wait began.
    since_wait: usize,
    /// Waits left before naps are allowed again (see [`COOL_DOWN_WAITS`]).
    cool_down: u8,
}

/// What a read that found the pipe empty waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitFor {
    /// A nap (see [`NapTimer`]), the pipe off the reactor.
    Nap,
    /// The reactor's report that the pipe is readable.
    Readiness,
}

impl Pace {
    pub(crate) fn new(capacity: usize, busy_gap: Duration) -> Self {
        Pace {
            capacity,
            busy_gap,
            busy: false,
            since_wait: 0,
            cool_down: 0,
        }
    }

    /// The pipe is empty: how to wait for more.
    pub(crate) fn wait(&mut self) -> WaitFor {
        let nearly_filled = self.since_wait >= self.capacity / 4 * 3;
        self.since_wait = 0;
        if nearly_filled && self.busy {
            // The last nap let the pipe fill up to three quarters: the child may have been
            // blocked. Readiness for a while.
            self.cool_down = COOL_DOWN_WAITS;
        }
        if self.cool_down > 0 {
            self.cool_down -= 1;
            return WaitFor::Readiness;
        }
        if self.busy && self.capacity >= MIN_PACED_CAPACITY {
            WaitFor::Nap
        } else {
            WaitFor::Readiness
        }
    }

    /// A wait for readiness ended with data after `waited`.
    pub(crate) fn woke_after(&mut self, waited: Duration) {
        self.busy = waited < self.busy_gap;
    }

    /// A nap ended; `found` says whether the pipe had data.
    pub(crate) fn napped(&mut self, found: bool) {
        self.busy = found;
    }

    /// `n` bytes were read.
    pub(crate) fn read(&mut self, n: usize) {
        self.since_wait = self.since_wait.saturating_add(n);
    }
}

/// The pipe, on the reactor or off it.
enum Fd {
    Registered(AsyncFd<OwnedFd>),
    Bare(OwnedFd),
    /// Only while moving from one to the other, or after registering failed.
    Gone,
}

impl Fd {
    fn raw(&self) -> Option<&OwnedFd> {
        match self {
            Fd::Registered(fd) => Some(fd.get_ref()),
            Fd::Bare(fd) => Some(fd),
            Fd::Gone => None,
        }
    }
}

enum Waiting {
    /// Not waiting: the next step is a read.
    No,
    Nap,
    /// The nap is over: the next step is a read, which says whether it found anything.
    NapOver,
    Readiness {
        since: Instant,
    },
}

/// The read end of a child's pipe, read in batches while the child writes fast (see the
/// module docs). An [`AsyncRead`] whose reads never block the thread.
pub(crate) struct PacedPipe {
    fd: Fd,
    pace: Pace,
    waiting: Waiting,
    timer: NapTimer,
}

impl PacedPipe {
    /// Takes the read end of a pipe of `capacity` bytes (0: unknown, never paced) and makes
    /// it non-blocking; naps are timed by `timer` ([`NapTimer::precise`] but in tests).
    /// Registered with the reactor only once it must be waited for.
    pub(crate) fn new(fd: OwnedFd, capacity: usize, timer: NapTimer) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(PacedPipe {
            fd: Fd::Bare(fd),
            pace: Pace::new(capacity, timer.nap_length()),
            waiting: Waiting::No,
            timer,
        })
    }

    /// One `read(2)`: `Some(n)` bytes (0 at the end of the stream), `None` if the pipe is
    /// empty.
    fn read_now(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let fd = self.fd.raw().ok_or_else(gone)?;
        loop {
            match rustix::io::read(fd, &mut *buf) {
                Ok(n) => return Ok(Some(n)),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn register(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.fd, Fd::Gone) {
            // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, which owns it until
            // `deregister` takes it back out or it is dropped; nothing else closes or
            // replaces it.
            Fd::Bare(fd) => {
                match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                    Ok(fd) => self.fd = Fd::Registered(fd),
                    Err(e) => {
                        let (fd, error) = e.into_parts();
                        self.fd = Fd::Bare(fd);
                        return Err(error);
                    }
                }
            }
            other => self.fd = other,
        }
        Ok(())
    }

    fn deregister(&mut self) {
        match std::mem::replace(&mut self.fd, Fd::Gone) {
            Fd::Registered(fd) => self.fd = Fd::Bare(fd.into_inner()),
            other => self.fd = other,
        }
    }

    fn start_nap(&mut self) {
        self.deregister();
        self.timer.start();
        self.waiting = Waiting::Nap;
    }
}

fn gone() -> io::Error {
    io::Error::other("the pipe was lost when the reactor refused it")
}

impl AsyncRead for PacedPipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !matches!(this.waiting, Waiting::Nap | Waiting::Readiness { .. }) {
                let read = this.read_now(buf.initialize_unfilled())?;
                let waited = std::mem::replace(&mut this.waiting, Waiting::No);
                if let Some(n) = read {
                    if let Waiting::NapOver = waited {
                        this.pace.napped(true);
                    }
                    this.pace.read(n);
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                if let Waiting::NapOver = waited {
                    this.pace.napped(false);
                }
                match this.pace.wait() {
                    WaitFor::Nap => this.start_nap(),
                    WaitFor::Readiness => {
                        this.register()?;
                        this.waiting = Waiting::Readiness {
                            since: Instant::now(),
                        };
                    }
                }
            }
            match &this.waiting {
                Waiting::Nap => {
                    ready!(this.timer.poll_over(cx));
                    this.waiting = Waiting::NapOver;
                }
                Waiting::Readiness { since } => {
                    let since = *since;
                    let Fd::Registered(fd) = &this.fd else {
                        return Poll::Ready(Err(gone()));
                    };
                    let mut guard = ready!(fd.poll_read_ready(cx))?;
                    // Cleared before the read: a write after this point is a new event.
                    guard.clear_ready();
                    // `None`: a stale report; wait for the next.
                    if let Some(n) = this.read_now(buf.initialize_unfilled())? {
                        this.pace.woke_after(since.elapsed());
                        this.pace.read(n);
                        this.waiting = Waiting::No;
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                }
                Waiting::No | Waiting::NapOver => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;
    /// The busy gap of a pipe napping on Tokio's timer, as the tests' pipes do.
    const BUSY_GAP: Duration = Duration::from_millis(1);

    #[test]
    fn a_quiet_pipe_is_waited_for_by_readiness() {
        let mut pace = Pace::new(MIB, BUSY_GAP);
        assert_eq!(pace.wait(), WaitFor::Readiness);
        pace.woke_after(Duration::from_millis(50));
        pace.read(100);
        assert_eq!(pace.wait(), WaitFor::Readiness);
    }

    #[test]
    fn writes_that_come_less_than_a_nap_apart_switch_to_naps() {
        let mut pace = Pace::new(MIB, BUSY_GAP);
        assert_eq!(pace.wait(), WaitFor::Readiness);
        pace.woke_after(Duration::from_micros(20));
        pace.read(4096);
        assert_eq!(pace.wait(), WaitFor::Nap);
        pace.napped(true);
        pace.read(300 * 1024);
        assert_eq!(
            pace.wait(),
            WaitFor::Nap,
            "stays paced while naps find data"
        );
    }

    #[test]
    fn a_nap_that_finds_nothing_goes_back_to_readiness() {
        let mut pace = Pace::new(MIB, BUSY_GAP);
        pace.woke_after(Duration::ZERO);
        assert_eq!(pace.wait(), WaitFor::Nap);
        pace.napped(false);
        assert_eq!(pace.wait(), WaitFor::Readiness);
    }

    #[test]
    fn a_nap_that_fills_three_quarters_of_the_pipe_is_followed_by_readiness_waits() {
        let mut pace = Pace::new(MIB, BUSY_GAP);
        pace.woke_after(Duration::ZERO);
        assert_eq!(pace.wait(), WaitFor::Nap);
        pace.napped(true);
        pace.read(MIB / 4 * 3);
        for _ in 0..COOL_DOWN_WAITS {
            assert_eq!(pace.wait(), WaitFor::Readiness);
            pace.woke_after(Duration::ZERO);
            pace.read(4096);
        }
        assert_eq!(pace.wait(), WaitFor::Nap);
    }

    /// Lets the other tasks run and the reactor report what happened.
    async fn settle() {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    /// Spawns one read of up to 64 bytes; the task gives the pipe back with what it read.
    fn read_once(mut pipe: PacedPipe) -> tokio::task::JoinHandle<(PacedPipe, Vec<u8>)> {
        use tokio::io::AsyncReadExt;
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let n = pipe.read(&mut buf).await.expect("read");
            (pipe, buf[..n].to_vec())
        })
    }

    fn write(fd: &OwnedFd, bytes: &[u8]) {
        assert_eq!(rustix::io::write(fd, bytes).expect("write"), bytes.len());
    }

    /// A pipe whose reader waits in `read_once`, and the pipe's write end.
    async fn waiting_reader(
        busy: bool,
    ) -> (tokio::task::JoinHandle<(PacedPipe, Vec<u8>)>, OwnedFd) {
        let (read_end, write_end) = rustix::pipe::pipe().expect("pipe");
        let mut pipe = PacedPipe::new(read_end, MIB, NapTimer::tokio()).expect("paced pipe");
        if busy {
            // A write that woke the reader at once (the clock is paused): writes come fast.
            let reader = read_once(pipe);
            settle().await;
            write(&write_end, b"a");
            let (back, got) = reader.await.expect("reader");
            assert_eq!(got, b"a");
            pipe = back;
        }
        let reader = read_once(pipe);
        settle().await;
        (reader, write_end)
    }

    #[tokio::test(start_paused = true)]
    async fn writes_during_a_nap_wake_nobody_and_are_read_together_once_it_is_over() {
        let (reader, write_end) = waiting_reader(true).await;
        write(&write_end, b"c");
        settle().await;
        write(&write_end, b"d");
        settle().await;
        assert!(
            !reader.is_finished(),
            "napping: the writes did not wake the reader"
        );
        tokio::time::advance(BUSY_GAP).await;
        let (_, got) = reader.await.expect("reader");
        assert_eq!(got, b"cd");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_to_a_quiet_pipe_is_read_at_once() {
        let (reader, write_end) = waiting_reader(false).await;
        write(&write_end, b"c");
        settle().await;
        assert!(reader.is_finished(), "the write woke the reader");
        let (_, got) = reader.await.expect("reader");
        assert_eq!(got, b"c");
    }

    #[tokio::test(start_paused = true)]
    async fn a_nap_that_finds_nothing_puts_the_pipe_back_on_the_reactor() {
        let (reader, write_end) = waiting_reader(true).await;
        // The nap passes with nothing written; the reader then waits for readiness.
        tokio::time::advance(BUSY_GAP * 2).await;
        settle().await;
        assert!(!reader.is_finished());
        write(&write_end, b"e");
        settle().await;
        assert!(
            reader.is_finished(),
            "back on the reactor: the write woke the reader"
        );
        let (_, got) = reader.await.expect("reader");
        assert_eq!(got, b"e");
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_the_stream_is_seen_during_a_nap_and_after_it() {
        let (reader, write_end) = waiting_reader(true).await;
        write(&write_end, b"f");
        drop(write_end);
        tokio::time::advance(BUSY_GAP).await;
        let (pipe, got) = reader.await.expect("reader");
        assert_eq!(got, b"f");
        let (_, got) = read_once(pipe).await.expect("reader");
        assert!(got.is_empty(), "end of stream");
    }

    #[test]
    fn a_small_or_unknown_pipe_is_never_paced() {
        for capacity in [0, 64 * 1024] {
            let mut pace = Pace::new(capacity, BUSY_GAP);
            pace.woke_after(Duration::ZERO);
            pace.read(10);
            assert_eq!(pace.wait(), WaitFor::Readiness, "{capacity}");
        }
    }
}
