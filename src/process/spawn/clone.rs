//! The fast path (Linux): a process started with `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD
//! | SIGCHLD)` and a child function on a stack of its own, as glibc's `posix_spawn` starts
//! one, so that what runs between the clone and `exec` (the parent-death signal, the move
//! into a cgroup) costs no copy of the supervisor's page tables.
//!
//! # How
//!
//! In the parent, before the clone, everything the child needs is built ([`Plan`]): `argv`
//! and `envp` as C string arrays, the candidate paths of the program (the `PATH` search, see
//! [`candidates`]), the working directory, the file descriptors of its stdio (`/dev/null`,
//! pipes made with `O_CLOEXEC`, all above 2), the parent-death signal and the supervisor's
//! pid, the `cgroup.procs` to write into. The parent thread then blocks every signal it can
//! (`pthread_sigmask`), clones, and restores its mask.
//!
//! The child shares the supervisor's memory and runs [`child_main`] on the stack given to
//! `clone`, while the parent thread is suspended by the kernel until the child has called
//! `execve` successfully or exited (`CLONE_VFORK`). It makes only async-signal-safe calls
//! that are plain system calls in libc: it resets to `SIG_DFL` every signal that has a
//! handler (with shared memory, a handler of the supervisor run in the child would run on
//! the supervisor's data; glibc's `posix_spawn` does the same) or is ignored (`SIGPIPE`,
//! which Rust ignores; `SIGHUP` under `nohup`; `SIGINT` and `SIGQUIT` in a background job
//! of a script: see [`super`]), makes itself the leader of a new process group,
//! `dup2`s its stdio, changes directory, sets the parent-death signal and kills itself if
//! the supervisor died before that, writes itself into the cgroup, unblocks every signal,
//! and `execve`s each candidate in turn.
//!
//! **How a failure comes back:** through the shared memory. The child stores its `errno`
//! into the [`Plan`] it was given, then `_exit(127)`s; the parent reads it once `clone` has
//! returned. `CLONE_VFORK` guarantees the parent does not run before the child has exec'd
//! (its memory is then another) or exited, so the store is complete when it is read (the
//! kernel's completion orders it; an atomic makes that explicit to the compiler). A pipe, as
//! std uses after `fork`, would cost a `pipe2`, a `read` and two `close`s per spawn, for
//! nothing: after a `fork` the child's memory is a copy and cannot carry anything back; here
//! it is the same memory. A child that failed is reaped at once (no zombie).
//!
//! **What the child relies on** (written down where it is relied on, in [`child_main`]): it
//! allocates nothing and takes no lock (the allocator's and libc's locks may be held by
//! threads of the supervisor that keep running, and are shared memory); it reads only the
//! [`Plan`] and the data it points to, which the suspended parent thread owns and nobody
//! changes meanwhile; it writes only its own stack, the `errno` of the thread-local storage
//! it shares with the suspended parent thread, and the `Plan`'s error slot. Rust links
//! binaries with `-z now`, so no call goes through the lazy binder.
//!
//! # Cost
//!
//! Per spawn in the parent: the environment copied (`std::env::vars_os`, as std does when a
//! command changes it) and the arrays built (a few allocations), `/dev/null` opened once or
//! twice, a pipe per captured stream, two `pthread_sigmask`. In the child: about 64
//! `sigaction` calls to find the handlers, and the calls above. No stack is mapped per spawn
//! (glibc's `posix_spawn` maps and unmaps one each time): stacks are kept in a pool and
//! reused, one per thread that spawns at the same time (usually one, the spawner thread).

use std::ffi::{OsStr, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, getpid, pidfd_open, waitid};

use super::{Cloned, Prepared, Stream};
use crate::process::signal_mask::{BlockedSignals, reset_dispositions};

