//! The first-error cascade.

mod common;

use std::error::Error as _;

use common::{Log, alive_tasks, fails_on_stop, logs_stop};
use overseer::{Cause, ChildSpec, ProcessManager, Restart};
use tokio::sync::oneshot;

fn failing(id: &str, trigger: oneshot::Receiver<()>, message: &'static str) -> ChildSpec {
    let trigger = std::sync::Mutex::new(Some(trigger));
    ChildSpec::task(id, move |_ctx| {
        let trigger = trigger.lock().unwrap().take();
        async move {
            if let Some(t) = trigger {
                let _ = t.await;
            }
            Err(message.into())
        }
    })
    .restart(Restart::Temporary)
}

#[tokio::test]
async fn an_unabsorbed_failure_stops_the_siblings_in_reverse_order_and_returns_the_first_error() {
    let log = Log::default();
    let (fire, trigger) = oneshot::channel();
    let tree = ProcessManager::builder("root")
        .child(logs_stop("a", &log))
        .child(logs_stop("b", &log))
        .child(failing("c", trigger, "disk full"))
        .child(logs_stop("d", &log))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    tokio::task::yield_now().await;
    fire.send(()).unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(log.entries(), ["stop:d", "stop:b", "stop:a"]);
    assert_eq!(err.path(), &"root/c");
    assert!(matches!(err.cause(), Cause::Error(e) if e.to_string() == "disk full"));
    assert!(err.later().is_empty());
    assert_eq!(err.to_string(), "root/c: disk full");
    assert_eq!(err.source().unwrap().to_string(), "root/c: disk full");
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn the_first_error_reaches_the_caller_through_every_level_with_the_deepest_path() {
    let log = Log::default();
    let (fire, trigger) = oneshot::channel();
    let inner = ProcessManager::builder("inner")
        .child(logs_stop("sibling", &log))
        .child(failing("leaf", trigger, "bad config"))
        .build()
        .unwrap();
    let mid = ProcessManager::builder("mid")
        .child(ChildSpec::new("inner", inner).restart(Restart::Temporary))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(logs_stop("top", &log))
        .child(ChildSpec::new("mid", mid).restart(Restart::Temporary))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    tokio::task::yield_now().await;
    fire.send(()).unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(err.path(), &"root/mid/inner/leaf");
    assert!(matches!(err.cause(), Cause::Error(e) if e.to_string() == "bad config"));
    assert_eq!(log.entries(), ["stop:sibling", "stop:top"]);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn failures_after_the_first_are_kept_in_order() {
    let log = Log::default();
    let (fire, trigger) = oneshot::channel();
    let tree = ProcessManager::builder("root")
        .child(fails_on_stop("a", &log))
        .child(fails_on_stop("b", &log))
        .child(failing("c", trigger, "first"))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { tree.run().await });
    tokio::task::yield_now().await;
    fire.send(()).unwrap();
    let err = run.await.unwrap().unwrap_err();
    let paths: Vec<&str> = err.failures().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["root/c", "root/b", "root/a"]);
    assert_eq!(err.later()[0].cause.to_string(), "b failed to flush");
    assert_eq!(err.to_string(), "root/c: first (and 2 later failures)");
}

#[tokio::test]
async fn a_requested_shutdown_is_a_success() {
    let log = Log::default();
    let tree = ProcessManager::builder("root")
        .child(logs_stop("a", &log))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

/// A user's own error type.
#[derive(Debug)]
struct DiskFull {
    free: u64,
}

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "disk full ({} bytes free)", self.free)
    }
}

impl std::error::Error for DiskFull {}

#[tokio::test]
async fn a_failure_s_cause_downcasts_to_the_user_error_type_through_every_level() {
    let inner = ProcessManager::builder("inner")
        .child(
            ChildSpec::task("leaf", |_ctx| async { Err(DiskFull { free: 12 }.into()) })
                .restart(Restart::Temporary),
        )
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("inner", inner).restart(Restart::Temporary))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &"root/inner/leaf");
    assert_eq!(err.downcast_ref::<DiskFull>().map(|e| e.free), Some(12));
    assert_eq!(
        err.first().cause.downcast_ref::<DiskFull>().map(|e| e.free),
        Some(12)
    );
    assert!(err.downcast_ref::<std::io::Error>().is_none());
}
