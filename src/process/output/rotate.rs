//! A log file that rotates by size, only between lines.
//!
//! `app.log` is the live file; on rotation `app.log.{keep-1}` → `app.log.{keep}` (the old
//! `app.log.{keep}` is deleted), …, `app.log` → `app.log.1`, and a new empty `app.log` is opened.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::sink::Piece;

/// Buffer of the writer: a whole pipe read (64 KiB) plus timestamps fits, so a batch is
/// usually one `write(2)`.
const WRITE_BUFFER: usize = 128 * 1024;

/// Runs of whole lines at least this long bypass the buffer.
const DIRECT_WRITE: usize = 16 * 1024;

/// When to rotate and how many rotated files to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rotation {
    /// Rotate before a line that would make the live file larger than this (bytes, > 0).
    pub(super) max_bytes: u64,
    /// Rotated files kept (`app.log.1` … `app.log.{keep}`); 0 truncates the live file instead.
    pub(super) keep: usize,
}

/// The live log file, its size, and how many rotated copies exist.
#[derive(Debug)]
pub(super) struct RotatingFile {
    path: PathBuf,
    rotation: Option<Rotation>,
    out: Option<BufWriter<File>>,
    size: u64,
    rotated: usize,
}

impl RotatingFile {
    /// Opens (appending to) or creates `path`, and counts the rotated copies already there.
    pub(super) fn open(path: PathBuf, rotation: Option<Rotation>) -> io::Result<Self> {
        let mut file = RotatingFile {
            path,
            rotation,
            out: None,
            size: 0,
            rotated: 0,
        };
        file.reopen()?;
        if let Some(rotation) = rotation {
            while file.rotated < rotation.keep && fs::exists(file.backup(file.rotated + 1))? {
                file.rotated += 1;
            }
        }
        Ok(file)
    }

    /// The live file's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes each piece of `buf` as a line (`prefix`, the bytes, `\n`), rotating before a
    /// line that would not fit. A line that does not fit even an empty file goes alone into
    /// one. Pieces that lie with their `\n` one after the other in `buf` (and pieces that are
    /// runs of whole lines) are written as one run without a prefix, see
    /// [`write_run`](Self::write_run), so the cost per line is only the bookkeeping.
    pub(super) fn write_pieces(
        &mut self,
        prefix: &[u8],
        buf: &[u8],
        pieces: &[Piece],
    ) -> io::Result<()> {
        if self.out.is_none() {
            self.reopen()?;
        }
        // Whole lines of `buf`, each with its `\n`, not yet written.
        let mut run = 0..0;
        for piece in pieces {
            if prefix.is_empty() && piece.newline {
                let with_newline = piece.range.start..piece.range.end + 1;
                if run.is_empty() || run.end != with_newline.start {
                    self.write_run(&buf[run])?;
                    run = with_newline;
                } else {
                    run.end = with_newline.end;
                }
                continue;
            }
            self.write_run(&buf[run])?;
            run = 0..0;
            let line = &buf[piece.range.clone()];
            let len = (prefix.len() + line.len() + 1) as u64;
            if let Some(rotation) = self.rotation {
                if self.size > 0 && self.size + len > rotation.max_bytes {
                    self.rotate(rotation.keep)?;
                }
            }
            self.write_raw(prefix)?;
            self.write_raw(line)?;
            self.write_raw(b"\n")?;
            self.size += len;
        }
        self.write_run(&buf[run])
    }

    /// Writes whole lines (each ending with `\n`), rotating between them exactly as if they
    /// were written one by one: the longest head of lines that fits goes into the live file
    /// in one call (found with one backward scan), then the file rotates.
    fn write_run(&mut self, mut run: &[u8]) -> io::Result<()> {
        while !run.is_empty() {
            let room = match self.rotation {
                Some(rotation) => rotation.max_bytes.saturating_sub(self.size),
                None => u64::MAX,
            };
            if run.len() as u64 <= room {
                return self.write_counted(run);
            }
            // `room < run.len()`, so it fits a usize.
            let fitting = &run[..room as usize];
            let head = match memchr::memrchr(b'\n', fitting) {
                Some(last) => last + 1,
                // Not even the first line fits; an empty file takes it whole.
                None if self.size == 0 => memchr::memchr(b'\n', run).map_or(run.len(), |i| i + 1),
                None => 0,
            };
            let (now, rest) = run.split_at(head);
            self.write_counted(now)?;
            run = rest;
            if let Some(rotation) = self.rotation {
                if !run.is_empty() {
                    self.rotate(rotation.keep)?;
                }
            }
        }
        Ok(())
    }

    fn write_counted(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_raw(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(out) = &mut self.out else {
            return Err(io::Error::other("log file is closed after an error"));
        };
        if bytes.len() >= DIRECT_WRITE {
            // A run this large is written as is: copying it into the buffer first would only
            // add a memcpy per byte of output.
            out.flush()?;
            out.get_mut().write_all(bytes)
        } else {
            out.write_all(bytes)
        }
    }

    /// Hands the buffered lines to the operating system (no `fsync`).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// Forgets the writer after an error (its buffered bytes are dropped); the next line
    /// reopens the file.
    pub(super) fn reset(&mut self) {
        if let Some(out) = self.out.take() {
            // Dropping a BufWriter flushes it; after an error that would fail again, so the
            // buffered bytes are discarded instead.
            let _ = out.into_parts();
        }
    }

    /// Opens the live file for appending. If it ends in the middle of a line (a write cut
    /// short by an error, or a writer that died mid-line before this one), a `\n` comes first,
    /// so the next line is not glued to the broken one.
    fn reopen(&mut self) -> io::Result<&mut BufWriter<File>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        let mid_line = ends_mid_line(&self.path, self.size);
        let out = self
            .out
            .insert(BufWriter::with_capacity(WRITE_BUFFER, file));
        if mid_line {
            out.write_all(b"\n")?;
            self.size += 1;
        }
        Ok(out)
    }

    fn rotate(&mut self, keep: usize) -> io::Result<()> {
        self.flush()?;
        self.out = None;
        if keep == 0 {
            let file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .create(true)
                .open(&self.path)?;
            self.out = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
            self.size = 0;
            return Ok(());
        }
        if self.rotated >= keep {
            ignore_missing(fs::remove_file(self.backup(keep)))?;
            self.rotated = keep - 1;
        }
        for n in (1..=self.rotated).rev() {
            ignore_missing(fs::rename(self.backup(n), self.backup(n + 1)))?;
        }
        ignore_missing(fs::rename(&self.path, self.backup(1)))?;
        self.rotated += 1;
        self.reopen()?;
        Ok(())
    }

    /// `app.log.n`.
    fn backup(&self, n: usize) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

/// Whether the file at `path`, `len` bytes long, does not end with a `\n`. Unknown (it cannot
/// be read) counts as no.
fn ends_mid_line(path: &Path, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    matches!(file.read_at(&mut last, len - 1), Ok(1)) && last[0] != b'\n'
}

/// A rotated copy that someone else removed is not an error.
fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
