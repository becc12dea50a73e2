//! The daemon's own log: `tracing` events (the daemon's and the library's) written as text
//! to `<state dir>/<stack>/daemon.log`, which also receives anything written to the daemon's
//! standard output and error (a panic's message). Rotated at start: a log above
//! [`MAX_BYTES`] becomes `daemon.log.1` (replacing the previous one) and a new one begins.
//! Every process's own output goes to its own rotating file (see `tree.rs`).

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A daemon log larger than this at start is rotated.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// The daemon log of stack `stack`.
pub fn path(stack: &str) -> PathBuf {
    crate::paths::state_dir().join(stack).join("daemon.log")
}

/// Rotates `log` if it is too large, opens it for appending, and makes it the process's
/// standard output and error.
///
/// # Errors
/// When the directory cannot be created or the file cannot be opened, renamed or made the
/// standard output (the standard streams are then left as they were).
pub fn redirect_to(log: &Path) -> io::Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(log).is_ok_and(|m| m.len() > MAX_BYTES) {
        let mut old = log.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(log, PathBuf::from(old))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)?;
    for target in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: dup2 on a descriptor this function owns onto a standard stream; it touches
        // no memory, and the standard streams stay open (now on the file).
        if unsafe { libc::dup2(file.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `tracing` events to standard error (the log file once redirected), at the level
/// `OVERSEER_LOG` names (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
pub fn init_tracing() {
    let level = std::env::var("OVERSEER_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(false)
        .with_max_level(level)
        .try_init();
}
