//! Waiting for the end of processes that are not our children (what is left of a process
//! group after its leader): by event, through Linux pidfds, rather than by polling.

/// Waits until every process of `pids` has ended (exited; a zombie has ended). Returns
/// `false` at once, without waiting, when the processes cannot be watched this way (no
/// pidfds: not Linux, a kernel older than 5.3, or none of the pids exists here, e.g. when
/// `/proc` belongs to another pid namespace), so that the caller looks again later instead
/// of at once. A pid that is already gone counts as ended.
///
/// Cost: one pidfd and one reactor registration per process, for the time of the wait.
#[cfg(target_os = "linux")]
pub(crate) async fn all_ended(pids: &[u32]) -> bool {
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    let mut watched = Vec::with_capacity(pids.len());
    for &pid in pids {
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            continue;
        };
        match pidfd_open(pid, PidfdFlags::empty()) {
            // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, which owns it until it is
            // dropped; nothing else closes or replaces it.
            Ok(fd) => match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                Ok(fd) => watched.push(fd),
                Err(_) => return false,
            },
            Err(rustix::io::Errno::SRCH) => {}
            Err(_) => return false,
        }
    }
    if watched.is_empty() {
        // Nothing to wait for: gone already, or not visible from here. Not an event.
        return false;
    }
    for fd in &watched {
        // A pidfd becomes readable when its process ends.
        if fd.readable().await.is_err() {
            return false;
        }
    }
    true
}

/// Without pidfds there is no event for the end of a process that is not our child.
#[cfg(not(target_os = "linux"))]
pub(crate) async fn all_ended(_pids: &[u32]) -> bool {
    false
}
