//! Shared adapters for the comparison benches: the same three measurements
//! (`start`, `shutdown`, `cascade`) over a flat tree of `n` trivial,
//! long-lived children, for
//!
//! * [`raw`] – the honest lower bound: one `JoinSet` + one `CancellationToken`,
//! * [`raw_ordered`], [`raw_chain`] – raw reverse-order stops (shutdown only): one child at
//!   a time, each awaited, and a stop passed from child to child,
//! * [`ovs`] – overseer,
//! * [`pm`]  – `processmanager` 0.6,
//! * [`tgs`] – `tokio-graceful-shutdown` 0.20.
//!
//! Every function expects to run inside a multi-thread Tokio runtime (the
//! benches use 2 workers) and is called from `Runtime::block_on`. All three
//! adapters do the supervision work (building the tree, requesting shutdown,
//! firing the failure) inside a spawned task, so that every implementation
//! spawns its children from a worker thread.
#![allow(dead_code)]

pub mod ovs;
pub mod pm;
pub mod raw;
pub mod raw_chain;
pub mod raw_ordered;
pub mod tgs;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// "All `n` children are running" latch.
///
/// Every child calls [`Started::signal`] once it runs; the `n`-th call fires
/// the `Notify`. `notify_one` stores a permit, so [`Started::wait`] never
/// misses the wake-up even if it starts waiting late. Cloning is one `Arc`
/// increment (counter and `Notify` share the allocation).
#[derive(Clone)]
pub struct Started {
    inner: Arc<StartedInner>,
}

struct StartedInner {
    count: AtomicUsize,
    target: usize,
    notify: Notify,
}

impl Started {
    pub fn new(n: usize) -> Self {
        Self {
            inner: Arc::new(StartedInner {
                count: AtomicUsize::new(0),
                target: n,
                notify: Notify::new(),
            }),
        }
    }

    /// Called once by each child when it runs.
    #[inline]
    pub fn signal(&self) {
        if self.inner.count.fetch_add(1, Ordering::AcqRel) + 1 == self.inner.target {
            self.inner.notify.notify_one();
        }
    }

    /// Resolves once `n` children have called [`signal`](Self::signal).
    pub async fn wait(&self) {
        if self.inner.target == 0 {
            return;
        }
        self.inner.notify.notified().await;
    }

    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }
}

/// The error child 0 returns in `cascade`.
#[derive(Debug, Clone, Copy)]
pub struct ChildFailed;

impl std::fmt::Display for ChildFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("child 0 failed on purpose")
    }
}

impl std::error::Error for ChildFailed {}
