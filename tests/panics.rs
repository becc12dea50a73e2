//! Panicking children.

mod common;

use std::time::Duration;

use common::alive_tasks;
use overseer::{Cause, ChildSpec, ExitStatus, ProcessManager, Restart};

/// Runs a tree of `spec` alone, as a temporary child, and checks that the run fails with a
/// panic of `message` at `root/{id}`, leaving no task behind.
async fn assert_fails_with_panic(spec: ChildSpec, message: &str) {
    let path = format!("root/{}", spec.id());
    let tree = ProcessManager::builder("root")
        .child(spec.restart(Restart::Temporary))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &path.as_str());
    // A panic before the run waited for anything is a failed start, carrying the panic.
    let cause = match err.cause() {
        Cause::FailedToStart { cause } => &**cause,
        cause => cause,
    };
    assert!(matches!(cause, Cause::Panic(m) if &**m == message), "{err}");
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_panicking_child_is_a_failed_child_with_its_panic_message() {
    let spec = ChildSpec::task("boom", |_ctx| async { panic!("kaboom {}", 42) });
    assert_fails_with_panic(spec, "kaboom 42").await;
}

#[tokio::test]
async fn the_manager_survives_a_panic_and_restarts_the_child() {
    let tree = ProcessManager::builder("root")
        .intensity(5, Duration::from_secs(1))
        .child(ChildSpec::task("flaky", |ctx| async move {
            // Up and running: a panic now is a crash, restarted, not a failed start.
            ctx.started();
            if ctx.restarts() == 0 {
                panic!("first run panics");
            }
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    let exit = common::event_of(&mut events, "root/flaky", common::is_exited).await;
    assert!(matches!(
        exit.kind,
        overseer::EventKind::Exited { status: ExitStatus::Panicked(ref m) } if &**m == "first run panics"
    ));
    common::event_of(&mut events, "root/flaky", common::is_running).await;
    let snap = handle.snapshot().await.unwrap();
    let flaky = snap.find("root/flaky").unwrap();
    assert_eq!(flaky.restarts, 1);
    assert!(matches!(flaky.last_exit, Some(ExitStatus::Panicked(_))));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_closure_that_panics_before_it_returns_its_future_is_a_panicked_child() {
    // The closure itself is called in the child's task, as its future is polled there: both
    // through `ChildSpec::task` (whose future lives in the task) and through the boxed path.
    let early = |_ctx: overseer::Context| -> std::future::Ready<overseer::RunResult> {
        panic!("before the future")
    };
    for spec in [
        ChildSpec::task("early", early),
        ChildSpec::new("early", overseer::task(early)),
    ] {
        assert_fails_with_panic(spec, "before the future").await;
    }
}
