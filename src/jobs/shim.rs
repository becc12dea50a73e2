//! How a job is started so that it outlives its starter and its real exit status is still
//! recorded: a double fork, with no re-exec.
//!
//! ```text
//! starter ── clone(VM, VFORK) ──► middle: setsid(); fork; _exit(0)   (reaped by the starter at once)
//!                                   └──► shim: clone(VM, VFORK); report pids; waitpid(job); write result.json; _exit
//!                                          └──► job: setpgid(0, 0); execve(program)
//! ```
//!
//! # Why this shape
//!
//! - **A shim must be the job's parent**: only a parent learns the exit status (`waitpid`).
//!   The starter cannot be that parent, since the job must outlive it.
//! - **No re-exec of the current binary.** A library cannot assume that its host binary
//!   answers a shim flag, unless every user calls a check at the top of `main`. Same-binary
//!   workers ([`Workers`](super::Workers)) do require that check; plain jobs do not.
//! - **Not `/bin/sh` as the shim.** `sh -c 'prog & wait $!; echo $?'` reports a signal as
//!   `128 + n`, indistinguishable from a real exit code `128 + n`, and needs the command
//!   quoted into a script.
//! - **So the shim is a fork of the starter that never execs**, and the only fork of the
//!   three processes: the middle and the job are clones that share their parent's memory
//!   (`CLONE_VM | CLONE_VFORK`, as `posix_spawn` and the process children's spawn do, see
//!   `process/spawn/clone.rs`), each on a stack mapped for it in advance, with the parent
//!   thread suspended until the clone has exec'd or exited; they copy no page tables. Between
//!   the fork and `_exit`, and in a clone sharing a multi-threaded process's memory, only
//!   async-signal-safe calls are allowed (another thread may hold the allocator's lock).
//!   Everything that needs memory is prepared before the first clone ([`Launch`]: the
//!   program's candidate paths, argv, envp, the working directory, the result paths, the
//!   stacks); the middle, the shim and the job use only system calls (`setsid`, `clone`,
//!   `sigaction`, `sigprocmask`, `dup2`, `close`, `chdir`, `open`, `read`, `write`, `fsync`,
//!   `rename`, `waitpid`, `clock_gettime`, `setpgid`, `execve`, `_exit`) and code that neither
//!   allocates nor panics (the stat parser, the integer formatting). Where `clone` with these
//!   flags is refused (a sandbox), plain forks do the same.
//! - **The middle process** makes the shim a grandchild: it is reparented at once to init (or
//!   the nearest subreaper), so the starter never has to reap it and no zombie is left in a
//!   long-lived starter. `setsid` in the middle puts the shim and the job in a new session
//!   without a controlling terminal, and the shim, not being a session leader, can never
//!   acquire one.
//! - **The job leads its own process group** in that session (`setpgid(0, 0)`), so a cancel
//!   signals the whole group and never the shim, which survives to record the status.
//!
//! # Costs
//!
//! One fork (the shim) and two clones that copy nothing, instead of one spawn; the fork
//! copies the starter's page tables, and the starter then takes a copy-on-write fault on
//! each page it writes first. The shim is a copy-on-write image of the starter: its pages
//! stay shared with the starter while both live, but after the starter exits (or rewrites
//! its memory), what the shim still maps is its own, for as long as the job runs. A starter
//! with a large heap pays that per running job. See `BENCHMARKS.md` for the start-up
//! figures.
//!
//! # What the shim does about signals
//!
//! It ignores `SIGHUP`, `SIGINT`, `SIGQUIT` and `SIGTERM` (they are meant for the job; a
//! terminal's or a service manager's stop reaches the job's group, and the shim ends when the
//! job does), resets every other disposition to the default, and gives the job all defaults
//! and an empty signal mask. `SIGKILL` still ends the shim: the job then runs on unwatched and
//! ends as `orphaned` (see the module docs of [`jobs`](super)).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use libc::c_int;

use super::identity;
use crate::process::signal_mask::{BlockedSignals, reset_dispositions};
use crate::process::spawn::clone::{CStrings, Stack, exec_candidates};

/// The name of the file the shim writes when the job has ended.
pub(crate) const RESULT_FILE: &str = "result.json";

