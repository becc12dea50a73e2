//! Adding, stopping, restarting and removing children at runtime.

mod common;

use common::{alive_tasks, state_of};
use overseer::{
    ChildSpec, ChildState, ControlError, Handle, ProcessManager, Restart, Snapshot, SpecError,
    builtin::Idle,
};

fn waiter() -> ChildSpec {
    common::ready_waiter("w")
}

/// `root{idle, pool{idle}}`, running.
async fn running() -> (
    Handle,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
) {
    let (handle, _, run) = common::pool_tree().await;
    (handle, run)
}

fn shape(s: &Snapshot) -> Vec<(String, ChildState)> {
    s.iter().map(|n| (n.path.to_string(), n.state)).collect()
}

#[tokio::test]
async fn a_handle_adds_a_child_while_the_tree_runs() {
    let baseline = alive_tasks();
    let (handle, run) = running().await;
    let mut events = handle.events();
    let path = handle.add(waiter().with_id("w1")).await.unwrap();
    assert_eq!(path, "root/w1");
    common::event_of(&mut events, "root/w1", common::is_ready).await;
    let path = handle
        .add_child("root/pool", waiter().with_id("w2"))
        .await
        .unwrap();
    assert_eq!(path, "root/pool/w2");
    common::event_of(&mut events, "root/pool/w2", common::is_ready).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn adding_the_id_of_a_running_child_is_refused_as_already_started_and_changes_nothing() {
    let (handle, run) = running().await;
    let before = shape(&handle.snapshot().await.unwrap());
    let err = handle
        .add_child("root/pool", waiter().with_id("idle"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ControlError::AlreadyStarted {
            path: "root/pool/idle".into()
        }
    );
    assert_eq!(shape(&handle.snapshot().await.unwrap()), before);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn adding_the_id_of_a_stopped_child_is_refused_as_already_present_and_changes_nothing() {
    let (handle, run) = running().await;
    handle.stop("root/pool/idle").await.unwrap();
    let before = shape(&handle.snapshot().await.unwrap());
    let err = handle
        .add_child("root/pool", waiter().with_id("idle"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ControlError::AlreadyPresent {
            path: "root/pool/idle".into()
        }
    );
    assert_eq!(shape(&handle.snapshot().await.unwrap()), before);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unknown_path_is_refused_and_changes_nothing() {
    let (handle, run) = running().await;
    let before = shape(&handle.snapshot().await.unwrap());
    let unknown = |e: &ControlError| matches!(e, ControlError::NotFound { .. });
    assert!(unknown(
        &handle.add_child("root/nope", waiter()).await.unwrap_err()
    ));
    assert!(unknown(&handle.stop("root/pool/nope").await.unwrap_err()));
    assert!(unknown(&handle.restart("other/x").await.unwrap_err()));
    assert!(unknown(&handle.remove("root/nope").await.unwrap_err()));
    let err = handle.add_child("root/idle", waiter()).await.unwrap_err();
    assert!(matches!(err, ControlError::NotAManager { .. }), "{err}");
    let err = handle.add(waiter().with_id("a/b")).await.unwrap_err();
    assert!(
        matches!(err, ControlError::Spec(SpecError::IdContainsSlash { .. })),
        "{err}"
    );
    assert_eq!(shape(&handle.snapshot().await.unwrap()), before);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_handle_stops_restarts_and_removes_a_child() {
    let (handle, run) = running().await;
    let mut events = handle.events();
    handle.add_child("root/pool", waiter()).await.unwrap();
    common::event_of(&mut events, "root/pool/w", common::is_ready).await;

    handle.stop("root/pool/w").await.unwrap();
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/pool/w").unwrap().state, ChildState::Stopped);

    handle.restart("root/pool/w").await.unwrap();
    common::event_of(&mut events, "root/pool/w", common::is_ready).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/pool/w").unwrap().state, ChildState::Ready);
    assert_eq!(snap.find("root/pool/w").unwrap().restarts, 1);

    handle.restart("root/pool/w").await.unwrap();
    common::event_of(&mut events, "root/pool/w", common::is_ready).await;
    assert_eq!(
        handle
            .snapshot()
            .await
            .unwrap()
            .find("root/pool/w")
            .unwrap()
            .restarts,
        2
    );

    handle.remove("root/pool/w").await.unwrap();
    assert!(
        handle
            .snapshot()
            .await
            .unwrap()
            .find("root/pool/w")
            .is_none()
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_removed_id_can_be_added_again() {
    let (handle, run) = running().await;
    handle.add(waiter()).await.unwrap();
    handle.remove("root/w").await.unwrap();
    handle.add(waiter()).await.unwrap();
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn temporary_children_that_finished_are_cleaned_up() {
    let (handle, run) = running().await;
    let mut events = handle.events();
    for i in 0..100 {
        let spec =
            ChildSpec::task(format!("job-{i}"), |_| async { Ok(()) }).restart(Restart::Temporary);
        handle.add_child("root/pool", spec).await.unwrap();
    }
    for i in 0..100 {
        common::event_of(
            &mut events,
            &format!("root/pool/job-{i}"),
            common::is_stopped,
        )
        .await;
    }
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.find("root/pool").unwrap().children.len(),
        1,
        "only idle is left"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn adding_during_a_shutdown_is_refused() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("slow", |ctx| async move {
            ctx.shutdown_requested().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(())
        }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/slow", common::is_running).await;
    handle.shutdown().unwrap();
    let err = handle.add(waiter()).await.unwrap_err();
    assert_eq!(
        err,
        ControlError::ShuttingDown {
            path: "root".into()
        }
    );
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_brutal_stop_of_a_child_whose_task_never_ran_still_completes() {
    let baseline = alive_tasks();
    let (handle, run) = running().await;
    let never_polled = ChildSpec::task("b", |ctx| async move {
        ctx.shutdown_requested().await;
        Ok(())
    })
    .shutdown(overseer::Shutdown::Brutal);
    // Both commands reach the manager in one poll of the join: on this current-thread
    // runtime it adds the child and aborts its task before that task is ever polled.
    let (added, stopped) = tokio::join!(handle.add(never_polled), handle.stop("root/b"));
    assert_eq!(added.unwrap(), "root/b");
    stopped.unwrap();
    let snapshot = handle.snapshot().await.unwrap();
    let b = snapshot.iter().find(|n| n.path == "root/b").unwrap();
    assert_eq!(b.state, ChildState::Stopped);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_child_added_after_a_removal_comes_last_in_declared_order_though_it_reuses_the_slot() {
    let (handle, run) = running().await;
    handle.add(waiter().with_id("a")).await.unwrap();
    handle.add(waiter().with_id("b")).await.unwrap();
    handle.remove("root/a").await.unwrap();
    handle.add(waiter().with_id("c")).await.unwrap();
    let order: Vec<String> = handle
        .snapshot()
        .await
        .unwrap()
        .iter()
        .filter(|n| n.path.as_str().matches('/').count() == 1)
        .map(|n| n.path.to_string())
        .collect();
    assert_eq!(order, ["root/idle", "root/pool", "root/b", "root/c"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_nested_manager_aborted_by_its_parent_runs_again_when_restarted() {
    let pool = common::idle_pool("pool");
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("pool", pool).shutdown(overseer::Shutdown::Brutal))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    let idle_runs = async |events: &mut overseer::Events| {
        common::event_of(events, "root/pool/idle", common::is_running).await;
    };
    idle_runs(&mut events).await;
    // `Brutal`: the pool's task is aborted, not asked; its next run must still start.
    handle.restart("root/pool").await.unwrap();
    idle_runs(&mut events).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_sent_right_after_a_nested_manager_restarts_waits_for_its_new_run() {
    let pool = common::idle_pool("pool");
    let tree = ProcessManager::builder("root")
        .intensity(1000, std::time::Duration::from_secs(1))
        .child(ChildSpec::new("pool", pool))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    for i in 0..50 {
        handle.restart("root/pool").await.unwrap();
        // The parent shows the pool running as soon as it spawned its new run; a command sent
        // now must reach that run, not be refused as if the pool were between runs.
        handle
            .add_child("root/pool", ChildSpec::new(format!("extra{i}"), Idle))
            .await
            .unwrap_or_else(|e| panic!("round {i}: {e}"));
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

/// A tree with `x`, which takes 1 s to stop once asked, and an idle sibling.
async fn with_a_slow_stopper() -> (
    Handle,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
) {
    let x = ChildSpec::task("x", |ctx| async move {
        ctx.shutdown_requested().await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Ok(())
    });
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .child(x)
        .build()
        .unwrap();
    let (handle, _, run) = common::start_until(tree, &[("root/x", common::is_running)]).await;
    (handle, run)
}

#[derive(Clone, Copy)]
enum Cmd {
    Stop,
    Restart,
    Remove,
}

async fn send_to_x(handle: Handle, cmd: Cmd) -> Result<(), ControlError> {
    match cmd {
        Cmd::Stop => handle.stop("root/x").await,
        Cmd::Restart => handle.restart("root/x").await,
        Cmd::Remove => handle.remove("root/x").await,
    }
}

/// Sends `first` and then, while `x` is still stopping, `second`; both must be answered `Ok`.
async fn two_commands_to_x(handle: &Handle, first: Cmd, second: Cmd) {
    let first = tokio::spawn(send_to_x(handle.clone(), first));
    // Once the first command has reached `x`, it is stopping (its stop takes 1 s).
    common::wait_for_state(handle, "root/x", ChildState::Stopping).await;
    let second = tokio::spawn(send_to_x(handle.clone(), second));
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stop_asked_while_a_restart_is_under_way_keeps_the_child_stopped() {
    let (handle, run) = with_a_slow_stopper().await;
    two_commands_to_x(&handle, Cmd::Restart, Cmd::Stop).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(state_of(&snap, "root/x"), Some(ChildState::Stopped));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_restart_asked_while_a_stop_is_under_way_starts_the_child_again() {
    let (handle, run) = with_a_slow_stopper().await;
    two_commands_to_x(&handle, Cmd::Stop, Cmd::Restart).await;
    let snap = handle.snapshot().await.unwrap();
    assert!(
        matches!(
            state_of(&snap, "root/x"),
            Some(ChildState::Running | ChildState::Ready)
        ),
        "{:?}",
        state_of(&snap, "root/x")
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_removal_is_final_even_if_a_restart_is_asked_while_it_is_under_way() {
    let (handle, run) = with_a_slow_stopper().await;
    two_commands_to_x(&handle, Cmd::Remove, Cmd::Restart).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(state_of(&snap, "root/x"), None);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn stopping_a_managers_only_child_leaves_the_manager_running_so_it_can_be_restarted() {
    let tree = ProcessManager::builder("root")
        .child(waiter())
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/w", common::is_ready).await;
    handle.stop("root/w").await.unwrap();
    assert_eq!(
        state_of(&handle.snapshot().await.unwrap(), "root/w"),
        Some(ChildState::Stopped)
    );
    // Stopped, still declared: it starts again.
    handle.restart("root/w").await.unwrap();
    common::event_of(&mut events, "root/w", common::is_ready).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn concurrent_restarts_of_one_child_coalesce_and_the_snapshot_counts_the_restarts_that_happened()
 {
    let starts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = starts.clone();
    let child = ChildSpec::task("c", move |ctx| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        }
    });
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .child(child)
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/c", common::is_ready).await;
    let restarts = (0..20).map(|_| {
        let handle = handle.clone();
        async move { handle.restart("root/c").await }
    });
    for result in futures_util::future::join_all(restarts).await {
        result.unwrap();
    }
    let snap = handle.snapshot().await.unwrap();
    let runs = starts.load(std::sync::atomic::Ordering::SeqCst);
    assert!(runs < 20, "the requests coalesced: {runs} runs");
    assert_eq!(snap.find("root/c").unwrap().restarts, runs - 1);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
