//! One daemon per socket: an advisory lock (`flock`, exclusive) on `<socket>.lock`, held for
//! the daemon's whole life. The kernel releases it when the daemon's process ends, however
//! it ends, so a socket file whose lock is free was left by a daemon that is gone (killed
//! with `SIGKILL`, say) and is removed and bound again.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use crate::api;

/// The lock of one socket, held while this value lives (and, once the daemon runs, until its
/// process ends).
#[derive(Debug)]
pub struct SocketLock {
    _file: File,
    /// A stale socket was found and removed.
    pub removed_stale: bool,
}

/// Why the socket cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds the lock.
    #[error(
        "another overseer daemon{} is already running on {socket}; stop it with `overseer down`{}",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        socket_option(socket)
    )]
    Taken { socket: PathBuf, pid: Option<u32> },
    /// Something at the socket's path that is not a socket: removing it could lose data.
    #[error("{0} exists and is not a socket; remove it or choose another path with --socket")]
    NotASocket(PathBuf),
    /// An I/O error on the directory, the lock file or a stale socket.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn socket_option(socket: &Path) -> String {
    if socket == api::socket_path(None) {
        String::new()
    } else {
        format!(" --socket {}", socket.display())
    }
}

/// Takes the lock of `socket`: creates its directory (mode 0700) if missing, locks
/// `<socket>.lock` (writing this process's pid into it), and removes a stale socket file.
///
/// # Errors
/// [`LockError::Taken`] when another daemon holds it; [`LockError::NotASocket`] when the path
/// holds something else; [`LockError::Io`].
pub fn acquire(socket: &Path) -> Result<SocketLock, LockError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| LockError::Io { what, path, source }
    };
    if let Some(dir) = socket.parent() {
        create_private_dir(dir).map_err(io("cannot create the directory", dir))?;
    }
    let lock_path = api::lock_path(socket);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io("cannot open the lock file", &lock_path))?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            return Err(LockError::Taken {
                socket: socket.to_path_buf(),
                pid: read_pid(&mut file),
            });
        }
        Err(e) => return Err(io("cannot lock", &lock_path)(e.into())),
    }
    let write_pid = |file: &mut File| -> io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())
    };
    write_pid(&mut file).map_err(io("cannot write the lock file", &lock_path))?;
    let removed_stale = match std::fs::symlink_metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Its daemon is gone: it would hold the lock otherwise.
            std::fs::remove_file(socket).map_err(io("cannot remove the stale socket", socket))?;
            true
        }
        Ok(_) => return Err(LockError::NotASocket(socket.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(io("cannot inspect", socket)(e)),
    };
    Ok(SocketLock {
        _file: file,
        removed_stale,
    })
}

/// The pid written in a lock file, if it reads as one.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Waits until no daemon holds `socket`'s lock: its process has ended. Returns at once when
/// there is no lock file. The shared lock it takes to wait is let go at once (a daemon
/// starting in that instant would be refused).
pub fn wait_released(socket: &Path) -> io::Result<()> {
    let file = match File::open(api::lock_path(socket)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    flock(&file, FlockOperation::LockShared).map_err(io::Error::from)
}

/// Creates `dir` and its missing parents with mode 0700. A directory that exists is left as
/// it is, except the per-user runtime directory, which is made 0700 again.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let runtime = crate::paths::runtime_dir();
    if std::path::absolute(&runtime).is_ok_and(|r| r == dir) {
        let meta = std::fs::metadata(dir)?;
        if meta.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}
