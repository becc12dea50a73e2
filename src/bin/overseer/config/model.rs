//! What a config describes, whatever its format: a root group of processes and nested groups,
//! each option already checked and typed with the library's own types. The formats
//! ([`native`](super::native), [`procfile`](super::procfile), [`compose`](super::compose))
//! translate into this; [`build`](crate::tree) turns it into a tree.

use std::path::PathBuf;
use std::time::Duration;

use overseer::process::Signal;
use overseer::{Backoff, Condition, Strategy};

/// A whole config.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// The file it was read from.
    pub file: PathBuf,
    /// The root group: its members are the top-level processes and groups.
    pub root: Group,
    /// How long a graceful shutdown of the whole stack may take before what is left is killed.
    pub shutdown_timeout: Option<Duration>,
    /// Where each process's output is kept (`<log_dir>/<path>.log`), unless the process
    /// names its own file.
    pub log_dir: Option<PathBuf>,
}

/// A nested manager: members started in order, stopped in reverse.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Its name (the root's is the stack's).
    pub name: String,
    /// Which members restart together.
    pub strategy: Strategy,
    /// At most this many restarts within this period, then the group gives up.
    pub intensity: Option<(u32, Duration)>,
    /// Siblings it waits for, and for what (a group inside a group).
    pub depends_on: Vec<(String, Condition)>,
    /// Members in start order: every member after those it depends on.
    pub members: Vec<Member>,
}

impl Group {
    /// The process named `name` among this group's members (not below them).
    #[cfg(test)]
    pub fn process(&self, name: &str) -> Option<&Process> {
        self.members.iter().find_map(|m| match m {
            Member::Process(p) if p.name == name => Some(&**p),
            _ => None,
        })
    }
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    /// A process (or `replicas` copies of one).
    Process(Box<Process>),
    /// A nested group.
    Group(Group),
}

impl Member {
    /// Its name within its group.
    pub fn name(&self) -> &str {
        match self {
            Member::Process(p) => &p.name,
            Member::Group(g) => &g.name,
        }
    }

    /// What it waits for.
    pub fn depends_on(&self) -> &[(String, Condition)] {
        match self {
            Member::Process(p) => &p.depends_on,
            Member::Group(g) => &g.depends_on,
        }
    }
}

/// How a process is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// A shell command line, run with `/bin/sh -c`.
    Shell(String),
    /// A program and its arguments, run directly.
    Exec(Vec<String>),
}

/// When a process runs again after it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Whether it completed or failed.
    #[default]
    Always,
    /// Only after a failure.
    OnFailure,
    /// Never; a failure is reported but the rest of the stack goes on.
    Never,
    /// Never; a failure stops the whole stack, which exits with the process's exit code
    /// (process-compose's `exit_on_failure`).
    ExitOnFailure,
}

/// A health probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSpec {
    /// What it checks.
    pub check: CheckSpec,
    pub initial_delay: Option<Duration>,
    pub period: Option<Duration>,
    pub timeout: Option<Duration>,
    pub success_threshold: Option<u32>,
    pub failure_threshold: Option<u32>,
}

/// What a probe checks.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckSpec {
    /// A command that must exit with 0.
    Exec(CommandLine),
    /// An HTTP GET that must answer with a status in 200..400.
    Http(String),
    /// A TCP connection that must be accepted.
    Tcp(String),
}

/// What a change of watched files does.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchSpec {
    pub paths: Vec<PathBuf>,
    pub globs: Vec<String>,
    pub ignore: Vec<String>,
    pub gitignore: Option<bool>,
    pub debounce: Option<Duration>,
    /// `true`: reload instead of restart.
    pub reload: bool,
}

/// Where a process's output goes besides the terminal or the daemon's followers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSpec {
    /// Its log file (stdout and stderr, one file); default under the stack's log dir.
    pub file: Option<PathBuf>,
    /// Rotate at this size, keeping this many old files.
    pub rotate: Option<(u64, usize)>,
}

/// One process of a config.
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    pub name: String,
    pub command: CommandLine,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub env_files: Vec<PathBuf>,
    pub restart: RestartPolicy,
    pub backoff: Option<Backoff>,
    /// At most this many restarts within this period (the process's own intensity).
    pub max_restarts: Option<(u32, Duration)>,
    pub stop_signal: Option<Signal>,
    pub stop_timeout: Option<Duration>,
    /// A command run to stop it, instead of sending the stop signal (process-compose's
    /// `shutdown.command`); the stop timeout and `SIGKILL` still apply.
    pub stop_command: Option<CommandLine>,
    /// A signal that reloads it, instead of a restart.
    pub reload_signal: Option<Signal>,
    pub success_codes: Option<Vec<i32>>,
    /// Siblings it waits for, and for what.
    pub depends_on: Vec<(String, Condition)>,
    pub readiness: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    /// A regex: the process is ready once a line of its output matches.
    pub ready_log_line: Option<String>,
    pub watch: Option<WatchSpec>,
    /// Bytes; checked every second.
    pub memory_limit: Option<u64>,
    pub pre_start: Vec<CommandLine>,
    pub replicas: usize,
    pub log: LogSpec,
    /// The whole stack shuts down once this process has ended for good.
    pub exit_on_end: bool,
}

impl Process {
    /// A process running `command` with every option at its default.
    pub fn new(name: impl Into<String>, command: CommandLine) -> Process {
        Process {
            name: name.into(),
            command,
            cwd: None,
            env: Vec::new(),
            env_files: Vec::new(),
            restart: RestartPolicy::default(),
            backoff: None,
            max_restarts: None,
            stop_signal: None,
            stop_timeout: None,
            stop_command: None,
            reload_signal: None,
            success_codes: None,
            depends_on: Vec::new(),
            readiness: None,
            liveness: None,
            ready_log_line: None,
            watch: None,
            memory_limit: None,
            pre_start: Vec::new(),
            replicas: 1,
            log: LogSpec::default(),
            exit_on_end: false,
        }
    }
}
