//! The reader: drains a pipe in large reads and cuts it into lines.

use std::io;
use std::time::SystemTime;

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::sink::Piece;
use super::{OutputError, OutputSink, Stream};

/// Bytes asked for per read: the size of a Linux pipe buffer.
const READ_CHUNK: usize = 64 * 1024;

impl OutputSink {
    /// Reads `reader` (a child's stdout or stderr) to its end, delivering every line to this
    /// sink, then returns. Run one pump per stream, concurrently (e.g. two tasks or `join!`).
    ///
    /// Guarantees:
    /// - the pipe is drained as fast as the log file takes the bytes: subscribers lag instead
    ///   of blocking, and a failing log file is skipped (see
    ///   [`file_errors`](Self::file_errors)), never waited for;
    /// - every byte is delivered once, in order; a line is the bytes up to `\n`; the last
    ///   bytes before the end of the stream are a line even without `\n` (the log file gets a
    ///   `\n` after them);
    /// - a line longer than the maximum line length is delivered in pieces (see
    ///   [`OutputConfig::max_line`](super::OutputConfig::max_line));
    /// - each pipe read is delivered before the next read; the log file is flushed whenever
    ///   the pipe has no more data ready (before the pump waits) and at the end, so what the
    ///   child wrote is in the file once the pump waits for more. While data keeps coming, at
    ///   most the file buffer (128 KiB) is not yet in the file.
    ///
    /// Cost: memory of one buffer of `max_line + 64 KiB`; about one `write(2)` to the log
    /// file per pipe read (whole lines of at least 16 KiB are written straight from the read
    /// buffer, smaller ones buffered up to 128 KiB until the pipe is idle). When nothing needs
    /// single lines (no tail, callback, subscriber or timestamps), a read's whole lines go to
    /// the file as one run, found with one backward `memrchr` scan per `max_line` bytes;
    /// otherwise each line costs a `memchr` scan, and one allocation when a tail, callback or
    /// subscriber wants it. Most of the CPU time is waking up: the pump runs once per read
    /// the reader completes, and a plain Tokio pipe completes one per `write(2)` of the child
    /// when the pump keeps up (a [`Command`](crate::process::Command)'s capture reads a busy
    /// pipe in batches instead, once per 250 µs nap on Linux). The file is written synchronously
    /// on this task (to the page cache, no `fsync`): a slow disk delays this task's thread.
    /// That was chosen over `tokio::fs` because in `benches/bin/output_throughput.rs` a plain
    /// `tokio::io::copy` into a `tokio::fs::File` (one blocking-pool hop per write) was slower
    /// than this pump, lines and rotation included.
    ///
    /// # Errors
    /// [`OutputError::Read`] when reading fails; the lines read before it (including a last
    /// partial one) are delivered first.
    ///
    /// ```
    /// use overseer::process::output::{OutputConfig, Stream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), overseer::process::output::OutputError> {
    /// let sink = OutputConfig::new().tail(10).build()?;
    /// sink.pump(&b"one\ntwo\nthree"[..], Stream::Stdout).await?;
    /// let tail: Vec<String> = sink.tail().iter().map(|l| l.text().into_owned()).collect();
    /// assert_eq!(tail, ["one", "two", "three"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pump<R>(&self, mut reader: R, stream: Stream) -> Result<(), OutputError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut splitter = Splitter::new(self.max_line);
        let mut pieces = Vec::new();
        let mut unflushed = false;
        loop {
            // Flush only when the pipe has nothing more right now: while the child keeps
            // writing, the file gets large writes instead of one per pipe read.
            let read = match reader.read(splitter.free()).now_or_never() {
                Some(read) => read,
                None => {
                    if unflushed {
                        self.flush(stream);
                        unflushed = false;
                    }
                    reader.read(splitter.free()).await
                }
            };
            let time = SystemTime::now();
            match read {
                Ok(0) => {
                    splitter.finish(&mut pieces);
                    self.deliver(stream, time, splitter.buf(), &pieces, true);
                    self.flush(stream);
                    tracing::debug!(%stream, "output ended");
                    return Ok(());
                }
                Ok(n) => {
                    let lines = self.wants_lines();
                    splitter.split(n, lines, &mut pieces);
                    self.deliver(stream, time, splitter.buf(), &pieces, lines);
                    unflushed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    splitter.finish(&mut pieces);
                    self.deliver(stream, time, splitter.buf(), &pieces, true);
                    self.flush(stream);
                    return Err(OutputError::Read { stream, source });
                }
            }
        }
    }
}

