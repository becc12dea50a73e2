//! `processmanager` 0.6 adapter.
//!
//! Idiom (README "Quick-Start"): every child is a `Runnable` that owns a
//! `RuntimeGuard`; `process_start` creates the guard's single `RuntimeTicker`
//! and loops on `ticker.tick(work)` until it sees
//! `ProcessOperation::Control(RuntimeControlMessage::Shutdown)`.
//! `process_handle` returns `guard.handle()`. Children are registered with
//! `ProcessManagerBuilder::pre_insert`, the manager is driven by
//! `manager.process_start().await` in its own task, and stopped through
//! `manager.process_handle().shutdown().await`.
//!
//! Faithfulness notes / caveats (all are the crate's own behaviour):
//! * The child's "work" future is `std::future::pending()` (child 0 in
//!   `cascade`: the shared fail `Notify`), so a child only ever wakes for a
//!   control message or the failure.
//! * `RuntimeGuard::new()` spawns one extra "fan-out" task per child (so a
//!   child costs 2 Tokio tasks), and forwards control messages through two
//!   bounded mpsc channels + `tokio::sync::Mutex`es.
//! * Manager shutdown spawns one task per child that sends `Shutdown` and then
//!   polls `JoinHandle::is_finished()` every 10 ms: shutdown latency has a
//!   ~10 ms granularity, whatever `n` is.
//! * Error propagation: the first child returning `Err` makes the manager call
//!   its own `shutdown()` (same broadcast as above), wait for every child, and
//!   return that first error from `process_start` — exactly the cascade we
//!   want, no adaptation needed.
//! * With default features (`manager`, `signal`; neither `log` nor `tracing`,
//!   and we may not change features from here) the crate `eprintln!`s a line
//!   per child start, per child shutdown request and per child stop. That cost
//!   is included in the figures; run benches with stderr sent to /dev/null.
//! * `ProcessManagerBuilder::default()` has `auto_cleanup = false` (derived
//!   `Default`, despite the doc comment). We keep that default; with
//!   `auto_cleanup(true)` every child exit does an O(n) `retain` (O(n²) for
//!   the handle cache), which would be unusable at 100k children.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use processmanager::{
    ProcFuture, ProcessControlHandler, ProcessManagerBuilder, ProcessOperation, Runnable,
    RuntimeControlMessage, RuntimeError, RuntimeGuard,
};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use super::Started;

struct Child {
    guard: RuntimeGuard,
    started: Started,
    /// `Some` only for child 0 in `cascade`.
    fail: Option<Arc<Notify>>,
}

impl Runnable for Child {
    fn process_start(&self) -> ProcFuture<'_> {
        Box::pin(async move {
            let ticker = self.guard.runtime_ticker().await;
            self.started.signal();
            loop {
                let op = match &self.fail {
                    None => ticker.tick(std::future::pending::<()>()).await,
                    Some(fail) => ticker.tick(fail.notified()).await,
                };
                match op {
                    ProcessOperation::Next(()) => {
                        return Err(RuntimeError::Internal {
                            message: super::ChildFailed.to_string(),
                        });
                    }
                    ProcessOperation::Control(RuntimeControlMessage::Shutdown) => return Ok(()),
                    ProcessOperation::Control(_) => continue,
                }
            }
        })
    }

    fn process_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("child")
    }

    fn process_handle(&self) -> Arc<dyn ProcessControlHandler> {
        self.guard.handle()
    }
}

pub struct Running {
    handle: Arc<dyn ProcessControlHandler>,
    manager: JoinHandle<Result<(), RuntimeError>>,
}

/// Builds and starts the manager inside a spawned task (so the `RuntimeGuard`
/// fan-out tasks and the children are spawned from a worker thread).
async fn spawn_tree(n: usize, started: Started, fail: Option<Arc<Notify>>) -> Running {
    let (handle_tx, handle_rx) = oneshot::channel();
    let manager = tokio::spawn(async move {
        let mut builder = ProcessManagerBuilder::default();
        for i in 0..n {
            builder = builder.pre_insert(Child {
                guard: RuntimeGuard::new(),
                started: started.clone(),
                fail: if i == 0 { fail.clone() } else { None },
            });
        }
        drop(started);
        let manager = builder.build();
        let _ = handle_tx.send(manager.process_handle());
        manager.process_start().await
    });
    let handle = handle_rx.await.expect("processmanager build task died");
    Running { handle, manager }
}

pub async fn start(n: usize) -> (Duration, Running) {
    let started = Started::new(n);
    let t0 = Instant::now();
    let running = spawn_tree(n, started.clone(), None).await;
    started.wait().await;
    (t0.elapsed(), running)
}

pub async fn shutdown(running: Running) -> Duration {
    let Running { handle, manager } = running;
    tokio::spawn(async move {
        let t0 = Instant::now();
        handle.shutdown().await;
        let res = manager.await.expect("processmanager task panicked");
        let elapsed = t0.elapsed();
        assert!(
            res.is_ok(),
            "processmanager: clean shutdown returned {res:?}"
        );
        elapsed
    })
    .await
    .expect("processmanager shutdown task panicked")
}

pub async fn cascade(n: usize) -> Duration {
    assert!(n >= 1);
    let started = Started::new(n);
    let fail = Arc::new(Notify::new());
    let Running {
        handle: _handle,
        manager,
    } = spawn_tree(n, started.clone(), Some(fail.clone())).await;
    started.wait().await;
    tokio::spawn(async move {
        let t0 = Instant::now();
        fail.notify_one();
        let res = manager.await.expect("processmanager task panicked");
        let elapsed = t0.elapsed();
        assert!(
            res.is_err(),
            "processmanager: cascade must end with the child's error"
        );
        elapsed
    })
    .await
    .expect("processmanager cascade task panicked")
}