/// How the clone went wrong.
pub(crate) enum Failure {
    /// `clone` itself was refused (a seccomp filter, a kernel that does not know a flag): the
    /// fallback path is to be used, from now on.
    Refused(io::Error),
    /// The process could not be started (not found, not executable, …), or a resource ran
    /// out: the spawn fails, as it would have through std.
    Failed(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Failed(e)
    }
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// Whether the fast path works here, found out once per process.
static AVAILABLE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the fast path can be used: the kernel has pidfds and waits for a process through
/// one (`waitid(P_PIDFD)`, Linux 5.4; `CLONE_PIDFD` is older, 5.2), and `clone` was not
/// refused before. Probed once, with a pidfd of the supervisor itself: on a kernel that
/// knows `P_PIDFD`, `waitid` says `ECHILD` (the supervisor is not its own child), on an
/// older one `EINVAL`.
pub(crate) fn available() -> bool {
    match AVAILABLE.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            let yes = match pidfd_open(getpid(), PidfdFlags::empty()) {
                Ok(own) => matches!(
                    waitid(
                        WaitId::PidFd(own.as_fd()),
                        WaitIdOptions::EXITED | WaitIdOptions::NOHANG
                    ),
                    Err(rustix::io::Errno::CHILD)
                ),
                Err(_) => false,
            };
            if !yes {
                tracing::debug!(
                    "no pidfds (Linux 5.4) here: process children are spawned through std"
                );
            }
            AVAILABLE.store(if yes { YES } else { NO }, Ordering::Relaxed);
            yes
        }
    }
}

/// No fast path from now on (`clone` was refused).
pub(crate) fn disable() {
    AVAILABLE.store(NO, Ordering::Relaxed);
}

/// Starts `prepared` on the fast path (see the module docs).
pub(crate) fn spawn(prepared: &Prepared) -> Result<Cloned, Failure> {
    let program = prepared.program.as_bytes();
    if program.is_empty() {
        // As `execvp("")`.
        return Err(Failure::Failed(io::Error::from_raw_os_error(libc::ENOENT)));
    }
    let mut argv = CStrings::default();
    argv.push(&[program])?;
    for arg in &prepared.args {
        argv.push(&[arg.as_bytes()])?;
    }
    let env = prepared.env.resolve();
    let mut envp = CStrings::default();
    for (key, value) in &env {
        envp.push(&[key.as_bytes(), b"=", value.as_bytes()])?;
    }
    let search = env
        .iter()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_os_str());
    let candidates = candidates(&prepared.program, search)?;
    let mut cwd = CStrings::default();
    if let Some(dir) = &prepared.cwd {
        cwd.push(&[dir.as_os_str().as_bytes()])?;
    }

    let stdin = above_stdio(std::fs::File::open("/dev/null")?.into())?;
    let null_out = if prepared.stdout == Stream::Null || prepared.stderr == Stream::Null {
        let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
        Some(above_stdio(null.into())?)
    } else {
        None
    };
    let stdout = Output::new(prepared.stdout, null_out.as_ref())?;
    let stderr = Output::new(prepared.stderr, null_out.as_ref())?;

    let argv_ptrs = argv.pointers();
    let envp_ptrs = envp.pointers();
    let candidate_ptrs = candidates.pointers();
    let cwd_ptr = cwd.pointers().first().copied().unwrap_or(std::ptr::null());
    let plan = Plan {
        candidates: candidate_ptrs.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd_ptr,
        stdin: stdin.as_raw_fd(),
        stdout: stdout.child_end(),
        stderr: stderr.child_end(),
        death_signal: prepared.death_signal.map_or(0, |s| s.as_raw()),
        supervisor: getpid().as_raw_nonzero().get(),
        cgroup_procs: prepared
            .cgroup_procs
            .as_ref()
            .map_or(-1, |procs| procs.as_raw_fd()),
        last_signal: libc::SIGRTMAX(),
        errno: AtomicI32::new(0),
    };

    let stack = Stack::take()?;
    let (pid, pidfd, clone_errno) = {
        let _blocked = BlockedSignals::new();
        let mut pidfd: c_int = -1;
        let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
        // SAFETY: `child_main` is an `extern "C"` function that never returns (it `execve`s
        // or `_exit`s) and keeps to what a child sharing our memory may do (see its docs).
        // `stack.top()` is the 16-byte aligned upper end of a mapping of `Stack::SIZE`
        // writable bytes that nothing else uses until `Stack::put_back` below, which runs
        // only once the child no longer uses it (`CLONE_VFORK`: `clone` returns once the
        // child has exec'd or exited). `plan` and everything its pointers point to live in
        // this frame until after the call, and this thread, the only one that owns them, is
        // suspended while the child runs. `CLONE_PIDFD` makes the kernel store the new pidfd
        // into `pidfd` (the variadic `parent_tid` argument), which is ours to write.
        let pid = unsafe {
            libc::clone(
                child_main,
                stack.top(),
                flags,
                (&raw const plan).cast_mut().cast::<c_void>(),
                &raw mut pidfd,
            )
        };
        let clone_errno = if pid < 0 { errno() } else { 0 };
        (pid, pidfd, clone_errno)
    };
    stack.put_back();
    // The child's ends are dup'ed in the child or closed with `exec`: ours close now.
    drop((stdin, null_out));
    let stdout = stdout.into_parent_end();
    let stderr = stderr.into_parent_end();

    if pid < 0 {
        let error = io::Error::from_raw_os_error(clone_errno);
        return Err(match clone_errno {
            libc::EPERM | libc::ENOSYS | libc::EINVAL => Failure::Refused(error),
            _ => Failure::Failed(error),
        });
    }
    // SAFETY: `clone` succeeded with `CLONE_PIDFD`, so the kernel stored a new file
    // descriptor, open, `O_CLOEXEC`, owned by nobody else, into `pidfd`.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let Some(pid) = Pid::from_raw(pid) else {
        return Err(Failure::Failed(io::Error::other(
            "clone returned no pid for the child",
        )));
    };
    let child_errno = plan.errno.load(Ordering::Acquire);
    if child_errno != 0 {
        // It has exited (`_exit(127)`), or is about to: reap it, so no zombie is left.
        reap(&pidfd);
        return Err(Failure::Failed(io::Error::from_raw_os_error(child_errno)));
    }
    Ok(Cloned {
        pid,
        pidfd,
        stdout,
        stderr,
    })
}

