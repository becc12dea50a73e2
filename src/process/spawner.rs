//! The spawner thread: every process child is forked from one thread that lives as long as
//! the process.
//!
//! Linux's parent-death signal (`PR_SET_PDEATHSIG`) fires when the **thread** that forked the
//! child exits, not the process. Tokio's worker threads do exit while the process runs (a
//! task that calls `block_in_place` hands its worker's role to a new thread; blocking-pool
//! threads end after 10 s idle; a runtime shut down before the process ends takes its
//! threads with it), and a child forked from one of them would be killed though its
//! supervisor is healthy. So the fork happens here, on a thread started on first use that
//! never exits.
//!
//! Only commands with a parent-death signal (the default) are spawned here: for the others
//! the forking thread does not matter, and they are spawned from the calling thread.
//!
//! Cost per spawn: the command and a Tokio runtime handle are sent to the thread over a
//! channel it blocks on, and the `Child` (or the error) comes back through a oneshot channel:
//! two thread wake-ups and two small allocations (the channel's message slot is amortised,
//! the oneshot is one `Arc`), next to a `fork`/`exec` that costs far more. Spawns are
//! serialised on the one thread, which on Linux they largely are anyway (`fork` takes the
//! process's memory-map lock).

use std::io;

/// Spawns `cmd` from the spawner thread (see the module docs) where a parent-death signal
/// can be set (Linux, Android), from the calling thread elsewhere. Must be called within a
/// Tokio runtime, with which the child is registered.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) async fn spawn(cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job {
        cmd,
        runtime: tokio::runtime::Handle::current(),
        reply,
    };
    thread::send(job)?;
    match answer.await {
        Ok(spawned) => spawned.map(Spawned::into_child),
        Err(_) => Err(io::Error::other(
            "the spawner thread dropped a spawn request",
        )),
    }
}

/// A child on its way from the spawner thread to the run that asked for it. If it never gets
/// there (the run was dropped while the answer was in flight, e.g. its runtime shut down), it
/// is dropped with the answer, and then kills the child's whole process group, not only the
/// leader as dropping a `Child` with `kill_on_drop` would: the leader is not reaped yet, so
/// the pgid is still its own (the invariant on `Group`). Without this, the members the
/// leader had started by then were left running, orphaned.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) struct Spawned {
    child: Option<tokio::process::Child>,
    runtime: tokio::runtime::Handle,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Spawned {
    fn into_child(mut self) -> tokio::process::Child {
        self.child
            .take()
            .expect("a spawned child is taken once, by the run that asked for it")
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            thread::abandon(child, &self.runtime);
        }
    }
}

/// Elsewhere there is no parent-death signal: spawn from the calling thread.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) async fn spawn(mut cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    cmd.spawn()
}

/// One spawn for the thread to do.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct Job {
    cmd: tokio::process::Command,
    /// The runtime of the caller, with whose process driver the child is registered.
    runtime: tokio::runtime::Handle,
    reply: tokio::sync::oneshot::Sender<io::Result<Spawned>>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod thread {
    use std::io;
    use std::sync::Mutex;
    use std::sync::mpsc::{Sender, channel};

    use super::{Job, Spawned};

    /// The thread's stack: it only builds the `exec` arguments (on the heap) and forks.
    const STACK_SIZE: usize = 256 * 1024;

    /// The channel to the spawner thread, made with the thread on first use.
    static SPAWNER: Mutex<Option<Sender<Job>>> = Mutex::new(None);

    /// Hands `job` to the spawner thread, starting it if it is not running.
    pub(super) fn send(job: Job) -> io::Result<()> {
        let mut spawner = SPAWNER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let job = match spawner.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                // The thread is gone (it cannot panic, see `serve`; but should it): start
                // another.
                Err(returned) => returned.0,
            },
            None => job,
        };
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("overseer-spawner".into())
            .stack_size(STACK_SIZE)
            .spawn(move || serve(rx))?;
        tx.send(job)
            .map_err(|_| io::Error::other("the spawner thread ended at once"))?;
        *spawner = Some(tx);
        Ok(())
    }

    /// Kills the group of `child`, whose leader is not reaped, then drops it (Tokio's orphan
    /// reaper reaps the leader).
    pub(super) fn abandon(child: tokio::process::Child, runtime: &tokio::runtime::Handle) {
        let _runtime = runtime.enter();
        if let Some(pgid) = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        drop(child);
    }

    /// The thread's loop: blocks until a job comes, spawns it within its runtime, answers.
    /// Never returns while the channel's sender lives, which is as long as the process.
    fn serve(jobs: std::sync::mpsc::Receiver<Job>) {
        for Job {
            mut cmd,
            runtime,
            reply,
        } in jobs
        {
            let child = {
                let _runtime = runtime.enter();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd.spawn()))
                    .unwrap_or_else(|_| Err(io::Error::other("spawning the process panicked")))
            };
            // Should the caller have stopped waiting (its run was dropped), before or after
            // this send, the `Spawned` kills the group as it is dropped.
            let _ = reply.send(child.map(|child| Spawned {
                child: Some(child),
                runtime,
            }));
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;

    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with(|c| c != 'Z'))
            })
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn a_spawned_child_that_never_reaches_its_run_takes_its_whole_group_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("member");
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", file.display()))
            .process_group(0)
            .kill_on_drop(true);
        let spawned = Spawned {
            child: Some(cmd.spawn().unwrap()),
            runtime: tokio::runtime::Handle::current(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let member: i32 = loop {
            if let Some(pid) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break pid;
            }
            assert!(tokio::time::Instant::now() < deadline, "no member started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(alive(member));
        // Dropped on its way, as with the answer of a run that was dropped meanwhile.
        drop(spawned);
        while alive(member) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the member outlived the leader"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
