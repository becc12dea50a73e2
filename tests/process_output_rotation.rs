//! Log files rotated by size: no line lost, repeated or split; old files deleted.
#![cfg(feature = "process")]

#[path = "process_output_common/mod.rs"]
mod common;

use std::process::Stdio;

use common::{TempDir, all_lines, file_lines, log_files};
use overseer::process::output::{OutputConfig, OutputError, Stream};
use tokio::io::AsyncWriteExt;

/// Line `i` of the heavy output: its number, then `i % 150` x's; every 40 000th line is
/// 100 000 x's long (larger than a log file may be).
fn heavy_line(i: usize) -> String {
    let len = if i % 40_000 == 39_999 {
        100_000
    } else {
        i % 150
    };
    format!("{i} {}", "x".repeat(len))
}

#[tokio::test]
async fn heavy_output_of_a_real_child_lands_in_rotated_files_every_line_once_in_order() {
    const LINES: usize = 200_000;
    const MAX_BYTES: u64 = 64 * 1024;
    let dir = TempDir::new("heavy");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(MAX_BYTES, 1000)
        .max_line(1024 * 1024)
        .build()
        .unwrap();
    let script = format!(
        "awk 'BEGIN {{ for (i = 0; i < {LINES}; i++) {{ \
            n = (i % 40000 == 39999) ? 100000 : i % 150; \
            s = \"\"; for (j = 0; j < n; j++) s = s \"x\"; \
            print i \" \" s }} }}'"
    );
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().unwrap();
    sink.pump(stdout, Stream::Stdout).await.unwrap();
    assert!(child.wait().await.unwrap().success());

    let lines = all_lines(&log);
    assert_eq!(lines.len(), LINES, "lines across all files");
    for (i, line) in lines.iter().enumerate() {
        assert!(*line == heavy_line(i), "line {i} is wrong: {:.60}", line);
    }
    let files = log_files(&log);
    assert!(
        files.len() > 100,
        "only {} files: no rotation?",
        files.len()
    );
    let mut oversize = 0;
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        if size > MAX_BYTES {
            assert_eq!(file_lines(file).len(), 1, "{} is too big", file.display());
            oversize += 1;
        }
    }
    assert_eq!(oversize, LINES / 40_000, "each long line alone in its file");
    assert_eq!(sink.file_errors(), 0);
}

#[tokio::test]
async fn keeping_k_rotated_files_deletes_the_oldest() {
    let dir = TempDir::new("keep");
    let log = dir.join("app.log");
    // Each line is 40 bytes with its newline: two fit in 100 bytes, a third does not.
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(100, 3)
        .build()
        .unwrap();
    let input: String = (0..20)
        .map(|i| format!("{i:02}{}\n", "-".repeat(37)))
        .collect();
    sink.pump(input.as_bytes(), Stream::Stdout).await.unwrap();

    let files = log_files(&log);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["app.log.3", "app.log.2", "app.log.1", "app.log"]);
    let kept: Vec<String> = all_lines(&log).iter().map(|l| l[..2].to_string()).collect();
    assert_eq!(kept, ["12", "13", "14", "15", "16", "17", "18", "19"]);
}

#[tokio::test]
async fn a_new_sink_on_existing_files_appends_and_keeps_rotating_in_order() {
    let dir = TempDir::new("reopen");
    let log = dir.join("app.log");
    let line = |i: usize| format!("{i:02}{}\n", "-".repeat(37));
    for run in 0..2 {
        let sink = OutputConfig::new()
            .log_file(&log)
            .rotate(100, 4)
            .build()
            .unwrap();
        let input: String = (run * 7..run * 7 + 7).map(line).collect();
        sink.pump(input.as_bytes(), Stream::Stdout).await.unwrap();
    }
    // 14 lines, two per file: 7 files written, the live one and 4 rotated kept.
    let kept: Vec<String> = all_lines(&log).iter().map(|l| l[..2].to_string()).collect();
    assert_eq!(
        kept,
        ["04", "05", "06", "07", "08", "09", "10", "11", "12", "13"]
    );
    assert_eq!(log_files(&log).len(), 5);
}

#[tokio::test]
async fn keep_zero_truncates_the_log_file_instead_of_keeping_copies() {
    let dir = TempDir::new("keep0");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(10, 0)
        .build()
        .unwrap();
    sink.pump(&b"aaaa\nbbbb\ncccc\n"[..], Stream::Stdout)
        .await
        .unwrap();
    assert_eq!(log_files(&log), [log.as_path()]);
    assert_eq!(std::fs::read(&log).unwrap(), b"cccc\n");
}