/// Waits for the exit of `pidfd`'s process, our child, and reaps it.
fn reap(pidfd: &OwnedFd) {
    loop {
        match waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED) {
            Err(rustix::io::Errno::INTR) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reap a process that failed to start");
                return;
            }
        }
    }
}

/// The calling thread's `errno`.
fn errno() -> c_int {
    // SAFETY: `__errno_location` returns the address of the calling thread's `errno`, valid
    // for the thread's life.
    unsafe { *libc::__errno_location() }
}

/// Where the child's output stream goes, and the parent's end of it.
enum Output {
    Inherit,
    /// `/dev/null`, opened for both streams.
    Null(RawFd),
    /// A pipe: the child's (write) end and the parent's (read) end.
    Pipe {
        child: OwnedFd,
        parent: OwnedFd,
    },
}

impl Output {
    fn new(stream: Stream, null: Option<&OwnedFd>) -> io::Result<Output> {
        Ok(match (stream, null) {
            (Stream::Inherit, _) => Output::Inherit,
            (Stream::Null, Some(null)) => Output::Null(null.as_raw_fd()),
            (Stream::Null, None) => {
                return Err(io::Error::other("no /dev/null for a discarded stream"));
            }
            (Stream::Pipe, _) => {
                let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
                Output::Pipe {
                    child: above_stdio(write)?,
                    parent: read,
                }
            }
        })
    }

    /// The descriptor the child `dup2`s onto its stream; -1 to inherit the supervisor's.
    fn child_end(&self) -> RawFd {
        match self {
            Output::Inherit => -1,
            Output::Null(fd) => *fd,
            Output::Pipe { child, .. } => child.as_raw_fd(),
        }
    }

