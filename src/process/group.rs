//! A spawned process group: its leader, signals to the whole group, the stop sequence (for
//! the leader and for whatever is left of the group after it), and the drop guard that kills
//! the group when a run is abandoned.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, kill_process_group, test_kill_process_group};
#[cfg(target_os = "linux")]
use rustix::process::{WaitId, WaitIdOptions, waitid};
use tokio::time::Instant;

use super::containment::{self, Contained};
use super::signal::Signal;
use super::spawn::{self, Prepared, Spawned};
use super::{ends, stats};

/// The longest pause between two looks at whether members of a group are left after its
/// leader has exited, where their end cannot be waited for by event. The looks start 1 ms
/// apart and double up to this.
const MEMBER_PROBE_MAX_INTERVAL: Duration = Duration::from_millis(50);

/// How often the members of a group are listed again while their end is waited for by
/// event: a member that left the group, or whose pid was reused, is then no longer waited
/// for.
const MEMBER_RESCAN_INTERVAL: Duration = Duration::from_millis(100);

/// After the group got `SIGKILL`, how long its members may take to be gone before a warning
/// is logged (they are still waited for). `SIGKILL` takes effect when a process next returns
/// to user space: one in uninterruptible sleep (`D` state, e.g. on a hung network file
/// system) can take much longer.
const SLOW_KILL_WARNING: Duration = Duration::from_secs(1);

/// How the identity of a group is held while it is signalled (SPEC B2: never a signal to a
/// process group whose identity is not held). Chosen at spawn, the strongest the system
/// offers.
enum Hold {
    /// Linux 6.9 and later: a pidfd of the leader. Every signal to the group goes through it
    /// ([`pidfd::signal_group`](super::pidfd::signal_group)) and can only reach the processes
    /// whose group is the leader's, before and after the leader is reaped, whatever process
    /// got the same number since. The leader is reaped as soon as it has exited; whether
    /// members are left costs one system call.
    #[cfg(target_os = "linux")]
    PidfdGroup(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
    /// Linux 5.4 to 6.8: a pidfd of the leader, whose exit is read without reaping it
    /// (`waitid(P_PIDFD, WEXITED | WNOWAIT)`). The zombie keeps its pid, hence the pgid, from
    /// being handed to another process while the rest of the group is settled, so
    /// `kill(-pgid)` reaches only our group; the leader is reaped once the group is settled.
    /// Because the zombie answers `kill(-pgid, 0)`, members are found by a scan of `/proc`.
    #[cfg(target_os = "linux")]
    Zombie(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
    /// No pidfds (another system, a kernel before 5.3, a seccomp filter): the leader is
    /// reaped when it exits, through Tokio. The weaker guarantee: after that, members are
    /// found with `kill(-pgid, 0)` and signalled right after such a probe found some; if in
    /// between the last member exits and its pid becomes the id of a new process group, that
    /// group gets the signal. The drop guard no longer signals once the leader is reaped.
    Probe,
}

/// Where the leader is.
#[derive(Clone, Copy)]
enum Leader {
    /// Not known to have exited.
    Running,
    /// Exited and kept a zombie ([`Hold::Zombie`]), with its status.
    Zombie(ExitStatus),
    /// Reaped, with its status.
    Reaped(ExitStatus),
}

/// What is left of a group after its leader has exited.
enum Left {
    /// Nobody.
    Nobody,
    /// Only members that have ended but wait, as zombies, for a parent that does not reap
    /// them (some containers' init).
    OnlyZombies,
    /// Live members: their pids, or `None` where they cannot be listed (no `/proc`).
    Live(Option<Vec<u32>>),
}

/// The leader as it was spawned (see [`spawn`]), which decides who reaps it.
enum Process {
    /// On the fallback path, through std and Tokio: reaped through Tokio (`wait`, `try_wait`,
    /// and its orphan reaper when the `Child` is dropped).
    Std(tokio::process::Child),
    /// On the fast path: reaped here, by pid (our unreaped child's pid cannot be handed to
    /// another process); when the group is abandoned, by the
    /// [spawner thread](super::spawner::reap_later). Its pidfd is in the [`Hold`], always a
    /// pidfd one. Holds the read ends of its piped output streams until they are taken.
    #[cfg(target_os = "linux")]
    Cloned {
        stdout: Option<std::os::fd::OwnedFd>,
        stderr: Option<std::os::fd::OwnedFd>,
    },
}

/// A process spawned as the leader of its own process group (pgid = its pid).
///
/// Invariant: **a signal reaches the group only while its identity is held** (see [`Hold`]):
/// - while the leader is unreaped, alive or a zombie, its pid, hence the pgid, cannot be
///   handed to another process, so `kill(-pgid)` reaches only our group;
/// - on Linux 6.9 and later, signals go through a pidfd of the leader, which can only reach
///   the group it led, also after the leader is reaped;
/// - on Linux 5.4 to 6.8, the leader is kept a zombie until the rest of the group is
///   settled ([`settle`](Self::settle)) and reaped only then;
/// - without pidfds, the leader is reaped when it exits and what is left of the group is
///   signalled right after a probe (`kill(-pgid, 0)`) found members: the exposure is the
///   moment between the probe and the signal, in which the last member would have to exit and
///   its pid be handed to a new group leader.
///
/// Dropping a `Group` whose group was not settled SIGKILLs the whole group while its
/// identity is held (an unreaped leader is then reaped once it has exited, by the spawner
/// thread or Tokio's orphan reaper, see [`Process`]), and does nothing once it is not.
pub(crate) struct Group {
    process: Process,
    pgid: Pid,
    hold: Hold,
    leader: Leader,
    /// Nothing of the group is left to signal: the leader is reaped and the rest of the group
    /// has exited.
    settled: bool,
    /// The run's processes beyond the group, where they are contained.
    contained: Option<Contained>,
}

/// How a group's identity is to be held; tests force the weaker ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strength {
    /// The strongest the system offers.
    Best,
    /// At most [`Hold::Zombie`].
    #[cfg(test)]
    Zombie,
    /// [`Hold::Probe`].
    #[cfg(test)]
    Probe,
}

impl Group {
    /// Spawns `prepared` as the leader of a new process group (see
    /// [`spawn`](super::spawn::spawn) for the paths and the threads).
    pub(crate) async fn spawn(prepared: Prepared) -> io::Result<Group> {
        Self::spawn_holding(prepared, Strength::Best).await
    }

