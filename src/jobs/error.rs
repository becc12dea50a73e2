//! Why a store operation was refused or failed.

use std::io;
use std::path::PathBuf;

use super::state::Status;

/// An error of the job store or of same-binary workers. Every variant names the job (or the
/// path) it is about; none is a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No job with this id exists in the store.
    #[error("no job {id:?} in {store}")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The store's directory.
        store: PathBuf,
    },
    /// The id cannot name a job (ids are 1 to 64 characters of `0-9`, `a-z`, `-`).
    #[error("{0:?} is not a job id (1 to 64 characters of 0-9, a-z and -)")]
    InvalidId(String),
    /// The job's `state.json` is missing, truncated, or not a job's state.
    #[error("job {id:?}: its state file {path} is unreadable: {reason}")]
    CorruptState {
        /// The job's id.
        id: String,
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The job is pending or running: it cannot be removed.
    #[error("job {id:?} is {status}: only a finished job can be removed (cancel it first)")]
    StillRunning {
        /// The job's id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// The job has already finished: there is nothing to cancel.
    #[error("job {id:?} has already finished ({status})")]
    AlreadyFinished {
        /// The job's id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// The job's program could not be started; the job is recorded as failed.
    #[error("job {id:?}: cannot start `{program}`: {source}")]
    Spawn {
        /// The job's id.
        id: String,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The job specification cannot be started as given.
    #[error("invalid job: {0}")]
    InvalidSpec(String),
    /// A file system operation on the store failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// No directory for the store: no `OVERSEER_JOBS_DIR`, no configured directory, and no
    /// user cache directory (no home directory).
    #[error("no directory for the job store: set OVERSEER_JOBS_DIR")]
    NoStoreDir,
    /// A job run by a [`JobChild`](super::JobChild) ended other than `completed`.
    #[error("job {id:?} ended {status}{}", exit.map(|e| format!(" ({e})")).unwrap_or_default())]
    Ended {
        /// The job's id.
        id: String,
        /// How it ended.
        status: Status,
        /// Its exit, when recorded.
        exit: Option<super::state::JobExit>,
    },
    /// No worker of this name is registered.
    #[error("no worker named {0:?} is registered")]
    UnknownWorker(String),
    /// An instance of this worker is already running.
    #[error("worker {name:?} instance {instance:?} is already running as job {id:?}")]
    WorkerRunning {
        /// The worker's name.
        name: String,
        /// The instance id.
        instance: String,
        /// The job that runs it.
        id: String,
    },
    /// No job ever ran this worker instance.
    #[error("worker {name:?} instance {instance:?} was never started in this store")]
    NoSuchWorker {
        /// The worker's name.
        name: String,
        /// The instance id.
        instance: String,
    },
}

impl JobError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JobError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
