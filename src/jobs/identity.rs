//! Who a process is: its pid and its start time, read from `/proc/PID/stat` (field 22, in
//! clock ticks since boot), plus the boot it belongs to. A pid is reused after its process is
//! reaped; the pair (pid, start time) within one boot is not: two processes that got the same
//! pid started at different ticks (a pid cannot be handed out twice within one tick, since
//! the kernel walks the whole pid space before reusing a number).

use std::io;
use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// What `/proc/PID/stat` says about a process: its start time and its state letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 22: when the process started, in clock ticks since boot.
    pub(crate) start: u64,
    /// Field 3: `R`, `S`, `D`, `Z` (a zombie: ended, not yet reaped), …
    pub(crate) state: u8,
}

/// Parses a `/proc/PID/stat` line (possibly cut after field 22). Allocates nothing and
/// cannot panic: the shim calls it between `fork` and `exit`.
pub(crate) fn parse_stat(line: &[u8]) -> Option<Stat> {
    // The command name (field 2) is in parentheses and may hold anything, `)` and spaces
    // included; the fields after it are numbers and one letter, so the last `)` ends it.
    let mut close = None;
    let mut i = 0;
    while i < line.len() {
        if line[i] == b')' {
            close = Some(i);
        }
        i += 1;
    }
    let mut i = close? + 1;
    // Fields 3, 4, … are separated by one space each.
    let mut field = 2;
    let mut state = 0u8;
    let mut number: u64 = 0;
    let mut digits = false;
    while i < line.len() {
        let b = line[i];
        if b == b' ' || b == b'\n' {
            if field == 22 && digits {
                return Some(Stat {
                    start: number,
                    state,
                });
            }
            field += 1;
            number = 0;
            digits = false;
        } else if field == 3 && state == 0 {
            state = b;
        } else if field == 22 {
            if !b.is_ascii_digit() {
                return None;
            }
            number = number.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            digits = true;
        }
        i += 1;
    }
    (field == 22 && digits).then_some(Stat {
        start: number,
        state,
    })
}

/// The stat of process `pid`, `None` when there is no such process.
pub(crate) fn stat(pid: u32) -> io::Result<Option<Stat>> {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(bytes) => Ok(parse_stat(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // ESRCH: the process went away while the file was read.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        Err(e) => Err(e),
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once. Start times count from
/// boot, so an identity recorded in another boot never matches.
pub(crate) fn boot_id() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
    })
    .as_deref()
}

/// A recorded identity: the process that had `pid` and started at `start` in boot `boot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) pid: u32,
    pub(crate) start: u64,
    pub(crate) boot: Option<String>,
}

/// Where a recorded process is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The same process, not ended.
    Alive,
    /// Ended: no such pid, a zombie, or the pid now belongs to another process (or the
    /// identity was recorded in another boot).
    Gone,
}

impl Identity {
    /// Whether the recorded process is still alive. Reads `/proc/PID/stat` once.
    pub(crate) fn liveness(&self) -> io::Result<Liveness> {
        if self.boot.as_deref() != boot_id() {
            return Ok(Liveness::Gone);
        }
        Ok(match stat(self.pid)? {
            Some(now) if now.start == self.start && now.state != b'Z' => Liveness::Alive,
            _ => Liveness::Gone,
        })
    }

    /// A pidfd of the recorded process if it is alive: opened first, then the identity
    /// checked, so the pidfd refers to that very process (a pidfd stays bound to the process
    /// it was opened for, whatever gets its pid later). `None` if the process is gone (or its
    /// pid reused), or pidfds are not available (then see [`liveness`](Self::liveness)).
    pub(crate) fn hold(&self) -> io::Result<Option<OwnedFd>> {
        let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return Ok(None);
        };
        let fd = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::SRCH) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok((self.liveness()? == Liveness::Alive).then_some(fd))
    }
}

/// The identity of process `pid` now (`None` if there is none).
pub(crate) fn of(pid: u32) -> io::Result<Option<Identity>> {
    Ok(stat(pid)?.map(|s| Identity {
        pid,
        start: s.start,
        boot: boot_id().map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_when_the_name_holds_parentheses_and_spaces() {
        let line =
            b"42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                start: 987654,
                state: b'S'
            })
        );
    }

    #[test]
    fn a_stat_line_cut_before_field_22_or_without_a_name_gives_nothing() {
        assert_eq!(parse_stat(b"42 (a) S 1 42"), None);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_another_process() {
        let me = of(std::process::id()).unwrap().unwrap();
        assert_eq!(me.liveness().unwrap(), Liveness::Alive);
        assert!(me.hold().unwrap().is_some());
        let other = Identity {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(other.liveness().unwrap(), Liveness::Gone);
        assert!(other.hold().unwrap().is_none());
    }
}