/// Everything the three processes need, prepared before the first fork.
pub(crate) struct Launch {
    pub(crate) candidates: CStrings,
    pub(crate) argv: CStrings,
    pub(crate) envp: CStrings,
    pub(crate) cwd: CString,
    pub(crate) stdin: OwnedFd,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    /// The job's directory, and the temporary and final paths of its result file.
    pub(crate) dir: CString,
    pub(crate) result_tmp: CString,
    pub(crate) result: CString,
}

/// The started job and its shim, as the shim reported them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Launched {
    pub(crate) pid: u32,
    pub(crate) pid_start: u64,
    pub(crate) shim_pid: u32,
    pub(crate) shim_start: u64,
}

/// Why a launch failed, as learnt from the report pipe.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// The program could not be executed; the job was forked and exited with 127 (its shim
    /// records that).
    Exec(io::Error, Launched),
    /// The middle or the shim could not be set up: no job process exists.
    Setup(io::Error),
}

/// Converts a path or string to a C string; `InvalidInput` on a NUL byte.
pub(crate) fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

/// The plan with raw pointers, valid while `launch` borrows the [`Launch`].
struct Plan {
    candidates: *const *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    report: RawFd,
    dir: *const libc::c_char,
    result_tmp: *const libc::c_char,
    result: *const libc::c_char,
    last_signal: c_int,
    /// The top of the stack the shim clones the job onto; null: the shim forks it.
    job_stack: *mut libc::c_void,
}

/// The signals the shim ignores (meant for the job, see the module docs).
const SHIM_IGNORES: [c_int; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// Tags of the report messages (one `write` each, below `PIPE_BUF`: never interleaved).
const TAG_PIDS: u8 = b'P';
const TAG_SETUP_FAILED: u8 = b'E';
const TAG_EXEC_FAILED: u8 = b'X';

/// Starts the job as described in the module docs. Blocks until the job has called `execve`
/// (or failed to): a few forks and the exec, no waiting for the job itself.
pub(crate) fn launch(l: &Launch) -> Result<Launched, LaunchError> {
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| LaunchError::Setup(e.into()))?;
    let candidates = l.candidates.pointers();
    let argv = l.argv.pointers();
    let envp = l.envp.pointers();
    let mut plan = Plan {
        candidates: candidates.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: l.cwd.as_ptr(),
        stdin: l.stdin.as_raw_fd(),
        stdout: l.stdout.as_raw_fd(),
        stderr: l.stderr.as_raw_fd(),
        report: write_end.as_raw_fd(),
        dir: l.dir.as_ptr(),
        result_tmp: l.result_tmp.as_ptr(),
        result: l.result.as_ptr(),
        last_signal: libc::SIGRTMAX(),
        job_stack: std::ptr::null_mut(),
    };
    // One stack for the middle, which runs in our memory until it exits (`CLONE_VFORK`), and
    // one for the job, which runs in the shim's copy of it until it execs: the shim's copy of
    // this stack's mapping, made by the middle's fork, is what the job's clone uses.
    let middle_stack = Stack::take().map_err(LaunchError::Setup)?;
    let job_stack = Stack::take().map_err(LaunchError::Setup)?;
    plan.job_stack = job_stack.top();
    let (middle, clone_errno) = {
        let _blocked = BlockedSignals::new();
        // SAFETY: `middle_entry` is an `extern "C"` function that never returns (it
        // `_exit`s) and keeps to what a child sharing our memory may do (see its docs).
        // `middle_stack.top()` is the aligned upper end of a writable mapping that nothing
        // else uses until it is put back below, after the middle has exited (`CLONE_VFORK`:
        // `clone` returns once the child has exited). `plan` and everything its pointers
        // point to live in this frame, and this thread, their only user, is suspended while
        // the middle runs. All signals are blocked around the clone, so no handler of ours
        // runs in the child before the shim has reset them.
        let pid = if force_fork() {
            -1
        } else {
            unsafe {
                libc::clone(
                    middle_entry,
                    middle_stack.top(),
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                    (&raw const plan).cast_mut().cast::<libc::c_void>(),
                )
            }
        };
        let clone_errno = if pid < 0 { errno() } else { 0 };
        if pid < 0 && matches!(clone_errno, libc::EPERM | libc::ENOSYS | libc::EINVAL)
            || force_fork()
        {
            // A sandbox that refuses `clone` with these flags: a plain fork, slower.
            plan.job_stack = std::ptr::null_mut();
            // SAFETY: `fork` in a multi-threaded process; the child runs only `middle_main`,
            // which keeps to async-signal-safe system calls and never returns (see the
            // module docs).
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: we are the freshly forked child, as `middle_main` requires.
                unsafe { middle_main(&plan) }
            }
            (pid, if pid < 0 { errno() } else { 0 })
        } else {
            (pid, clone_errno)
        }
    };
    middle_stack.put_back();
    job_stack.put_back();
    drop(write_end);
    if middle < 0 {
        return Err(LaunchError::Setup(io::Error::from_raw_os_error(
            clone_errno,
        )));
    }
    reap(middle);
    read_report(read_end)
}

