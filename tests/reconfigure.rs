//! Live reconfiguration: a running manager given a new specification keeps what did not
//! change, restarts what did, adds and removes the rest, and recurses into nested managers.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{
    Log, alive_tasks, all_of, counted_ready, event_of, is_exited, is_ready, is_running, logged,
    start_until,
};
use overseer::{
    ChildPath, ChildSpec, ChildState, ControlError, ProcessManager, SpecError, Strategy,
};

fn names(list: &[ChildPath]) -> Vec<String> {
    list.iter().map(ChildPath::to_string).collect()
}

fn tree(children: &[ChildSpec]) -> ProcessManager {
    let mut builder = ProcessManager::builder("root");
    for child in children {
        builder = builder.child(child.clone());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn a_reconfiguration_keeps_the_same_restarts_the_changed_adds_the_new_and_removes_the_gone() {
    let baseline = alive_tasks();
    let log = Log::default();
    let (same, changed, gone) = (
        logged("same", &log),
        logged("changed", &log),
        logged("gone", &log),
    );
    let (handle, mut events, run) = start_until(
        tree(&[same.clone(), changed, gone]),
        &[
            ("root/same", is_running),
            ("root/changed", is_running),
            ("root/gone", is_running),
        ],
    )
    .await;

    let new = tree(&[same, logged("changed", &log), logged("new", &log)]);
    let report = handle.reconfigure("root", new).await.unwrap();
    assert_eq!(names(&report.unchanged), ["root/same"]);
    assert_eq!(names(&report.restarted), ["root/changed"]);
    assert_eq!(names(&report.added), ["root/new"]);
    assert_eq!(names(&report.removed), ["root/gone"]);
    assert!(report.reconfigured.is_empty());

    all_of(
        &mut events,
        &[("root/new", is_running), ("root/gone", is_exited)],
    )
    .await;
    let snap = handle.snapshot().await.unwrap();
    let shape: Vec<_> = snap.iter().map(|n| (n.path.to_string(), n.state)).collect();
    assert_eq!(
        shape,
        [
            ("root".to_string(), ChildState::Running),
            ("root/same".to_string(), ChildState::Running),
            ("root/changed".to_string(), ChildState::Running),
            ("root/new".to_string(), ChildState::Running),
        ]
    );
    let entries = log.entries();
    assert_eq!(
        entries.iter().filter(|e| e.ends_with(":same")).count(),
        1,
        "the unchanged child was not touched: {entries:?}"
    );
    assert_eq!(
        log.with_prefix("start:changed").len(),
        2,
        "the changed child ran again, from its new spec: {entries:?}"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn children_a_reconfiguration_drops_are_stopped_one_at_a_time_last_declared_first() {
    let log = Log::default();
    let (a, b, c) = (logged("a", &log), logged("b", &log), logged("c", &log));
    let (handle, mut events, run) = start_until(
        tree(&[a.clone(), b, c]),
        &[("root/b", is_running), ("root/c", is_running)],
    )
    .await;
    let report = handle.reconfigure("root", tree(&[a])).await.unwrap();
    assert_eq!(names(&report.removed), ["root/c", "root/b"]);
    all_of(&mut events, &[("root/b", is_exited), ("root/c", is_exited)]).await;
    let stops: Vec<_> = log
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("stop"))
        .collect();
    assert_eq!(stops, ["stop:c", "stopped:c", "stop:b", "stopped:b"]);
    let snap = handle.snapshot().await.unwrap();
    let shape: Vec<_> = snap.iter().map(|n| n.path.to_string()).collect();
    assert_eq!(shape, ["root", "root/a"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_nested_manager_is_reconfigured_in_turn_and_its_unchanged_children_keep_running() {
    let baseline = alive_tasks();
    let (kept_runs, dropped_runs) = (Arc::default(), Arc::default());
    let kept = counted_ready("kept", &kept_runs);
    let sub = |children: &[ChildSpec]| {
        let mut builder = ProcessManager::builder("sub");
        for child in children {
            builder = builder.child(child.clone());
        }
        builder.build().unwrap().into_spec()
    };
    let (handle, mut events, run) = start_until(
        tree(&[sub(&[
            kept.clone(),
            counted_ready("dropped", &dropped_runs),
        ])]),
        &[("root/sub/kept", is_ready), ("root/sub/dropped", is_ready)],
    )
    .await;
    let added_runs = Arc::default();
    let report = handle
        .reconfigure(
            "root",
            tree(&[sub(&[kept, counted_ready("added", &added_runs)])]),
        )
        .await
        .unwrap();
    assert_eq!(names(&report.reconfigured), ["root/sub"]);
    all_of(
        &mut events,
        &[
            ("root/sub/added", is_ready),
            ("root/sub/dropped", is_exited),
        ],
    )
    .await;
    let snap = handle.snapshot().await.unwrap();
    let shape: Vec<_> = snap.iter().map(|n| n.path.to_string()).collect();
    assert_eq!(
        shape,
        ["root", "root/sub", "root/sub/kept", "root/sub/added"]
    );
    assert_eq!(kept_runs.load(Ordering::SeqCst), 1, "kept ran once");
    assert_eq!(added_runs.load(Ordering::SeqCst), 1);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn the_next_run_of_a_reconfigured_nested_manager_starts_from_the_new_specification() {
    let runs = Arc::default();
    let sub = ProcessManager::builder("sub")
        .child(common::ready_waiter("old"))
        .build()
        .unwrap();
    let (handle, mut events, run) =
        start_until(tree(&[sub.into_spec()]), &[("root/sub/old", is_ready)]).await;
    let new_sub = ProcessManager::builder("sub")
        .child(counted_ready("new", &runs))
        .build()
        .unwrap();
    let report = handle.reconfigure("root/sub", new_sub).await.unwrap();
    assert_eq!(names(&report.added), ["root/sub/new"]);
    assert_eq!(names(&report.removed), ["root/sub/old"]);
    event_of(&mut events, "root/sub/new", is_ready).await;

    handle.restart("root/sub").await.unwrap();
    event_of(&mut events, "root/sub/new", is_ready).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the restarted manager ran `new` again"
    );
    let snap = handle.snapshot().await.unwrap();
    let shape: Vec<_> = snap.iter().map(|n| n.path.to_string()).collect();
    assert_eq!(shape, ["root", "root/sub", "root/sub/new"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_reconfigured_strategy_applies_to_the_next_failure() {
    let fail = Arc::new(tokio::sync::Notify::new());
    let sibling_runs = Arc::default();
    let (worker, sibling) = (
        common::failing_on("worker", &fail),
        counted_ready("sibling", &sibling_runs),
    );
    let (handle, mut events, run) = start_until(
        tree(&[worker.clone(), sibling.clone()]),
        &[("root/sibling", is_ready), ("root/worker", is_running)],
    )
    .await;
    let new = ProcessManager::builder("root")
        .strategy(Strategy::OneForAll)
        .child(worker)
        .child(sibling)
        .build()
        .unwrap();
    let report = handle.reconfigure("root", new).await.unwrap();
    assert_eq!(names(&report.unchanged), ["root/worker", "root/sibling"]);
    fail.notify_one();
    event_of(&mut events, "root/sibling", is_exited).await;
    event_of(&mut events, "root/sibling", is_ready).await;
    assert_eq!(
        sibling_runs.load(Ordering::SeqCst),
        2,
        "one for all: the sibling was restarted with the worker"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_changed_child_that_was_stopped_by_a_command_stays_stopped() {
    let log = Log::default();
    let (handle, mut events, run) = start_until(
        tree(&[logged("a", &log), common::ready_waiter("other")]),
        &[("root/a", is_running), ("root/other", is_ready)],
    )
    .await;
    handle.stop("root/a").await.unwrap();
    let report = handle
        .reconfigure(
            "root",
            tree(&[logged("a", &log), common::ready_waiter("other")]),
        )
        .await
        .unwrap();
    assert_eq!(names(&report.restarted), ["root/a", "root/other"]);
    event_of(&mut events, "root/other", is_ready).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(common::state_of(&snap, "root/a"), Some(ChildState::Stopped));
    assert_eq!(log.with_prefix("start:a").len(), 1);
    // Started by hand, it runs its new spec.
    handle.restart("root/a").await.unwrap();
    event_of(&mut events, "root/a", is_running).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_refused_reconfiguration_changes_nothing() {
    let log = Log::default();
    let (handle, _events, run) = start_until(
        tree(&[
            logged("a", &log),
            ChildSpec::new("sub", common::idle_pool("sub")),
        ]),
        &[("root/a", is_running), ("root/sub/idle", is_running)],
    )
    .await;
    let before = handle.snapshot().await.unwrap();

    let other_name = ProcessManager::builder("elsewhere").build().unwrap();
    let err = handle.reconfigure("root", other_name).await.unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::Spec(SpecError::ManagerNameMismatch { .. })
        ),
        "{err:?}"
    );
    let err = handle
        .reconfigure(
            "root/nope",
            ProcessManager::builder("nope").build().unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ControlError::NotFound {
            path: "root/nope".into()
        }
    );
    let err = handle
        .reconfigure("root/a", ProcessManager::builder("a").build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ControlError::NotAManager {
            path: "root/a".into()
        }
    );

    let after = handle.snapshot().await.unwrap();
    let shape = |s: &overseer::Snapshot| -> Vec<_> {
        s.iter().map(|n| (n.path.to_string(), n.state)).collect()
    };
    assert_eq!(shape(&before), shape(&after));
    assert_eq!(log.entries(), ["start:a"], "nothing was stopped or started");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[cfg(all(feature = "process", unix))]
#[tokio::test]
async fn a_process_child_declared_again_with_the_same_settings_keeps_running_untouched() {
    use overseer::process::Command;
    let sleeper = || Command::new("sleep").arg("1000").into_spec("sleeper");
    let (handle, _events, run) =
        // Ready once spawned, its pid known.
        start_until(tree(&[sleeper()]), &[("root/sleeper", is_ready)]).await;
    let pid = |snap: &overseer::Snapshot| snap.find("root/sleeper").and_then(|n| n.pid);
    let before = pid(&handle.snapshot().await.unwrap());
    assert!(before.is_some());

    let report = handle
        .reconfigure("root", tree(&[sleeper()]))
        .await
        .unwrap();
    assert_eq!(names(&report.unchanged), ["root/sleeper"]);
    assert_eq!(
        pid(&handle.snapshot().await.unwrap()),
        before,
        "the same process"
    );

    let longer = Command::new("sleep").arg("2000").into_spec("sleeper");
    let report = handle.reconfigure("root", tree(&[longer])).await.unwrap();
    assert_eq!(names(&report.restarted), ["root/sleeper"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[cfg(feature = "health")]
#[tokio::test]
async fn a_child_whose_probe_is_declared_again_the_same_keeps_running_and_another_probe_restarts_it()
 {
    use overseer::health::Probe;
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = runs.clone();
    // The child's runnable shared, as a `Command` with the same settings would be; its probe
    // built again from scratch, as a config file read again does.
    let task: Arc<dyn overseer::Runnable> = Arc::new(overseer::task(move |ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        }
    }));
    let with_probe = |addr: &str| {
        ChildSpec::from_arc("svc", task.clone()).liveness(Probe::tcp(addr).failure_threshold(1_000))
    };
    let (handle, mut events, run) = start_until(
        tree(&[with_probe("127.0.0.1:9")]),
        &[("root/svc", is_ready)],
    )
    .await;
    let report = handle
        .reconfigure("root", tree(&[with_probe("127.0.0.1:9")]))
        .await
        .unwrap();
    assert_eq!(names(&report.unchanged), ["root/svc"]);
    let report = handle
        .reconfigure("root", tree(&[with_probe("127.0.0.1:10")]))
        .await
        .unwrap();
    assert_eq!(names(&report.restarted), ["root/svc"]);
    event_of(&mut events, "root/svc", is_exited).await;
    event_of(&mut events, "root/svc", is_ready).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