#[tokio::test]
async fn stdout_and_stderr_share_one_file_without_mixing_within_a_line() {
    let dir = TempDir::new("shared");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(4096, 1000)
        .build()
        .unwrap();
    let (mut out_w, out_r) = tokio::io::duplex(1024);
    let (mut err_w, err_r) = tokio::io::duplex(1024);
    let writers = async {
        let out = async {
            for i in 0..5_000 {
                out_w
                    .write_all(format!("out {i} {}\n", "o".repeat(i % 50)).as_bytes())
                    .await
                    .unwrap();
            }
            drop(out_w);
        };
        let err = async {
            for i in 0..5_000 {
                err_w
                    .write_all(format!("err {i} {}\n", "e".repeat(i % 70)).as_bytes())
                    .await
                    .unwrap();
            }
            drop(err_w);
        };
        tokio::join!(out, err);
    };
    let (_, out, err) = tokio::join!(
        writers,
        sink.pump(out_r, Stream::Stdout),
        sink.pump(err_r, Stream::Stderr)
    );
    out.unwrap();
    err.unwrap();

    let lines = all_lines(&log);
    assert_eq!(lines.len(), 10_000);
    let (mut next_out, mut next_err) = (0, 0);
    for line in &lines {
        if let Some(rest) = line.strip_prefix("out ") {
            assert_eq!(
                *line,
                format!("out {next_out} {}", "o".repeat(next_out % 50))
            );
            let _ = rest;
            next_out += 1;
        } else {
            assert_eq!(
                *line,
                format!("err {next_err} {}", "e".repeat(next_err % 70))
            );
            next_err += 1;
        }
    }
    assert_eq!((next_out, next_err), (5_000, 5_000));
    assert_eq!(sink.log_path(Stream::Stdout), sink.log_path(Stream::Stderr));
}

#[tokio::test]
async fn stdout_and_stderr_can_go_to_separate_files() {
    let dir = TempDir::new("separate");
    let sink = OutputConfig::new()
        .stdout_file(dir.join("out.log"))
        .stderr_file(dir.join("err.log"))
        .build()
        .unwrap();
    let (out, err) = tokio::join!(
        sink.pump(&b"to out\n"[..], Stream::Stdout),
        sink.pump(&b"to err\n"[..], Stream::Stderr)
    );
    out.unwrap();
    err.unwrap();
    assert_eq!(std::fs::read(dir.join("out.log")).unwrap(), b"to out\n");
    assert_eq!(std::fs::read(dir.join("err.log")).unwrap(), b"to err\n");
}

#[tokio::test]
async fn an_unusable_configuration_is_refused_with_a_typed_error() {
    let dir = TempDir::new("invalid");
    let zero_size = OutputConfig::new()
        .log_file(dir.join("a.log"))
        .rotate(0, 3)
        .build();
    assert!(matches!(zero_size, Err(OutputError::InvalidConfig { .. })));
    let zero_line = OutputConfig::new().max_line(0).build();
    assert!(matches!(zero_line, Err(OutputError::InvalidConfig { .. })));
    // "Never cut" and "never lag" said with the largest number: refused, not a panic or an
    // allocation of that size when the reader starts.
    let huge_line = OutputConfig::new().max_line(usize::MAX).build();
    assert!(matches!(huge_line, Err(OutputError::InvalidConfig { .. })));
    let huge_follow = OutputConfig::new().follow_capacity(usize::MAX).build();
    assert!(matches!(
        huge_follow,
        Err(OutputError::InvalidConfig { .. })
    ));
    let largest = OutputConfig::new()
        .max_line(overseer::process::output::MAX_MAX_LINE)
        .follow_capacity(overseer::process::output::MAX_FOLLOW_CAPACITY)
        .build();
    assert!(largest.is_ok());
    let missing_dir = OutputConfig::new()
        .log_file(dir.join("no/such/dir/a.log"))
        .build();
    assert!(matches!(missing_dir, Err(OutputError::Open { .. })));
}

#[tokio::test]
async fn timestamps_count_toward_the_size_of_a_log_file() {
    let dir = TempDir::new("stamped");
    let log = dir.join("app.log");
    // 24-byte stamp + space + 30 bytes + newline = 56: one line per 100-byte file.
    let sink = OutputConfig::new()
        .log_file(&log)
        .timestamps(true)
        .rotate(100, 10)
        .build()
        .unwrap();
    let input: String = (0..5).map(|i| format!("{i}{}\n", "t".repeat(29))).collect();
    sink.pump(input.as_bytes(), Stream::Stdout).await.unwrap();
    let files = log_files(&log);
    assert_eq!(files.len(), 5);
    for file in &files {
        assert!(std::fs::metadata(file).unwrap().len() <= 100);
        assert_eq!(file_lines(file).len(), 1);
    }
}

