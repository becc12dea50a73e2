//! The tree's state in one line, for systemd's `STATUS=`: a tally of the nodes' latest
//! events, so that it costs the manager nothing (no snapshot is asked for).

use std::collections::HashMap;
use std::fmt::Write;

use tokio::time::Instant;

use crate::event::{Event, EventKind};
use crate::health::Health;
use crate::path::ChildPath;
use crate::snapshot::{ChildState, Snapshot};

/// Where a node is, as its latest event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Starting,
    Running,
    Ready,
    Restarting,
    Ended,
}

/// The latest stage and health of every node below the root that has had an event.
#[derive(Debug, Default)]
pub(super) struct Tally {
    nodes: HashMap<ChildPath, (Stage, bool)>,
    stopping: bool,
    /// Events that happened before this are already in the snapshot the tally began with.
    since: Option<Instant>,
}

impl Tally {
    /// Begins with every node of `tree`, a snapshot asked for at `asked` (after subscribing
    /// to the events that follow it).
    pub(super) fn from_snapshot(tree: &Snapshot, asked: Instant) -> Self {
        let mut tally = Tally {
            since: Some(asked),
            stopping: tree.state == ChildState::Stopping,
            ..Tally::default()
        };
        for node in tree.iter().skip(1) {
            let stage = match node.state {
                ChildState::Waiting => Stage::Starting,
                ChildState::Ready => Stage::Ready,
                ChildState::Restarting => Stage::Restarting,
                ChildState::Exited | ChildState::Stopped => Stage::Ended,
                _ => Stage::Running,
            };
            let unhealthy = matches!(node.health, Health::Unhealthy { .. });
            tally.nodes.insert(node.path.clone(), (stage, unhealthy));
        }
        tally
    }

    /// Takes `event` into account: the root's shutdown, and every other node's stage.
    /// Returns `false` for an event older than the snapshot the tally began with (already
    /// in it).
    pub(super) fn record(&mut self, event: &Event) -> bool {
        if self.since.is_some_and(|since| event.at < since) {
            return false;
        }
        let is_root = !event.path.as_str().contains('/');
        if is_root {
            self.stopping |= matches!(event.kind, EventKind::ShuttingDown);
            return true;
        }
        let stage = match &event.kind {
            EventKind::Starting => Stage::Starting,
            EventKind::Running => Stage::Running,
            EventKind::Ready => Stage::Ready,
            EventKind::Restarting { .. } => Stage::Restarting,
            EventKind::Exited { .. } | EventKind::Stopped => Stage::Ended,
            EventKind::Removed => {
                self.nodes.remove(&event.path);
                return true;
            }
            EventKind::Unhealthy { .. } | EventKind::Healthy { .. } => {
                let unhealthy = matches!(event.kind, EventKind::Unhealthy { .. });
                if let Some(node) = self.nodes.get_mut(&event.path) {
                    node.1 = unhealthy;
                }
                return true;
            }
            _ => return true,
        };
        let node = self
            .nodes
            .entry(event.path.clone())
            .or_insert((stage, false));
        if stage != node.0 {
            // A new run (or its end) starts healthy: its probes decide again.
            node.1 = node.1 && matches!(stage, Stage::Ready);
        }
        node.0 = stage;
        true
    }

    /// Whether every node known but `me` has ended.
    pub(super) fn all_ended_but(&self, me: &ChildPath) -> bool {
        self.nodes
            .iter()
            .all(|(path, node)| path == me || node.0 == Stage::Ended)
    }

    /// `"3/4 ready, 1 restarting"`: ready over all nodes known, then the counts that are
    /// not zero of starting, restarting, ended and unhealthy nodes.
    pub(super) fn line(&self) -> String {
        let count = |stage: Stage| self.nodes.values().filter(|n| n.0 == stage).count();
        let starting = count(Stage::Starting) + count(Stage::Running);
        let unhealthy = self.nodes.values().filter(|n| n.1).count();
        let mut line = String::new();
        if self.stopping {
            line.push_str("stopping: ");
        }
        let _ = write!(line, "{}/{} ready", count(Stage::Ready), self.nodes.len());
        for (n, what) in [
            (starting, "starting"),
            (count(Stage::Restarting), "restarting"),
            (count(Stage::Ended), "ended"),
            (unhealthy, "unhealthy"),
        ] {
            if n > 0 {
                let _ = write!(line, ", {n} {what}");
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ExitStatus;
    use crate::health::ProbeKind;

    fn at(path: &str, kind: EventKind) -> Event {
        let mut p = ChildPath::root("root");
        for part in path.split('/').skip(1) {
            p = p.join(part);
        }
        Event {
            path: p,
            kind,
            at: tokio::time::Instant::now(),
        }
    }

    #[test]
    fn the_line_counts_each_nodes_latest_stage() {
        let unhealthy = || EventKind::Unhealthy {
            probe: ProbeKind::Liveness,
            error: "refused".into(),
        };
        let restarting = || EventKind::Restarting {
            delay: Duration::from_secs(1),
            restarts: 1,
        };
        let exited = || EventKind::Exited {
            status: ExitStatus::Completed,
        };
        let table: &[(&[(&str, EventKind)], &str)] = &[
            (&[], "0/0 ready"),
            (&[("root/a", EventKind::Starting)], "0/1 ready, 1 starting"),
            (
                &[("root/a", EventKind::Running), ("root/b", EventKind::Ready)],
                "1/2 ready, 1 starting",
            ),
            (
                &[
                    ("root/a", EventKind::Ready),
                    ("root/a", exited()),
                    ("root/a", restarting()),
                ],
                "0/1 ready, 1 restarting",
            ),
            (
                &[("root/a", EventKind::Ready), ("root/a", unhealthy())],
                "1/1 ready, 1 unhealthy",
            ),
            (
                &[
                    ("root/a", EventKind::Ready),
                    ("root/a", unhealthy()),
                    ("root/a", exited()),
                ],
                "0/1 ready, 1 ended",
            ),
            (
                &[
                    ("root/a", EventKind::Ready),
                    ("root", EventKind::ShuttingDown),
                    ("root/a", EventKind::Stopped),
                ],
                "stopping: 0/1 ready, 1 ended",
            ),
            (
                &[
                    ("root/a", EventKind::Ready),
                    ("root/b", EventKind::Stopped),
                    ("root/b", EventKind::Removed),
                ],
                "1/1 ready",
            ),
        ];
        for (events, line) in table {
            let mut tally = Tally::default();
            for (path, kind) in events.iter() {
                tally.record(&at(path, kind.clone()));
            }
            assert_eq!(tally.line(), *line, "{events:?}");
        }
    }
}
