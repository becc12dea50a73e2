//! How a process is started: everything it needs is prepared in the supervisor
//! ([`Prepared`]), then one of two paths starts it.
//!
//! - **The fast path** (Linux with pidfds, [`clone`]): `clone(CLONE_VM | CLONE_VFORK |
//!   CLONE_PIDFD)` with a child function on a stack of its own, as glibc's `posix_spawn` does:
//!   no page table is copied, whatever the child does before `exec` (the parent-death signal,
//!   the move into a cgroup). The leader comes back as a pid and its pidfd, through which it
//!   is waited for and reaped.
//! - **The fallback** (other systems, kernels without pidfds (before 5.4), `clone` refused by
//!   a seccomp filter): std's spawn through Tokio, with the parent-death signal and the move
//!   into a cgroup as `pre_exec` hooks. std then uses `fork` rather than `posix_spawn`,
//!   which copies the supervisor's page tables: about 0.4–0.5 ms more per spawn on the
//!   project's machine.
//!
//! Both paths give the child the same things: the program found as `execvp` finds it (see
//! [`clone`] for the search), its arguments, the environment built from the command's
//! settings, its working directory, stdin from `/dev/null`, stdout and stderr inherited,
//! discarded or piped, its own process group, every signal at its default disposition, and
//! the parent-death signal when one is set. Signals the supervisor ignores are not passed
//! on, as systemd passes none to its services (std and `posix_spawn` keep them, but for
//! `SIGPIPE`): a supervisor started under `nohup` ignores `SIGHUP`, one started in the
//! background by a script ignores `SIGINT` and `SIGQUIT`, and its children would otherwise
//! ignore a reload by `SIGHUP` or a stop by `SIGINT` until the SIGKILL at the timeout. One
//! difference: on the fast path the program starts with no signal blocked, on the fallback
//! with the signal mask of the thread that spawned it (std's rule; none on Tokio's threads
//! unless the application blocked some before it built its runtime).
//!
//! Where the spawn runs: from the [spawner thread](super::spawner) when the command sets a
//! parent-death signal (Linux, Android), from the calling thread otherwise.

#[cfg(target_os = "linux")]
pub(crate) mod clone;
#[cfg(all(test, target_os = "linux"))]
mod tests;

use std::ffi::OsString;
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::OwnedFd;
use std::path::PathBuf;
#[cfg(target_os = "linux")]
use std::sync::Arc;

use super::signal::Signal;

/// Where one of the child's output streams goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// The supervisor's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A pipe whose read end comes back with the process.
    Pipe,
}

impl Stream {
    fn stdio(self) -> std::process::Stdio {
        match self {
            Stream::Inherit => std::process::Stdio::inherit(),
            Stream::Null => std::process::Stdio::null(),
            Stream::Pipe => std::process::Stdio::piped(),
        }
    }
}

/// The environment of the child, as the command's settings build it.
#[derive(Debug, Default)]
pub(crate) struct EnvPlan {
    /// Start from an empty environment rather than the supervisor's.
    pub(crate) clear: bool,
    /// Variables set (`Some`) or removed (`None`), applied in order over the start: those of
    /// the env files, then the command's own, then the containment's marker.
    pub(crate) changes: Vec<(OsString, Option<OsString>)>,
}

impl EnvPlan {
    /// The child's environment: the supervisor's (read now) or none, with the changes
    /// applied in order. One entry per name.
    #[cfg(target_os = "linux")]
    fn resolve(&self) -> Vec<(OsString, OsString)> {
        resolve_env(self.clear, &self.changes)
    }

