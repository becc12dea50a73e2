//! `tokio-graceful-shutdown` 0.20 adapter.
//!
//! Idiom (README / examples 05 and 23): a `Toplevel` whose root subsystem
//! starts every child with `s.start(SubsystemBuilder::new(name, subsys))`;
//! a child awaits `subsys.on_shutdown_requested()` and returns `Ok(())`.
//! The tree is driven by `toplevel.handle_shutdown_requests(timeout)` in its
//! own task. External shutdown uses the documented
//! `Toplevel::new_with_shutdown_token` + `CancellationToken::cancel()`
//! (example 23); `catch_signals()` is not used (no signals in a bench).
//!
//! Faithfulness notes / caveats:
//! * Each subsystem costs 2 Tokio tasks (the subsystem itself plus the
//!   "runner" that joins it and propagates its result), plus a child
//!   `CancellationToken`, a joiner token and a formatted absolute name
//!   (`/child`). All children share the static name "child".
//! * Error propagation: child 0 returns `Err(ChildFailed)`; with the default
//!   `ErrorAction::Forward` the error travels up the joiner tokens to the
//!   root, which cancels the whole tree, and `handle_shutdown_requests`
//!   returns `Err(GracefulShutdownError::SubsystemsFailed(..))` once every
//!   subsystem has finished. The adapter asserts that it is an `Err`.
//! * Shutdown timeout is 30 s (never hit here); the default error type
//!   (`Box<dyn Error + Send + Sync>`) is used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_graceful_shutdown::errors::GracefulShutdownError;
use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
use tokio_util::sync::CancellationToken;

use super::{ChildFailed, Started};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

type Outcome = Result<(), GracefulShutdownError>;

pub struct Running {
    token: CancellationToken,
    toplevel: JoinHandle<Outcome>,
}

fn spawn_tree(n: usize, started: Started, fail: Option<Arc<Notify>>) -> Running {
    let token = CancellationToken::new();
    let toplevel_token = token.clone();
    let toplevel = tokio::spawn(async move {
        Toplevel::new_with_shutdown_token(
            async move |s: &mut SubsystemHandle| {
                for i in 0..n {
                    let started = started.clone();
                    let fail = if i == 0 { fail.clone() } else { None };
                    s.start(SubsystemBuilder::new(
                        "child",
                        async move |subsys: &mut SubsystemHandle| -> Result<(), ChildFailed> {
                            started.signal();
                            match fail {
                                None => {
                                    subsys.on_shutdown_requested().await;
                                    Ok(())
                                }
                                Some(fail) => tokio::select! {
                                    _ = fail.notified() => Err(ChildFailed),
                                    _ = subsys.on_shutdown_requested() => Ok(()),
                                },
                            }
                        },
                    ));
                }
            },
            toplevel_token,
        )
        .handle_shutdown_requests(SHUTDOWN_TIMEOUT)
        .await
    });
    Running { token, toplevel }
}

pub async fn start(n: usize) -> (Duration, Running) {
    let started = Started::new(n);
    let t0 = Instant::now();
    let running = spawn_tree(n, started.clone(), None);
    started.wait().await;
    (t0.elapsed(), running)
}

pub async fn shutdown(running: Running) -> Duration {
    let Running { token, toplevel } = running;
    tokio::spawn(async move {
        let t0 = Instant::now();
        token.cancel();
        let res = toplevel
            .await
            .expect("tokio-graceful-shutdown task panicked");
        let elapsed = t0.elapsed();
        assert!(
            res.is_ok(),
            "tokio-graceful-shutdown: clean shutdown returned {res:?}"
        );
        elapsed
    })
    .await
    .expect("tokio-graceful-shutdown shutdown task panicked")
}

pub async fn cascade(n: usize) -> Duration {
    assert!(n >= 1);
    let started = Started::new(n);
    let fail = Arc::new(Notify::new());
    let Running {
        token: _token,
        toplevel,
    } = spawn_tree(n, started.clone(), Some(fail.clone()));
    started.wait().await;
    tokio::spawn(async move {
        let t0 = Instant::now();
        fail.notify_one();
        let res = toplevel
            .await
            .expect("tokio-graceful-shutdown task panicked");
        let elapsed = t0.elapsed();
        match res {
            Err(GracefulShutdownError::SubsystemsFailed(_)) => {}
            other => panic!("tokio-graceful-shutdown: cascade must fail, got {other:?}"),
        }
        elapsed
    })
    .await
    .expect("tokio-graceful-shutdown cascade task panicked")
}
