//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use overseer::builtin::Idle;
use overseer::{ChildSpec, Event, EventKind, Events, Handle, ProcessManager, TreeError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
/// An event wanted at a path: the path and a test on the event's kind.
pub type Wanted<'a> = (&'a str, fn(&EventKind) -> bool);

pub async fn all_of(events: &mut Events, wanted: &[Wanted<'_>]) {
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

/// A child that fails each time `fail` is notified, and stops cleanly when asked.
pub fn failing_on(id: &str, fail: &Arc<tokio::sync::Notify>) -> overseer::ChildSpec {
    let fail = fail.clone();
    overseer::ChildSpec::task(id, move |ctx| {
        let fail = fail.clone();
        async move {
            tokio::select! {
                _ = fail.notified() => Err("broke".into()),
                _ = ctx.shutdown_requested() => Ok(()),
            }
        }
    })
}

/// A child that logs `start:{id}`, `stop:{id}` when asked to stop and, 10 ms later (long
/// enough for an overlap with another stop to show), `stopped:{id}`.
pub fn logged(id: &str, log: &Log) -> overseer::ChildSpec {
    logged_taking(id, log, 10)
}

/// [`logged`], taking `ms` to stop.
pub fn logged_taking(id: &str, log: &Log, ms: u64) -> overseer::ChildSpec {
    let (id_owned, log) = (id.to_string(), log.clone());
    overseer::ChildSpec::task(id, move |ctx| {
        let (id, log) = (id_owned.clone(), log.clone());
        async move {
            log.push(format!("start:{id}"));
            ctx.shutdown_requested().await;
            log.push(format!("stop:{id}"));
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            log.push(format!("stopped:{id}"));
            Ok(())
        }
    })
}

/// The state of the node at `path` in `snap`, if there is one.
pub fn state_of(snap: &overseer::Snapshot, path: &str) -> Option<overseer::ChildState> {
    snap.find(path).map(|n| n.state)
}

/// Waits until a snapshot shows the node at `path` in `state` (asking again after each yield).
pub async fn wait_for_state(handle: &overseer::Handle, path: &str, state: overseer::ChildState) {
    loop {
        let snap = handle.snapshot().await.expect("the tree runs");
        if state_of(&snap, path) == Some(state) {
            return;
        }
        tokio::task::yield_now().await;
    }
}

// ----- Running a tree --------------------------------------------------------------------------

/// A tree running in a task of its own: a handle to its root manager, the events of the whole
/// tree (subscribed before its run began, so none is missed), and the task of its run.
pub type Started = (Handle, Events, JoinHandle<Result<(), TreeError>>);

/// Runs `tree` in a task of its own, its events subscribed before the run begins.
pub fn start(tree: ProcessManager) -> Started {
    let handle = tree.handle();
    let events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    (handle, events, run)
}

/// [`start`], then waits until every `(path, kind)` of `wanted` has been seen.
pub async fn start_until(tree: ProcessManager, wanted: &[Wanted<'_>]) -> Started {
    let (handle, mut events, run) = start(tree);
    all_of(&mut events, wanted).await;
    (handle, events, run)
}

// ----- Children and trees built the same way in several files ---------------------------------

/// A child that reports ready, then waits until it is asked to stop.
pub fn ready_waiter(id: &str) -> ChildSpec {
    ChildSpec::task(id, |ctx| async move {
        ctx.ready();
        ctx.shutdown_requested().await;
        Ok(())
    })
}

/// A child that waits until it is asked to stop, logs `stop:{id}` and returns `Ok`.
pub fn logs_stop(id: &str, log: &Log) -> ChildSpec {
    stop_logged(id, log, false)
}

/// [`logs_stop`], returning the error `{id} failed to flush` instead of `Ok`.
pub fn fails_on_stop(id: &str, log: &Log) -> ChildSpec {
    stop_logged(id, log, true)
}

fn stop_logged(id: &str, log: &Log, fails: bool) -> ChildSpec {
    let (name, log) = (id.to_string(), log.clone());
    ChildSpec::task(id, move |ctx| {
        let (name, log) = (name.clone(), log.clone());
        async move {
            ctx.shutdown_requested().await;
            log.push(format!("stop:{name}"));
            if fails {
                return Err(format!("{name} failed to flush").into());
            }
            Ok(())
        }
    })
}

/// A manager named `name` whose only child is the built-in `Idle` (id `idle`): it stays open
/// until it is shut down, for children added at run time.
pub fn idle_pool(name: &str) -> ProcessManager {
    ProcessManager::builder(name)
        .child(ChildSpec::new("idle", Idle))
        .build()
        .unwrap()
}

/// `root{idle, pool{idle}}`, running: both idle children run.
pub async fn pool_tree() -> Started {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .child(ChildSpec::new("pool", idle_pool("pool")))
        .build()
        .unwrap();
    start_until(
        tree,
        &[("root/pool/idle", is_running), ("root/idle", is_running)],
    )
    .await
}

/// A child that counts its runs in `runs`, reports ready at once and waits to be stopped.
pub fn counted_ready(id: &str, runs: &Arc<AtomicU32>) -> ChildSpec {
    let runs = runs.clone();
    ChildSpec::task(id, move |ctx| {
        runs.fetch_add(1, Ordering::SeqCst);
        async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
}

/// A `tracing` writer that keeps what is written, for tests that read the log lines.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ----- A manager's loop held still --------------------------------------------------------

/// A child whose [`resources`](overseer::Runnable::resources), read by its manager's loop for
/// a snapshot, blocks that loop once armed, until released: a wedged manager, for the tests
/// of liveness checks. Needs a multi-thread runtime (the loop blocks in `block_in_place`).
pub struct Wedge {
    lever: Arc<Lever>,
}

/// Arms, watches and releases a [`Wedge`].
pub struct Lever {
    armed: std::sync::atomic::AtomicBool,
    entered: Mutex<std::sync::mpsc::Receiver<()>>,
    entered_tx: std::sync::mpsc::SyncSender<()>,
    released: Mutex<bool>,
    release: std::sync::Condvar,
}

impl Wedge {
    pub fn new() -> (Wedge, Arc<Lever>) {
        let (entered_tx, entered) = std::sync::mpsc::sync_channel(1);
        let lever = Arc::new(Lever {
            armed: Default::default(),
            entered: Mutex::new(entered),
            entered_tx,
            released: Mutex::new(false),
            release: std::sync::Condvar::new(),
        });
        (
            Wedge {
                lever: lever.clone(),
            },
            lever,
        )
    }
}

impl Lever {
    /// Wedges the loop of `handle`'s manager (the wedge's manager must answer the snapshot
    /// first); returns once the loop is blocked.
    pub async fn wedge(self: &Arc<Self>, handle: &Handle) {
        self.armed.store(true, Ordering::SeqCst);
        let h = handle.clone();
        tokio::spawn(async move { h.snapshot().await });
        let lever = self.clone();
        tokio::task::spawn_blocking(move || lever.entered.lock().unwrap().recv().unwrap())
            .await
            .unwrap();
    }

    /// Lets the loop go on.
    pub fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.release.notify_all();
    }
}

#[overseer::async_trait]
impl overseer::Runnable for Wedge {
    async fn run(&self, ctx: overseer::Context) -> overseer::RunResult {
        ctx.ready();
        ctx.shutdown_requested().await;
        Ok(())
    }

    fn resources(&self) -> Option<overseer::Resources> {
        let lever = &self.lever;
        if lever.armed.swap(false, Ordering::SeqCst) {
            let _ = lever.entered_tx.send(());
            // The manager's loop blocks here; the runtime's other tasks move to other threads.
            tokio::task::block_in_place(|| {
                let mut released = lever.released.lock().unwrap();
                while !*released {
                    released = lever.release.wait(released).unwrap();
                }
            });
        }
        None
    }
}
