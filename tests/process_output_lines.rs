//! What a line is: bytes, long lines, timestamps, the end of the stream.
#![cfg(feature = "process")]

#[path = "process_output_common/mod.rs"]
mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use common::TempDir;
use overseer::process::output::{OutputConfig, OutputError, Stream};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

#[tokio::test]
async fn invalid_utf8_is_kept_in_the_file_and_shown_lossily_without_error() {
    let dir = TempDir::new("utf8");
    let log = dir.join("app.log");
    let sink = OutputConfig::new().log_file(&log).tail(10).build().unwrap();
    let input = b"ok \xff\xfe bad\nfine\n";
    sink.pump(&input[..], Stream::Stdout).await.unwrap();
    let tail = sink.tail();
    assert_eq!(tail[0].as_bytes(), b"ok \xff\xfe bad");
    assert_eq!(tail[0].text(), "ok \u{fffd}\u{fffd} bad");
    assert_eq!(tail[1].text(), "fine");
    assert_eq!(std::fs::read(&log).unwrap(), input);
}

#[tokio::test]
async fn an_overlong_line_is_cut_into_bounded_pieces_marked_continued() {
    let dir = TempDir::new("long");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .max_line(1000)
        .tail(100)
        .build()
        .unwrap();
    let mut input = "y".repeat(2_500).into_bytes();
    input.extend_from_slice(b"\nshort\n");
    sink.pump(&input[..], Stream::Stdout).await.unwrap();
    let tail = sink.tail();
    let shape: Vec<(usize, bool)> = tail
        .iter()
        .map(|l| (l.as_bytes().len(), l.is_continued()))
        .collect();
    assert_eq!(
        shape,
        [(1000, true), (1000, true), (500, false), (5, false)]
    );
    // In the file each piece is a line of its own; nothing is lost.
    let file = std::fs::read_to_string(&log).unwrap();
    let pieces: Vec<usize> = file.lines().map(str::len).collect();
    assert_eq!(pieces, [1000, 1000, 500, 5]);
}

#[tokio::test]
async fn an_endless_line_without_newline_is_delivered_as_it_comes_with_bounded_memory() {
    let sink = OutputConfig::new().max_line(4096).build().unwrap();
    let mut follow = sink.subscribe();
    let (mut child, pipe) = tokio::io::duplex(64 * 1024);
    let pumping = tokio::spawn({
        let sink = sink.clone();
        async move { sink.pump(pipe, Stream::Stdout).await }
    });
    // 1 MiB without a newline, and the stream stays open.
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..16 {
        child.write_all(&chunk).await.unwrap();
    }
    let mut received = 0;
    while received < 1024 * 1024 - 4096 {
        let line = follow.recv().await.unwrap();
        assert!(line.is_continued());
        assert!(line.as_bytes().len() <= 4096);
        received += line.as_bytes().len();
    }
    drop(child);
    pumping.await.unwrap().unwrap();
    let mut last = follow.recv().await.unwrap();
    received += last.as_bytes().len();
    while last.is_continued() {
        last = follow.recv().await.unwrap();
        received += last.as_bytes().len();
    }
    assert_eq!(received, 1024 * 1024);
}

#[tokio::test]
async fn timestamps_prefix_each_file_line_when_enabled() {
    let dir = TempDir::new("stamp");
    let log = dir.join("app.log");
    let before = SystemTime::now() - Duration::from_secs(1);
    let sink = OutputConfig::new()
        .log_file(&log)
        .timestamps(true)
        .build()
        .unwrap();
    sink.pump(&b"hello\nworld\n"[..], Stream::Stdout)
        .await
        .unwrap();
    let after = SystemTime::now() + Duration::from_secs(1);
    let file = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, text) in lines.iter().zip(["hello", "world"]) {
        let (stamp, rest) = line.split_once(' ').expect("a timestamp and a space");
        assert_eq!(rest, text);
        assert_eq!(stamp.len(), "2025-01-31T12:00:00.123Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z'), "{stamp}");
        let time = humantime::parse_rfc3339(stamp).expect("RFC 3339");
        assert!(before <= time && time <= after, "{stamp} is not now");
    }
}

#[tokio::test]
async fn no_timestamps_are_written_when_disabled() {
    let dir = TempDir::new("nostamp");
    let log = dir.join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .timestamps(false)
        .tail(1)
        .build()
        .unwrap();
    let before = SystemTime::now();
    sink.pump(&b"hello\n"[..], Stream::Stdout).await.unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), b"hello\n");
    // The line in memory still knows when it was read.
    assert!(sink.tail()[0].time() >= before);
}

#[tokio::test]
async fn the_end_of_the_stream_delivers_a_last_line_without_newline_everywhere() {
    let dir = TempDir::new("eof");
    let log = dir.join("app.log");
    let sink = OutputConfig::new().log_file(&log).tail(10).build().unwrap();
    sink.pump(&b"first\r\nlast words"[..], Stream::Stderr)
        .await
        .unwrap();
    let tail = sink.tail();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0].text(), "first", "\\r\\n ends a line");
    assert_eq!(tail[1].text(), "last words");
    assert_eq!(tail[1].stream(), Stream::Stderr);
    assert!(!tail[1].is_continued());
    assert_eq!(std::fs::read(&log).unwrap(), b"first\r\nlast words\n");
}

#[tokio::test]
async fn what_was_read_is_in_the_file_before_the_pump_waits_for_more() {
    let dir = TempDir::new("flush");
    let log = dir.join("app.log");
    let sink = OutputConfig::new().log_file(&log).build().unwrap();
    let mut follow = sink.subscribe();
    let (mut child, pipe) = tokio::io::duplex(1024);
    let pumping = tokio::spawn({
        let sink = sink.clone();
        async move { sink.pump(pipe, Stream::Stdout).await }
    });
    child.write_all(b"one\ntwo\n").await.unwrap();
    // The pump flushes before it waits for more; on this current-thread runtime the
    // subscriber runs only once the pump waits.
    assert_eq!(follow.recv().await.unwrap().text(), "one");
    assert_eq!(follow.recv().await.unwrap().text(), "two");
    assert_eq!(std::fs::read(&log).unwrap(), b"one\ntwo\n");
    drop(child);
    pumping.await.unwrap().unwrap();
}

/// Yields its bytes, then fails.
struct FailingReader(Option<&'static [u8]>);

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.0.take() {
            Some(bytes) => {
                buf.put_slice(bytes);
                Poll::Ready(Ok(()))
            }
            None => Poll::Ready(Err(std::io::Error::other("pipe broke"))),
        }
    }
}

#[tokio::test]
async fn a_read_error_is_returned_after_the_lines_before_it_are_delivered() {
    let sink = OutputConfig::new().tail(10).build().unwrap();
    let result = sink
        .pump(FailingReader(Some(b"a\nb\npartial")), Stream::Stdout)
        .await;
    assert!(matches!(
        result,
        Err(OutputError::Read {
            stream: Stream::Stdout,
            ..
        })
    ));
    let tail: Vec<String> = sink.tail().iter().map(|l| l.text().into_owned()).collect();
    assert_eq!(tail, ["a", "b", "partial"]);
}
