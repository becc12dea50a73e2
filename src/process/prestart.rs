//! Pre-start commands: one-shot processes that must succeed before the main process starts.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::capture::Capture;
use super::command::Command;
use super::error::ProcessError;
use super::exit;
use super::group::Group;
use super::output::{OutputConfig, OutputSink};
use super::signal::Signal;
use super::spawn::Stream;

/// How many of the last output lines (pieces of overlong lines included) a failed pre-start
/// command reports.
pub(crate) const TAIL_LINES: usize = 64;
/// Longest line kept, in bytes; the rest of a longer line is dropped and marked.
pub(crate) const MAX_LINE: usize = 1024;

/// How a pre-start command ended when it did not fail.
pub(crate) enum Outcome {
    /// It succeeded.
    Done,
    /// The child was asked to stop while it ran; it was stopped.
    Stopped,
}

/// Runs `pre` to completion with its stdout and stderr captured into an in-memory tail (the
/// same capture as a main process's, see [`Capture`]), stopping its group with
/// `stop_signal`/`stop_timeout` when `shutdown` fires.
pub(crate) async fn run(
    pre: &Command,
    shutdown: &CancellationToken,
    stop_signal: Signal,
    stop_timeout: Duration,
) -> Result<Outcome, ProcessError> {
    if shutdown.is_cancelled() {
        return Ok(Outcome::Stopped);
    }
    let command = pre.command_line();
    // Cannot fail (no files, sizes above zero); mapped rather than unwrapped all the same.
    let sink = tail_sink().map_err(|e| ProcessError::Spawn {
        command: command.clone(),
        source: std::io::Error::other(e),
    })?;
    let mut prepared = pre.prepare()?;
    prepared.stdout = Stream::Pipe;
    prepared.stderr = Stream::Pipe;
    let mut group = Group::spawn(prepared)
        .await
        .map_err(|source| ProcessError::Spawn {
            command: command.clone(),
            source,
        })?;
    tracing::debug!(command, pid = group.pid(), "pre-start command spawned");
    let mut capture = Capture::start(group.take_output(), Some(&sink));
    let status = capture
        .alongside(async {
            tokio::select! {
                status = group.wait() => {
                    let deadline = crate::deadline::from_now_or_far(stop_timeout);
                    group.settle(Some(stop_signal), deadline).await;
                    Some(status)
                }
                () = shutdown.cancelled() => {
                    let status = group.stop(stop_signal, stop_timeout).await;
                    tracing::debug!(command, status = %exit::describe_result(&status), "pre-start command stopped");
                    None
                }
            }
        })
        .await;
    let Some(status) = status else {
        return Ok(Outcome::Stopped);
    };
    let status = status.map_err(|source| ProcessError::Wait {
        command: command.clone(),
        source,
    })?;
    match exit::check(status, &pre.success_codes, &command) {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => {
            capture.drain().await;
            Err(ProcessError::PreStart {
                command,
                source: Box::new(e),
                output: tail_text(&sink),
            })
        }
    }
}

/// A sink that keeps only the last [`TAIL_LINES`] lines, cut at [`MAX_LINE`] bytes.
fn tail_sink() -> Result<Arc<OutputSink>, super::output::OutputError> {
    OutputConfig::new()
        .tail(TAIL_LINES)
        .max_line(MAX_LINE)
        .build()
}

/// The tail as text, lossily decoded: an overlong line shows as its first piece, marked.
fn tail_text(sink: &OutputSink) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest_of_a_cut_line = false;
    for line in sink.tail() {
        if !rest_of_a_cut_line {
            let mut text = line.text().into_owned();
            if line.is_continued() {
                text.push_str(TRUNCATED);
            }
            lines.push(text);
        }
        rest_of_a_cut_line = line.is_continued();
    }
    lines
}

const TRUNCATED: &str = " [truncated]";

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(bytes: &[u8]) -> Vec<String> {
        let sink = tail_sink().unwrap();
        sink.pump(bytes, crate::process::output::Stream::Stdout)
            .await
            .unwrap();
        tail_text(&sink)
    }

    #[tokio::test]
    async fn an_unterminated_last_line_is_kept() {
        assert_eq!(lines_of(b"a\nb\n\nlast").await, ["a", "b", "", "last"]);
    }

    #[tokio::test]
    async fn a_long_line_is_cut_and_marked() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\nnext\n");
        let lines = lines_of(&input).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE + TRUNCATED.len());
        assert!(lines[0].ends_with(" [truncated]"));
        assert_eq!(lines[1], "next");
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(
            lines_of(b"ok \xff\xfe end\n").await,
            ["ok \u{fffd}\u{fffd} end"]
        );
    }

    #[tokio::test]
    async fn only_the_last_lines_are_kept() {
        let input: String = (0..200).map(|n| format!("{n}\n")).collect();
        let lines = lines_of(input.as_bytes()).await;
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], (200 - TAIL_LINES).to_string());
    }
}
