//! Every signal blocked on the calling thread for a while, around a fork or a clone.

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