    /// Spawns `prepared` holding the group's identity at most as strongly as `strength`
    /// says. `Strength::Probe` (no pidfds, tests) also means the fallback path, which is the only
    /// one without pidfds.
    pub(crate) async fn spawn_holding(
        #[allow(unused_mut)] mut prepared: Prepared,
        strength: Strength,
    ) -> io::Result<Group> {
        #[cfg(test)]
        if strength == Strength::Probe {
            prepared.force_fallback = true;
        }
        let (process, pgid, hold) = match spawn::spawn(prepared).await? {
            Spawned::Std(child) => {
                let pgid = child
                    .id()
                    .and_then(|id| i32::try_from(id).ok())
                    .and_then(Pid::from_raw)
                    .ok_or_else(|| io::Error::other("spawned process has no valid pid"))?;
                (Process::Std(child), pgid, hold(pgid, None, strength))
            }
            #[cfg(target_os = "linux")]
            Spawned::Cloned(cloned) => {
                let pgid = cloned.pid;
                let hold = hold(pgid, Some(cloned.pidfd), strength);
                if matches!(hold, Hold::Probe) {
                    // Only a pidfd can wait for it, and it could not be watched (no I/O
                    // driver in the runtime?): give up on it.
                    let _ = kill_process_group(pgid, Signal::KILL.to_rustix());
                    reap_by_pid(pgid, WaitIdOptions::EXITED);
                    return Err(io::Error::other(
                        "cannot watch the pidfd of the spawned process",
                    ));
                }
                let process = Process::Cloned {
                    stdout: cloned.stdout,
                    stderr: cloned.stderr,
                };
                (process, pgid, hold)
            }
        };
        Ok(Group {
            process,
            pgid,
            hold,
            leader: Leader::Running,
            settled: false,
            contained: None,
        })
    }

    /// Extends the stop sequence to the run's processes outside the group (see
    /// [`Containment`](super::Containment)): they get the group's signals, are waited for
    /// with it, SIGKILLed with it, and reaped.
    pub(crate) fn contain(&mut self, contained: Option<Contained>) {
        self.contained = contained;
    }