/// Whether tests asked for the fork path (where `clone` is refused).
#[cfg(test)]
fn force_fork() -> bool {
    tests::FORCE_FORK.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(test))]
fn force_fork() -> bool {
    false
}

/// Waits for the middle process (it exits right after its fork).
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    loop {
        // SAFETY: `waitpid` on our own child, with a valid pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Reads the report pipe until every write end is closed: by the middle's and the shim's
/// exits or closes, and by the job's `execve` (`O_CLOEXEC`) or its exit after a failure.
fn read_report(read_end: OwnedFd) -> Result<Launched, LaunchError> {
    let mut file = std::fs::File::from(read_end);
    let mut bytes = Vec::with_capacity(64);
    io::Read::read_to_end(&mut file, &mut bytes).map_err(LaunchError::Setup)?;
    let mut launched = None;
    let mut exec_error = None;
    let mut setup_error = None;
    let mut rest = &bytes[..];
    while let Some((&tag, tail)) = rest.split_first() {
        match tag {
            TAG_PIDS if tail.len() >= 24 => {
                let (p, tail) = tail.split_at(24);
                let n4 = |r: &[u8]| u32::from_ne_bytes([r[0], r[1], r[2], r[3]]);
                let n8 =
                    |r: &[u8]| u64::from_ne_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
                launched = Some(Launched {
                    pid: n4(&p[0..4]),
                    pid_start: n8(&p[4..12]),
                    shim_pid: n4(&p[12..16]),
                    shim_start: n8(&p[16..24]),
                });
                rest = tail;
            }
            TAG_EXEC_FAILED | TAG_SETUP_FAILED if tail.len() >= 4 => {
                let (e, tail) = tail.split_at(4);
                let errno = i32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
                let error = io::Error::from_raw_os_error(errno);
                if tag == TAG_EXEC_FAILED {
                    exec_error = Some(error);
                } else {
                    setup_error = Some(error);
                }
                rest = tail;
            }
            _ => {
                return Err(LaunchError::Setup(io::Error::other(
                    "the job's shim sent a report that cannot be read",
                )));
            }
        }
    }
    match (setup_error, launched, exec_error) {
        (Some(e), _, _) => Err(LaunchError::Setup(e)),
        (None, Some(launched), Some(e)) => Err(LaunchError::Exec(e, launched)),
        (None, Some(launched), None) => Ok(launched),
        (None, None, _) => Err(LaunchError::Setup(io::Error::other(
            "the job's shim ended without reporting the job's pid",
        ))),
    }
}

fn errno() -> c_int {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Writes a tagged number to the report pipe (one `write`).
///
/// # Safety
///
/// `fd` is the report pipe's write end.
unsafe fn report(fd: RawFd, tag: u8, payload: &[u8]) {
    let mut buf = [0u8; 32];
    let len = 1 + payload.len().min(31);
    buf[0] = tag;
    let mut i = 1;
    while i < len {
        buf[i] = payload[i - 1];
        i += 1;
    }
    // SAFETY: a valid buffer of `len` bytes.
    unsafe { libc::write(fd, buf.as_ptr().cast(), len) };
}

/// The middle as the child of `clone(CLONE_VM | CLONE_VFORK)` in [`launch`]: it runs in the
/// starter's memory, on its own stack, while the starting thread is suspended.
///
/// What it may do, and does: only system calls (`setsid`, a fork as the raw `clone` system
/// call, `write`, `_exit`), no allocation, no lock, no panic: the starter's other threads
/// keep running and may hold the allocator's or libc's locks, whose memory is shared. Not
/// libc's `fork()`, which runs `atfork` handlers and takes the allocator's locks in memory
/// that is the starter's. The shim it forks gets a copy of that memory, this stack
/// included, and goes on from there as a forked child of a single thread.
extern "C" fn middle_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` is the `Plan` that `launch` passed to `clone`, alive in its frame and
    // unchanged while its thread is suspended (`CLONE_VFORK`); nothing writes to it here.
    let plan = unsafe { &*arg.cast::<Plan>() };
    // SAFETY: we are the child of that clone, with `plan`'s pointers valid.
    unsafe { middle_main(plan) }
}

/// The middle process: a new session, the shim forked into it, then gone.
///
/// # Safety
///
/// Only in the child made by [`launch`] (a clone sharing its memory, or a fork), with
/// `plan`'s pointers valid.
unsafe fn middle_main(plan: &Plan) -> ! {
    // SAFETY (whole body): async-signal-safe system calls with valid arguments.
    unsafe {
        if libc::setsid() < 0 {
            report(plan.report, TAG_SETUP_FAILED, &errno().to_ne_bytes());
            libc::_exit(1);
        }
        // A plain fork (flags: only the exit signal), as the system call, not through libc.
        let shim = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0)
            as libc::pid_t;
        if shim < 0 {
            report(plan.report, TAG_SETUP_FAILED, &errno().to_ne_bytes());
            libc::_exit(1);
        }
        if shim > 0 {
            libc::_exit(0);
        }
        shim_main(plan)
    }
}

/// Sets the disposition of each of `signals` to `handler` (`SIG_DFL` or `SIG_IGN`).
///
/// # Safety
///
/// In a forked or cloned child only (it changes process-wide state); async-signal-safe.
unsafe fn set_dispositions(signals: &[c_int], handler: libc::sighandler_t) {
    for &sig in signals {
        // SAFETY: `sigaction` with a zeroed structure on this stack.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Reads `/proc/<pid>/stat` (`pid` 0: `/proc/self/stat`) into a stack buffer and parses the
/// start time. No allocation.
///
/// # Safety
///
/// Async-signal-safe; may be called in a forked child.
unsafe fn start_time(pid: u32) -> u64 {
    let mut path = [0u8; 32];
    let mut len = 0;
    for &b in b"/proc/" {
        path[len] = b;
        len += 1;
    }
    if pid == 0 {
        for &b in b"self" {
            path[len] = b;
            len += 1;
        }
    } else {
        len += format_u64(&mut path[len..], u64::from(pid));
    }
    for &b in b"/stat\0" {
        path[len] = b;
        len += 1;
    }
    let mut buf = [0u8; 1024];
    // SAFETY: a NUL-terminated path on this stack; reads into a stack buffer.
    let n = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return 0;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return 0;
    }
    let n = (n as usize).min(buf.len());
    identity::parse_stat(&buf[..n]).map_or(0, |s| s.start)
}

/// Writes `n` in decimal at the start of `out`; returns the number of bytes written (0 if
/// `out` is too short). No allocation, no panic.
pub(crate) fn format_u64(out: &mut [u8], mut n: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 || count == digits.len() {
            break;
        }
    }
    if count > out.len() {
        return 0;
    }
    let mut i = 0;
    while i < count {
        out[i] = digits[count - 1 - i];
        i += 1;
    }
    count
}

/// The shim: forks the job, reports the pids, waits, writes the result.
///
/// # Safety
///
/// Only in the grandchild made by [`middle_main`].
unsafe fn shim_main(plan: &Plan) -> ! {
    // SAFETY (whole body): async-signal-safe system calls with valid arguments: the plan's
    // NUL-terminated strings and arrays, buffers on this stack.
    unsafe {
        reset_dispositions(plan.last_signal);
        set_dispositions(&SHIM_IGNORES, libc::SIG_IGN);
        for (source, target) in [(plan.stdin, 0), (plan.stdout, 1), (plan.stderr, 2)] {
            if libc::dup2(source, target) < 0 {
                report(plan.report, TAG_SETUP_FAILED, &errno().to_ne_bytes());
                libc::_exit(1);
            }
        }
        // Nothing of the starter's stays open in the shim or the job but stdio and the
        // report pipe (closed in the job at `execve`).
        close_from(3, plan.report);
        // The shim holds no directory busy.
        libc::chdir(c"/".as_ptr());
        let shim_start = start_time(0);
        let job = start_job(plan);
        if job < 0 {
            report(plan.report, TAG_SETUP_FAILED, &errno().to_ne_bytes());
            libc::_exit(1);
        }
        let job_start = start_time(job as u32);
        let mut pids = [0u8; 24];
        let shim_pid = libc::getpid() as u32;
        let parts: [&[u8]; 4] = [
            &(job as u32).to_ne_bytes(),
            &job_start.to_ne_bytes(),
            &shim_pid.to_ne_bytes(),
            &shim_start.to_ne_bytes(),
        ];
        let mut at = 0;
        for part in parts {
            for &b in part {
                pids[at] = b;
                at += 1;
            }
        }
        report(plan.report, TAG_PIDS, &pids);
        libc::close(plan.report);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        let mut status: c_int = 0;
        loop {
            if libc::waitpid(job, &mut status, 0) == job {
                break;
            }
            if errno() != libc::EINTR {
                // Cannot happen for our own child; no result: the job reads as orphaned.
                libc::_exit(1);
            }
        }
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
        let ms = (now.tv_sec as u64)
            .saturating_mul(1000)
            .saturating_add(now.tv_nsec as u64 / 1_000_000);
        let mut text = [0u8; 96];
        let mut len = 0;
        let mut put = |bytes: &[u8], text: &mut [u8; 96]| {
            for &b in bytes {
                if len < text.len() {
                    text[len] = b;
                    len += 1;
                }
            }
        };
        let mut number = [0u8; 20];
        put(b"{\"wait_status\":", &mut text);
        let n = format_u64(&mut number, status as u32 as u64);
        put(&number[..n], &mut text);
        put(b",\"ended_at_ms\":", &mut text);
        let n = format_u64(&mut number, ms);
        put(&number[..n], &mut text);
        put(b"}\n", &mut text);
        write_result(plan, &text[..len]);
        libc::_exit(0)
    }
}

/// Writes `bytes` to the result file atomically: a temporary file, `fsync`, `rename`, then
/// `fsync` of the directory so that the rename itself is durable.
///
/// # Safety
///
/// Async-signal-safe; `plan`'s paths are valid.
unsafe fn write_result(plan: &Plan, bytes: &[u8]) {
    // SAFETY: system calls with the plan's NUL-terminated paths and a valid buffer.
    unsafe {
        let fd = libc::open(
            plan.result_tmp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o600,
        );
        if fd < 0 {
            return;
        }
        let mut done = 0;
        while done < bytes.len() {
            let n = libc::write(fd, bytes.as_ptr().add(done).cast(), bytes.len() - done);
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                libc::close(fd);
                return;
            }
            done += n as usize;
        }
        libc::fsync(fd);
        libc::close(fd);
        if libc::rename(plan.result_tmp, plan.result) != 0 {
            return;
        }
        let dir = libc::open(
            plan.dir,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if dir >= 0 {
            libc::fsync(dir);
            libc::close(dir);
        }
    }
}

/// Closes every descriptor from `first` up, except `keep`.
///
/// # Safety
///
/// In a forked child only.
unsafe fn close_from(first: c_int, keep: RawFd) {
    // SAFETY: `close_range(2)` takes plain numbers; `close` on any number is harmless.
    unsafe {
        let ranges = [(first, keep - 1), (keep + 1, c_int::MAX)];
        for (low, high) in ranges {
            if low > high {
                continue;
            }
            let r = libc::syscall(libc::SYS_close_range, low as u32, high as u32, 0u32);
            if r != 0 {
                // Kernels before 5.9: one by one, up to a bound.
                let mut fd = low;
                while fd <= high && fd < 4096 {
                    libc::close(fd);
                    fd += 1;
                }
            }
        }
    }
}

/// Starts the job from the shim: cloned onto the plan's job stack, sharing the shim's
/// memory until it execs (`CLONE_VFORK`: no copy of the page tables, and the shim resumes
/// once the job has exec'd or failed to); forked where there is no stack or the clone is
/// refused. Returns the job's pid, or -1 with `errno` set.
///
/// # Safety
///
/// In the shim only.
unsafe fn start_job(plan: &Plan) -> libc::pid_t {
    // SAFETY: `job_entry` never returns and keeps to system calls (see `job_main`); the job
    // stack is the shim's copy of a mapping made for it in `launch`, which nothing else in
    // the shim uses; `plan` lives in the shim's copy of the starter's frame for as long as
    // the shim runs, and the shim is suspended while the job runs on it.
    unsafe {
        if !plan.job_stack.is_null() {
            let pid = libc::clone(
                job_entry,
                plan.job_stack,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                std::ptr::from_ref(plan).cast_mut().cast::<libc::c_void>(),
            );
            if pid >= 0 || !matches!(errno(), libc::EPERM | libc::ENOSYS | libc::EINVAL) {
                return pid;
            }
        }
        let pid = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0)
            as libc::pid_t;
        if pid == 0 {
            job_main(plan)
        }
        pid
    }
}

/// The job as the child of the shim's `clone(CLONE_VM | CLONE_VFORK)`.
extern "C" fn job_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` is the shim's `Plan`, unchanged while the shim is suspended.
    let plan = unsafe { &*arg.cast::<Plan>() };
    // SAFETY: we are the job, started by `start_job`.
    unsafe { job_main(plan) }
}

/// The job: its own process group, its directory, all signals at their defaults, `execve`.
/// It may share the shim's memory (see [`start_job`]): it makes only system calls, writes
/// nothing but its stack and `errno`, and allocates nothing.
///
/// # Safety
///
/// Only in the child started by [`start_job`].
unsafe fn job_main(plan: &Plan) -> ! {
    // SAFETY (whole body): async-signal-safe system calls with the plan's valid pointers.
    unsafe {
        // The shim left every disposition at its default but these (the job has its own
        // copy of the table: no `CLONE_SIGHAND`).
        set_dispositions(&SHIM_IGNORES, libc::SIG_DFL);
        if libc::setpgid(0, 0) != 0 {
            report(plan.report, TAG_EXEC_FAILED, &errno().to_ne_bytes());
            libc::_exit(127);
        }
        if libc::chdir(plan.cwd) != 0 {
            report(plan.report, TAG_EXEC_FAILED, &errno().to_ne_bytes());
            libc::_exit(127);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        let e = exec_candidates(plan.candidates, plan.argv, plan.envp);
        report(plan.report, TAG_EXEC_FAILED, &e.to_ne_bytes());
        libc::_exit(127)
    }
}

/// The result file as the shim writes it.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
pub(crate) struct ShimResult {
    /// The raw wait status (`ExitStatus::from_raw`).
    pub(crate) wait_status: u32,
    /// When the shim saw the job end, in milliseconds since the Unix epoch.
    pub(crate) ended_at_ms: u64,
}

/// Reads the result file of the job in `dir`: `Ok(None)` when there is none yet.
pub(crate) fn read_result(dir: &Path) -> io::Result<Option<ShimResult>> {
    match std::fs::read(dir.join(RESULT_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Makes every launch take the fork path.
    pub(crate) static FORCE_FORK: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(false);

    #[test]
    fn where_clone_is_refused_the_middle_shim_and_job_are_forked_and_the_job_is_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::jobs::Store::open(tmp.path()).unwrap();
        FORCE_FORK.store(true, std::sync::atomic::Ordering::Relaxed);
        let started = store.start(crate::jobs::JobSpec::new("sh").arg("-c").arg("exit 3"));
        let missing = store.start(crate::jobs::JobSpec::new("/nonexistent/program"));
        FORCE_FORK.store(false, std::sync::atomic::Ordering::Relaxed);
        let started = started.unwrap();
        let ended = store.wait(&started.id, None).unwrap();
        assert_eq!(ended.status, crate::jobs::Status::Failed);
        assert_eq!(ended.exit.unwrap().code, Some(3));
        assert!(matches!(missing, Err(crate::jobs::JobError::Spawn { .. })));
    }

    #[test]
    fn numbers_are_formatted_in_decimal_without_allocation() {
        let mut out = [0u8; 20];
        let n = format_u64(&mut out, 0);
        assert_eq!(&out[..n], b"0");
        let n = format_u64(&mut out, u64::MAX);
        assert_eq!(&out[..n], b"18446744073709551615");
        let mut short = [0u8; 2];
        assert_eq!(format_u64(&mut short, 123), 0);
    }
}
