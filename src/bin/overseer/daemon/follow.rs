//! `GET /v1/logs/{name}`: the last lines of one or more processes' output, then, when
//! following, their new lines as they come, as JSON lines (see [`LogLine`]).
//!
//! A follower holds only broadcast receivers, never a sink: when the client goes away hyper
//! drops the response body, and with it the receivers and the follower count; when a
//! process is removed its sink is dropped and its stream ends (the response ends with the
//! last one). No line is lost or doubled between the tail and the live lines: the
//! receivers subscribe before the tails are read, and the live lines already in a tail are
//! left out.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::future::ready;
use hyper::body::{Bytes, Frame};
use overseer::process::output::Line;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::Daemon;
use crate::api::LogLine;
use crate::tree::Output;

/// The last `n` lines (all kept lines when `None`) of `outputs`, merged in time order (the
/// order of each process's own lines kept), as JSON lines.
pub fn tail(outputs: &[Output], n: Option<usize>) -> Vec<u8> {
    let tails: Vec<Vec<Line>> = outputs.iter().map(|o| o.sink.tail()).collect();
    encode_tails(outputs, &tails, n)
}

fn encode_tails(outputs: &[Output], tails: &[Vec<Line>], n: Option<usize>) -> Vec<u8> {
    let mut all: Vec<(&str, &Line)> = outputs
        .iter()
        .zip(tails)
        .flat_map(|(o, lines)| lines.iter().map(move |l| (o.name.as_str(), l)))
        .collect();
    // Stable: lines read at the same instant keep their order.
    all.sort_by_key(|(_, line)| line.time());
    let skip = all.len().saturating_sub(n.unwrap_or(usize::MAX));
    let mut out = Vec::new();
    for (name, line) in &all[skip..] {
        out.extend_from_slice(&encode(name, line));
    }
    out
}

/// The tail of `outputs` as [`tail`] gives it, then every new line until the last of
/// `outputs` is removed, the client goes away, or the daemon closes.
pub fn follow(
    daemon: &Daemon,
    outputs: &[Output],
    n: Option<usize>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    let receivers: Vec<_> = outputs.iter().map(|o| o.sink.subscribe()).collect();
    let tails: Vec<Vec<Line>> = outputs.iter().map(|o| o.sink.tail()).collect();
    let first = Bytes::from(encode_tails(outputs, &tails, n));
    let live = outputs
        .iter()
        .zip(receivers)
        .zip(tails)
        .map(|((output, receiver), seen)| {
            let name = output.name.clone();
            let mut seen = Seen::new(seen);
            BroadcastStream::new(receiver).filter_map(move |item| {
                ready(match item {
                    Ok(line) if seen.take(&line) => None,
                    Ok(line) => Some(Bytes::from(encode(&name, &line))),
                    Err(BroadcastStreamRecvError::Lagged(missed)) => {
                        Some(Bytes::from(encode_missed(&name, missed)))
                    }
                })
            })
        });
    let live =
        futures_util::stream::select_all(live).take_until(daemon.closing.clone().cancelled_owned());
    let counted = Follower::new(daemon.followers.clone());
    futures_util::stream::iter((!first.is_empty()).then_some(first))
        .chain(live)
        .map(move |bytes| {
            let _counted = &counted;
            Ok(Frame::data(bytes))
        })
}

/// Counts a follower while it lives.
struct Follower(Arc<AtomicUsize>);

impl Follower {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Follower(count)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The lines of a tail read after subscribing: the live lines among them were already sent.
struct Seen {
    lines: Vec<Line>,
    newest: Option<SystemTime>,
}

impl Seen {
    fn new(lines: Vec<Line>) -> Self {
        let newest = lines.iter().map(Line::time).max();
        Seen { lines, newest }
    }

    /// Whether `line` is one of the tail's (each counted once): a line read after the tail's
    /// newest cannot be.
    fn take(&mut self, line: &Line) -> bool {
        if self.newest.is_none_or(|newest| line.time() > newest) {
            return false;
        }
        match self.lines.iter().position(|l| l == line) {
            Some(i) => {
                self.lines.remove(i);
                true
            }
            None => false,
        }
    }
}

/// One line as a JSON line.
fn encode(name: &str, line: &Line) -> Vec<u8> {
    let record = LogLine {
        name: name.to_owned(),
        stream: Some(line.stream().as_str().to_owned()),
        time: rfc3339(line.time()),
        line: Some(line.text().into_owned()),
        missed: None,
    };
    to_json_line(&record)
}

fn encode_missed(name: &str, missed: u64) -> Vec<u8> {
    let record = LogLine {
        name: name.to_owned(),
        stream: None,
        time: None,
        line: None,
        missed: Some(missed),
    };
    to_json_line(&record)
}

fn to_json_line(record: &LogLine) -> Vec<u8> {
    // A struct of strings and numbers always serialises.
    let mut out = serde_json::to_vec(record).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `time` in RFC 3339 with milliseconds; `None` outside the years 1970–9999.
fn rfc3339(time: SystemTime) -> Option<String> {
    const YEAR_10000: u64 = 253_402_300_800;
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    (since.as_secs() < YEAR_10000).then(|| humantime::format_rfc3339_millis(time).to_string())
}