    /// Applies the plan to a std command, call by call as the settings were made.
    fn apply_to(&self, cmd: &mut tokio::process::Command) {
        if self.clear {
            cmd.env_clear();
        }
        for (key, value) in &self.changes {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
    }
}

/// Everything a process needs to be started, prepared in the supervisor before the spawn:
/// env files read, working directory checked (see [`Command::prepare`](super::Command)).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: EnvPlan,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdout: Stream,
    pub(crate) stderr: Stream,
    /// The parent-death signal, if any (Linux, Android; ignored elsewhere).
    pub(crate) death_signal: Option<Signal>,
    /// The `cgroup.procs` of the run's cgroup, which the child writes itself into before
    /// `exec` (see [`Containment`](super::Containment)). Shared with the run's cgroup, so
    /// that it stays open until the spawn is over even if the run is abandoned meanwhile.
    #[cfg(target_os = "linux")]
    pub(crate) cgroup_procs: Option<Arc<OwnedFd>>,
    /// Start it on the fallback path even where the fast one works (tests).
    pub(crate) force_fallback: bool,
}

impl Prepared {
    /// A plan to start `program` with no arguments, the supervisor's environment and working
    /// directory, inherited stdout and stderr and no parent-death signal.
    pub(crate) fn new(program: OsString) -> Prepared {
        Prepared {
            program,
            args: Vec::new(),
            env: EnvPlan::default(),
            cwd: None,
            stdout: Stream::Inherit,
            stderr: Stream::Inherit,
            death_signal: None,
            #[cfg(target_os = "linux")]
            cgroup_procs: None,
            force_fallback: false,
        }
    }
}

/// The path a spawn takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// `clone(CLONE_VM | CLONE_VFORK)` (Linux with pidfds).
    Clone,
    /// std's spawn through Tokio.
    Std,
}

/// The path `prepared` will take: the fast one wherever it works.
pub(crate) fn path_for(prepared: &Prepared) -> Path {
    #[cfg(target_os = "linux")]
    if !prepared.force_fallback && clone::available() {
        return Path::Clone;
    }
    let _ = prepared;
    Path::Std
}

/// A process just started as the leader of a new process group.
pub(crate) enum Spawned {
    /// Through std and Tokio (the fallback): Tokio waits for it and reaps it.
    Std(tokio::process::Child),
    /// Through `clone` (the fast path): waited for and reaped through its pidfd.
    #[cfg(target_os = "linux")]
    Cloned(Cloned),
}

/// A process started on the fast path. Not yet reaped: its pid cannot be handed to another
/// process until it is.
#[cfg(target_os = "linux")]
pub(crate) struct Cloned {
    pub(crate) pid: rustix::process::Pid,
    /// From `CLONE_PIDFD`: refers to the process whatever happens to its pid.
    pub(crate) pidfd: OwnedFd,
    /// The read ends of the piped output streams.
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
}

/// Starts `prepared` as the leader of a new process group (see the module docs for the
/// paths and threads). Must be called within a Tokio runtime.
pub(crate) async fn spawn(prepared: Prepared) -> io::Result<Spawned> {
    let path = path_for(&prepared);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if prepared.death_signal.is_some() {
        let runtime = tokio::runtime::Handle::current();
        let answer = super::spawner::run(move || {
            let spawned = {
                let _runtime = runtime.enter();
                spawn_here(prepared, path)
            };
            spawned.map(|spawned| Answer::new(spawned, runtime))
        })
        .await??;
        return answer.claim();
    }
    spawn_here(prepared, path)
}

/// Starts `prepared` from this thread, on `path` (and on the fallback if `clone` is refused).
fn spawn_here(prepared: Prepared, path: Path) -> io::Result<Spawned> {
    #[cfg(target_os = "linux")]
    if path == Path::Clone {
        match clone::spawn(&prepared) {
            Ok(cloned) => return Ok(Spawned::Cloned(cloned)),
            Err(clone::Failure::Failed(e)) => return Err(e),
            Err(clone::Failure::Refused(e)) => {
                tracing::debug!(error = %e, "clone refused; process children are spawned through std from now on");
                clone::disable();
            }
        }
    }
    let _ = path;
    spawn_std(prepared).map(Spawned::Std)
}

