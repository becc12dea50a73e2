//! Raw lower bound: no supervisor library at all.
//!
//! One owner task holds a `JoinSet` and a root `CancellationToken`; every
//! child gets `root.child_token()`, signals [`Started`], awaits cancellation
//! and returns `Ok`. The owner joins children as they finish; the first `Err`
//! (or panic) cancels the root token, the owner keeps joining until the set is
//! empty and then returns that first error.

use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{ChildFailed, Started};

type Outcome = Result<(), ChildFailed>;

/// Everything needed to stop a running tree.
pub struct Running {
    root: CancellationToken,
    owner: JoinHandle<Outcome>,
}

/// Spawns the owner task; it spawns `n` children (child 0 optionally fails
/// when `fail` is notified) and then supervises them.
fn spawn_tree(n: usize, started: Started, fail: Option<std::sync::Arc<Notify>>) -> Running {
    let root = CancellationToken::new();
    let owner_root = root.clone();
    let owner = tokio::spawn(async move {
        let root = owner_root;
        let mut set = JoinSet::new();
        for i in 0..n {
            let token = root.child_token();
            let started = started.clone();
            let fail = if i == 0 { fail.clone() } else { None };
            set.spawn(async move {
                started.signal();
                match fail {
                    None => {
                        token.cancelled().await;
                        Ok(())
                    }
                    Some(fail) => tokio::select! {
                        _ = fail.notified() => Err(ChildFailed),
                        _ = token.cancelled() => Ok(()),
                    },
                }
            });
        }
        drop(started);

        let mut first_error: Option<ChildFailed> = None;
        while let Some(joined) = set.join_next().await {
            let err = match joined {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(_join_error) => ChildFailed, // panic / abort counts as failure
            };
            if first_error.is_none() {
                first_error = Some(err);
                root.cancel();
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    });
    Running { root, owner }
}

pub async fn start(n: usize) -> (Duration, Running) {
    let started = Started::new(n);
    let t0 = Instant::now();
    let running = spawn_tree(n, started.clone(), None);
    started.wait().await;
    (t0.elapsed(), running)
}

pub async fn shutdown(running: Running) -> Duration {
    let Running { root, owner } = running;
    tokio::spawn(async move {
        let t0 = Instant::now();
        root.cancel();
        let res = owner.await.expect("raw owner task panicked");
        let elapsed = t0.elapsed();
        assert!(res.is_ok(), "raw: clean shutdown returned {res:?}");
        elapsed
    })
    .await
    .expect("raw shutdown task panicked")
}

pub async fn cascade(n: usize) -> Duration {
    assert!(n >= 1);
    let started = Started::new(n);
    let fail = std::sync::Arc::new(Notify::new());
    let Running { root: _root, owner } = spawn_tree(n, started.clone(), Some(fail.clone()));
    started.wait().await;
    tokio::spawn(async move {
        let t0 = Instant::now();
        fail.notify_one();
        let res = owner.await.expect("raw owner task panicked");
        let elapsed = t0.elapsed();
        assert!(res.is_err(), "raw: cascade must end with the child's error");
        elapsed
    })
    .await
    .expect("raw cascade task panicked")
}