    /// Whether the leader was spawned on the fast path (tests).
    #[cfg(test)]
    pub(crate) fn spawned_by_clone(&self) -> bool {
        match self.process {
            Process::Std(_) => false,
            #[cfg(target_os = "linux")]
            Process::Cloned { .. } => true,
        }
    }

    /// The leader's pid, which is also the group's id.
    pub(crate) fn pid(&self) -> u32 {
        self.pgid.as_raw_nonzero().get().unsigned_abs()
    }

    /// The read ends of the leader's piped stdout and stderr, once (`None` for a stream that
    /// is not piped, or taken already); an error where a pipe cannot be taken off Tokio's
    /// reactor.
    pub(crate) fn take_output(&mut self) -> [Option<io::Result<std::os::fd::OwnedFd>>; 2] {
        match &mut self.process {
            Process::Std(child) => [
                child.stdout.take().map(|pipe| pipe.into_owned_fd()),
                child.stderr.take().map(|pipe| pipe.into_owned_fd()),
            ],
            #[cfg(target_os = "linux")]
            Process::Cloned { stdout, stderr } => [stdout.take().map(Ok), stderr.take().map(Ok)],
        }
    }

    /// Sends `signal` to every process of the group, if its identity is held (see the
    /// invariant on [`Group`]); otherwise does nothing.
    pub(crate) fn signal(&self, signal: Signal) {
        if self.identity_held() {
            self.kill_group(signal);
        }
        if let Some(contained) = &self.contained {
            contained.signal(&contained.escaped(self.pid()), signal);
        }
    }

    /// Whether a signal to the group can reach only the group.
    fn identity_held(&self) -> bool {
        match (&self.hold, self.leader) {
            #[cfg(target_os = "linux")]
            (Hold::PidfdGroup(_), _) => true,
            (_, Leader::Running | Leader::Zombie(_)) => true,
            (_, Leader::Reaped(_)) => false,
        }
    }

    /// Sends `signal` to the group. Callers check that its identity is held, or (without
    /// pidfds) probed just before.
    fn kill_group(&self, signal: Signal) {
        let result = match &self.hold {
            #[cfg(target_os = "linux")]
            Hold::PidfdGroup(pidfd) => super::pidfd::signal_group(pidfd.get_ref(), signal.as_raw()),
            _ => kill_process_group(self.pgid, signal.to_rustix()).map_err(io::Error::from),
        };
        match result {
            Ok(()) => tracing::debug!(pgid = self.pid(), %signal, "signalled process group"),
            // Nobody left in the group: nothing to do.
            Err(e) if is_no_such_process(&e) => {}
            Err(e) => {
                tracing::warn!(pgid = self.pid(), %signal, error = %e, "cannot signal process group")
            }
        }
    }

