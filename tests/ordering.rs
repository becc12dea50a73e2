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

#[tokio::test(start_paused = true)]
async fn a_nested_manager_stopped_by_its_parent_stops_its_children_in_reverse_order() {
    let log = Log::default();
    let ids = ["a", "b", "c"];
    let sub = ProcessManager::builder("sub")
        .children(ids.iter().map(|id| logged(id, &log)))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("sub", sub))
        .build()
        .unwrap();
    let (handle, _events, run) = common::start_until(
        tree,
        &[
            ("root/sub/a", common::is_running),
            ("root/sub/b", common::is_running),
            ("root/sub/c", common::is_running),
        ],
    )
    .await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    let stops: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| !e.starts_with("start:"))
        .collect();
    assert_eq!(
        stops,
        [
            "stop:c",
            "stopped:c",
            "stop:b",
            "stopped:b",
            "stop:a",
            "stopped:a"
        ]
    );
    assert_eq!(log.with_prefix("start:").len(), 3, "nothing was restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_hundreds_of_children_still_stop_strictly_one_after_another_in_reverse_order()
 {
    // The stop passes from child to child on whatever worker runs them: each child must be
    // asked only after the one declared after it has finished.
    let n = 300;
    let log = Log::default();
    let tree = ProcessManager::builder("root")
        .children((0..n).map(|i| {
            let log = log.clone();
            ChildSpec::task(format!("c{i}"), move |ctx| {
                let log = log.clone();
                async move {
                    log.push(format!("start:{i}"));
                    ctx.shutdown_requested().await;
                    log.push(format!("stop:{i}"));
                    tokio::task::yield_now().await;
                    log.push(format!("stopped:{i}"));
                    Ok(())
                }
            })
        }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, &format!("root/c{}", n - 1), common::is_running).await;
    while log.with_prefix("start:").len() < n {
        tokio::task::yield_now().await;
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    let stops: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| !e.starts_with("start:"))
        .collect();
    let expected: Vec<String> = (0..n)
        .rev()
        .flat_map(|i| [format!("stop:{i}"), format!("stopped:{i}")])
        .collect();
    assert_eq!(stops, expected);
}
