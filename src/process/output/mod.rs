//! Line-by-line capture of a child's stdout and stderr that never blocks the child (SPEC B5).
//!
//! A [`pump`](OutputSink::pump) per stream drains the pipe in 64 KiB reads, cuts it into
//! [`Line`]s and hands them to a shared [`OutputSink`], which sends each line to every
//! destination configured by [`OutputConfig`]:
//!
//! - log files rotated by size, only between lines ([`OutputConfig::rotate`]);
//! - an in-memory tail of the last N lines ([`OutputSink::tail`]);
//! - any number of live subscribers, which lag instead of blocking ([`OutputSink::subscribe`]);
//! - a per-line callback, e.g. to parse progress ([`OutputConfig::on_line`]).
//!
//! Bytes need not be UTF-8 ([`Line::text`] is lossy); lines longer than
//! [`OutputConfig::max_line`] are cut into pieces, so memory stays bounded.
//!
//! ```
//! use overseer::process::output::{OutputConfig, Stream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sink = OutputConfig::new().tail(100).build()?;
//! let mut follow = sink.subscribe();
//! let (mut child_stdout, pipe) = tokio::io::duplex(64 * 1024);
//! let pumping = tokio::spawn({
//!     let sink = sink.clone();
//!     async move { sink.pump(pipe, Stream::Stdout).await }
//! });
//! tokio::io::AsyncWriteExt::write_all(&mut child_stdout, b"hello\nworld\n").await?;
//! drop(child_stdout); // the child exits: end of stream
//! pumping.await??;
//! assert_eq!(follow.recv().await?.text(), "hello");
//! assert_eq!(sink.tail().len(), 2);
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod last_lines;
mod line;
mod pump;
mod rotate;
mod sink;
mod tail;

pub use config::{
    DEFAULT_FOLLOW_CAPACITY, DEFAULT_MAX_LINE, LineCallback, MAX_FOLLOW_CAPACITY, MAX_MAX_LINE,
    OutputConfig,
};
pub use error::OutputError;
pub use line::{Line, Stream};
pub use sink::OutputSink;
