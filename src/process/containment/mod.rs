//! Containment of the processes a process child starts beyond its process group (opt-in, see
//! [`Containment`]).
//!
//! A daemon that double-forks and calls `setsid` leaves its process group, so the group's
//! stop sequence does not reach it, and when its parent dies it is reparented to init. Two
//! mechanisms keep such processes attributed to the run that started them:
//! - a **cgroup v2** per run ([`cgroup`]): the leader is moved into a cgroup of its own
//!   between fork and exec, so everything it starts, sessions and double forks included, is
//!   in that cgroup; the stop kills the cgroup (`cgroup.kill`). Exact.
//! - the **subreaper** ([`adopted`]): the supervisor marks itself `PR_SET_CHILD_SUBREAPER`, so
//!   orphans among its descendants are reparented to it rather than to init, and it reaps the
//!   ones it can attribute to a run. Without a cgroup, attribution is by an environment
//!   variable the run's processes inherit (weaker: see [`Containment::Subreaper`]).

#[cfg(target_os = "linux")]
mod adopted;
#[cfg(target_os = "linux")]
mod cgroup;

use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::OwnedFd;
#[cfg(target_os = "linux")]
use std::sync::Arc;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(target_os = "linux")]
pub(crate) use adopted::{is_subreaper, reap_group_members};

use super::signal::Signal;
use super::spawn::Prepared;

/// What a process child's stop reaches beyond its process group: the processes it started
/// that left the group (a daemon that double-forks and calls `setsid`). Set with
/// [`Command::contain`](super::Command::contain); default
/// [`ProcessGroup`](Self::ProcessGroup).
///
/// With any containment but the default, the supervisor process becomes a *child subreaper*
/// (Linux `PR_SET_CHILD_SUBREAPER`, once, for the rest of its life): orphans among **all** its
/// descendants are then reparented to it instead of to init. Overseer reaps those it
/// attributes to a run (below) and the members of a process group it holds; it never reaps
/// or signals a process it cannot attribute, since that may be a child the application
/// spawned and waits for itself, so an orphan nobody claims stays a zombie of the
/// supervisor until the application reaps it or exits. Processes the application spawns
/// itself (they are not reparented, they are its children from the start) are never
/// touched. Linux only: elsewhere a containment other than the default fails the start with
/// [`ProcessError::Containment`](super::ProcessError::Containment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Containment {
    /// The process group only (the default). A process that leaves the group (a new session
    /// or group) escapes the stop sequence and is reaped by init.
    #[default]
    ProcessGroup,
    /// Everything the process starts, as exactly as the machine allows: [`Cgroup`](Self::Cgroup)
    /// where the supervisor can create cgroup-v2 groups (found at each start, see
    /// [`Containment::cgroup_available`]), else [`Subreaper`](Self::Subreaper).
    Descendants,
    /// Each run in a cgroup v2 of its own, created under the supervisor's own cgroup
    /// (`overseer-<supervisor pid>-<n>`) and removed when the run ends. The leader is moved
    /// into it after it is started and before it runs the program, so every process it starts
    /// is in it, whatever it does with sessions and groups. When the run stops, the processes
    /// of the cgroup outside the group get the stop signal with the group, and at the stop
    /// timeout the whole cgroup is killed (`cgroup.kill`); the stop then waits until nothing
    /// of it runs. Escaped processes reparented to the supervisor are reaped, also those
    /// that ended on their own while the run went on (a zombie still shows its cgroup).
    /// Needs a `cgroup2` mount in `/proc/self/mountinfo` containing the supervisor's cgroup
    /// (`0::/path` in `/proc/self/cgroup`), writable by the supervisor, and Linux 5.14 for
    /// `cgroup.kill` (before, the escaped processes are SIGKILLed one by one); where it is
    /// not, the start fails with [`ProcessError::Containment`](super::ProcessError::Containment).
    /// No controller is enabled: the cgroup only groups.
    Cgroup,
    /// The subreaper alone. Each run's processes inherit the environment variable
    /// `OVERSEER_CONTAINMENT=<supervisor pid>:<n>`; when the run stops, the live processes
    /// outside the group whose initial environment (`/proc/<pid>/environ`) carries it get the
    /// stop signal with the group, `SIGKILL` at the stop timeout, and are waited for and
    /// reaped. Weaker than a cgroup: a process that clears or replaces its environment when it
    /// `exec`s is not recognised, and one that ends on its own while its run goes on cannot
    /// be recognised any more (a zombie has no environment to read), so it stays a zombie of
    /// the supervisor — unless it belongs to the session of a marked process seen alive
    /// (a daemon that called `setsid`, say): every process of a session descends from its
    /// leader, so such zombies are reaped with the leader when the run stops. Costs a scan of
    /// `/proc` reading two files per process at each signal and look of the stop sequence.
    Subreaper,
}

impl Containment {
    /// Whether a process child started now could have a cgroup of its own (what
    /// [`Descendants`](Self::Descendants) would use): a `cgroup2` mount holds the
    /// supervisor's cgroup and the supervisor may create a group in it. Creates and removes
    /// an empty cgroup to find out.
    pub fn cgroup_available() -> bool {
        #[cfg(target_os = "linux")]
        return cgroup::RunCgroup::create(u64::MAX).is_ok();
        #[cfg(not(target_os = "linux"))]
        return false;
    }
}

