//! The parent-death signal (Linux `PR_SET_PDEATHSIG`) on the fallback spawn path: set in the
//! child between fork and exec, by a `pre_exec` hook.
//!
//! Only the fallback path (see [`spawn`](super::spawn): other systems than Linux, kernels
//! without pidfds, `clone` refused) comes here; the fast path sets the signal from its own
//! child function ([`clone`](super::spawn)) at no extra cost.
//!
//! Cost on this path: any `pre_exec` hook makes std spawn with `fork` instead of
//! `posix_spawn`, so the supervisor's page tables are copied (and its pages made
//! copy-on-write until the child has exec'd): about 0.4–0.5 ms per spawn on the project's
//! machine, more for a supervisor with more memory mapped.

use rustix::process::{getpid, getppid, kill_process, set_parent_process_death_signal};

use super::signal::Signal;

/// Makes the spawned process receive `signal` when the thread that forks it exits, which is
/// the [spawner thread](super::spawner) that lives as long as the supervisor process. If the
/// supervisor died between the fork and the `prctl` (the process was then reparented, and
/// would never get the signal), the process signals itself at once.
pub(crate) fn set(cmd: &mut tokio::process::Command, signal: Signal) {
    let parent = getpid();
    let signal = signal.to_rustix();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // operations are allowed. It makes three raw system calls through rustix (prctl, getppid,
    // kill), which neither allocate nor take locks, and it captures only `Copy` values.
    unsafe {
        cmd.pre_exec(move || {
            set_parent_process_death_signal(Some(signal))?;
            if getppid() != Some(parent) {
                kill_process(getpid(), signal)?;
            }
            Ok(())
        });
    }
}
