//! Why a [`Watch`](super::Watch) was refused, or could not be set up at a run's start.

use std::path::PathBuf;

/// Why a [`Watch`](super::Watch) was refused. A bad watch is found when it is attached
/// ([`ChildSpec::watch`](crate::ChildSpec::watch)) and reported by whatever checks the spec:
/// [`ProcessManagerBuilder::build`](crate::ProcessManagerBuilder::build),
/// [`Handle::add`](crate::Handle::add) or [`Handle::reconfigure`](crate::Handle::reconfigure),
/// as [`SpecError::Watch`](crate::SpecError::Watch); nothing is started. A watch that was
/// valid then but cannot be set up at a later run's start (its directory was removed, the
/// system's limit of inotify watches is reached) ends that run with
/// [`WatchError::Setup`] as its failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The watch names no path and no glob.
    #[error("a watch needs at least one path or glob")]
    NothingToWatch,
    /// A watched path, or the directory a glob starts from, does not exist (or cannot be
    /// read).
    #[error("watched path {} does not exist ({reason})", path.display())]
    PathNotFound {
        /// The path as given.
        path: PathBuf,
        /// What the file system said.
        reason: String,
    },
    /// A glob (watched or ignored) does not parse.
    #[error("invalid glob {glob:?}: {reason}")]
    InvalidGlob {
        /// The glob as given.
        glob: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The debounce window must be longer than zero.
    #[error("the debounce window of a watch must be longer than zero")]
    ZeroDebounce,
    /// The change threshold must be at least 1.
    #[error("the change threshold of a watch must be at least 1")]
    ZeroThreshold,
    /// A `.gitignore` file could not be read or parsed.
    #[error("cannot use the ignore rules in {}: {reason}", path.display())]
    Gitignore {
        /// The ignore file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The watch could not be set up at a run's start; the run fails with this error.
    #[error("cannot watch {}: {reason}", path.display())]
    Setup {
        /// The directory or file being watched.
        path: PathBuf,
        /// What the system said (for a full inotify table: raise
        /// `/proc/sys/fs/inotify/max_user_watches`).
        reason: String,
    },
}
