//! Helpers shared by the `process_output_*` tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed on drop (also when a test fails).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("overseer-output-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The log file and its rotated copies that exist, oldest first: `app.log.N` … `app.log.1`,
/// `app.log`.
pub fn log_files(log: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in (1..=2_000).rev() {
        let backup = PathBuf::from(format!("{}.{n}", log.display()));
        if backup.exists() {
            files.push(backup);
        }
    }
    if log.exists() {
        files.push(log.to_path_buf());
    }
    files
}

/// The lines of one file (each must end with `\n`).
pub fn file_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read log file");
    if bytes.is_empty() {
        return Vec::new();
    }
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "{} ends inside a line",
        path.display()
    );
    bytes[..bytes.len() - 1]
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// The lines of the log file and its rotated copies, oldest first, as text.
pub fn all_lines(log: &Path) -> Vec<String> {
    log_files(log)
        .iter()
        .flat_map(|f| file_lines(f))
        .map(|l| String::from_utf8(l).expect("utf-8 log line"))
        .collect()
}
