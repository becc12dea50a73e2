//! A spawned process group: its leader, signals to the whole group, the stop sequence (for
//! the leader and for whatever is left of the group after it), and the drop guard that kills
//! the group when a run is abandoned.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, kill_process_group, test_kill_process_group};
use tokio::time::Instant;

use super::signal::Signal;
use super::{ends, stats};

/// The longest pause between two looks at whether members of a group are left after its
/// leader has exited, where their end cannot be waited for by event. The looks start 1 ms
/// apart and double up to this.
const MEMBER_PROBE_MAX_INTERVAL: Duration = Duration::from_millis(50);

/// How often the members of a group are listed again while their end is waited for by
/// event: a member that left the group, or whose pid was reused, is then no longer waited
/// for.
const MEMBER_RESCAN_INTERVAL: Duration = Duration::from_millis(100);

/// A process spawned as the leader of its own process group (pgid = its pid).
///
/// Invariant: the group is signalled while the leader is unreaped (alive or a zombie), which
/// keeps its pid, hence the pgid, from being reused; after the leader is reaped, only right
/// after a probe (`kill(-pgid, 0)`) found members left. Linux does not reuse a pid while any
/// process still has it as its process group id, so the only exposure is the moment between
/// such a probe and the signal, in which the last member would have to exit and its pid be
/// handed to a new group leader. Dropping a `Group` whose leader was not reaped, or whose
/// leftover members were not dealt with, SIGKILLs the whole group; an unreaped leader is then
/// handed to Tokio's orphan reaper.
pub(crate) struct Group {
    child: tokio::process::Child,
    pgid: Pid,
    reaped: bool,
    /// Nothing of the group is left to signal: the leader is reaped and the rest of the group
    /// has exited or been SIGKILLed.
    settled: bool,
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
            settled: false,
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

    /// Waits for the leader to exit (driven by its pidfd or SIGCHLD, no polling) and reaps
    /// it. The rest of the group may still run: follow with [`settle`](Self::settle). Cancel
    /// safe: dropping the future loses nothing.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.reaped = true;
        Ok(status)
    }

    /// After the leader has exited: what is left of the group gets `signal` (if any; `None`
    /// when it already got the stop signal) followed by `SIGCONT`, and until `deadline` to
    /// end; then the whole group gets `SIGKILL`. Returns at once when nobody is left, the
    /// usual case. Members that have ended but wait, as zombies, for a parent that does not
    /// reap them (some containers' init) count as gone; when only such members are found,
    /// the group still gets a `SIGKILL` (harmless to zombies; it ends a process whose main
    /// thread has exited while its other threads run, which `/proc` shows as a zombie).
    ///
    /// Cost: one `kill(-pgid, 0)` when the group is empty. While members are left: a scan of
    /// `/proc` to find them (see [`stats::live_members`]) and a pidfd per member to wait for
    /// their end by event, scanning again when they have ended (for members they started in
    /// the meantime) and at least every [`MEMBER_RESCAN_INTERVAL`] (for members that left the
    /// group, or whose pid was reused, which would otherwise be waited for in vain). Where
    /// members cannot be found or watched (no `/proc`, no pidfds), the group is probed with
    /// `kill(-pgid, 0)` 1, 2, 4 … up to [`MEMBER_PROBE_MAX_INTERVAL`] apart.
    ///
    /// The stop signal's control messages are not read meanwhile: a stop requested during
    /// this grace period ends with it, at the latest at `deadline`.
    pub(crate) async fn settle(&mut self, signal: Option<Signal>, deadline: Instant) {
        if self.settled || !self.reaped {
            return;
        }
        let mut signal = signal;
        let mut pause = Duration::from_millis(1);
        loop {
            if !self.has_members() {
                self.settled = true;
                return;
            }
            let members = stats::live_members(self.pid());
            if members.as_ref().is_some_and(Vec::is_empty) {
                // Only zombies, as far as `/proc` tells: see above. Probed just before.
                self.kill_group(Signal::KILL);
                self.settled = true;
                return;
            }
            if let Some(signal) = signal.take()
                && self.has_members()
            {
                self.kill_group(signal);
                if signal != Signal::KILL {
                    self.kill_group(Signal::CONT);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let look_again = (now + MEMBER_RESCAN_INTERVAL).min(deadline);
            let by_event = match &members {
                Some(pids) => {
                    // `Err`: time to look again; the loop then checks the deadline.
                    tokio::time::timeout_at(look_again, ends::all_ended(pids))
                        .await
                        .unwrap_or(true)
                }
                None => false,
            };
            if !by_event {
                tokio::time::sleep_until((now + pause).min(deadline)).await;
                pause = (pause * 2).min(MEMBER_PROBE_MAX_INTERVAL);
            }
        }
        // Looked at again right before the signal (see the invariant on `Group`).
        if self.has_members() {
            tracing::debug!(
                pgid = self.pid(),
                "members of the group outlived the stop timeout; killing them"
            );
            self.kill_group(Signal::KILL);
        }
        self.settled = true;
    }

    /// Whether any process still belongs to the group (zombies included).
    fn has_members(&self) -> bool {
        match test_kill_process_group(self.pgid) {
            Ok(()) => true,
            Err(rustix::io::Errno::SRCH) => false,
            Err(e) => {
                // EPERM: a member we may not signal (it changed its user); nothing we can do.
                tracing::warn!(pgid = self.pid(), error = %e, "cannot probe process group");
                false
            }
        }
    }

    /// Stops the group: `signal` (then `SIGCONT`, so that stopped processes see it) to the
    /// whole group, up to `timeout` for the leader to exit and, within the same `timeout`, for
    /// the rest of the group; then SIGKILL to the whole group. Returns the leader's exit
    /// status.
    pub(crate) async fn stop(
        &mut self,
        signal: Signal,
        timeout: Duration,
    ) -> io::Result<ExitStatus> {
        let deadline = crate::deadline::from_now_or_far(timeout);
        self.signal(signal);
        if signal != Signal::KILL {
            self.signal(Signal::CONT);
        }
        let status = match tokio::time::timeout_at(deadline, self.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                tracing::debug!(
                    pgid = self.pid(),
                    ?timeout,
                    "stop timed out; killing the group"
                );
                self.signal(Signal::KILL);
                self.wait().await?
            }
        };
        self.settle(None, deadline).await;
        Ok(status)
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
        } else if !self.settled && self.has_members() {
            // Abandoned while the rest of the group had its grace period.
            self.kill_group(Signal::KILL);
        }
    }
}
