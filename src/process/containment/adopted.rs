//! The supervisor as a child subreaper: orphans among its descendants are reparented to it,
//! and it reaps (and stops) those it can attribute to a run, never others.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, OnceLock};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

use crate::lock::lock;
use crate::process::signal::Signal;

/// The environment variable that marks the processes of a run contained by the subreaper
/// alone: `<supervisor pid>:<run>`.
pub(super) const MARKER_KEY: &str = "OVERSEER_CONTAINMENT";

/// Whether this process was made a child subreaper (and how that went), once.
static SUBREAPER: OnceLock<Result<(), i32>> = OnceLock::new();

/// Makes the supervisor process a child subreaper (`PR_SET_CHILD_SUBREAPER`) for the rest of
/// its life, the first time it is asked.
pub(super) fn become_subreaper() -> io::Result<()> {
    let result = SUBREAPER.get_or_init(|| {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let result = rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| e.raw_os_error());
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let result = Err(rustix::io::Errno::NOSYS.raw_os_error());
        match result {
            Ok(()) => tracing::info!("the supervisor is now a child subreaper (containment)"),
            Err(e) => tracing::warn!(
                error = %io::Error::from_raw_os_error(e),
                "cannot make the supervisor a child subreaper"
            ),
        }
        result
    });
    result.map_err(io::Error::from_raw_os_error)
}

/// Whether the supervisor is a child subreaper: members of a group it holds may then be its
/// children once their parent died, to be reaped by [`reap_group_members`].
pub(crate) fn is_subreaper() -> bool {
    matches!(SUBREAPER.get(), Some(Ok(())))
}

/// What `/proc/<pid>/stat` says of a process (readable for zombies too).
struct Stat {
    state: char,
    ppid: u32,
    pgrp: u32,
    session: u32,
}

/// `/proc/<pid>/stat` of `pid`; `None` once it is gone.
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text.get(text.rfind(')')? + 2..)?.split(' ');
    Some(Stat {
        state: fields.next()?.chars().next()?,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
        session: fields.next()?.parse().ok()?,
    })
}

/// The process group of live process `pid`; `None` when it is gone or a zombie.
pub(super) fn process_group(pid: u32) -> Option<u32> {
    stat(pid)
        .filter(|stat| stat.state != 'Z')
        .map(|stat| stat.pgrp)
}

fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

/// Every pid in `/proc`.
fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Sends `signal` to `pid` if, once a pidfd holds it, `belongs(pid)` says it is still the
/// process meant (a pid reused meanwhile belongs to another process, which fails the check).
pub(super) fn signal_if(pid: u32, signal: Signal, belongs: impl Fn(u32) -> bool) {
    let Some(pidfd) = pid_of(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok()) else {
        return;
    };
    if !belongs(pid) {
        return;
    }
    match rustix::process::pidfd_send_signal(&pidfd, signal.to_rustix()) {
        Ok(()) => tracing::debug!(pid, %signal, "signalled a contained process"),
        Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::warn!(pid, %signal, error = %e, "cannot signal a contained process"),
    }
}

/// Reaps `pidfd`'s process if it is an exited child of ours. Never waits.
fn reap(pidfd: &OwnedFd) -> bool {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
    matches!(
        waitid(WaitId::PidFd(rustix::fd::AsFd::as_fd(pidfd)), options),
        Ok(Some(_))
    )
}

/// Whether `pidfd`'s process is an exited child of ours not reaped yet: a zombie whose pid
/// nobody but us can free. Never waits, reaps nothing.
fn unreaped_child(pidfd: &OwnedFd) -> bool {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    matches!(
        waitid(WaitId::PidFd(rustix::fd::AsFd::as_fd(pidfd)), options),
        Ok(Some(_))
    )
}

