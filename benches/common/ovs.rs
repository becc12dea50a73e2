//! overseer, with its default stop order (one child at a time, in reverse order; see
//! [`concurrent`] for the pool setting): one root `ProcessManager` with `n` children made from one closure
//! (`ChildSpec::task` once, then `ChildSpec::replicas`, the idiom for a pool of
//! identical workers). Each child signals [`Started`], awaits
//! `ctx.shutdown_requested()` and returns `Ok`. Child 0 of `cascade` is
//! `Temporary` and fails when told: its failure is not absorbed, so the root
//! stops the rest in reverse order and returns the error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer::{ChildSpec, Handle, ProcessManager, Restart, StopOrder, TreeError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{ChildFailed, Started};

pub struct Running {
    handle: Handle,
    run: JoinHandle<Result<(), TreeError>>,
}

pub fn build(
    n: usize,
    order: StopOrder,
    started: Started,
    fail: Option<Arc<Notify>>,
) -> ProcessManager {
    let signalled = started.clone();
    let worker = ChildSpec::task("c", move |ctx| {
        let started = signalled.clone();
        async move {
            started.signal();
            ctx.shutdown_requested().await;
            Ok(())
        }
    });
    let mut builder = ProcessManager::builder("root").stop_order(order);
    let mut pool = n;
    if let Some(fail) = fail {
        builder = builder.child(failing(fail, started));
        pool -= 1;
    }
    builder
        .children(worker.replicas(pool))
        .build()
        .expect("valid tree")
}

/// Child 0 of `cascade`: signals like the others, then fails when `fail` fires.
fn failing(fail: Arc<Notify>, started: Started) -> ChildSpec {
    ChildSpec::task("failing", move |ctx| {
        let (fail, started) = (fail.clone(), started.clone());
        async move {
            started.signal();
            tokio::select! {
                _ = fail.notified() => Err(ChildFailed.into()),
                _ = ctx.shutdown_requested() => Ok(()),
            }
        }
    })
    .restart(Restart::Temporary)
}

pub async fn start(n: usize) -> (Duration, Running) {
    start_with(n, StopOrder::Reverse).await
}

pub async fn start_with(n: usize, order: StopOrder) -> (Duration, Running) {
    let started = Started::new(n);
    let waiter = started.clone();
    let t0 = Instant::now();
    let (handle, run) = tokio::spawn(async move {
        let tree = build(n, order, started, None);
        let handle = tree.handle();
        (handle, tokio::spawn(async move { tree.run().await }))
    })
    .await
    .expect("spawn");
    waiter.wait().await;
    (t0.elapsed(), Running { handle, run })
}

pub async fn shutdown(running: Running) -> Duration {
    tokio::spawn(async move {
        let t0 = Instant::now();
        running.handle.shutdown().expect("running");
        let res = running.run.await.expect("run task");
        let elapsed = t0.elapsed();
        assert!(res.is_ok(), "overseer: clean shutdown returned {res:?}");
        elapsed
    })
    .await
    .expect("shutdown task")
}

pub async fn cascade(n: usize) -> Duration {
    cascade_with(n, StopOrder::Reverse).await
}

pub async fn cascade_with(n: usize, order: StopOrder) -> Duration {
    let started = Started::new(n);
    let fail = Arc::new(Notify::new());
    let tree = build(n, order, started.clone(), Some(fail.clone()));
    let run = tokio::spawn(async move { tree.run().await });
    started.wait().await;
    tokio::spawn(async move {
        let t0 = Instant::now();
        fail.notify_one();
        let res = run.await.expect("run task");
        let elapsed = t0.elapsed();
        assert!(
            res.is_err(),
            "overseer: cascade must end with the child's error"
        );
        elapsed
    })
    .await
    .expect("cascade task")
}

/// The same tree with `StopOrder::Concurrent`: every child is asked to stop at once, as
/// OTP does for `simple_one_for_one` pools.
pub mod concurrent {
    use std::time::Duration;

    use overseer::StopOrder;

    #[allow(unused_imports)] // used by the benches, not by every example that shares this file
    pub use super::{Running, shutdown};

    pub async fn start(n: usize) -> (Duration, Running) {
        super::start_with(n, StopOrder::Concurrent).await
    }

    pub async fn cascade(n: usize) -> Duration {
        super::cascade_with(n, StopOrder::Concurrent).await
    }
}
