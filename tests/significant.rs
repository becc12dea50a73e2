//! Significant children and auto-shutdown.

mod common;

use common::{Log, alive_tasks, logs_stop};
use overseer::{AutoShutdown, ChildSpec, ProcessManager, Restart, SpecError};
use tokio::sync::oneshot;

/// A significant child that completes when `done` fires (or when asked to stop).
fn job(id: &str, done: oneshot::Receiver<()>, restart: Restart) -> ChildSpec {
    let done = std::sync::Mutex::new(Some(done));
    ChildSpec::task(id, move |ctx| {
        let done = done.lock().unwrap().take();
        async move {
            if let Some(done) = done {
                tokio::select! {
                    _ = done => {}
                    _ = ctx.shutdown_requested() => {}
                }
            }
            Ok(())
        }
    })
    .restart(restart)
    .significant(true)
}

#[tokio::test]
async fn any_significant_shuts_the_manager_down_when_one_significant_child_ends() {
    let log = Log::default();
    let (tx, rx) = oneshot::channel();
    let (_tx2, rx2) = oneshot::channel();
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(logs_stop("svc", &log))
        .child(job("job1", rx, Restart::Transient))
        .child(job("job2", rx2, Restart::Transient))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    tx.send(()).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(log.entries(), ["stop:svc"]);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn all_significant_waits_for_the_last_significant_child() {
    let log = Log::default();
    let (tx1, rx1) = oneshot::channel();
    let (tx2, rx2) = oneshot::channel();
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(logs_stop("svc", &log))
        .child(job("job1", rx1, Restart::Temporary))
        .child(job("job2", rx2, Restart::Transient))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    tx1.send(()).unwrap();
    common::event_of(&mut events, "root/job1", common::is_stopped).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.find("root/svc").unwrap().state,
        overseer::ChildState::Running
    );
    assert!(log.entries().is_empty());
    tx2.send(()).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(log.entries(), ["stop:svc"]);
}

#[test]
fn a_significant_child_must_not_be_permanent() {
    let (_tx, rx) = oneshot::channel();
    let err = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(job("j", rx, Restart::Permanent))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, SpecError::SignificantPermanent { .. }),
        "{err}"
    );
}

#[test]
fn a_significant_child_needs_an_auto_shutdown_mode() {
    let (_tx, rx) = oneshot::channel();
    let err = ProcessManager::builder("root")
        .child(job("j", rx, Restart::Transient))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, SpecError::SignificantWithoutAutoShutdown { .. }),
        "{err}"
    );
}
