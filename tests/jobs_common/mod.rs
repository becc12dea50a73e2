//! Helpers of the jobs tests: a store in a temporary directory, FIFOs that hold a job until
//! the test releases it, and looks at processes in /proc.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use overseer::jobs::Store;

/// A store in a fresh temporary directory (kept while the `TempDir` lives).
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("jobs")).unwrap();
    (dir, store)
}

/// A FIFO at `dir/name`.
pub fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    path
}

/// Writes a line into `fifo`: blocks until the job has opened it for reading, then lets its
/// `read` return.
pub fn release(fifo: &Path) {
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    writeln!(f, "go").unwrap();
}

/// Reads one line from `fifo` (blocks until the job writes it).
pub fn read_line(fifo: &Path) -> String {
    let f = std::fs::File::open(fifo).unwrap();
    let mut line = String::new();
    BufReader::new(f).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

/// Fields of /proc/PID/stat after the command name (index 0 is field 3, the state).
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    Some(after.split(' ').map(str::to_owned).collect())
}

/// Whether process `pid` has ended (no such process, or a zombie).
pub fn gone(pid: u32) -> bool {
    stat_fields(pid).is_none_or(|f| f[0] == "Z")
}

/// The parent of `pid`.
pub fn ppid(pid: u32) -> u32 {
    stat_fields(pid).unwrap()[1].parse().unwrap()
}

/// The process group and session of `pid`.
pub fn pgid_sid(pid: u32) -> (u32, u32) {
    let f = stat_fields(pid).unwrap();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// The live (not zombie) processes of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_fields(pid).is_some_and(|f| f[0] != "Z" && f[2] == pgid.to_string()))
        .collect()
}

/// Runs the test `helper` of this test binary in a process of its own, with `env`, and
/// returns it once it printed `JOB_ID=<id>`, with that id.
pub fn spawn_helper(helper: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", helper, "--nocapture", "--test-threads=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if let Some((_, id)) = line.split_once("JOB_ID=") {
            return (child, id.to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the helper {helper} ended without starting a job");
}