/// Reaps the zombies that are children of the supervisor and for which `claimed(pid)` holds.
/// Each is held by a pidfd before it is checked and reaped, so that the check and the reap
/// are about the same process. Cost: a scan of `/proc`.
pub(super) fn reap_children(claimed: impl Fn(u32) -> bool) {
    let me = std::process::id();
    for pid in all_pids() {
        if !stat(pid).is_some_and(|stat| stat.state == 'Z' && stat.ppid == me) {
            continue;
        }
        let Some(pidfd) = pid_of(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok()) else {
            continue;
        };
        if claimed(pid) && reap(&pidfd) {
            tracing::debug!(pid, "reaped a process reparented to the supervisor");
        }
    }
}

/// Reaps the members of process group `pgid` (held: its leader `leader` is unreaped or its
/// pidfd signals only that group) that were reparented to the supervisor, a subreaper, and
/// have ended. The leader is not one of them: Tokio reaps it.
pub(crate) fn reap_group_members(pgid: u32, leader: u32) {
    reap_children(|pid| pid != leader && stat(pid).is_some_and(|stat| stat.pgrp == pgid));
}

/// The marker of a run contained by the subreaper alone, and the processes found with it.
pub(super) struct Marker {
    /// `<supervisor pid>:<run>`.
    value: String,
    /// `OVERSEER_CONTAINMENT=<value>` followed by the NUL that ends it in
    /// `/proc/<pid>/environ`.
    entry: Vec<u8>,
    /// Pidfds of the marked processes found alive, to reap those reparented to the
    /// supervisor once they have ended (their environment cannot be read then).
    seen: Mutex<Vec<(u32, OwnedFd)>>,
}

impl Marker {
    pub(super) fn new(run: u64) -> Marker {
        let value = format!("{}:{run}", std::process::id());
        Marker {
            entry: format!("{MARKER_KEY}={value}\0").into_bytes(),
            value,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The variable's value.
    pub(super) fn value(&self) -> &str {
        &self.value
    }

    /// Whether `pid`'s initial environment carries the marker.
    pub(super) fn marks(&self, pid: u32) -> bool {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        // Entries are NUL-terminated: match a whole entry.
        environ
            .split_inclusive(|&b| b == 0)
            .any(|entry| entry == self.entry.as_slice())
    }

    /// The live marked processes outside process group `pgid`, remembered (with a pidfd) to
    /// be reaped later. Cost: a scan of `/proc`, two small reads per process.
    pub(super) fn escaped(&self, pgid: u32) -> Vec<u32> {
        let mut found = Vec::new();
        for pid in all_pids() {
            if process_group(pid).is_none_or(|g| g == pgid) || !self.marks(pid) {
                continue;
            }
            let mut seen = lock(&self.seen);
            if !seen.iter().any(|(p, _)| *p == pid)
                && let Some(pidfd) =
                    pid_of(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
                && self.marks(pid)
            {
                seen.push((pid, pidfd));
            }
            found.push(pid);
        }
        found
    }

    /// Reaps the marked processes seen alive that have ended as children of the supervisor,
    /// and before them the ended processes reparented to the supervisor in the sessions they
    /// led: a process of such a session that ended unseen (say a daemon's child it never
    /// reaped, reparented when the daemon was stopped) has no environment left to read, but
    /// every process of a session descends from its leader. A session is claimed only while
    /// its leader is our unreaped zombie, so that its id cannot belong to anyone else.
    pub(super) fn reap_seen(&mut self) {
        let seen = std::mem::take(&mut *lock(&self.seen));
        let sessions: Vec<u32> = seen
            .iter()
            .filter(|(pid, pidfd)| {
                unreaped_child(pidfd) && stat(*pid).is_some_and(|stat| stat.session == *pid)
            })
            .map(|(pid, _)| *pid)
            .collect();
        if !sessions.is_empty() {
            reap_children(|pid| {
                !sessions.contains(&pid)
                    && stat(pid).is_some_and(|stat| sessions.contains(&stat.session))
            });
        }
        for (pid, pidfd) in seen {
            if reap(&pidfd) {
                tracing::debug!(
                    pid,
                    "reaped a contained process reparented to the supervisor"
                );
            }
        }
    }
}
