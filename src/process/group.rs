//! A spawned process group: its leader, signals to the whole group, the stop sequence, and the
//! drop guard that kills the group when a run is abandoned.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, kill_process_group};

use super::signal::Signal;

/// A process spawned as the leader of its own process group (pgid = its pid).
///
/// Invariant: the group is signalled only while the leader is unreaped (alive or a zombie),
/// which keeps its pid, hence the pgid, from being reused — and once more right after the
/// leader is reaped, to kill what is left of the group. Dropping a `Group` whose leader was
/// not reaped SIGKILLs the whole group and hands the leader to Tokio's orphan reaper.
pub(crate) struct Group {
    child: tokio::process::Child,
    pgid: Pid,
    reaped: bool,
}

impl Group {
    /// Spawns `cmd`, which must have been configured with `process_group(0)`.
    pub(crate) fn spawn(cmd: &mut tokio::process::Command) -> io::Result<Group> {
        let child = cmd.spawn()?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| io::Error::other("spawned process has no valid pid"))?;
        Ok(Group {
            child,
            pgid,
            reaped: false,
        })
    }

    /// The leader's pid, which is also the group's id.
    pub(crate) fn pid(&self) -> u32 {
        self.pgid.as_raw_nonzero().get().unsigned_abs()
    }

    /// The leader's child handle, to take its pipes.
    pub(crate) fn child_mut(&mut self) -> &mut tokio::process::Child {
        &mut self.child
    }

    /// Sends `signal` to every process of the group. Does nothing once the leader is reaped.
    pub(crate) fn signal(&self, signal: Signal) {
        if !self.reaped {
            self.kill_group(signal);
        }
    }

    fn kill_group(&self, signal: Signal) {
        match kill_process_group(self.pgid, signal.to_rustix()) {
            Ok(()) => tracing::debug!(pgid = self.pid(), %signal, "signalled process group"),
            // Nobody left in the group: nothing to do.
            Err(rustix::io::Errno::SRCH) => {}
            Err(e) => {
                tracing::warn!(pgid = self.pid(), %signal, error = %e, "cannot signal process group")
            }
        }
    }

    /// Waits for the leader to exit (driven by SIGCHLD, no polling), reaps it, then SIGKILLs
    /// whatever is left of its group. Cancel safe: dropping the future loses nothing.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        if !self.reaped {
            self.reaped = true;
            // The leader is gone; its group must not outlive it.
            self.kill_group(Signal::KILL);
        }
        Ok(status)
    }

    /// Stops the group: `signal` (then `SIGCONT`, so that stopped processes see it) to the
    /// whole group, up to `timeout` for the leader to exit, then SIGKILL to the whole group,
    /// whether or not the leader had exited. Returns the leader's exit status.
    pub(crate) async fn stop(
        &mut self,
        signal: Signal,
        timeout: Duration,
    ) -> io::Result<ExitStatus> {
        self.signal(signal);
        if signal != Signal::KILL {
            self.signal(Signal::CONT);
        }
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(status) => status,
            Err(_) => {
                tracing::debug!(
                    pgid = self.pid(),
                    ?timeout,
                    "stop timed out; killing the group"
                );
                self.signal(Signal::KILL);
                self.wait().await
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            // The run was abandoned (aborted by its manager, or its future dropped). The leader
            // is not reaped, so the pgid is still ours: kill the whole group. Dropping `child`
            // then queues the leader for Tokio's orphan reaper, which reaps it on the next
            // SIGCHLD; grandchildren are reparented to init (or a subreaper), which reaps them.
            self.kill_group(Signal::KILL);
        }
    }
}