/// Numbers the contained runs of this process.
#[cfg(target_os = "linux")]
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The containment of one run.
#[cfg(target_os = "linux")]
pub(crate) struct Contained {
    how: How,
}

#[cfg(target_os = "linux")]
enum How {
    Cgroup(cgroup::RunCgroup),
    Subreaper(adopted::Marker),
}

#[cfg(target_os = "linux")]
impl Contained {
    /// Prepares the containment of a run of `prepared` (not spawned yet): makes the
    /// supervisor a subreaper, and creates the run's cgroup, which the process writes itself
    /// into before it runs the program, or marks its environment. `None` for
    /// [`Containment::ProcessGroup`].
    pub(crate) fn prepare(
        containment: Containment,
        prepared: &mut Prepared,
    ) -> io::Result<Option<Contained>> {
        if containment == Containment::ProcessGroup {
            return Ok(None);
        }
        adopted::become_subreaper()?;
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let how = match containment {
            Containment::Cgroup => How::Cgroup(cgroup::RunCgroup::create(run)?),
            Containment::Descendants => match cgroup::RunCgroup::create(run) {
                Ok(cgroup) => How::Cgroup(cgroup),
                Err(e) => {
                    tracing::debug!(error = %e, "no cgroup for a contained run; using the subreaper");
                    How::Subreaper(adopted::Marker::new(run))
                }
            },
            _ => How::Subreaper(adopted::Marker::new(run)),
        };
        match &how {
            How::Cgroup(cgroup) => prepared.cgroup_procs = Some(Arc::clone(cgroup.procs())),
            How::Subreaper(marker) => prepared
                .env
                .changes
                .push((adopted::MARKER_KEY.into(), Some(marker.value().into()))),
        }
        Ok(Some(Contained { how }))
    }

    /// The live processes of the run outside process group `pgid` (whose members the group
    /// deals with).
    pub(crate) fn escaped(&self, pgid: u32) -> Vec<u32> {
        match &self.how {
            How::Cgroup(cgroup) => cgroup.escaped(pgid),
            How::Subreaper(marker) => marker.escaped(pgid),
        }
    }

    /// Sends `signal` to those of `pids` that still belong to the run: each is checked after
    /// a pidfd was opened for it, and signalled through that pidfd, so a pid reused by another
    /// process in between is never signalled.
    pub(crate) fn signal(&self, pids: &[u32], signal: Signal) {
        for &pid in pids {
            let belongs = |pid: u32| match &self.how {
                How::Cgroup(cgroup) => cgroup.holds(pid),
                How::Subreaper(marker) => marker.marks(pid),
            };
            adopted::signal_if(pid, signal, belongs);
        }
    }

    /// `SIGKILL` to everything of the run at once: the cgroup's `cgroup.kill`, or every
    /// escaped process found now.
    pub(crate) fn kill(&self, pgid: u32) {
        if let How::Cgroup(cgroup) = &self.how
            && cgroup.kill()
        {
            return;
        }
        self.signal(&self.escaped(pgid), Signal::KILL);
    }

    /// Once nothing of the run is alive: reaps the run's processes that were reparented to
    /// the supervisor, and removes the run's cgroup.
    pub(crate) fn finish(&mut self) {
        match &mut self.how {
            How::Cgroup(cgroup) => {
                adopted::reap_children(|pid| cgroup.holds(pid));
                cgroup.remove();
            }
            How::Subreaper(marker) => marker.reap_seen(),
        }
    }
}

/// Makes the spawned process write itself into the cgroup of `procs` (its `cgroup.procs`,
/// opened before the fork) between fork and exec: the fallback path's way (see
/// [`spawn`](super::spawn)); the fast path writes it from its child function.
#[cfg(target_os = "linux")]
pub(crate) fn move_into(cmd: &mut tokio::process::Command, procs: Arc<OwnedFd>) {
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe operations are allowed: it reads the descriptor's number out of the
    // `Arc` (a plain field read) and makes one raw `write(2)` through rustix, which neither
    // allocates nor takes locks, of a static buffer. The descriptor is open there: the
    // child's descriptor table is a copy of the parent's at the fork, and the closure holds
    // the `Arc`, so the descriptor stays open until the command is dropped, after the spawn.
    unsafe {
        cmd.pre_exec(move || {
            rustix::io::write(&*procs, b"0")?;
            Ok(())
        });
    }
}

/// Elsewhere than Linux there is no containment: a run never has one.
#[cfg(not(target_os = "linux"))]
pub(crate) enum Contained {}

#[cfg(not(target_os = "linux"))]
impl Contained {
    pub(crate) fn prepare(
        containment: Containment,
        _prepared: &mut Prepared,
    ) -> io::Result<Option<Contained>> {
        match containment {
            Containment::ProcessGroup => Ok(None),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "containment beyond the process group needs Linux",
            )),
        }
    }

    pub(crate) fn escaped(&self, _pgid: u32) -> Vec<u32> {
        match *self {}
    }

    pub(crate) fn signal(&self, _pids: &[u32], _signal: Signal) {
        match *self {}
    }

    pub(crate) fn kill(&self, _pgid: u32) {
        match *self {}
    }

    pub(crate) fn finish(&mut self) {
        match *self {}
    }
}

/// Never a subreaper elsewhere than Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn is_subreaper() -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn reap_group_members(_pgid: u32, _leader: u32) {}
