//! Raw lower bound of a reverse-order stop: no supervisor library, children stopped one at
//! a time, last first, each awaited before the next is asked.
//!
//! Every child is a `tokio::spawn`ed task with its own `CancellationToken`; it signals
//! [`Started`], awaits cancellation and returns. The stop walks the children backwards:
//! cancel one, await its `JoinHandle`, then the previous one. This is what
//! `StopOrder::Reverse` promises (a child is asked only once the one declared after it has
//! ended) with nothing else around it; [`super::raw`] stops them all at once.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Started;

/// The running children, in start order.
pub struct Running {
    children: Vec<(CancellationToken, JoinHandle<()>)>,
}

pub async fn start(n: usize) -> (Duration, Running) {
    let started = Started::new(n);
    let waiter = started.clone();
    let t0 = Instant::now();
    let children = tokio::spawn(async move {
        (0..n)
            .map(|_| {
                let token = CancellationToken::new();
                let cancelled = token.clone();
                let started = started.clone();
                let task = tokio::spawn(async move {
                    started.signal();
                    cancelled.cancelled().await;
                });
                (token, task)
            })
            .collect()
    })
    .await
    .expect("spawn");
    waiter.wait().await;
    (t0.elapsed(), Running { children })
}

pub async fn shutdown(running: Running) -> Duration {
    tokio::spawn(async move {
        let t0 = Instant::now();
        for (token, task) in running.children.into_iter().rev() {
            token.cancel();
            task.await.expect("child task");
        }
        t0.elapsed()
    })
    .await
    .expect("shutdown task")
}