    /// Waits for the leader to exit (driven by its pidfd, or by SIGCHLD through Tokio, no
    /// polling) and returns its status. The rest of the group may still run: follow with
    /// [`settle`](Self::settle), which also reaps the leader if it was kept a zombie. Cancel
    /// safe: dropping the future loses nothing.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self.leader {
            Leader::Zombie(status) | Leader::Reaped(status) => return Ok(status),
            Leader::Running => {}
        }
        #[cfg(target_os = "linux")]
        if let Hold::PidfdGroup(pidfd) | Hold::Zombie(pidfd) = &self.hold {
            match wait_readable(pidfd).await {
                Ok(status) => {
                    self.leader = Leader::Zombie(status);
                    if matches!(self.hold, Hold::PidfdGroup(_)) {
                        // Signals go through the pidfd: no need to keep the zombie.
                        self.reap_zombie();
                    }
                    return Ok(status);
                }
                Err(e) => {
                    // `waitid(P_PIDFD)` refused (a kernel before 5.4, where the fast path is
                    // not used): reap through Tokio.
                    tracing::debug!(pgid = self.pid(), error = %e, "cannot read the leader's exit through its pidfd");
                    if matches!(self.process, Process::Cloned { .. }) {
                        return Err(e);
                    }
                    self.hold = Hold::Probe;
                }
            }
        }
        let status = match &mut self.process {
            Process::Std(child) => child.wait().await?,
            // Its hold is a pidfd one until it has exited (see `spawn_holding`).
            #[cfg(target_os = "linux")]
            Process::Cloned { .. } => {
                return Err(io::Error::other("no pidfd to wait for the leader with"));
            }
        };
        self.leader = Leader::Reaped(status);
        Ok(status)
    }

    /// Reaps a leader kept a zombie: through Tokio on the fallback path (so that its `Child`
    /// knows), by pid on the fast one.
    fn reap_zombie(&mut self) {
        let Leader::Zombie(status) = self.leader else {
            return;
        };
        let reaped = match &mut self.process {
            Process::Std(child) => child.try_wait().map(|s| s.is_some()),
            #[cfg(target_os = "linux")]
            Process::Cloned { .. } => Ok(reap_by_pid(
                self.pgid,
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
            )),
        };
        if !matches!(reaped, Ok(true)) {
            // Cannot happen to an exited child of ours; if it did, whoever reaped it has
            // released the pid: the identity is no longer held either way.
            tracing::warn!(pgid = self.pid(), ?reaped, "cannot reap the exited leader");
        }
        self.leader = Leader::Reaped(status);
    }

    /// After the leader has exited: what is left of the group gets `signal` (if any; `None`
    /// when it already got the stop signal) followed by `SIGCONT`, and until `deadline` to
    /// end; then the whole group gets `SIGKILL`, and its members are waited for until they
    /// are gone (`SIGKILL` is not instant: a process in uninterruptible sleep takes as long
    /// as its system call; after [`SLOW_KILL_WARNING`] a warning is logged, and the wait goes
    /// on). Returns at once when nobody is left, the usual case, after reaping a leader kept
    /// a zombie. Members that have ended but wait, as zombies, for a parent that does not
    /// reap them (some containers' init) count as gone; when only such members are found,
    /// the group still gets a `SIGKILL` (harmless to zombies; it ends a process whose main
    /// thread has exited while its other threads run, which `/proc` shows as a zombie).
    ///
    /// Cost when nobody is left: one system call on Linux 6.9 and later (a check signal
    /// through the pidfd) and without pidfds (`kill(-pgid, 0)`); a scan of `/proc` on Linux
    /// 5.4 to 6.8, where the zombie leader answers a check signal (see
    /// [`stats::live_members`]). While members are left: a scan of `/proc` to find them and a
    /// pidfd per member to wait for their end by event, scanning again when they have ended
    /// (for members they started in the meantime) and at least every
    /// [`MEMBER_RESCAN_INTERVAL`] (for members that left the group, or whose pid was reused,
    /// which would otherwise be waited for in vain). Where members cannot be found or watched
    /// (no `/proc`, no pidfds), the group is probed 1, 2, 4 … up to
    /// [`MEMBER_PROBE_MAX_INTERVAL`] apart.
    ///
    /// With a [containment](Self::contain), the run's processes outside the group are part
    /// of it: they get the signals, are waited for, are killed at `deadline` (`cgroup.kill`)
    /// and, once gone, reaped if they were reparented to the supervisor; so are members of
    /// the group reparented to the supervisor while it is a subreaper (a `/proc` scan, only
    /// when the group had members).
    ///
    /// The stop signal's control messages are not read meanwhile: a stop requested during
    /// this grace period ends with it, at the latest when the members are gone after the
    /// `SIGKILL` at `deadline`.
    pub(crate) async fn settle(&mut self, signal: Option<Signal>, deadline: Instant) {
        if self.settled || matches!(self.leader, Leader::Running) {
            return;
        }
        let mut signal = signal;
        let mut pause = Duration::from_millis(1);
        let mut killed: Option<Instant> = None;
        let mut warned = false;
        let mut had_members = false;
        loop {
            let escaped = match &self.contained {
                Some(contained) => contained.escaped(self.pid()),
                None => Vec::new(),
            };
            let members = match self.left() {
                Left::Nobody if escaped.is_empty() => break,
                Left::OnlyZombies if escaped.is_empty() => {
                    // See above; the identity was probed (or is held) just before.
                    self.kill_group(Signal::KILL);
                    had_members = true;
                    break;
                }
                Left::Nobody | Left::OnlyZombies => Some(Vec::new()),
                Left::Live(members) => members,
            };
            had_members = true;
            // All that is waited for: the group's live members and the escaped processes.
            let members = members.map(|mut pids| {
                pids.extend_from_slice(&escaped);
                pids
            });
            // Signals right after `left()`: see the invariant on `Group`.
            if let Some(signal) = signal.take() {
                self.kill_group(signal);
                self.signal_escaped(&escaped, signal);
                if signal != Signal::KILL {
                    self.kill_group(Signal::CONT);
                    self.signal_escaped(&escaped, Signal::CONT);
                }
            }
            let now = Instant::now();
            match killed {
                None if now >= deadline => {
                    tracing::debug!(
                        pgid = self.pid(),
                        "members of the group outlived the stop timeout; killing them"
                    );
                    self.kill_group(Signal::KILL);
                    if let Some(contained) = &self.contained {
                        contained.kill(self.pid());
                    }
                    killed = Some(now);
                    continue;
                }
                Some(at) if !warned && now.saturating_duration_since(at) >= SLOW_KILL_WARNING => {
                    warned = true;
                    tracing::warn!(
                        pgid = self.pid(),
                        members = ?members,
                        waited = ?now.saturating_duration_since(at),
                        "members of the process group are still not gone after SIGKILL \
                         (uninterruptible sleep?); still waiting for them"
                    );
                }
                _ => {}
            }
            let look_again = match killed {
                None => (now + MEMBER_RESCAN_INTERVAL).min(deadline),
                Some(_) => now + MEMBER_RESCAN_INTERVAL,
            };
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
                tokio::time::sleep_until((now + pause).min(look_again)).await;
                pause = (pause * 2).min(MEMBER_PROBE_MAX_INTERVAL);
            }
        }
        self.reap_zombie();
        if had_members && containment::is_subreaper() {
            // Members whose parent died were reparented to the supervisor: reap them.
            containment::reap_group_members(self.pid(), self.pid());
        }
        if let Some(contained) = &mut self.contained {
            contained.finish();
        }
        self.settled = true;
    }

    fn signal_escaped(&self, escaped: &[u32], signal: Signal) {
        if let Some(contained) = &self.contained {
            contained.signal(escaped, signal);
        }
    }

    /// What is left of the group, the leader (which has exited) aside.
    fn left(&mut self) -> Left {
        let probe = match &self.hold {
            #[cfg(target_os = "linux")]
            Hold::PidfdGroup(pidfd) => super::pidfd::signal_group(pidfd.get_ref(), 0),
            #[cfg(target_os = "linux")]
            Hold::Zombie(_) => match stats::live_members(self.pid()) {
                // The zombie leader is not listed (zombies never are).
                Some(pids) if pids.is_empty() => return Left::OnlyZombies,
                Some(pids) => return Left::Live(Some(pids)),
                None => {
                    // No `/proc` to tell members from the zombie: give up holding it.
                    tracing::debug!(
                        pgid = self.pid(),
                        "cannot list the group's members; reaping its leader"
                    );
                    self.reap_zombie();
                    self.hold = Hold::Probe;
                    test_kill_process_group(self.pgid).map_err(io::Error::from)
                }
            },
            Hold::Probe => test_kill_process_group(self.pgid).map_err(io::Error::from),
        };
        match probe {
            Ok(()) => live(self.pid()),
            Err(e) if is_no_such_process(&e) => Left::Nobody,
            Err(e) => {
                // EPERM: a member we may not signal (it changed its user); nothing we can do.
                tracing::warn!(pgid = self.pid(), error = %e, "cannot probe process group");
                Left::Nobody
            }
        }
    }

    /// Stops the group: `signal` (then `SIGCONT`, so that stopped processes see it) to the
    /// whole group, up to `timeout` for the leader to exit and, within the same `timeout`, for
    /// the rest of the group; then SIGKILL to the whole group, and a wait until every member
    /// is gone. Returns the leader's exit status.
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
        self.stop_by(deadline).await
    }

    /// The end of a stop whose request was made (a signal sent, a stop command run): waits
    /// for the leader until `deadline`, then `SIGKILL`s the group, and settles what is left
    /// of it. Returns the leader's status.
    pub(crate) async fn stop_by(&mut self, deadline: Instant) -> io::Result<ExitStatus> {
        let status = match tokio::time::timeout_at(deadline, self.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                tracing::debug!(pgid = self.pid(), "stop timed out; killing the group");
                self.signal(Signal::KILL);
                self.wait().await?
            }
        };
        self.settle(None, deadline).await;
        Ok(status)
    }
}

