//! The one-shot timer of a [`PacedPipe`](super::pipe::PacedPipe)'s naps.
//!
//! A nap must be short: while it lasts the child's output piles up in the pipe, and on a
//! machine whose cores are all busy (the child's pipeline, the supervisor) the batch a nap
//! collects is written to the log file in one burst instead of alongside the child. Tokio's
//! timers fire on millisecond ticks, so a nap asked of them lasts 1–2 ms. On Linux a nap is a
//! `timerfd` instead, registered with Tokio's reactor: as exact as the kernel's high-resolution
//! timers, at one `timerfd_settime(2)` and one `read(2)` per nap, and one file descriptor per
//! busy pipe, made at its first nap and kept until the pipe is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a nap lasts with a precise timer (Linux): the length that kept the throughput of
/// a fast writer close to a shell redirect's at little CPU, among those measured (shorter naps
/// cost more wake-ups for every busy pipe, longer ones let the output pile up). The
/// measurement and its command (`process_figures --only output --variants shell,paced_loop
/// --nap-us N`) are in docs/benchmark-log.md.
pub(crate) const PRECISE_NAP: Duration = Duration::from_micros(250);

/// A nap asked of Tokio's timer (where there is no precise one): as short as it goes, i.e.
/// until the timer's next millisecond tick or the one after.
pub(crate) const TOKIO_NAP: Duration = Duration::from_micros(1);

/// A timer for one nap at a time.
pub(crate) enum NapTimer {
    /// A `timerfd` on Tokio's reactor; `None` until the first nap.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Precise(Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>),
    /// Tokio's timer: made at the first nap, reset for each later one.
    Tokio(Option<Pin<Box<tokio::time::Sleep>>>),
}

impl NapTimer {
    /// The most precise timer the platform has.
    pub(crate) fn precise() -> Self {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return NapTimer::Precise(None);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return NapTimer::Tokio(None);
    }

    /// Tokio's timer, which follows a paused clock (tests).
    #[cfg(test)]
    pub(crate) fn tokio() -> Self {
        NapTimer::Tokio(None)
    }

    /// About how long a nap lasts: [`PRECISE_NAP`], or 1 ms with Tokio's timer (whose naps
    /// last 1–2 ms).
    pub(crate) fn nap_length(&self) -> Duration {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            NapTimer::Precise(_) => PRECISE_NAP,
            NapTimer::Tokio(_) => Duration::from_millis(1),
        }
    }

    /// Starts a nap, replacing any nap not yet over. If the precise timer cannot be made or
    /// set (no file descriptor left), this and every later nap fall back to Tokio's timer.
    pub(crate) fn start(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let NapTimer::Precise(timer) = self {
            match precise::arm(timer, PRECISE_NAP) {
                Ok(()) => return,
                Err(error) => {
                    tracing::debug!(%error, "no precise timer for output naps; using Tokio's");
                    *self = NapTimer::Tokio(None);
                }
            }
        }
        if let NapTimer::Tokio(sleep) = self {
            let at = tokio::time::Instant::now() + TOKIO_NAP;
            match sleep {
                Some(sleep) => sleep.as_mut().reset(at),
                None => *sleep = Some(Box::pin(tokio::time::sleep_until(at))),
            }
        }
    }

    /// Ready once the nap started last is over (at once if none was started). An error of the
    /// timer ends the nap early: the pipe is then read sooner, never later.
    pub(crate) fn poll_over(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            NapTimer::Precise(Some(timer)) => precise::poll_expired(timer, cx),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            NapTimer::Precise(None) => Poll::Ready(()),
            NapTimer::Tokio(Some(sleep)) => sleep.as_mut().poll(cx),
            NapTimer::Tokio(None) => Poll::Ready(()),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod precise {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::task::{Context, Poll, ready};
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// Sets `timer` (made on first use) to expire once, `nap` from now. Setting it also
    /// clears an expiry not yet read.
    pub(super) fn arm(timer: &mut Option<AsyncFd<OwnedFd>>, nap: Duration) -> io::Result<()> {
        let timer = match timer {
            Some(timer) => timer,
            None => {
                let fd = timerfd_create(
                    TimerfdClockId::Monotonic,
                    TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
                )?;
                // SAFETY: the timer's `OwnedFd` is moved into the `AsyncFd`, which owns it
                // until the timer is dropped; nothing else closes or replaces it.
                let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
                timer.insert(registered.map_err(|e| e.into_parts().1)?)
            }
        };
        let once = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: nap.as_secs().try_into().unwrap_or(i64::MAX),
                // At least 1 ns: 0 would disarm the timer.
                tv_nsec: nap.subsec_nanos().max(1).into(),
            },
        };
        timerfd_settime(timer.get_ref(), TimerfdTimerFlags::empty(), &once)?;
        Ok(())
    }

    /// Ready once the timer has expired; its expiry is read, so a report of the reactor that
    /// comes late (from an earlier nap) is told apart by the read finding nothing.
    pub(super) fn poll_expired(timer: &AsyncFd<OwnedFd>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Ok(mut guard) = ready!(timer.poll_read_ready(cx)) else {
                return Poll::Ready(());
            };
            let mut expirations = [0u8; 8];
            match rustix::io::read(timer.get_ref(), &mut expirations) {
                Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                Err(rustix::io::Errno::INTR) => {}
                // Expired, or the timer failed: either way the nap is over.
                _ => return Poll::Ready(()),
            }
        }
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_precise_nap_ends_after_its_length() {
        let mut timer = NapTimer::precise();
        for _ in 0..3 {
            let began = std::time::Instant::now();
            timer.start();
            std::future::poll_fn(|cx| timer.poll_over(cx)).await;
            assert!(began.elapsed() >= PRECISE_NAP);
        }
    }

    #[tokio::test]
    async fn a_nap_started_again_before_it_ended_ends_once() {
        let mut timer = NapTimer::precise();
        timer.start();
        timer.start();
        std::future::poll_fn(|cx| timer.poll_over(cx)).await;
        // The first setting's expiry was replaced, not queued: the next nap waits again.
        let began = std::time::Instant::now();
        timer.start();
        std::future::poll_fn(|cx| timer.poll_over(cx)).await;
        assert!(began.elapsed() >= PRECISE_NAP);
    }

    #[tokio::test]
    async fn a_timer_never_started_is_over_at_once() {
        let mut timer = NapTimer::precise();
        std::future::poll_fn(|cx| timer.poll_over(cx)).await;
    }
}
