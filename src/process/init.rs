//! Running as init: PID 1 of a container, or a subreaper above a tree (opt-in); see [`init`].

use std::io;

use crate::process::signal_mask::BlockedSignals;

/// When [`init`] takes the role of init.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitMode {
    /// Only when this process is PID 1 (the first process of a container); otherwise `init`
    /// does nothing.
    WhenPid1,
    /// Always: as PID 1, or else as a child subreaper (`PR_SET_CHILD_SUBREAPER`), so that the
    /// orphans of everything the program starts are reparented to the init and reaped.
    Always,
}

/// Why [`init`] could not take the role of init (nothing was changed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// Threads were started before: a fork would copy only the calling one (and any lock
    /// another one held), so `init` must come first in `main`, before a runtime starts.
    #[error("init must be called before any thread is started (this process has {threads})")]
    Threads {
        /// How many threads the process has.
        threads: usize,
    },
    /// `PR_SET_CHILD_SUBREAPER` was refused.
    #[error("cannot become a child subreaper: {0}")]
    Subreaper(io::Error),
    /// The program's process could not be forked.
    #[error("cannot fork the program's process: {0}")]
    Fork(io::Error),
}

/// Makes this process an init for the program: returns `Ok` in the program's process,
/// which goes on with `main`; the init process never returns from it (it exits with the
/// program's exit code, or 128 + the signal that killed it). Returns `Ok` at once, changing
/// nothing, for [`InitMode::WhenPid1`] when this is not PID 1.
///
/// **What PID 1 needs.** The first process of a container (a Kubernetes pod without a shared
/// process namespace, `docker run` without `--init`) has two duties no other process has:
///
/// - **Reap orphans.** A process whose parent dies is reparented to PID 1 (or to the nearest
///   ancestor that is a *child subreaper*). When it exits, it stays a zombie until PID 1
///   waits for it: a PID 1 that does not leaks zombies until the pid table is full. A tree's
///   own process children are reaped by it, but the daemons they fork and abandon are not
///   its children.
/// - **Handle its signals.** The kernel does not apply a signal's default action to PID 1:
///   `SIGTERM` from the kubelet does nothing unless the program handles it (the built-in
///   `Signals` child does, feature `signal`).
///
/// `init` takes the first duty the way `tini` does, inside the same binary: called at the
/// top of `main`, it forks; the original process (PID 1, or a subreaper) becomes a minimal
/// init that reaps every orphan, forwards every signal it gets to the program, and exits with
/// the program's status; the program (the tree) goes on in the child and returns from `init`.
///
/// **Why another process, not a reaper thread in the tree's own process:** a reaper in the
/// tree's process would wait for any child that exits, also those the program's own code
/// starts with `std::process::Command`, whose `wait` would then fail. A separate init only
/// has orphans and the program as children.
///
/// **Cost.** One more process (about 1 MB resident, most of it shared with the program), a
/// system call or two per signal and per orphan's exit. The program is one fork away from
/// the start of `main`.
///
/// The program gets `SIGTERM` if the init dies (it can only die of `SIGKILL`, every other
/// signal being forwarded).
///
/// Call it first in `main`, before any thread starts (a Tokio runtime included): it checks
/// and refuses with [`InitError::Threads`] otherwise. Linux only.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     overseer::process::init(overseer::process::InitMode::WhenPid1)?;
///     let runtime = tokio::runtime::Runtime::new()?;
///     runtime.block_on(async {
///         // build and run the tree
///     });
///     Ok(())
/// }
/// ```
pub fn init(mode: InitMode) -> Result<(), InitError> {
    let pid1 = std::process::id() == 1;
    if mode == InitMode::WhenPid1 && !pid1 {
        return Ok(());
    }
    if let Some(threads) = thread_count().filter(|&n| n > 1) {
        return Err(InitError::Threads { threads });
    }
    if !pid1 {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(InitError::Subreaper(io::Error::last_os_error()));
        }
    }
    // Every signal is blocked before the fork, so that none sent to the init between the
    // fork and its first wait is lost: the init takes them with `sigwaitinfo`, the program
    // gets its own mask back.
    let blocked = BlockedSignals::new();
    let init_pid = std::process::id();
    // SAFETY: the process has a single thread (checked above), so the child is a full copy
    // and may go on with anything.
    match unsafe { libc::fork() } {
        -1 => Err(InitError::Fork(io::Error::last_os_error())),
        0 => {
            // SAFETY: setpgid and tcsetpgrp act on this process (SIGTTOU is still blocked,
            // so a background group may take the terminal); prctl takes the signal number;
            // getppid cannot fail.
            unsafe {
                // A group of its own, in the terminal's foreground: Ctrl-C reaches the
                // program once, not also through the init's forwarding.
                libc::setpgid(0, 0);
                if libc::isatty(libc::STDIN_FILENO) == 1 {
                    libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            }
            drop(blocked);
            // SAFETY: getppid cannot fail; raise sends a signal to this process.
            unsafe {
                // The init died before the parent-death signal was set.
                if libc::getppid() as u32 != init_pid {
                    libc::raise(libc::SIGTERM);
                }
            }
            Ok(())
        }
        program => serve(program),
    }
}

/// The init's loop: reaps, forwards, and exits with the program's status.
fn serve(program: libc::pid_t) -> ! {
    // SAFETY: a zeroed sigset_t is valid to fill; every signal is blocked already.
    let all = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        all
    };
    loop {
        // SAFETY: `all` is a filled set; a null info pointer is allowed.
        let signal = unsafe { libc::sigwaitinfo(&all, std::ptr::null_mut()) };
        if signal == libc::SIGCHLD {
            if let Some(code) = reap(program) {
                // SAFETY: ends the init at once, without running the program's atexit work
                // (the program's process does its own).
                unsafe { libc::_exit(code) };
            }
        } else if signal > 0 {
            // SAFETY: forwards the signal; a program that is gone is reaped above.
            unsafe { libc::kill(program, signal) };
        }
    }
}

/// Reaps every child that has exited; the program's exit code once it is among them.
fn reap(program: libc::pid_t) -> Option<i32> {
    let mut code = None;
    loop {
        let mut status = 0;
        // SAFETY: waits for any child without blocking; `status` is written on success.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return code;
        }
        if pid == program {
            code = Some(if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                libc::WEXITSTATUS(status)
            });
        }
    }
}

/// The number of threads of this process, from `/proc/self/status` (`None` without it).
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}