fn is_no_such_process(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error())
}

/// The live members of group `pgid` found by a scan of `/proc` (the group is known not to be
/// empty).
fn live(pgid: u32) -> Left {
    match stats::live_members(pgid) {
        Some(pids) if pids.is_empty() => Left::OnlyZombies,
        pids => Left::Live(pids),
    }
}

/// How to hold the identity of the group led by `pid`, just spawned (see [`Hold`]), with its
/// pidfd if the spawn made one (else one is opened now).
#[cfg(target_os = "linux")]
fn hold(pid: Pid, pidfd: Option<std::os::fd::OwnedFd>, strength: Strength) -> Hold {
    #[cfg(test)]
    if strength == Strength::Probe {
        return Hold::Probe;
    }
    let Some(pidfd) = pidfd.or_else(|| super::pidfd::open(pid)) else {
        return Hold::Probe;
    };
    let groups = strength == Strength::Best && super::pidfd::can_signal_groups(&pidfd);
    let interest = tokio::io::Interest::READABLE;
    // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, which owns it until it is dropped;
    // nothing else closes or replaces it.
    match unsafe { tokio::io::unix::AsyncFd::register_with_interest(pidfd, interest) } {
        Ok(pidfd) if groups => Hold::PidfdGroup(pidfd),
        Ok(pidfd) => Hold::Zombie(pidfd),
        Err(e) => {
            tracing::debug!(pid = pid.as_raw_nonzero().get(), error = %e, "cannot watch the leader's pidfd");
            Hold::Probe
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn hold(_pid: Pid, _pidfd: Option<std::os::fd::OwnedFd>, _strength: Strength) -> Hold {
    Hold::Probe
}

/// Reaps our child `pid` (the leader, spawned on the fast path and not reaped yet, so the pid
/// is still its own), waiting for its exit unless `options` has `NOHANG`; `true` once reaped.
#[cfg(target_os = "linux")]
fn reap_by_pid(pid: Pid, options: WaitIdOptions) -> bool {
    loop {
        match waitid(WaitId::Pid(pid), options) {
            Ok(reaped) => return reaped.is_some(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                tracing::warn!(pid = pid.as_raw_nonzero().get(), error = %e, "cannot reap the leader");
                return false;
            }
        }
    }
}

/// Waits until the process of `pidfd` (our child) has exited and returns its status, leaving
/// it a zombie.
#[cfg(target_os = "linux")]
async fn wait_readable(
    pidfd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
) -> io::Result<ExitStatus> {
    loop {
        // A pidfd becomes readable when its process exits.
        let mut ready = pidfd.readable().await?;
        if let Some(status) = super::pidfd::peek_exit(pidfd.get_ref())? {
            return Ok(status);
        }
        ready.clear_ready();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // The run was abandoned (aborted by its manager, or its future dropped), before its
        // group was settled: kill what is left, while the identity is held (see the invariant
        // on `Group`). An exited leader is then reaped at once; a live one (SIGKILLed) is
        // queued for Tokio's orphan reaper (dropping its `Child`, fallback path) or handed to
        // the spawner thread (fast path), which reap it once it has exited. Other members are
        // reparented to init (or a subreaper), which reaps them.
        if self.identity_held() {
            self.kill_group(Signal::KILL);
        }
        if let Some(contained) = &self.contained {
            contained.kill(self.pid());
        }
        #[cfg(target_os = "linux")]
        self.abandon_cloned_leader();
    }
}

impl Group {
    /// On the fast path, a leader not reaped yet when the group is dropped: reaped now if it
    /// has exited, else (it was just SIGKILLed) handed to the spawner thread, which reaps it
    /// once it has exited.
    #[cfg(target_os = "linux")]
    fn abandon_cloned_leader(&mut self) {
        if !matches!(self.process, Process::Cloned { .. })
            || matches!(self.leader, Leader::Reaped(_))
            || reap_by_pid(self.pgid, WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
        {
            return;
        }
        let pidfd = match std::mem::replace(&mut self.hold, Hold::Probe) {
            Hold::PidfdGroup(pidfd) | Hold::Zombie(pidfd) => Some(pidfd.into_inner()),
            Hold::Probe => super::pidfd::open(self.pgid),
        };
        match pidfd {
            Some(pidfd) => super::spawner::reap_later(pidfd),
            None => tracing::warn!(
                pgid = self.pid(),
                "no pidfd for the abandoned leader; it stays a zombie"
            ),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
