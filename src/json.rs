//! The serialised shapes (feature `serde`): how snapshots, events, exit statuses, failures
//! and health appear in JSON — the `overseer` daemon's API and `--json` output use exactly
//! these. Written by hand, one place, so that the shapes are stable and documented:
//!
//! - [`ChildPath`]: its string, `"root/web"`. [`ChildKind`] and [`ChildState`]: their
//!   lowercase names (`"process"`, `"ready"`). [`ProbeKind`]: `"readiness"` / `"liveness"`.
//! - Durations: whole milliseconds, in fields named `…_ms`.
//! - [`ExitStatus`]: `{"status": "completed"}`, `{"status": "failed", "error": "…"}`,
//!   `{"status": "panicked", "message": "…"}`, `{"status": "aborted"}`.
//! - [`Failure`]: `{"path": "root/web", "cause": "…"}` (the cause as its message).
//! - [`Health`]: `{"state": "unknown"}`, `{"state": "healthy"}`,
//!   `{"state": "unhealthy", "probe": "liveness", "error": "…"}`.
//! - [`Resources`]: `{"memory_bytes": 1234, "cpu_percent": 0.5 | null, "processes": 1}`.
//! - [`IntensityUse`]: `{"restarts": 2, "max_restarts": 5, "period_ms": 10000}` (the
//!   restarts counted in a manager's window now, and its limit).
//! - [`Snapshot`]: `{"path", "kind", "state", "pid": n | null, "restarts", "uptime_ms": n |
//!   null, "last_exit": ExitStatus | null, "resources": Resources | null, "health": Health,
//!   "intensity": IntensityUse | null (a running manager's), "children": [Snapshot…]}`.
//! - [`Event`]: `{"path": "root/web", "event": "…", …}` with `event` one of `starting`,
//!   `running`, `ready`, `exited` (with `"status": ExitStatus`), `restarting` (with
//!   `"delay_ms"`, `"restarts"`), `gave_up` (with `"failure": Failure`), `stopped`, `removed`,
//!   `shutting_down` (a manager begins its shutdown), `reloading` and `reloaded` (a reload
//!   of a manager's whole subtree begins, and has been handed to its children), `healthy` (with `"probe"`), `unhealthy`
//!   (with `"probe"`, `"error"`). An event's `at` is a
//!   monotonic instant with no meaning outside the process, and is left out.
//!
//! Fields may be added in later versions; none is renamed or removed without a major version.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::{ExitStatus, Failure};
use crate::event::{Event, EventKind};
use crate::health::{Health, ProbeKind};
use crate::path::ChildPath;
use crate::runnable::ChildKind;
use crate::snapshot::{ChildState, IntensityUse, Resources, Snapshot};

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Serialize for ChildPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for ChildKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for ChildState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for ProbeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for ExitStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            ExitStatus::Completed => map.serialize_entry("status", "completed")?,
            ExitStatus::Failed(e) => {
                map.serialize_entry("status", "failed")?;
                map.serialize_entry("error", &e.to_string())?;
            }
            ExitStatus::Panicked(message) => {
                map.serialize_entry("status", "panicked")?;
                map.serialize_entry("message", &**message)?;
            }
            ExitStatus::Aborted => map.serialize_entry("status", "aborted")?,
        }
        map.end()
    }
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("path", &self.path)?;
        map.serialize_entry("cause", &self.cause.to_string())?;
        map.end()
    }
}

impl Serialize for Health {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            Health::Unknown => map.serialize_entry("state", "unknown")?,
            Health::Healthy => map.serialize_entry("state", "healthy")?,
            Health::Unhealthy { probe, error } => {
                map.serialize_entry("state", "unhealthy")?;
                map.serialize_entry("probe", probe)?;
                map.serialize_entry("error", &**error)?;
            }
        }
        map.end()
    }
}

impl Serialize for Resources {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("memory_bytes", &self.memory_bytes)?;
        map.serialize_entry("cpu_percent", &self.cpu_percent)?;
        map.serialize_entry("processes", &self.processes)?;
        map.end()
    }
}

impl Serialize for IntensityUse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("restarts", &self.restarts)?;
        map.serialize_entry("max_restarts", &self.max_restarts)?;
        map.serialize_entry("period_ms", &millis(self.period))?;
        map.end()
    }
}

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(11))?;
        map.serialize_entry("path", &self.path)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("state", &self.state)?;
        map.serialize_entry("pid", &self.pid)?;
        map.serialize_entry("restarts", &self.restarts)?;
        map.serialize_entry("uptime_ms", &self.uptime.map(millis))?;
        map.serialize_entry("last_exit", &self.last_exit)?;
        map.serialize_entry("resources", &self.resources)?;
        map.serialize_entry("health", &self.health)?;
        map.serialize_entry("intensity", &self.intensity)?;
        map.serialize_entry("children", &self.children)?;
        map.end()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("path", &self.path)?;
        match &self.kind {
            EventKind::Starting => map.serialize_entry("event", "starting")?,
            EventKind::Running => map.serialize_entry("event", "running")?,
            EventKind::Ready => map.serialize_entry("event", "ready")?,
            EventKind::Exited { status } => {
                map.serialize_entry("event", "exited")?;
                map.serialize_entry("status", status)?;
            }
            EventKind::Restarting { delay, restarts } => {
                map.serialize_entry("event", "restarting")?;
                map.serialize_entry("delay_ms", &millis(*delay))?;
                map.serialize_entry("restarts", restarts)?;
            }
            EventKind::GaveUp { failure } => {
                map.serialize_entry("event", "gave_up")?;
                map.serialize_entry("failure", failure)?;
            }
            EventKind::Stopped => map.serialize_entry("event", "stopped")?,
            EventKind::Removed => map.serialize_entry("event", "removed")?,
            EventKind::ShuttingDown => map.serialize_entry("event", "shutting_down")?,
            EventKind::Reloading => map.serialize_entry("event", "reloading")?,
            EventKind::Reloaded => map.serialize_entry("event", "reloaded")?,
            EventKind::Healthy { probe } => {
                map.serialize_entry("event", "healthy")?;
                map.serialize_entry("probe", probe)?;
            }
            EventKind::Unhealthy { probe, error } => {
                map.serialize_entry("event", "unhealthy")?;
                map.serialize_entry("probe", probe)?;
                map.serialize_entry("error", &**error)?;
            }
        }
        map.end()
    }
}
