//! A point-in-time picture of the tree.

use std::fmt;
use std::time::Duration;

use crate::error::ExitStatus;
use crate::health::Health;
use crate::path::ChildPath;
use crate::runnable::ChildKind;

/// The state of one node, as its manager sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildState {
    /// Declared but not started: waiting for its turn or for siblings it depends on.
    Waiting,
    /// Its run is in progress.
    Running,
    /// Its run is in progress and it reported readiness.
    Ready,
    /// It has been asked to stop and has not returned yet.
    Stopping,
    /// Between runs, waiting for its backoff delay.
    Restarting,
    /// Its last run ended and it will not be restarted.
    Exited,
    /// It was stopped on request.
    Stopped,
}

impl ChildState {
    /// Its name in lower case, as `Display`, the JSON and the metrics' labels give it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Waiting => "waiting",
            ChildState::Running => "running",
            ChildState::Ready => "ready",
            ChildState::Stopping => "stopping",
            ChildState::Restarting => "restarting",
            ChildState::Exited => "exited",
            ChildState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ChildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resources a running child uses, as a `ps` table shows them.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Resources {
    /// Resident memory, in bytes (for a process group: the sum over its members).
    pub memory_bytes: u64,
    /// CPU use since the previous reading, in percent of one core; `None` at the first
    /// reading of a run.
    pub cpu_percent: Option<f64>,
    /// How many OS processes it counts.
    pub processes: usize,
}

impl Resources {
    /// Figures read now.
    pub fn new(memory_bytes: u64, cpu_percent: Option<f64>, processes: usize) -> Self {
        Resources {
            memory_bytes,
            cpu_percent,
            processes,
        }
    }
}

/// A running manager's restart intensity, and how much of it is used at the moment of a
/// snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntensityUse {
    /// The restarts counted in the manager's sliding window now: those within the last
    /// `period`. One more than `max_restarts` would make it give up. Children that have an
    /// intensity of their own ([`ChildSpec::intensity`](crate::ChildSpec::intensity)) are
    /// counted apart, not here.
    pub restarts: u32,
    /// The restarts allowed within `period` ([`Intensity::max_restarts`](crate::Intensity)).
    pub max_restarts: u32,
    /// The length of the sliding window.
    pub period: Duration,
}

/// One node of a tree snapshot, with the nodes below it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Snapshot {
    /// The node's path.
    pub path: ChildPath,
    /// What kind of node it is.
    pub kind: ChildKind,
    /// Its state.
    pub state: ChildState,
    /// The OS process id, for nodes that are OS processes and running.
    pub pid: Option<u32>,
    /// How many times it has been restarted.
    pub restarts: u32,
    /// How long its current run has lasted.
    pub uptime: Option<Duration>,
    /// How its last run ended.
    pub last_exit: Option<ExitStatus>,
    /// For a running OS process: its group's latest memory and CPU figures, read when the
    /// snapshot is taken (see [`Runnable::resources`](crate::Runnable::resources)).
    pub resources: Option<Resources>,
    /// Its health in the current run, as its probes last found it ([`Health::Unknown`] for
    /// a child without probes, and until they decide).
    pub health: Health,
    /// For a running manager (the root, or a nested one): its restart intensity and the
    /// restarts counted against it now. `None` for other nodes and stopped managers.
    pub intensity: Option<IntensityUse>,
    /// The nodes below it (for managers), in declared order.
    pub children: Vec<Snapshot>,
}

impl Snapshot {
    /// Finds a node by path in this snapshot.
    pub fn find(&self, path: &str) -> Option<&Snapshot> {
        if self.path == path {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(path))
    }

    /// Every node of this snapshot, depth first, this one first.
    pub fn iter(&self) -> impl Iterator<Item = &Snapshot> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            stack.extend(node.children.iter().rev());
            Some(node)
        })
    }
}
