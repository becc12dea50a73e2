//! The parent-death signal (Linux `PR_SET_PDEATHSIG`), set in the child between fork and exec.

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