/// A read buffer and where the undelivered bytes (a partial line) start and end.
///
/// Invariant between reads: `end - start <= max_line + 1` (the `+ 1`: a line of exactly
/// `max_line` bytes whose `\r` has come but not its `\n`), so at least `READ_CHUNK` bytes are
/// free after compaction.
#[derive(Debug)]
struct Splitter {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_line: usize,
}

impl Splitter {
    fn new(max_line: usize) -> Self {
        Splitter {
            buf: vec![0; max_line.saturating_add(1).saturating_add(READ_CHUNK)],
            start: 0,
            end: 0,
            max_line,
        }
    }

    /// Room for the next read (never empty), moving the partial line to the front if needed.
    fn free(&mut self) -> &mut [u8] {
        if self.buf.len() - self.end < READ_CHUNK && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// Takes `n` newly read bytes and lists the lines (or pieces) now ready: one piece per
    /// line when `lines`, else runs of whole lines (see [`split_runs`](Self::split_runs)).
    fn split(&mut self, n: usize, lines: bool, pieces: &mut Vec<Piece>) {
        pieces.clear();
        self.end += n;
        if !lines {
            self.split_runs(pieces);
            return;
        }
        let scan_from = self.start;
        let mut line_start = self.start;
        for newline in memchr::memchr_iter(b'\n', &self.buf[scan_from..self.end]) {
            let newline = scan_from + newline;
            self.push_line(line_start, newline, pieces);
            line_start = newline + 1;
        }
        self.start = line_start;
        // A partial line longer than the limit: deliver what we must, keep the rest.
        while self.end - self.start > self.max_line {
            if self.waits_for_its_crlf_newline(self.start, self.end) {
                break;
            }
            let cut = cut_point(&self.buf[self.start..self.end], self.max_line);
            pieces.push(Piece {
                range: self.start..self.start + cut,
                continued: true,
                newline: false,
            });
            self.start += cut;
        }
    }

    /// For the log file alone: lists the same bytes as [`split`](Self::split) would, but each
    /// run of whole lines as one piece (its range spans their inner `\n`s), found with one
    /// backward scan per `max_line + 1` bytes instead of one scan per line. Every line in
    /// such a window is at most `max_line` long, so the cuts are exactly those of `split`.
    fn split_runs(&mut self, pieces: &mut Vec<Piece>) {
        let mut run: Option<std::ops::Range<usize>> = None;
        loop {
            let window_end = self
                .end
                .min(self.start.saturating_add(self.max_line).saturating_add(1));
            let window = &self.buf[self.start..window_end];
            if let Some(last) = memchr::memrchr(b'\n', window) {
                let newline = self.start + last;
                match &mut run {
                    Some(run) => run.end = newline,
                    None => run = Some(self.start..newline),
                }
                self.start = newline + 1;
            } else if window.len() > self.max_line {
                // No `\n` within `max_line + 1` bytes: a line too long, cut as `split` does,
                // unless it is `max_line` bytes and a `\r\n`.
                let after_cr = self.start + self.max_line + 1;
                if self.waits_for_its_crlf_newline(self.start, self.end) {
                    break;
                }
                if after_cr < self.end
                    && self.buf[after_cr - 1] == b'\r'
                    && self.buf[after_cr] == b'\n'
                {
                    match &mut run {
                        Some(run) => run.end = after_cr,
                        None => run = Some(self.start..after_cr),
                    }
                    self.start = after_cr + 1;
                    continue;
                }
                if let Some(range) = run.take() {
                    pieces.push(whole_lines(range));
                }
                let cut = cut_point(&self.buf[self.start..self.end], self.max_line);
                pieces.push(Piece {
                    range: self.start..self.start + cut,
                    continued: true,
                    newline: false,
                });
                self.start += cut;
            } else {
                break;
            }
        }
        if let Some(range) = run {
            pieces.push(whole_lines(range));
        }
    }

    /// Lists the partial line left at the end of the stream, if any.
    fn finish(&mut self, pieces: &mut Vec<Piece>) {
        pieces.clear();
        if self.end > self.start {
            pieces.push(Piece {
                range: self.start..self.end,
                continued: false,
                newline: false,
            });
        }
        self.start = self.end;
    }

    /// Whether the bytes `start..end`, with no `\n` among them, are a line of exactly
    /// `max_line` bytes followed by a `\r` whose `\n` may still come: kept whole until then.
    fn waits_for_its_crlf_newline(&self, start: usize, end: usize) -> bool {
        end - start == self.max_line + 1 && self.buf[end - 1] == b'\r'
    }

    /// Lists the line `start..end` (terminator excluded), cut into pieces if it is too long.
    /// The limit counts the line's bytes without a `\r` just before its `\n`.
    fn push_line(&self, mut start: usize, end: usize, pieces: &mut Vec<Piece>) {
        let limit_end = match end > start && self.buf[end - 1] == b'\r' {
            true => end - 1,
            false => end,
        };
        while limit_end - start > self.max_line {
            let cut = cut_point(&self.buf[start..end], self.max_line);
            pieces.push(Piece {
                range: start..start + cut,
                continued: true,
                newline: false,
            });
            start += cut;
        }
        pieces.push(Piece {
            range: start..end,
            continued: false,
            newline: true,
        });
    }
}

/// A piece of one or more whole lines: `range` ends just before the last one's `\n`.
fn whole_lines(range: std::ops::Range<usize>) -> Piece {
    Piece {
        range,
        continued: false,
        newline: true,
    }
}

/// Where to cut `bytes` (longer than `max`): at `max`, or up to 3 bytes earlier so that a
/// UTF-8 character is not cut in two. Always at least 1.
fn cut_point(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    let mut cut = max;
    while cut > 1 && cut + 3 > max && is_continuation(bytes[cut]) {
        cut -= 1;
    }
    if is_continuation(bytes[cut]) {
        max
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(splitter: &Splitter, pieces: &[Piece]) -> Vec<(String, bool)> {
        pieces
            .iter()
            .map(|p| {
                let text = String::from_utf8_lossy(&splitter.buf()[p.range.clone()]);
                (text.into_owned(), p.continued)
            })
            .collect()
    }

    /// Reads `bytes` into the splitter, wanting single lines (`lines`) or runs of them.
    fn feed_as(lines: bool, splitter: &mut Splitter, bytes: &[u8], pieces: &mut Vec<Piece>) {
        splitter.free()[..bytes.len()].copy_from_slice(bytes);
        splitter.split(bytes.len(), lines, pieces);
    }

    fn feed(splitter: &mut Splitter, bytes: &[u8], pieces: &mut Vec<Piece>) {
        feed_as(true, splitter, bytes, pieces);
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let mut splitter = Splitter::new(16);
        let mut pieces = Vec::new();
        feed(&mut splitter, b"ab\ncd", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("ab".into(), false)]);
        feed(&mut splitter, b"e\n", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("cde".into(), false)]);
        splitter.finish(&mut pieces);
        assert!(pieces.is_empty());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_into_continued_pieces() {
        let mut splitter = Splitter::new(4);
        let mut pieces = Vec::new();
        feed(&mut splitter, b"abcdefghij\nxy", &mut pieces);
        assert_eq!(
            texts(&splitter, &pieces),
            [
                ("abcd".into(), true),
                ("efgh".into(), true),
                ("ij".into(), false)
            ]
        );
        splitter.finish(&mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("xy".into(), false)]);
    }

