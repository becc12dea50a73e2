//! Pre-start commands: one-shot processes that must succeed before the main process starts.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::command::Command;
use super::error::ProcessError;
use super::exit;
use super::group::Group;
use super::signal::Signal;
use crate::control::lock;

/// How many of the last output lines a failed pre-start command reports.
pub(crate) const TAIL_LINES: usize = 64;
/// Longest line kept, in bytes; the rest of a longer line is dropped and marked.
pub(crate) const MAX_LINE: usize = 1024;
/// After the group is gone, how long to wait for the rest of its output. Only a process that
/// left the group (a new session) can keep the pipes open past the group kill.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// How a pre-start command ended when it did not fail.
pub(crate) enum Outcome {
    /// It succeeded.
    Done,
    /// The child was asked to stop while it ran; it was stopped.
    Stopped,
}

/// Runs `pre` to completion with its stdout and stderr captured, stopping its group with
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
    let program = pre.program_name();
    let mut cmd = pre.prepare()?;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut group = Group::spawn(&mut cmd).map_err(|source| ProcessError::Spawn {
        program: program.clone(),
        source,
    })?;
    tracing::debug!(program, pid = group.pid(), "pre-start command spawned");
    let tail = Mutex::new(Tail::default());
    let stdout = group.child_mut().stdout.take();
    let stderr = group.child_mut().stderr.take();
    let drain = async {
        tokio::join!(read_lines(stdout, &tail), read_lines(stderr, &tail));
    };
    tokio::pin!(drain);
    let mut drained = false;
    let status = loop {
        tokio::select! {
            status = group.wait() => break status,
            () = &mut drain, if !drained => drained = true,
            () = shutdown.cancelled() => {
                let status = group.stop(stop_signal, stop_timeout).await;
                tracing::debug!(program, ?status, "pre-start command stopped");
                return Ok(Outcome::Stopped);
            }
        }
    };
    let status = status.map_err(|source| ProcessError::Wait {
        program: program.clone(),
        source,
    })?;
    match exit::check(status, &pre.success_codes, &program) {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => {
            if !drained {
                let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await;
            }
            let output = lock(&tail).take();
            Err(ProcessError::PreStart {
                program,
                source: Box::new(e),
                output,
            })
        }
    }
}

/// Reads `pipe` to its end, feeding complete lines into `tail`.
async fn read_lines(pipe: Option<impl AsyncRead + Unpin>, tail: &Mutex<Tail>) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 8192];
    let mut line = Vec::new();
    let mut cut = false;
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for chunk in buf[..n].split_inclusive(|&b| b == b'\n') {
            let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
            let room = MAX_LINE.saturating_sub(line.len());
            cut |= body.len() > room;
            line.extend_from_slice(&body[..body.len().min(room)]);
            if chunk.ends_with(b"\n") {
                finish_line(&mut line, &mut cut, tail);
            }
        }
    }
    if !line.is_empty() || cut {
        finish_line(&mut line, &mut cut, tail);
    }
}

fn finish_line(line: &mut Vec<u8>, cut: &mut bool, tail: &Mutex<Tail>) {
    if std::mem::take(cut) {
        line.extend_from_slice(TRUNCATED);
    }
    lock(tail).push(line);
    line.clear();
}

const TRUNCATED: &[u8] = " [truncated]".as_bytes();

/// The last [`TAIL_LINES`] lines, lossily decoded.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: &[u8]) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines
            .push_back(String::from_utf8_lossy(line).into_owned());
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(bytes: &[u8]) -> Vec<String> {
        let tail = Mutex::new(Tail::default());
        read_lines(Some(bytes), &tail).await;
        lock(&tail).take()
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
