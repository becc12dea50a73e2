//! Tail, live subscribers and the per-line callback.
#![cfg(feature = "process")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer::process::output::{Line, OutputConfig, Stream};
use tokio::sync::broadcast::error::RecvError;

fn numbered(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

fn texts(lines: &[Line]) -> Vec<String> {
    lines.iter().map(|l| l.text().into_owned()).collect()
}

#[tokio::test]
async fn the_tail_keeps_the_last_n_lines_oldest_first() {
    let sink = OutputConfig::new().tail(3).build().unwrap();
    sink.pump(&numbered(10)[..], Stream::Stdout).await.unwrap();
    assert_eq!(texts(&sink.tail()), ["line 7", "line 8", "line 9"]);
}

#[tokio::test]
async fn without_a_tail_nothing_is_kept_in_memory() {
    let sink = OutputConfig::new().build().unwrap();
    sink.pump(&numbered(10)[..], Stream::Stdout).await.unwrap();
    assert!(sink.tail().is_empty());
}

#[tokio::test]
async fn two_subscribers_both_receive_every_line_in_order() {
    // The pump delivers a whole read at once; room for all of it means no lag.
    let sink = OutputConfig::new().follow_capacity(8192).build().unwrap();
    let first = sink.subscribe();
    let second = sink.subscribe();
    let collect = |mut rx: tokio::sync::broadcast::Receiver<Line>| async move {
        let mut got = Vec::new();
        while got.len() < 5_000 {
            got.push(
                rx.recv()
                    .await
                    .expect("no lag, no close")
                    .text()
                    .into_owned(),
            );
        }
        got
    };
    let input = numbered(5_000);
    let (pumped, a, b) = tokio::join!(
        sink.pump(&input[..], Stream::Stdout),
        collect(first),
        collect(second)
    );
    pumped.unwrap();
    let expected: Vec<String> = (0..5_000).map(|i| format!("line {i}")).collect();
    assert_eq!(a, expected);
    assert_eq!(b, expected);
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_how_many_lines_it_missed_and_the_reader_never_waits() {
    let sink = OutputConfig::new().follow_capacity(16).build().unwrap();
    let mut slow = sink.subscribe();
    // Nobody receives while the pump runs; it must finish anyway.
    tokio::time::timeout(
        Duration::from_secs(30),
        sink.pump(&numbered(1_000)[..], Stream::Stdout),
    )
    .await
    .expect("the pump waited for a subscriber")
    .unwrap();
    match slow.recv().await {
        Err(RecvError::Lagged(missed)) => assert_eq!(missed, 1_000 - 16),
        other => panic!("expected a lag, got {other:?}"),
    }
    // It goes on with the oldest line still kept.
    assert_eq!(slow.recv().await.unwrap().text(), "line 984");
}

#[tokio::test]
async fn the_callback_sees_every_line_of_both_streams() {
    let seen: Arc<Mutex<Vec<(Stream, String)>>> = Arc::default();
    let sink = OutputConfig::new()
        .on_line({
            let seen = seen.clone();
            move |line| {
                let entry = (line.stream(), line.text().into_owned());
                seen.lock().unwrap().push(entry);
            }
        })
        .build()
        .unwrap();
    let input = numbered(3_000);
    let (out, err) = tokio::join!(
        sink.pump(&input[..], Stream::Stdout),
        sink.pump(&b"progress 50%\nprogress 100%\n"[..], Stream::Stderr)
    );
    out.unwrap();
    err.unwrap();
    let seen = seen.lock().unwrap();
    let stdout: Vec<&str> = seen
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, t)| t.as_str())
        .collect();
    let expected: Vec<String> = (0..3_000).map(|i| format!("line {i}")).collect();
    assert_eq!(stdout, expected);
    let stderr: Vec<&str> = seen
        .iter()
        .filter(|(s, _)| *s == Stream::Stderr)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(stderr, ["progress 50%", "progress 100%"]);
}

#[tokio::test]
async fn a_panicking_callback_does_not_stop_the_reader() {
    let sink = OutputConfig::new()
        .tail(100)
        .on_line(|line| {
            if line.text() == "line 3" {
                panic!("callback bug");
            }
        })
        .build()
        .unwrap();
    sink.pump(&numbered(10)[..], Stream::Stdout).await.unwrap();
    assert_eq!(sink.tail().len(), 10);
}
