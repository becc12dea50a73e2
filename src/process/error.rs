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
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The [containment](super::Containment) asked for is not available here (no cgroup v2
    /// the supervisor may create groups in, no subreaper, not Linux).
    #[error("cannot contain `{command}`: {source}")]
    Containment {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The working directory does not exist or is not a directory.
    #[error("working directory {path:?} for `{command}` is unusable: {source}")]
    WorkingDir {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
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
    #[error("`{command}` exited with code {code}{}", tail(output))]
    Exited {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// The exit code.
        code: i32,
        /// Its last lines of output, stderr first (see [`ProcessError::output`]).
        output: Vec<String>,
    },
    /// The process was killed by a signal it did not ask for (no stop was requested).
    #[error("`{command}` was killed by {}{}", signal::name(*signal), tail(output))]
    Signaled {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// The signal number (see [`Signal::from_raw`](super::Signal::from_raw)).
        signal: i32,
        /// Its last lines of output, stderr first (see [`ProcessError::output`]).
        output: Vec<String>,
    },
    /// Waiting for the process failed (an OS error; should not happen).
    #[error("waiting for `{command}` failed: {source}")]
    Wait {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The resident memory of the process group exceeded its
    /// [limit](super::Command::memory_limit); the group was stopped.
    #[error(
        "`{command}` used {rss} bytes of resident memory, over its limit of {limit}{}",
        tail(output)
    )]
    MemoryLimit {
        /// The command line (program and arguments, quoted as a shell would need them, cut
        /// at 200 characters).
        command: String,
        /// The limit, in bytes.
        limit: u64,
        /// The group's resident memory when the limit was found exceeded, in bytes.
        rss: u64,
        /// Its last lines of output, stderr first (see [`ProcessError::output`]).
        output: Vec<String>,
    },
    /// A pre-start command failed, so the main process was not started.
    #[error("pre-start command `{command}` failed: {source}{}", tail(output))]
    PreStart {
        /// The pre-start command's command line.
        command: String,
        /// How it failed.
        #[source]
        source: Box<ProcessError>,
        /// Its last lines of output (stdout and stderr interleaved as read), oldest first.
        output: Vec<String>,
    },
}

impl ProcessError {
    /// The last lines of the process's output when it failed, oldest first: those of its
    /// stderr, or of its stdout when stderr had none; at most
    /// [`FAILURE_LINES`](Self::FAILURE_LINES), each cut at 1 KiB. They are there when the
    /// output is captured into a sink that keeps a [tail](super::output::OutputConfig::tail)
    /// or writes [log files](super::output::OutputConfig::log_file) (read back at the
    /// failure, so capture costs nothing more while all goes well); empty for inherited or
    /// discarded output, and for errors that are not a run's end.
    pub fn output(&self) -> &[String] {
        match self {
            ProcessError::Exited { output, .. }
            | ProcessError::Signaled { output, .. }
            | ProcessError::MemoryLimit { output, .. }
            | ProcessError::PreStart { output, .. } => output,
            _ => &[],
        }
    }

    /// How many lines of output a failure carries at most.
    pub const FAILURE_LINES: usize = 20;

    /// Gives a run's end its last lines of output, if it has none yet.
    pub(crate) fn with_output(mut self, lines: impl FnOnce() -> Vec<String>) -> Self {
        if let ProcessError::Exited { output, .. }
        | ProcessError::Signaled { output, .. }
        | ProcessError::MemoryLimit { output, .. } = &mut self
            && output.is_empty()
        {
            *output = lines();
        }
        self
    }

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
