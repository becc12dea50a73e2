//! Raw reverse-order stop, passed from child to child: no supervisor library; each child,
//! once cancelled, cancels the child started before it and returns.
//!
//! The same idea as overseer's stop chain (a child's task asks the previous child as its run
//! ends), written with one `CancellationToken` per child and a `JoinSet` that the owner drains.
//! The stop cancels the last child's token; the owner joins until the set is empty. Shutdown
//! only: [`super::raw`] is the lower bound for starting.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Started;

/// The last child's token (where the stop begins) and every child's task.
pub struct Running {
    last: CancellationToken,
    set: JoinSet<()>,
}

pub async fn start(n: usize) -> (Duration, Running) {
    let started = Started::new(n);
    let waiter = started.clone();
    let t0 = Instant::now();
    let running = tokio::spawn(async move {
        let mut set = JoinSet::new();
        let mut before: Option<CancellationToken> = None;
        for _ in 0..n {
            let token = CancellationToken::new();
            let cancelled = token.clone();
            let previous = before.replace(token);
            let started = started.clone();
            set.spawn(async move {
                started.signal();
                cancelled.cancelled().await;
                if let Some(previous) = previous {
                    previous.cancel();
                }
            });
        }
        Running {
            last: before.unwrap_or_default(),
            set,
        }
    })
    .await
    .expect("spawn");
    waiter.wait().await;
    (t0.elapsed(), running)
}

pub async fn shutdown(running: Running) -> Duration {
    tokio::spawn(async move {
        let Running { last, mut set } = running;
        let t0 = Instant::now();
        last.cancel();
        while let Some(joined) = set.join_next().await {
            joined.expect("child task");
        }
        t0.elapsed()
    })
    .await
    .expect("shutdown task")
}