/// The fallback: std's spawn through Tokio, as the leader of a new process group, with the
/// parent-death signal and the move into a cgroup as `pre_exec` hooks.
fn spawn_std(prepared: Prepared) -> io::Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(&prepared.program);
    cmd.args(&prepared.args)
        .stdin(std::process::Stdio::null())
        .stdout(prepared.stdout.stdio())
        .stderr(prepared.stderr.stdio())
        .process_group(0)
        .kill_on_drop(true);
    prepared.env.apply_to(&mut cmd);
    if let Some(dir) = &prepared.cwd {
        cmd.current_dir(dir);
    }
    reset_ignored_signals(&mut cmd);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(signal) = prepared.death_signal {
        super::pdeathsig::set(&mut cmd, signal);
    }
    #[cfg(target_os = "linux")]
    if let Some(procs) = prepared.cgroup_procs {
        super::containment::move_into(&mut cmd, procs);
    }
    cmd.spawn()
}

/// Makes every signal the supervisor ignores (or handles) default again in the child, as
/// the fast path does (std resets only `SIGPIPE`). A `pre_exec` hook: std then forks.
fn reset_ignored_signals(cmd: &mut tokio::process::Command) {
    let last = last_signal();
    // SAFETY: the hook runs in the forked child before `exec`, as `reset_dispositions`
    // requires, and makes only its async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || match super::signal_mask::reset_dispositions(last) {
            0 => Ok(()),
            errno => Err(io::Error::from_raw_os_error(errno)),
        });
    }
}

/// The highest signal number.
fn last_signal() -> libc::c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::SIGRTMAX()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        31
    }
}

/// A process on its way from the spawner thread to the run that asked for it. If it never
/// gets there (the run was dropped while the answer was in flight, e.g. its runtime shut
/// down, whether before or after the answer was sent), it is dropped with the answer, and
/// then kills the process's **whole group**, not only its leader: the leader is not reaped
/// yet, so the pgid is still its own (the invariant on [`Group`](super::group::Group)), and
/// members the leader has started by then would otherwise be left running, orphaned. The
/// leader is then reaped once it has exited, by the spawner thread (fast path) or Tokio's
/// orphan reaper (fallback).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) struct Answer {
    spawned: Option<Spawned>,
    /// The runtime of the caller, with whose process driver a fallback child is registered.
    runtime: tokio::runtime::Handle,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Answer {
    pub(crate) fn new(spawned: Spawned, runtime: tokio::runtime::Handle) -> Answer {
        Answer {
            spawned: Some(spawned),
            runtime,
        }
    }

    /// The process, taken by the run that asked for it: no longer killed on drop.
    pub(crate) fn claim(mut self) -> io::Result<Spawned> {
        self.spawned
            .take()
            .ok_or_else(|| io::Error::other("a spawned process was claimed twice"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Drop for Answer {
    fn drop(&mut self) {
        use rustix::process::{Pid, Signal as Raw, kill_process_group};
        let Some(spawned) = self.spawned.take() else {
            return;
        };
        match spawned {
            Spawned::Std(child) => {
                if let Some(pgid) = child
                    .id()
                    .and_then(|id| i32::try_from(id).ok())
                    .and_then(Pid::from_raw)
                {
                    let _ = kill_process_group(pgid, Raw::KILL);
                }
                // Reaps the leader at once if it has exited, or queues it for Tokio's orphan
                // reaper (of the runtime it was spawned in).
                let _runtime = self.runtime.enter();
                drop(child);
            }
            #[cfg(target_os = "linux")]
            Spawned::Cloned(cloned) => {
                let _ = kill_process_group(cloned.pid, Raw::KILL);
                super::spawner::reap_later(cloned.pidfd);
            }
        }
    }
}

/// The environment a program gets: this process's (or none, with `clear`) with `changes`
/// applied in order (`None` removes a name). One entry per name.
#[cfg(target_os = "linux")]
pub(crate) fn resolve_env(
    clear: bool,
    changes: &[(OsString, Option<OsString>)],
) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = if clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    for (key, value) in changes {
        match value {
            Some(value) => match vars.iter_mut().find(|(k, _)| k == key) {
                Some(var) => var.1.clone_from(value),
                None => vars.push((key.clone(), value.clone())),
            },
            None => vars.retain(|(k, _)| k != key),
        }
    }
    vars
}
