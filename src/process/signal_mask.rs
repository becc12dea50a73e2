//! Signals around a fork or a clone: every signal blocked on the calling thread for a while
//! ([`BlockedSignals`]), and every disposition back to its default in the child
//! ([`reset_dispositions`]).

/// Every signal the thread may block, blocked until dropped (then the thread's mask as it
/// was). Around a fork or a clone, so that no handler of the supervisor can run in the child
/// before it has reset them (the child inherits the blocked mask), and so that a signal sent
/// in between stays pending instead of being lost.
pub(crate) struct BlockedSignals {
    old: libc::sigset_t,
}

impl BlockedSignals {
    pub(crate) fn new() -> BlockedSignals {
        // SAFETY: `sigfillset` and `pthread_sigmask` are given valid pointers to sets on this
        // stack; blocking signals for a moment is harmless to the thread (they stay pending).
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockedSignals { old }
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`, a valid set.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// Sets every signal that has a handler or is ignored back to `SIG_DFL`, up to `last` (the
/// highest signal number, `SIGRTMAX`), so that a child starts as systemd starts a service:
/// no handler of the supervisor (which, in a child sharing its memory, would run on the
/// supervisor's data) and no signal it ignores (`SIGPIPE`, which Rust ignores; `SIGHUP` under
/// `nohup`; `SIGINT` and `SIGQUIT` in a script's background job). Returns 0, or the `errno`
/// of a `sigaction` that failed. Cost: one `sigaction` per signal, two for each one changed.
///
/// # Safety
///
/// Only in a child between its fork or clone and its `exec` (it changes process-wide state).
/// Async-signal-safe: `sigaction` calls on structures on the stack, nothing else.
pub(crate) unsafe fn reset_dispositions(last: libc::c_int) -> libc::c_int {
    let mut sig = 1;
    while sig <= last {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: `sigaction` with zeroed structures on this stack, as the caller allows.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                // libc refuses its own internal signals (EINVAL): never sent to us, skipped.
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction != libc::SIG_DFL
                {
                    let mut default: libc::sigaction = std::mem::zeroed();
                    default.sa_sigaction = libc::SIG_DFL;
                    if libc::sigaction(sig, &default, std::ptr::null_mut()) != 0 {
                        return std::io::Error::last_os_error()
                            .raw_os_error()
                            .unwrap_or(libc::EINVAL);
                    }
                }
            }
        }
        sig += 1;
    }
    0
}