    /// Closes the child's end; returns the parent's, for a pipe.
    fn into_parent_end(self) -> Option<OwnedFd> {
        match self {
            Output::Pipe { parent, .. } => Some(parent),
            _ => None,
        }
    }
}

/// `fd`, or a duplicate of it numbered 3 or more (`O_CLOEXEC`) if it is 0, 1 or 2 (the
/// supervisor closed its own stdio): the child `dup2`s its sources onto 0, 1 and 2, and a
/// source among them could be overwritten before it is used, or keep its `O_CLOEXEC`.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}

/// Where to look for `program`, in order, as glibc's `execvp` looks: the program itself when
/// its name has a `/`; else each directory of `search` (the `PATH` of the environment the
/// child gets, or `/bin:/usr/bin` when it has none, as `execvp` does and so std, which
/// searches the child's `PATH` when a command changes it) joined with the name, an empty
/// entry standing for the working directory. Relative names are resolved in the child's
/// working directory.
pub(crate) fn candidates(program: &OsStr, search: Option<&OsStr>) -> io::Result<CStrings> {
    let program = program.as_bytes();
    let mut out = CStrings::default();
    if program.contains(&b'/') {
        out.push(&[program])?;
        return Ok(out);
    }
    let search = search.map_or(&b"/bin:/usr/bin"[..], OsStr::as_bytes);
    for dir in search.split(|&b| b == b':') {
        if dir.is_empty() {
            out.push(&[program])?;
        } else {
            out.push(&[dir, b"/", program])?;
        }
    }
    Ok(out)
}

/// NUL-terminated strings in one buffer, and the null-terminated array of pointers to them
/// that `execve` takes.
#[derive(Default)]
pub(crate) struct CStrings {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl CStrings {
    /// Adds the concatenation of `parts`; `InvalidInput` if it holds a NUL byte (as std).
    pub(crate) fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let start = self.bytes.len();
        for part in parts {
            if part.contains(&0) {
                self.bytes.truncate(start);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "nul byte found in provided data",
                ));
            }
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(0);
        self.starts.push(start);
        Ok(())
    }

    /// Pointers to each string, then a null pointer. Valid while `self` is neither changed
    /// nor dropped.
    pub(crate) fn pointers(&self) -> Vec<*const c_char> {
        let base = self.bytes.as_ptr().cast::<c_char>();
        self.starts
            .iter()
            // `wrapping_add` stays within the buffer: every start is below its length.
            .map(|&start| base.wrapping_add(start))
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    }

    /// The strings, without their NULs (tests).
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<&[u8]> {
        self.starts
            .iter()
            .map(|&start| {
                let rest = &self.bytes[start..];
                &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
            })
            .collect()
    }
}

/// What the child is given: plain values and pointers into the parent's frame, which stay
/// valid and unchanged while the child runs (the parent thread is suspended).
struct Plan {
    /// Null-terminated: the paths to `execve`, in order.
    candidates: *const *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// Null: stay in the supervisor's working directory.
    cwd: *const c_char,
    /// `/dev/null`, read-only.
    stdin: RawFd,
    /// What to `dup2` onto 1 and 2; -1: inherit.
    stdout: RawFd,
    stderr: RawFd,
    /// 0: none.
    death_signal: c_int,
    /// The supervisor's pid, which `getppid` shows until the supervisor dies.
    supervisor: libc::pid_t,
    /// -1: none.
    cgroup_procs: RawFd,
    /// The highest signal number (`SIGRTMAX`).
    last_signal: c_int,
    /// 0 until the child fails; then its `errno`.
    errno: AtomicI32,
}