#[tokio::test]
async fn a_log_file_that_ends_mid_line_gets_a_newline_before_the_next_line() {
    // What a write cut short by an error (a full disk) leaves, or a writer that died mid-line.
    let dir = TempDir::new("mid-line");
    let log = dir.join("app.log");
    std::fs::write(&log, "broken half of a line").unwrap();
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(1000, 2)
        .build()
        .unwrap();
    sink.pump(&b"next line\n"[..], Stream::Stdout)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "broken half of a line\nnext line\n"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_failing_log_file_is_counted_and_never_stops_the_reader() {
    // Every write to /dev/full fails with "no space left on device".
    let sink = OutputConfig::new()
        .log_file("/dev/full")
        .tail(10)
        .build()
        .unwrap();
    let (mut child, pipe) = tokio::io::duplex(64);
    let pumping = tokio::spawn({
        let sink = sink.clone();
        async move { sink.pump(pipe, Stream::Stdout).await }
    });
    for i in 0..3 {
        child
            .write_all(format!("line {i}\n").as_bytes())
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    drop(child);
    pumping
        .await
        .unwrap()
        .expect("file errors are not pump errors");
    assert_eq!(sink.tail().len(), 3, "the tail got every line");
    assert!(sink.file_errors() >= 1);
}

#[tokio::test]
async fn a_burst_of_complete_lines_is_written_in_one_piece_without_splitting_across_files() {
    // Only a log file (no tail, follower, callback or timestamps), and a reader that hands
    // over 64 KiB at a time: the pump gives the file runs of many whole lines at once.
    const MAX_BYTES: u64 = 1000;
    let dir = TempDir::new("burst");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(MAX_BYTES, 10_000)
        .build()
        .unwrap();
    let sent: Vec<String> = (0..5_000)
        .map(|i| format!("{i} {}", "x".repeat(i % 120)))
        .collect();
    let input: String = sent.iter().map(|l| format!("{l}\n")).collect();
    sink.pump(input.as_bytes(), Stream::Stdout).await.unwrap();

    let lines: Vec<String> = all_lines(&log);
    assert!(lines == sent, "lines lost, repeated, split or out of order");
    let files = log_files(&log);
    assert!(
        files.len() > 100,
        "only {} files: no rotation?",
        files.len()
    );
    for pair in files.windows(2) {
        // `file_lines` checks that each file ends with a whole line.
        let size = std::fs::metadata(&pair[0]).unwrap().len();
        assert!(size <= MAX_BYTES, "{} has {size} bytes", pair[0].display());
        // Rotated only when the next line would not have fitted, as line by line.
        let next = file_lines(&pair[1])[0].len() as u64 + 1;
        assert!(
            size + next > MAX_BYTES,
            "{} rotated too early",
            pair[0].display()
        );
    }
    assert_eq!(sink.file_errors(), 0);
}

/// A reader that hands over its bytes in chunks of irregular sizes (1 to ~8 KiB), so that
/// lines and UTF-8 characters straddle reads.
struct Chunked {
    bytes: Vec<u8>,
    at: usize,
    step: usize,
}

impl tokio::io::AsyncRead for Chunked {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.step = (self.step * 7 + 13) % 8191 + 1;
        let n = self
            .step
            .min(buf.remaining())
            .min(self.bytes.len() - self.at);
        buf.put_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn the_log_file_gets_the_same_bytes_whether_or_not_anything_needs_single_lines() {
    // Lines of 0 to 700 bytes (longer than max_line), invalid UTF-8, CRLF, 2-byte characters
    // across the cut, and a last line without a newline.
    let mut input = Vec::new();
    for i in 0..20_000usize {
        match i % 97 {
            0 => input.extend_from_slice("é".repeat(350).as_bytes()),
            1 => input.extend_from_slice(b"bad \xff\xfe bytes\r"),
            _ => input.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, (i * 31) % 450)),
        }
        input.push(b'\n');
    }
    input.extend_from_slice(b"no newline at the end");
    let mut logs = Vec::new();
    let dirs = [TempDir::new("same-lines"), TempDir::new("same-runs")];
    for (dir, tail) in dirs.iter().zip([10, 0]) {
        let log = dir.join("app.log");
        let sink = OutputConfig::new()
            .log_file(&log)
            .rotate(50_000, 10_000)
            .max_line(500)
            .tail(tail)
            .build()
            .unwrap();
        let reader = Chunked {
            bytes: input.clone(),
            at: 0,
            step: 1,
        };
        sink.pump(reader, Stream::Stdout).await.unwrap();
        let files: Vec<Vec<u8>> = log_files(&log)
            .iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect();
        logs.push(files);
    }
    assert!(
        logs[0].len() > 10,
        "only {} files: no rotation?",
        logs[0].len()
    );
    assert_eq!(logs[0].len(), logs[1].len(), "as many files either way");
    for (n, (lines, runs)) in logs[0].iter().zip(&logs[1]).enumerate() {
        assert!(lines == runs, "file {n} differs");
    }
}
