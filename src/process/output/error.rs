//! Why output capture could not be set up or stopped reading.

use std::io;
use std::path::PathBuf;

use super::Stream;

/// An error of output capture.
///
/// Only setting up ([`OutputConfig::build`](super::OutputConfig::build)) and reading the pipe
/// ([`OutputSink::pump`](super::OutputSink::pump)) return errors. A failing log file never stops
/// the reader (that would block the child): it is reported through `tracing` and counted by
/// [`OutputSink::file_errors`](super::OutputSink::file_errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The configuration is not usable; nothing was opened.
    #[error("invalid output configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// A log file could not be opened (or its rotated copies could not be listed).
    #[error("cannot open log file {}: {source}", path.display())]
    Open {
        /// The log file.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// Reading the child's pipe failed; the lines read before were all delivered.
    #[error("cannot read the child's {stream}: {source}")]
    Read {
        /// The pipe that failed.
        stream: Stream,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
}
