//! Start and stop order, and waiting for siblings.

mod common;

use std::time::Duration;

use common::{Log, alive_tasks, logged};
use overseer::{ChildSpec, Condition, EventKind, ProcessManager, Restart, SpecError};
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn children_start_in_declared_order_and_stop_in_reverse_order() {
    let log = Log::default();
    let ids = ["a", "b", "c", "d", "e"];
    let tree = ProcessManager::builder("root")
        .children(ids.iter().map(|id| logged(id, &log)))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (handle, mut events, run) = common::start(tree);
    let mut started = Vec::new();
    while started.len() < ids.len() {
        let ev = common::next_event(&mut events, |e| matches!(e.kind, EventKind::Running)).await;
        started.push(ev.path.id().to_string());
    }
    assert_eq!(started, ids);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();

    assert_eq!(
        log.with_prefix("start:"),
        ["start:a", "start:b", "start:c", "start:d", "start:e"]
    );
    let stops: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| !e.starts_with("start:"))
        .collect();
    let expected: Vec<String> = ids
        .iter()
        .rev()
        .flat_map(|id| [format!("stop:{id}"), format!("stopped:{id}")])
        .collect();
    assert_eq!(
        stops, expected,
        "each child stops only after the next one has stopped"
    );
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_child_waits_for_a_siblings_readiness_before_it_starts() {
    let log = Log::default();
    let db_log = log.clone();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("db", move |ctx| {
            let log = db_log.clone();
            async move {
                sleep(Duration::from_secs(3)).await;
                log.push("db ready");
                ctx.ready();
                ctx.shutdown_requested().await;
                Ok(())
            }
        }))
        .child(logged("api", &log).after("db", Condition::Ready))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);

    let db = common::event_of(&mut events, "root/db", common::is_running).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.find("root/api").unwrap().state,
        overseer::ChildState::Waiting
    );
    // Timed by the events' own timestamps: their delivery may lag (see `Handle::events`).
    let api = common::event_of(&mut events, "root/api", common::is_running).await;
    assert_eq!(api.at - db.at, Duration::from_secs(3));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        log.entries()[..2],
        ["db ready".to_string(), "start:api".to_string()]
    );
}

#[tokio::test]
async fn a_child_waits_for_a_sibling_to_complete_successfully() {
    let log = Log::default();
    let migrate_log = log.clone();
    let tree = ProcessManager::builder("root")
        .child(
            ChildSpec::task("migrate", move |_ctx| {
                let log = migrate_log.clone();
                async move {
                    tokio::task::yield_now().await;
                    log.push("migrated");
                    Ok(())
                }
            })
            .restart(Restart::Transient),
        )
        .child(logged("app", &log).after("migrate", Condition::Completed))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/app", common::is_running).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        log.entries()[..2],
        ["migrated".to_string(), "start:app".to_string()]
    );
}

#[test]
fn a_dependency_on_a_sibling_not_declared_before_is_refused() {
    let log = Log::default();
    let err = ProcessManager::builder("root")
        .child(logged("api", &log).after("db", Condition::Ready))
        .child(logged("db", &log))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        SpecError::UnknownDependency {
            id: "api".into(),
            on: "db".into()
        }
    );
}

#[test]
fn a_duplicate_id_in_a_builder_is_refused() {
    let log = Log::default();
    let err = ProcessManager::builder("root")
        .child(logged("a", &log))
        .child(logged("a", &log))
        .build()
        .unwrap_err();
    assert!(matches!(err, SpecError::DuplicateId { .. }), "{err}");
}
