//! What a job's `state.json` holds, and how it is read and written.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::identity::Identity;

/// The name of the state file in a job's directory.
pub(crate) const STATE_FILE: &str = "state.json";

/// Where a job is in its life. See the [module docs](super) for how each is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Recorded, not yet started (the starter is forking it).
    Pending,
    /// Its process is alive (checked by identity, not by pid alone).
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Ended with another code, by a signal, or could not be executed.
    Failed,
    /// Ended after a [`Store::cancel`](super::Store::cancel) asked it to stop.
    Cancelled,
    /// Gone without a recorded result: its shim was killed, its starter died before the job
    /// was recorded as started, or the machine rebooted.
    Orphaned,
}

impl Status {
    /// Whether the job has ended (every status but `Pending` and `Running`). A finished
    /// status never changes again.
    pub fn is_finished(self) -> bool {
        !matches!(self, Status::Pending | Status::Running)
    }

    /// The lower-case name, as in `state.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Orphaned => "orphaned",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a job's process ended, as its shim saw it (`waitpid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobExit {
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The raw wait status.
    pub raw: i32,
}

impl JobExit {
    /// Decodes a raw wait status.
    pub fn from_raw(raw: i32) -> JobExit {
        let status = std::process::ExitStatus::from_raw(raw);
        JobExit {
            code: status.code(),
            signal: status.signal(),
            raw,
        }
    }

    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for JobExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::process::exit::describe(
            &std::process::ExitStatus::from_raw(self.raw),
        ))
    }
}

/// A recorded process: pid and start time (clock ticks since boot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessRecord {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

/// A job as recorded in its `state.json`, with its status as last resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Job {
    /// The job's id: its directory's name in the store.
    pub id: String,
    /// Its status (see [`Status`]).
    pub status: Status,
    /// The program and its arguments, as given (lossy UTF-8).
    pub command: Vec<String>,
    /// The working directory it was started in.
    pub cwd: PathBuf,
    /// Labels given at the start, for filtering.
    pub labels: BTreeMap<String, String>,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When its process was started.
    pub started_at_ms: Option<u64>,
    /// When it ended (as its shim saw it, or when it was found orphaned).
    pub ended_at_ms: Option<u64>,
    /// When a cancel was asked for.
    pub cancel_requested_at_ms: Option<u64>,
    /// The job's process id (also its process group's id), once started.
    pub pid: Option<u32>,
    /// How it ended, when its shim recorded it.
    pub exit: Option<JobExit>,
    /// Why it could not be started, or why it is orphaned.
    pub error: Option<String>,
    /// The job process's identity (start time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) process: Option<ProcessRecord>,
    /// The shim's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shim: Option<ProcessRecord>,
    /// The starter's identity, while the job is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) starter: Option<ProcessRecord>,
    /// The boot the identities belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) boot_id: Option<String>,
}

impl Job {
    /// When it was recorded.
    pub fn created_at(&self) -> SystemTime {
        from_ms(self.created_at_ms)
    }

    /// When it ended, if it has.
    pub fn ended_at(&self) -> Option<SystemTime> {
        self.ended_at_ms.map(from_ms)
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub(crate) fn identity(&self, record: &Option<ProcessRecord>) -> Option<Identity> {
        record.as_ref().map(|r| Identity {
            pid: r.pid,
            start: r.start,
            boot: self.boot_id.clone(),
        })
    }
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How durable a [`write_atomic`] is; every level is atomic for readers (a `rename`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// No `fsync`: after a power loss the file may be empty or missing.
    Atomic,
    /// The data `fsync`ed before the rename: after a power loss the file is whole, the old
    /// one or the new one (the rename itself may be lost).
    Data,
    /// [`Data`](Self::Data), and the directory `fsync`ed after the rename, so that the new
    /// file is what survives.
    DataAndName,
}

/// Writes `bytes` to `dir/name` atomically: a temporary file in `dir` (unique to this
/// process and call), written, `fsync`ed as `durability` asks, renamed over `name`, then
/// the directory `fsync`ed if asked. A reader sees the old file or the new one, never a mix;
/// a crash leaves at most a stray temporary file (`.*.tmp`, ignored by readers).
pub(crate) fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
) -> io::Result<()> {
    let tmp = dir.join(format!(
        ".{name}.{}.{:x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if durability != Durability::Atomic {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, dir.join(name))?;
        if durability == Durability::DataAndName {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialises a job's state.
pub(crate) fn encode(job: &Job) -> Vec<u8> {
    // Serialising plain strings, numbers and maps with string keys cannot fail.
    let mut bytes = serde_json::to_vec(job).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// How reading a state file failed.
pub(crate) enum ReadError {
    /// No such file.
    Missing,
    /// It could not be read.
    Io(io::Error),
    /// It is not a job's state (corrupt, truncated, another format).
    Invalid(String),
}

/// Reads and parses `dir/state.json`.
pub(crate) fn read(dir: &Path) -> Result<Job, ReadError> {
    let bytes = match fs::read(dir.join(STATE_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Io(e)),
    };
    serde_json::from_slice(&bytes).map_err(|e| ReadError::Invalid(e.to_string()))
}