/// The child: runs on its own stack, in the supervisor's memory, until `execve` succeeds;
/// on failure stores `errno` into the plan and exits with 127.
///
/// What it may do, and does: only async-signal-safe calls that are system calls in libc
/// (`sigaction`, `setpgid`, `dup2`, `chdir`, `prctl`, `getppid`, `kill`, `write`,
/// `sigprocmask`, `execve`, `_exit`, `syscall(SYS_getpid)`), no allocation, no lock, no
/// panic (no indexing, no `unwrap`), no thread-local storage but `errno`. The supervisor's
/// other threads keep running and may hold the allocator's or libc's locks, whose memory is
/// shared: a lock taken here could never be released, and an allocation could corrupt the
/// heap. A panic would unwind into `clone` (not allowed across `extern "C"`: abort).
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Plan` the parent passed to `clone`, alive in the parent's frame
    // and unchanged while the parent thread is suspended (`CLONE_VFORK`); the only field
    // written is the atomic `errno`, through a shared reference.
    let plan = unsafe { &*arg.cast::<Plan>() };
    // SAFETY: we are the child of `clone(CLONE_VM | CLONE_VFORK)`, as `child_steps`
    // requires, with `plan`'s pointers valid (see above).
    let errno = unsafe { child_steps(plan) };
    plan.errno.store(
        if errno == 0 { libc::EINVAL } else { errno },
        Ordering::Release,
    );
    // SAFETY: `_exit` ends the process at once, without running anything of the
    // supervisor's (no `atexit` handler, no flush of stdio buffers, which are shared memory).
    unsafe { libc::_exit(127) }
}

/// The steps of the child (see [`child_main`]); returns only if one fails, with its `errno`.
///
/// # Safety
///
/// Only in the child of `clone(CLONE_VM | CLONE_VFORK)` made in [`spawn`], with `plan`'s
/// pointers valid: it changes process-wide state (signal dispositions, process group,
/// descriptors, working directory) that, in the supervisor, would be wrong.
unsafe fn child_steps(plan: &Plan) -> c_int {
    // SAFETY (for the whole body): the calls are async-signal-safe system calls given valid
    // pointers: to `sigaction` structures on this stack, to the plan's NUL-terminated
    // strings and null-terminated arrays, to a static byte.
    unsafe {
        // Every signal with a handler or ignored back to its default. Signals stay blocked
        // (the parent blocked them all before the clone) until the last step.
        let failed = reset_dispositions(plan.last_signal);
        if failed != 0 {
            return failed;
        }
        if libc::setpgid(0, 0) != 0 {
            return errno();
        }
        // Sources are all above 2 (`above_stdio`): none is overwritten by another's dup2,
        // and dup2 always makes a new descriptor, without O_CLOEXEC.
        for (source, target) in [(plan.stdin, 0), (plan.stdout, 1), (plan.stderr, 2)] {
            if source >= 0 && libc::dup2(source, target) < 0 {
                return errno();
            }
        }
        if !plan.cwd.is_null() && libc::chdir(plan.cwd) != 0 {
            return errno();
        }
        if plan.death_signal != 0 {
            if libc::prctl(libc::PR_SET_PDEATHSIG, plan.death_signal as libc::c_ulong) != 0 {
                return errno();
            }
            // The supervisor died between the clone and the prctl: we were reparented and
            // would never get the signal. Send it now (a blocked one is delivered at the
            // unblocking below, with its default action).
            if libc::getppid() != plan.supervisor {
                let own = libc::syscall(libc::SYS_getpid) as libc::pid_t;
                libc::kill(own, plan.death_signal);
            }
        }
        if plan.cgroup_procs >= 0 {
            // "0": the writing process.
            let written = libc::write(plan.cgroup_procs, b"0".as_ptr().cast(), 1);
            if written < 0 {
                return errno();
            }
            if written != 1 {
                return libc::EIO;
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return errno();
        }
        exec_candidates(plan.candidates, plan.argv, plan.envp)
    }
}

/// Tries `execve` on each of the null-terminated `candidates` in turn, as `execvp` does: the
/// next one after a "not found here" error; returns (if none could be executed) EACCES if
/// any candidate gave it, else the last error. Async-signal-safe: calls `execve` and reads
/// `errno`, nothing else, so it may run between `fork` and `exec`.
///
/// # Safety
/// The three arrays must be valid, null-terminated arrays of C strings.
pub(crate) unsafe fn exec_candidates(
    candidates: *const *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let mut found_but_denied = false;
    let mut last = libc::ENOENT;
    let mut candidate = candidates;
    // SAFETY: the caller passes valid null-terminated arrays; each entry is read before the
    // pointer moves past it, never past the terminating null.
    unsafe {
        while !(*candidate).is_null() {
            libc::execve(*candidate, argv, envp);
            let e = errno();
            match e {
                libc::EACCES => found_but_denied = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => return e,
            }
            last = e;
            candidate = candidate.add(1);
        }
    }
    if found_but_denied { libc::EACCES } else { last }
}

/// A stack for the child: a private anonymous mapping with a guard page at its low end.
/// Also the stacks of the jobs' launcher (`jobs/shim.rs`), which clones the same way.
pub(crate) struct Stack {
    base: *mut c_void,
}

// SAFETY: the mapping is plain memory owned by the `Stack`; it can be used and unmapped from
// any thread.
unsafe impl Send for Stack {}

/// Stacks not in use, reused by the next spawns (one per thread spawning at once).
static STACKS: Mutex<Vec<Stack>> = Mutex::new(Vec::new());

impl Stack {
    /// The usable size: the child's frames are small (a few `sigaction` structures); glibc
    /// gives its `posix_spawn` child 32 KiB plus room for a copy of `argv`, which we do not
    /// make. Only the pages touched are ever resident.
    const SIZE: usize = 64 * 1024;

    fn guard() -> usize {
        rustix::param::page_size()
    }

    /// A stack from the pool, or a new one.
    pub(crate) fn take() -> io::Result<Stack> {
        if let Some(stack) = crate::lock::lock(&STACKS).pop() {
            return Ok(stack);
        }
        let len = Self::SIZE + Self::guard();
        // SAFETY: a new private anonymous mapping (no address hint, no file); the result is
        // checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the first page of the mapping just made; an overflow of the child's stack
        // then faults instead of writing below the mapping.
        if unsafe { libc::mprotect(base, Self::guard(), libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The upper end of the mapping (stacks grow down on every Linux target of Rust); page
    /// aligned, hence 16-byte aligned as every ABI asks.
    pub(crate) fn top(&self) -> *mut c_void {
        self.base
            .cast::<u8>()
            .wrapping_add(Self::SIZE + Self::guard())
            .cast()
    }

    pub(crate) fn put_back(self) {
        crate::lock::lock(&STACKS).push(self);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `take`, with its length; no child runs on it (it is
        // dropped only out of the pool, or after a failed `mprotect`).
        unsafe {
            libc::munmap(self.base, Self::SIZE + Self::guard());
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn strings(c: &CStrings) -> Vec<String> {
        c.to_vec()
            .into_iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    #[test]
    fn a_program_with_a_slash_is_its_only_candidate() {
        let c = candidates(OsStr::new("./bin/app"), Some(OsStr::new("/usr/bin"))).unwrap();
        assert_eq!(strings(&c), ["./bin/app"]);
    }

    #[test]
    fn a_bare_name_is_looked_up_in_each_directory_of_the_path_in_order() {
        let c = candidates(OsStr::new("app"), Some(OsStr::new("/a:/b/c::rel"))).unwrap();
        assert_eq!(strings(&c), ["/a/app", "/b/c/app", "app", "rel/app"]);
    }

    #[test]
    fn without_a_path_a_bare_name_is_looked_up_where_execvp_looks() {
        let c = candidates(OsStr::new("app"), None).unwrap();
        assert_eq!(strings(&c), ["/bin/app", "/usr/bin/app"]);
    }

    #[test]
    fn a_nul_byte_is_invalid_input() {
        let mut c = CStrings::default();
        let e = c.push(&[b"a\0b"]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        c.push(&[b"ok"]).unwrap();
        assert_eq!(strings(&c), ["ok"]);
        assert_eq!(c.pointers().len(), 2);
        assert!(c.pointers()[1].is_null());
    }
}
