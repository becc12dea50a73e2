//! The JSON shapes of snapshots, events, exit statuses, failures and health (feature `serde`).
#![cfg(feature = "serde")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{event_of, start};
use overseer::health::{Health, Probe, ProbeKind};
use overseer::{ChildSpec, EventKind, ExitStatus, Failure, ProcessManager};
use serde_json::json;

#[test]
fn exit_statuses_failures_and_health_have_the_documented_shapes() {
    let failed = ExitStatus::Failed(Arc::new(std::io::Error::other("disk full")));
    assert_eq!(
        serde_json::to_value(&failed).unwrap(),
        json!({"status": "failed", "error": "disk full"})
    );
    assert_eq!(
        serde_json::to_value(ExitStatus::Completed).unwrap(),
        json!({"status": "completed"})
    );
    assert_eq!(
        serde_json::to_value(Health::Unhealthy {
            probe: ProbeKind::Liveness,
            error: "no answer".into()
        })
        .unwrap(),
        json!({"state": "unhealthy", "probe": "liveness", "error": "no answer"})
    );
    assert_eq!(
        serde_json::to_value(Health::Healthy).unwrap(),
        json!({"state": "healthy"})
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_its_path_and_its_cause_as_a_message() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("bad", |_ctx| async {
            Err("bad config".into())
        }))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    let failure: &Failure = err.first();
    assert_eq!(
        serde_json::to_value(failure).unwrap(),
        json!({"path": "root/bad", "cause": "failed to start: bad config"})
    );
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_and_the_events_serialise_to_the_documented_json() {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let probe = Probe::check("flag", move || {
        let up = flag.load(Ordering::SeqCst);
        async move { if up { Ok(()) } else { Err("down".into()) } }
    })
    .period(Duration::from_millis(100));
    let tree = ProcessManager::builder("root")
        .child(
            ChildSpec::task("web", |ctx| async move {
                ctx.shutdown_requested().await;
                Ok(())
            })
            .readiness(probe),
        )
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    let ready = event_of(&mut events, "root/web", |k| {
        matches!(k, EventKind::Healthy { .. })
    })
    .await;
    assert_eq!(
        serde_json::to_value(&ready).unwrap(),
        json!({"path": "root/web", "event": "healthy", "probe": "readiness"})
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let snap = handle.snapshot().await.unwrap();
    let mut value = serde_json::to_value(&snap).unwrap();
    // Uptimes depend on the clock: checked for presence, then left out.
    assert!(value["uptime_ms"].as_u64().is_some());
    assert_eq!(value["children"][0]["uptime_ms"], json!(1500));
    value["uptime_ms"] = json!(null);
    value["children"][0]["uptime_ms"] = json!(null);
    assert_eq!(
        value,
        json!({
            "path": "root", "kind": "manager", "state": "ready", "pid": null, "restarts": 0,
            "uptime_ms": null, "last_exit": null, "resources": null,
            "health": {"state": "unknown"},
            "intensity": {"restarts": 0, "max_restarts": 5, "period_ms": 10000},
            "children": [{
                "path": "root/web", "kind": "task", "state": "ready", "pid": null,
                "restarts": 0, "uptime_ms": null, "last_exit": null, "resources": null,
                "health": {"state": "healthy"}, "intensity": null, "children": []
            }]
        })
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
