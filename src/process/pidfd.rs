//! The Linux pidfd calls that hold a process group's identity: a pidfd of the leader opened
//! while it is certainly our unreaped child, a look at its exit that leaves it a zombie, and
//! signals to its process group that can only reach that group.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

/// `PIDFD_SIGNAL_PROCESS_GROUP` (`linux/pidfd.h`, Linux 6.9): signal the process group whose
/// id is the pidfd's pid. Not in rustix's `pidfd_send_signal`, which takes no flags.
const PIDFD_SIGNAL_PROCESS_GROUP: libc::c_uint = 4;

/// Opens a pidfd for `pid`. Called right after the spawn, before anything waits for the
/// process, so the pid is still our unreaped child's and the pidfd refers to it. `None` where
/// the kernel has no pidfds (before 5.3) or a seccomp filter refuses them.
pub(crate) fn open(pid: Pid) -> Option<OwnedFd> {
    match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::debug!(pid = pid.as_raw_nonzero().get(), error = %e, "no pidfd for the leader");
            None
        }
    }
}

/// The exit status of the process of `pidfd` (our child) if it has exited, **without reaping
/// it**: it stays a zombie, so its pid (and the process group id it gave its group) cannot be
/// handed to another process. `Ok(None)` while it runs. An error where `waitid(P_PIDFD)` is not
/// supported (kernels before 5.4).
pub(crate) fn peek_exit(pidfd: &impl AsFd) -> io::Result<Option<ExitStatus>> {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    let Some(status) = waitid(WaitId::PidFd(pidfd.as_fd()), options)? else {
        return Ok(None);
    };
    // With `NOHANG`, a child that has not exited yet gives an empty siginfo (no pid, no code).
    if let Some(code) = status.exit_status().filter(|_| status.exited()) {
        return Ok(Some(ExitStatus::from_raw((code & 0xff) << 8)));
    }
    if let Some(signal) = status.terminating_signal() {
        let core = if status.dumped() { 0x80 } else { 0 };
        return Ok(Some(ExitStatus::from_raw(signal | core)));
    }
    Ok(None)
}

/// Sends `signal` (0: only check) to the process group whose id is the pid of `pidfd`'s
/// process: `pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP)`.
///
/// The pidfd holds the kernel's `struct pid` of the leader, and the group is the list of
/// processes attached to that `struct pid` as their process group. Once the leader is reaped
/// and the last member has exited, the pid's number can be handed to a new process, but that
/// process gets a new `struct pid`: the signal then finds nobody (`ESRCH`) and can never reach
/// it. Linux 6.9 and later; `EINVAL` before.
pub(crate) fn signal_group(pidfd: &impl AsFd, signal: i32) -> io::Result<()> {
    // SAFETY: `pidfd_send_signal(2)` with a valid, borrowed file descriptor, a signal number,
    // a null `siginfo_t` pointer (the kernel then fills in a `SI_USER` one) and a flag. It
    // reads no memory of ours and does not touch the descriptor's ownership.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            PIDFD_SIGNAL_PROCESS_GROUP,
        )
    };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether the kernel signals process groups through pidfds (Linux 6.9), found out once per
/// process with a check signal to the live group of `pidfd`.
pub(crate) fn can_signal_groups(pidfd: &impl AsFd) -> bool {
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
    static SUPPORT: AtomicU8 = AtomicU8::new(UNKNOWN);
    match SUPPORT.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            // The leader was just spawned and is not reaped: its group is not empty, so only
            // a kernel without the flag (EINVAL) or a filter (ENOSYS, EPERM) says no.
            let yes = signal_group(pidfd, 0).is_ok();
            SUPPORT.store(if yes { YES } else { NO }, Ordering::Relaxed);
            yes
        }
    }
}
