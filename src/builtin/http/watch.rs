//! What the HTTP child keeps from the tree's event stream: the tree's readiness and whether
//! it gave up (read by `/readyz` and `/healthz` from atomics), and the exits of every node
//! by cause (read by `/metrics`). Pure reactions to events, tested without a runtime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use crate::error::ExitStatus;
use crate::event::{Event, EventKind};
use crate::lock::lock;
use crate::path::ChildPath;
use crate::snapshot::ChildState;

/// The tree has not reported ready in this run yet.
const STARTING: u8 = 0;
/// The root reported that every child of the tree is ready.
const READY: u8 = 1;
/// The root began its shutdown (or its run ended): never ready again in this run.
const SHUTTING_DOWN: u8 = 2;

/// One run of the HTTP child's view of the tree's lifecycle. The stage only moves forward
/// (`fetch_max`), so that a late event or a snapshot older than an event cannot move it back:
/// the root reports ready once per run and shuts down once.
#[derive(Debug)]
pub(super) struct Lifecycle {
    root: ChildPath,
    stage: AtomicU8,
    gave_up: AtomicBool,
}

impl Lifecycle {
    pub(super) fn new(root: ChildPath) -> Self {
        Lifecycle {
            root,
            stage: AtomicU8::new(STARTING),
            gave_up: AtomicBool::new(false),
        }
    }

    /// Whether `/readyz` answers 200: the tree has been ready and is not shutting down.
    pub(super) fn ready(&self) -> bool {
        self.stage.load(Ordering::Acquire) == READY
    }

    /// Whether the root has begun its shutdown (or its run has ended).
    pub(super) fn shutting_down(&self) -> bool {
        self.stage.load(Ordering::Acquire) == SHUTTING_DOWN
    }

    /// Whether the root exceeded its restart intensity: `/healthz` answers 503.
    pub(super) fn gave_up(&self) -> bool {
        self.gave_up.load(Ordering::Acquire)
    }

    /// Applies one event of the tree.
    pub(super) fn on_event(&self, event: &Event) {
        if event.path != self.root {
            return;
        }
        match event.kind {
            EventKind::Ready => self.advance(READY),
            EventKind::ShuttingDown => self.advance(SHUTTING_DOWN),
            EventKind::GaveUp { .. } => {
                self.gave_up.store(true, Ordering::Release);
                self.advance(SHUTTING_DOWN);
            }
            _ => {}
        }
    }

    /// Applies the root's state as a snapshot shows it (at the start of a run, and after the
    /// event stream lagged): the events it stands for may have been missed.
    pub(super) fn on_root_state(&self, state: ChildState) {
        match state {
            ChildState::Ready => self.advance(READY),
            ChildState::Stopping | ChildState::Stopped | ChildState::Exited => {
                self.advance(SHUTTING_DOWN);
            }
            _ => {}
        }
    }

    /// The root's run is over: nothing to route to any more.
    pub(super) fn on_end(&self) {
        self.advance(SHUTTING_DOWN);
    }

    fn advance(&self, to: u8) {
        self.stage.fetch_max(to, Ordering::AcqRel);
    }
}

/// How a run ended, as `overseer_child_exits_total`'s `cause` label says it.
pub(super) const CAUSES: [&str; 4] = ["completed", "failed", "panicked", "aborted"];

fn cause_index(status: &ExitStatus) -> usize {
    match status {
        ExitStatus::Completed => 0,
        ExitStatus::Failed(_) => 1,
        ExitStatus::Panicked(_) => 2,
        ExitStatus::Aborted => 3,
    }
}

/// The smallest number of paths kept before a prune is asked for.
const MIN_CAP: usize = 1024;

/// Exits counted by path and cause, over every run of the HTTP child (a restart of the child
/// keeps them, so that the counters only go up while the tree lives).
///
/// Memory stays bounded under churn: the paths that a snapshot no longer shows are forgotten
/// ([`prune`](Self::prune)), and when more paths than `cap` are held the caller is told to
/// take a snapshot for that.
#[derive(Debug)]
pub(super) struct Exits {
    inner: Mutex<ExitsInner>,
    /// Events missed because the subscription lagged (counts may then be low).
    missed: AtomicU64,
}

#[derive(Debug)]
struct ExitsInner {
    /// Per path: the count per cause, and the sequence number of the event that last
    /// touched it.
    by_path: HashMap<ChildPath, ([u64; 4], u64)>,
    /// The number of events seen so far.
    seq: u64,
    cap: usize,
}

impl Default for Exits {
    fn default() -> Self {
        Exits {
            inner: Mutex::new(ExitsInner {
                by_path: HashMap::new(),
                seq: 0,
                cap: MIN_CAP,
            }),
            missed: AtomicU64::new(0),
        }
    }
}

impl Exits {
    /// Counts `event` if it is an exit; `true` when more paths are held than the cap (the
    /// caller should take a snapshot and [`prune`](Self::prune)).
    pub(super) fn on_event(&self, event: &Event) -> bool {
        let EventKind::Exited { status } = &event.kind else {
            return false;
        };
        let mut inner = lock(&self.inner);
        inner.seq += 1;
        let seq = inner.seq;
        let entry = inner
            .by_path
            .entry(event.path.clone())
            .or_insert(([0; 4], seq));
        entry.0[cause_index(status)] += 1;
        entry.1 = seq;
        inner.by_path.len() > inner.cap
    }

