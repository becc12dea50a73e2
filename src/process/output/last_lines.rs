//! The last lines of a child's output when its run fails: what a failure shows
//! ([`OutputSink::failure_lines`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{OutputSink, Stream};

/// How far back from the end of a log file the last lines are looked for.
const FILE_WINDOW: u64 = 32 * 1024;
/// Each line is cut at this many bytes.
const MAX_LINE: usize = 1024;

impl OutputSink {
    /// The last `max` lines of stderr, or of stdout when stderr has none, oldest first: from
    /// the tail if one is kept, else read back from the end of the log file. Empty when the
    /// sink keeps neither. Costs nothing until it is asked (at a failure).
    pub(crate) fn failure_lines(&self, max: usize) -> Vec<String> {
        if max == 0 {
            return Vec::new();
        }
        let kept = self.tail();
        if !kept.is_empty() {
            for stream in [Stream::Stderr, Stream::Stdout] {
                let lines: Vec<String> = kept
                    .iter()
                    .filter(|line| line.stream() == stream)
                    .map(|line| cut(&line.text()))
                    .collect();
                if !lines.is_empty() {
                    let skip = lines.len().saturating_sub(max);
                    return lines.into_iter().skip(skip).collect();
                }
            }
        }
        for stream in [Stream::Stderr, Stream::Stdout] {
            if let Some(path) = self.log_path(stream) {
                let lines = last_lines_of_file(path, max);
                if !lines.is_empty() {
                    return lines;
                }
            }
        }
        Vec::new()
    }
}

/// The last `max` non-empty lines of the last [`FILE_WINDOW`] bytes of the file at `path`;
/// empty if it cannot be read.
fn last_lines_of_file(path: &Path, max: usize) -> Vec<String> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        let start = len.saturating_sub(FILE_WINDOW);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(FILE_WINDOW).read_to_end(&mut bytes)?;
        if start > 0 {
            // The first line is likely cut: drop it.
            let first = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.drain(..first);
        }
        Ok(bytes)
    };
    let Ok(bytes) = read() else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let skip = lines.len().saturating_sub(max);
    lines.into_iter().skip(skip).map(cut).collect()
}

fn cut(line: &str) -> String {
    if line.len() <= MAX_LINE {
        return line.to_string();
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::output::OutputConfig;

    async fn pumped(
        config: OutputConfig,
        stdout: &str,
        stderr: &str,
    ) -> std::sync::Arc<OutputSink> {
        let sink = config.build().unwrap();
        sink.pump(stdout.as_bytes(), Stream::Stdout).await.unwrap();
        sink.pump(stderr.as_bytes(), Stream::Stderr).await.unwrap();
        sink
    }

    #[tokio::test]
    async fn a_failure_shows_the_last_lines_of_stderr_from_the_tail() {
        let sink = pumped(
            OutputConfig::new().tail(50),
            "out 1\nout 2\n",
            "e1\ne2\ne3\n",
        )
        .await;
        assert_eq!(sink.failure_lines(2), ["e2", "e3"]);
    }

    #[tokio::test]
    async fn a_failure_shows_stdout_when_stderr_said_nothing() {
        let sink = pumped(OutputConfig::new().tail(50), "out 1\nout 2\n", "").await;
        assert_eq!(sink.failure_lines(20), ["out 1", "out 2"]);
    }

    #[tokio::test]
    async fn without_a_tail_the_last_lines_are_read_back_from_the_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = OutputConfig::new()
            .stdout_file(dir.path().join("out.log"))
            .stderr_file(dir.path().join("err.log"));
        let stderr: String = (1..=100).map(|n| format!("line {n}\n")).collect();
        let sink = pumped(config, "ignored\n", &stderr).await;
        assert_eq!(sink.failure_lines(3), ["line 98", "line 99", "line 100"]);
    }

    #[tokio::test]
    async fn a_sink_with_neither_tail_nor_file_shows_nothing() {
        let sink = pumped(OutputConfig::new(), "a\n", "b\n").await;
        assert!(sink.failure_lines(20).is_empty());
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_LINE);
        let shown = cut(&long);
        assert!(shown.len() <= MAX_LINE + '…'.len_utf8());
        assert!(shown.ends_with('…'));
    }
}
