//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use overseer::{Event, EventKind, Events};
use tokio::sync::mpsc;

/// Tasks alive on the current runtime. Exact on a current-thread runtime: a task is released
/// within the poll that completes it, before any other task runs.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Counts runs that are alive: a run holds a guard from `enter` until its future is dropped.
#[derive(Clone, Default)]
pub struct Live(Arc<AtomicUsize>);

pub struct LiveGuard(Arc<AtomicUsize>);

impl Live {
    pub fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        LiveGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An ordered log that children write to.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Entries that start with `prefix`, in order.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.starts_with(prefix))
            .collect()
    }
}

/// A channel children use to say something happened; the test waits on it.
pub fn signal() -> (
    mpsc::UnboundedSender<String>,
    mpsc::UnboundedReceiver<String>,
) {
    mpsc::unbounded_channel()
}

/// Waits for the next event matching `pred`.
pub async fn next_event(events: &mut Events, pred: impl Fn(&Event) -> bool) -> Event {
    loop {
        let ev = events.recv().await.expect("event stream ended");
        if pred(&ev) {
            return ev;
        }
    }
}

/// Waits for an event of `path` matching `kind`.
pub async fn event_of(events: &mut Events, path: &str, kind: impl Fn(&EventKind) -> bool) -> Event {
    next_event(events, |e| e.path == path && kind(&e.kind)).await
}

pub fn is_running(k: &EventKind) -> bool {
    matches!(k, EventKind::Running)
}

pub fn is_ready(k: &EventKind) -> bool {
    matches!(k, EventKind::Ready)
}

pub fn is_exited(k: &EventKind) -> bool {
    matches!(k, EventKind::Exited { .. })
}

pub fn is_stopped(k: &EventKind) -> bool {
    matches!(k, EventKind::Stopped)
}

/// Waits until every `(path, kind)` pair has been seen at least once, in any order.
pub async fn all_of(events: &mut Events, wanted: &[(&str, fn(&EventKind) -> bool)]) {
    let mut seen = vec![false; wanted.len()];
    while seen.iter().any(|s| !s) {
        let ev = events.recv().await.expect("event stream ended");
        for (i, (path, kind)) in wanted.iter().enumerate() {
            if ev.path == *path && kind(&ev.kind) {
                seen[i] = true;
            }
        }
    }
}
