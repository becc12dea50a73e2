//! Where the command keeps its files: a per-user state directory for logs
//! (`$XDG_STATE_HOME/overseer`, else `~/.local/state/overseer`; `OVERSEER_STATE_DIR`
//! overrides it), and a per-user runtime directory for the daemon's socket
//! (`$XDG_RUNTIME_DIR/overseer`, else the state directory; `OVERSEER_RUNTIME_DIR` overrides
//! it). Directories are created with mode 0700.

use std::path::PathBuf;

/// The per-user state directory.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OVERSEER_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match directories::ProjectDirs::from("", "", "overseer") {
        Some(dirs) => dirs
            .state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
        None => std::env::temp_dir().join(format!("overseer-{}", rustix_uid())),
    }
}

/// The per-user runtime directory (sockets).
#[allow(dead_code)]
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OVERSEER_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "overseer")
        .and_then(|dirs| dirs.runtime_dir().map(PathBuf::from))
        .unwrap_or_else(state_dir)
}

/// Where the output of stack `stack`'s processes goes by default.
pub fn log_dir(stack: &str) -> PathBuf {
    state_dir().join(stack).join("logs")
}

fn rustix_uid() -> u32 {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() }
}
