//! Helpers for the OS-process tests: a scratch directory the processes write markers into,
//! one-shot trees, and the checks that nothing is left behind.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use overseer::process::{Command, ProcessError};
use overseer::{AutoShutdown, Cause, ProcessManager, Restart, TreeError};

/// How long the helpers wait for something that has no event to wait on (a file written by a
/// process, a process not our child to disappear). A bound, not a delay: they poll every
/// 10 ms and return as soon as the condition holds.
pub const PATIENCE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

/// A temporary directory that the test's processes write markers (pid files, outputs) into.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The path of `name` inside the directory, as a string for shell scripts.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Waits until `name` holds at least `n` complete lines (each ended by `\n`) and returns
    /// its lines.
    pub async fn lines(&self, name: &str, n: usize) -> Vec<String> {
        let path = self.path(name);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let lines: Vec<String> = text.lines().map(str::to_string).collect();
                if text.ends_with('\n') && lines.len() >= n {
                    return lines;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} did not get {n} lines within {PATIENCE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for the first line of `name`.
    pub async fn line(&self, name: &str) -> String {
        self.lines(name, 1).await.swap_remove(0)
    }

    /// Waits for a pid written (`echo $$ > name`) into `name`.
    pub async fn pid(&self, name: &str) -> i32 {
        self.line(name).await.trim().parse().expect("a pid")
    }

    /// Whether `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        std::path::Path::new(&self.path(name)).exists()
    }
}

/// A tree whose only child is `cmd`, temporary and significant: the tree ends when the process
/// does, with `Ok` or with the process's failure. Checks that no zombie is left.
pub async fn run_once(cmd: Command) -> Result<(), TreeError> {
    let result = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            cmd.into_spec("p")
                .restart(Restart::Temporary)
                .significant(true),
        )
        .build()
        .unwrap()
        .run()
        .await;
    assert_clean(&[]).await;
    result
}

/// The process error behind a tree's first failure.
/// (A process that fails before it is spawned, or at once, failed to start: the error is
/// then inside `Cause::FailedToStart`.)
pub fn process_error(err: &TreeError) -> &ProcessError {
    let cause = match err.cause() {
        Cause::FailedToStart { cause } => &**cause,
        cause => cause,
    };
    match cause {
        Cause::Error(e) => e
            .downcast_ref::<ProcessError>()
            .unwrap_or_else(|| panic!("not a ProcessError: {e}")),
        other => panic!("not an error cause: {other}"),
    }
}

/// One line of `/proc/<pid>/stat`: (state, ppid, pgrp).
fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything; fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether `pid` is a live process (not a zombie, not gone).
pub fn is_alive(pid: i32) -> bool {
    matches!(stat(pid), Some((state, _, _)) if state != 'Z')
}

/// Live (non-zombie) members of process group `pgid`.
pub fn live_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| matches!(stat(p), Some((s, _, g)) if g == pgid && s != 'Z'))
        .collect()
}

/// Our own children that are zombies (exited and not reaped by us).
pub fn our_zombies() -> Vec<i32> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|&p| matches!(stat(p), Some(('Z', ppid, _)) if ppid == me))
        .collect()
}

/// Polls `done` until it holds, for at most [`PATIENCE`].
async fn eventually(what: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} (after {PATIENCE:?})",
            what()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Asserts that no process of the groups `pgids` is left alive and that none of our children
/// is a zombie. Members that are zombies of another parent (orphans waiting for init) count
/// as gone: `kill(-pgid, 0)` still finds them until init reaps them.
pub async fn assert_clean(pgids: &[i32]) {
    for &pgid in pgids {
        eventually(
            || {
                format!(
                    "process group {pgid} still has live members {:?}",
                    live_members(pgid)
                )
            },
            || {
                let probe = rustix::process::Pid::from_raw(pgid)
                    .map(rustix::process::test_kill_process_group);
                matches!(probe, Some(Err(rustix::io::Errno::SRCH))) || live_members(pgid).is_empty()
            },
        )
        .await;
    }
    eventually(
        || {
            // With each one's `/proc/<pid>/stat` (name, parent, group, session), to tell whose.
            let stats: Vec<String> = our_zombies()
                .into_iter()
                .map(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .map(|s| s.split(' ').take(6).collect::<Vec<_>>().join(" "))
                        .unwrap_or_else(|_| format!("{pid} (gone)"))
                })
                .collect();
            format!("zombie children left: {stats:?}")
        },
        || our_zombies().is_empty(),
    )
    .await;
}

/// Asserts that a single process (not necessarily a group leader) is gone or a zombie.
pub async fn assert_dead(pid: i32) {
    eventually(
        || format!("process {pid} is still alive"),
        || !is_alive(pid),
    )
    .await;
}