    #[test]
    fn a_long_partial_line_is_delivered_before_its_end_arrives() {
        let mut splitter = Splitter::new(4);
        let mut pieces = Vec::new();
        feed(&mut splitter, b"abcdefg", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("abcd".into(), true)]);
        feed(&mut splitter, b"\n", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("efg".into(), false)]);
    }

    #[test]
    fn a_crlf_line_of_exactly_the_limit_is_one_line_in_one_read_or_two() {
        for split_at in [None, Some(5), Some(4)] {
            let bytes: &[u8] = b"abcd\r\nef\n";
            let (mut lines, mut runs) = (Vec::new(), Vec::new());
            for (as_lines, out) in [(true, &mut lines), (false, &mut runs)] {
                let mut splitter = Splitter::new(4);
                let mut pieces = Vec::new();
                let chunks = match split_at {
                    None => vec![bytes],
                    Some(at) => vec![&bytes[..at], &bytes[at..]],
                };
                for chunk in chunks {
                    feed_as(as_lines, &mut splitter, chunk, &mut pieces);
                    out.extend(texts(&splitter, &pieces));
                }
            }
            // The `\r` is stripped later, by `Line::new`; what matters here: no cut, no
            // extra piece.
            assert_eq!(
                lines,
                [("abcd\r".to_string(), false), ("ef".into(), false)],
                "{split_at:?}"
            );
            let joined: String = runs
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            assert_eq!(joined, "abcd\r\nef", "{split_at:?}: {runs:?}");
            assert!(
                runs.iter().all(|(_, continued)| !continued),
                "{split_at:?}: {runs:?}"
            );
        }
    }

    #[test]
    fn a_line_one_byte_over_the_limit_ending_in_cr_without_its_newline_is_still_cut() {
        let mut splitter = Splitter::new(4);
        let mut pieces = Vec::new();
        feed(&mut splitter, b"abcd\r", &mut pieces);
        assert!(pieces.is_empty(), "waits for the byte after the \\r");
        feed(&mut splitter, b"x\n", &mut pieces);
        assert_eq!(
            texts(&splitter, &pieces),
            [("abcd".into(), true), ("\rx".into(), false)]
        );
    }

    #[test]
    fn a_cut_does_not_split_a_utf8_character() {
        // "aéé" = 61 c3 a9 c3 a9: a cut at 4 would split the second é.
        let mut splitter = Splitter::new(4);
        let mut pieces = Vec::new();
        feed(&mut splitter, "aééb\n".as_bytes(), &mut pieces);
        assert_eq!(
            texts(&splitter, &pieces),
            [("aé".into(), true), ("éb".into(), false)]
        );
    }

    fn feed_runs(splitter: &mut Splitter, bytes: &[u8], pieces: &mut Vec<Piece>) {
        feed_as(false, splitter, bytes, pieces);
    }

    #[test]
    fn without_a_need_for_lines_a_burst_of_whole_lines_is_one_piece() {
        let mut splitter = Splitter::new(16);
        let mut pieces = Vec::new();
        feed_runs(&mut splitter, b"ab\ncd\nef\ngh", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("ab\ncd\nef".into(), false)]);
        assert!(pieces[0].newline);
        feed_runs(&mut splitter, b"i\n", &mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("ghi".into(), false)]);
    }

    #[test]
    fn without_a_need_for_lines_an_overlong_line_is_still_cut_between_runs() {
        let mut splitter = Splitter::new(4);
        let mut pieces = Vec::new();
        feed_runs(&mut splitter, b"ab\ncd\nefghijk\nlm\nnopqrstu", &mut pieces);
        assert_eq!(
            texts(&splitter, &pieces),
            [
                ("ab\ncd".into(), false),
                ("efgh".into(), true),
                ("ijk\nlm".into(), false),
                ("nopq".into(), true),
            ]
        );
        splitter.finish(&mut pieces);
        assert_eq!(texts(&splitter, &pieces), [("rstu".into(), false)]);
    }

    #[test]
    fn the_buffer_never_runs_out_of_room() {
        let mut splitter = Splitter::new(8);
        let mut pieces = Vec::new();
        let mut delivered = Vec::new();
        for round in 0..10_000u32 {
            let chunk = format!("{round}-partial-line-{}", "x".repeat(round as usize % 13));
            let room = splitter.free().len();
            assert!(room >= READ_CHUNK, "only {room} bytes free");
            feed(&mut splitter, chunk.as_bytes(), &mut pieces);
            for p in &pieces {
                delivered.extend_from_slice(&splitter.buf()[p.range.clone()]);
            }
        }
        splitter.finish(&mut pieces);
        for p in &pieces {
            delivered.extend_from_slice(&splitter.buf()[p.range.clone()]);
        }
        let sent: String = (0..10_000u32)
            .map(|r| format!("{r}-partial-line-{}", "x".repeat(r as usize % 13)))
            .collect();
        assert_eq!(delivered, sent.as_bytes());
    }
}
