//! How a process child fails.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::envfile::EnvFileError;
use super::signal;

/// Why a run of a process child failed. Returned (boxed) from the child's run, so the manager
/// reports it as the child's [`Cause::Error`](crate::Cause::Error); downcast the cause to
/// this type to inspect it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The program could not be started: not found, not executable, ...
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program as configured.
        program: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The [containment](super::Containment) asked for is not available here (no cgroup v2
    /// the supervisor may create groups in, no subreaper, not Linux).
    #[error("cannot contain {program:?}: {source}")]
    Containment {
        /// The program as configured.
        program: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The working directory does not exist or is not a directory.
    #[error("working directory {path:?} for {program:?} is unusable: {source}")]
    WorkingDir {
        /// The program as configured.
        program: String,
        /// The directory as configured.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// An environment file is missing or malformed.
    #[error("env file {path:?}: {source}")]
    EnvFile {
        /// The file as configured.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: EnvFileError,
    },
    /// The process exited with a code that is not one of its success codes.
    #[error("{program:?} exited with code {code}")]
    Exited {
        /// The program as configured.
        program: String,
        /// The exit code.
        code: i32,
    },
    /// The process was killed by a signal it did not ask for (no stop was requested).
    #[error("{program:?} was killed by {}", signal::name(*signal))]
    Signaled {
        /// The program as configured.
        program: String,
        /// The signal number (see [`Signal::from_raw`](super::Signal::from_raw)).
        signal: i32,
    },
    /// Waiting for the process failed (an OS error; should not happen).
    #[error("waiting for {program:?} failed: {source}")]
    Wait {
        /// The program as configured.
        program: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The resident memory of the process group exceeded its
    /// [limit](super::Command::memory_limit); the group was stopped.
    #[error("{program:?} used {rss} bytes of resident memory, over its limit of {limit}")]
    MemoryLimit {
        /// The program as configured.
        program: String,
        /// The limit, in bytes.
        limit: u64,
        /// The group's resident memory when the limit was found exceeded, in bytes.
        rss: u64,
    },
    /// A pre-start command failed, so the main process was not started.
    #[error("pre-start command {program:?} failed: {source}{}", tail(output))]
    PreStart {
        /// The pre-start command's program.
        program: String,
        /// How it failed.
        #[source]
        source: Box<ProcessError>,
        /// Its last lines of output (stdout and stderr interleaved as read), oldest first.
        output: Vec<String>,
    },
}

impl ProcessError {
    /// The exit code, for [`Exited`](Self::Exited) (also inside a failed pre-start).
    pub fn code(&self) -> Option<i32> {
        match self {
            ProcessError::Exited { code, .. } => Some(*code),
            ProcessError::PreStart { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The signal number, for [`Signaled`](Self::Signaled) (also inside a failed pre-start).
    pub fn signal(&self) -> Option<i32> {
        match self {
            ProcessError::Signaled { signal, .. } => Some(*signal),
            ProcessError::PreStart { source, .. } => source.signal(),
            _ => None,
        }
    }
}

fn tail(output: &[String]) -> String {
    if output.is_empty() {
        return String::new();
    }
    let mut s = String::from("; last output:");
    for line in output {
        let _ = write!(s, "\n  {line}");
    }
    s
}