    /// The sequence number of the last exit counted: a snapshot requested now may prune
    /// only what was last touched at or before it.
    pub(super) fn seq(&self) -> u64 {
        lock(&self.inner).seq
    }

    /// Forgets the paths for which `present` is false and that no exit touched after `seq`
    /// (an exit counted after the snapshot was requested may be of a child it does not show
    /// yet).
    pub(super) fn prune(&self, seq: u64, present: impl Fn(&ChildPath) -> bool) {
        let mut inner = lock(&self.inner);
        inner
            .by_path
            .retain(|path, (_, touched)| *touched > seq || present(path));
        inner.cap = MIN_CAP.max(2 * inner.by_path.len());
    }

    /// The counts of `path`, by cause in the order of [`CAUSES`] (zeros for a path with
    /// none).
    pub(super) fn with<R>(&self, f: impl FnOnce(&dyn Fn(&ChildPath) -> [u64; 4]) -> R) -> R {
        let inner = lock(&self.inner);
        f(&|path| inner.by_path.get(path).map_or([0; 4], |(c, _)| *c))
    }

    pub(super) fn add_missed(&self, n: u64) {
        self.missed.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.inner).by_path.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::time::Instant;

    use super::*;
    use crate::error::Failure;

    fn path(p: &str) -> ChildPath {
        let mut segments = p.split('/');
        let mut path = ChildPath::root(segments.next().unwrap_or(""));
        for s in segments {
            path = path.join(s);
        }
        path
    }

    fn event(p: &str, kind: EventKind) -> Event {
        Event {
            path: path(p),
            kind,
            at: Instant::now(),
        }
    }

    fn exited(p: &str, status: ExitStatus) -> Event {
        event(p, EventKind::Exited { status })
    }

    #[test]
    fn the_tree_is_ready_only_between_the_roots_ready_and_its_shutdown() {
        let l = Lifecycle::new(path("root"));
        assert!(!l.ready());
        l.on_event(&event("root/sub", EventKind::Ready));
        assert!(!l.ready(), "a nested manager's readiness is not the tree's");
        l.on_event(&event("root", EventKind::Ready));
        assert!(l.ready());
        l.on_event(&event("root", EventKind::ShuttingDown));
        assert!(!l.ready() && l.shutting_down());
        l.on_event(&event("root", EventKind::Ready));
        l.on_root_state(ChildState::Ready);
        assert!(
            !l.ready(),
            "a late event or snapshot never makes it ready again"
        );
    }

    #[test]
    fn only_the_roots_giving_up_is_the_trees() {
        let l = Lifecycle::new(path("root"));
        let failure = || Failure {
            path: path("root/x"),
            cause: crate::error::Cause::Interrupted { signal: 15 },
        };
        l.on_event(&event("root/sub", EventKind::GaveUp { failure: failure() }));
        assert!(!l.gave_up());
        l.on_event(&event("root", EventKind::GaveUp { failure: failure() }));
        assert!(l.gave_up() && !l.ready());
    }

    #[test]
    fn a_snapshot_of_a_stopping_root_ends_readiness() {
        let l = Lifecycle::new(path("root"));
        l.on_root_state(ChildState::Running);
        assert!(!l.ready() && !l.shutting_down());
        l.on_root_state(ChildState::Ready);
        assert!(l.ready());
        l.on_root_state(ChildState::Stopping);
        assert!(l.shutting_down());
    }

    #[test]
    fn exits_are_counted_per_path_and_cause() {
        let exits = Exits::default();
        let failed = ExitStatus::Failed(Arc::new(std::io::Error::other("x")));
        exits.on_event(&exited("root/a", failed.clone()));
        exits.on_event(&exited("root/a", failed));
        exits.on_event(&exited("root/a", ExitStatus::Aborted));
        exits.on_event(&exited("root/b", ExitStatus::Panicked("p".into())));
        exits.on_event(&event("root/c", EventKind::Stopped));
        exits.with(|count| {
            assert_eq!(count(&path("root/a")), [0, 2, 0, 1]);
            assert_eq!(count(&path("root/b")), [0, 0, 1, 0]);
            assert_eq!(count(&path("root/c")), [0; 4]);
        });
    }

    #[test]
    fn a_prune_forgets_absent_paths_but_not_one_counted_after_the_snapshot_was_asked() {
        let exits = Exits::default();
        exits.on_event(&exited("root/gone", ExitStatus::Completed));
        exits.on_event(&exited("root/kept", ExitStatus::Completed));
        let asked = exits.seq();
        exits.on_event(&exited("root/new", ExitStatus::Completed));
        exits.prune(asked, |p| p == "root/kept");
        assert_eq!(exits.len(), 2);
        exits.with(|count| {
            assert_eq!(count(&path("root/gone")), [0; 4]);
            assert_eq!(count(&path("root/kept")), [1, 0, 0, 0]);
            assert_eq!(count(&path("root/new")), [1, 0, 0, 0]);
        });
    }

    #[test]
    fn holding_more_paths_than_the_cap_asks_for_a_prune_and_the_cap_follows_the_tree() {
        let exits = Exits::default();
        let mut asked = 0;
        for i in 0..=MIN_CAP {
            if exits.on_event(&exited(&format!("root/t{i}"), ExitStatus::Completed)) {
                asked += 1;
            }
        }
        assert_eq!(asked, 1, "once past the cap");
        exits.prune(exits.seq(), |p| p == "root/t0");
        assert_eq!(exits.len(), 1);
    }
}
