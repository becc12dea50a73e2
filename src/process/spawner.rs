//! The spawner thread: every process child with a parent-death signal is started from one
//! thread that lives as long as the process; the same thread reaps the leaders of abandoned
//! runs that were started on the fast path.
//!
//! Linux's parent-death signal (`PR_SET_PDEATHSIG`) fires when the **thread** that started
//! the child exits, not the process. Tokio's worker threads do exit while the process runs (a
//! task that calls `block_in_place` hands its worker's role to a new thread; blocking-pool
//! threads end after 10 s idle; a runtime shut down before the process ends takes its
//! threads with it), and a child started from one of them would be killed though its
//! supervisor is healthy. So the spawn happens here, on a thread started on first use that
//! never exits.
//!
//! Only commands with a parent-death signal (the default) are spawned here: for the others
//! the starting thread does not matter, and they are spawned from the calling thread.
//!
//! What a spawn costs depends on the path (see [`spawn`](super::spawn)): on the fast path
//! (Linux with pidfds) a `clone(CLONE_VM | CLONE_VFORK)` that copies no page table, as
//! `posix_spawn` does, whether or not the command sets a parent-death signal; on the fallback
//! path a parent-death signal makes std `fork` instead of `posix_spawn`, which copies the
//! supervisor's page tables (about 0.4–0.5 ms per spawn on the project's machine).
//!
//! The hand-off costs, per spawn: the job (one boxed closure) is sent to the thread over a
//! channel it blocks on, and the result comes back through a oneshot channel: two thread
//! wake-ups and two small allocations, next to a spawn that costs far more. Spawns are
//! serialised on the one thread. The caller's thread is free meanwhile: a hand-off that
//! blocked it until the spawn was done measured no faster (docs/benchmark-log.md,
//! 2026-12-03), and would let one hung `exec` freeze every Tokio worker that spawns.
//!
//! **Reaping.** A run abandoned while its leader, started on the fast path, still runs (its
//! future dropped) SIGKILLs the group and hands the leader's pidfd here
//! ([`reap_later`]); Tokio's orphan reaper does the same for the fallback path's leaders.
//! While such leaders are left, the thread looks at them 1, 2, 4 … up to 100 ms apart
//! between jobs, and reaps those that have exited; with none left it blocks until the next
//! job.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// The thread's stack: jobs build the `exec` arguments on the heap; the child of a fast-path
/// spawn runs on a stack of its own.
const STACK_SIZE: usize = 256 * 1024;

/// The first pause between two looks at the leaders left to reap; it doubles up to
/// [`REAP_MAX_PAUSE`].
const REAP_MIN_PAUSE: Duration = Duration::from_millis(1);
const REAP_MAX_PAUSE: Duration = Duration::from_millis(100);

/// What the thread is asked to do.
enum Msg {
    /// Run this job (a spawn; it answers its caller itself).
    Run(Box<dyn FnOnce() + Send>),
    /// Reap this exited-or-dying child of ours, by its pidfd, once it has exited.
    Reap(OwnedFd),
}

/// The channel to the spawner thread, made with the thread on first use.
static SPAWNER: Mutex<Option<Sender<Msg>>> = Mutex::new(None);

/// Runs `job` on the spawner thread and returns what it returns. If the caller stops waiting
/// (its future is dropped) before it has the result, the result is dropped, on the spawner
/// thread or on the caller's: a result that must not be lost cleans up as it is dropped (see
/// [`Answer`](super::spawn::Answer)). Must not be called from the spawner thread.
pub(crate) async fn run<T, J>(job: J) -> io::Result<T>
where
    T: Send + 'static,
    J: FnOnce() -> T + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    send(Msg::Run(Box::new(move || {
        // Refused when the caller is gone: the result is dropped here.
        let _ = reply.send(job());
    })))?;
    answer
        .await
        .map_err(|_| io::Error::other("the spawn panicked on the spawner thread"))
}

/// Hands `pidfd`, of a child of ours that was SIGKILLed or has exited but is not reaped yet,
/// to the spawner thread, which reaps it once it has exited. Without the thread (it cannot be
/// started) the child stays a zombie until the supervisor exits; logged.
pub(crate) fn reap_later(pidfd: OwnedFd) {
    if let Err(e) = send(Msg::Reap(pidfd)) {
        tracing::warn!(error = %e, "cannot hand an abandoned process to the spawner thread; it stays a zombie");
    }
}

/// Hands `msg` to the spawner thread, starting it if it is not running.
fn send(msg: Msg) -> io::Result<()> {
    let mut spawner = crate::lock::lock(&SPAWNER);
    let msg = match spawner.as_ref() {
        Some(tx) => match tx.send(msg) {
            Ok(()) => return Ok(()),
            // The thread is gone (it cannot panic, see `serve`; but should it): start
            // another.
            Err(returned) => returned.0,
        },
        None => msg,
    };
    let (tx, rx) = channel::<Msg>();
    std::thread::Builder::new()
        .name("overseer-spawner".into())
        .stack_size(STACK_SIZE)
        .spawn(move || serve(rx))?;
    tx.send(msg)
        .map_err(|_| io::Error::other("the spawner thread ended at once"))?;
    *spawner = Some(tx);
    Ok(())
}

/// The thread's loop: runs jobs as they come, and reaps the children handed to it. Never
/// returns while the channel's sender lives, which is as long as the process.
fn serve(jobs: Receiver<Msg>) {
    let mut orphans: Vec<OwnedFd> = Vec::new();
    let mut pause = REAP_MIN_PAUSE;
    loop {
        let msg = if orphans.is_empty() {
            match jobs.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return,
            }
        } else {
            match jobs.recv_timeout(pause) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => {
                    pause = (pause * 2).min(REAP_MAX_PAUSE);
                    None
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        match msg {
            Some(Msg::Run(job)) => {
                // A panicking job drops its reply: its caller gets an error.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Some(Msg::Reap(pidfd)) => {
                orphans.push(pidfd);
                pause = REAP_MIN_PAUSE;
            }
            None => {}
        }
        orphans.retain(|pidfd| !reaped(pidfd));
    }
}

/// Reaps `pidfd`'s process if it has exited; `true` when it is reaped (or not ours to reap).
#[cfg(target_os = "linux")]
fn reaped(pidfd: &OwnedFd) -> bool {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
    match waitid(WaitId::PidFd(std::os::fd::AsFd::as_fd(pidfd)), options) {
        Ok(Some(_)) => {
            tracing::debug!("reaped the leader of an abandoned run");
            true
        }
        Ok(None) => false,
        Err(rustix::io::Errno::INTR) => false,
        Err(e) => {
            // ECHILD: reaped by someone else. Anything else will not get better.
            tracing::debug!(error = %e, "cannot reap the leader of an abandoned run");
            true
        }
    }
}

/// Only the fast path (Linux) hands children over; nothing to reap elsewhere.
#[cfg(not(target_os = "linux"))]
fn reaped(_pidfd: &OwnedFd) -> bool {
    true
}
