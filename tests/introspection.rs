//! Lifecycle events and snapshots (tracing spans: `tracing.rs`).

mod common;

use std::time::Duration;

use overseer::builtin::Idle;
use overseer::{ChildKind, ChildSpec, ChildState, EventKind, ExitStatus, ProcessManager, Restart};

#[tokio::test(start_paused = true)]
async fn the_event_stream_reports_every_step_of_a_childs_life() {
    let tree = ProcessManager::builder("root")
        .intensity(5, Duration::from_secs(60))
        .backoff(overseer::Backoff::fixed(Duration::from_secs(2)))
        .child(ChildSpec::task("w", |ctx| async move {
            ctx.ready();
            if ctx.restarts() == 0 {
                return Err("oops".into());
            }
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    let mut seen = Vec::new();
    loop {
        let ev = events.recv().await.unwrap();
        assert_eq!(ev.path, "root/w");
        let done = matches!(ev.kind, EventKind::Ready) && seen.len() > 4;
        seen.push(ev.kind);
        if done {
            break;
        }
    }
    handle.shutdown().unwrap();
    loop {
        let ev = events.recv().await.unwrap();
        if ev.path != "root/w" {
            // The root's own news (ready, shutting down): see the test below.
            continue;
        }
        let stopped = matches!(ev.kind, EventKind::Stopped);
        seen.push(ev.kind);
        if stopped {
            break;
        }
    }
    run.await.unwrap().unwrap();
    let names: Vec<String> = seen
        .iter()
        .map(|k| match k {
            EventKind::Starting => "starting".into(),
            EventKind::Running => "running".into(),
            EventKind::Ready => "ready".into(),
            EventKind::Exited { status } => format!("exited {status}"),
            EventKind::Restarting { delay, restarts } => {
                format!("restarting {delay:?} #{restarts}")
            }
            EventKind::Stopped => "stopped".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "starting",
            "running",
            "ready",
            "exited failed: oops",
            "restarting 2s #1",
            "starting",
            "running",
            "ready",
            "exited completed",
            "stopped",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_manager_that_gives_up_says_so_in_the_event_stream() {
    let tree = ProcessManager::builder("root")
        .intensity(0, Duration::from_secs(1))
        .task("w", |ctx| async move {
            ctx.started();
            Err("no".into())
        })
        .build()
        .unwrap();
    let mut events = tree.handle().events();
    let err = tree.run().await.unwrap_err();
    let gave_up =
        common::next_event(&mut events, |e| matches!(e.kind, EventKind::GaveUp { .. })).await;
    assert_eq!(gave_up.path, "root");
    assert_eq!(err.path(), &"root");
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_shows_the_whole_tree() {
    let sub = ProcessManager::builder("sub")
        .task("leaf", |ctx| async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        })
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .backoff(overseer::Backoff::none())
        .child(ChildSpec::new("sub", sub))
        .child(ChildSpec::task("once", |_| async { Ok(()) }).restart(Restart::Transient))
        .task("flaky", |ctx| async move {
            // Up and running: its failure is a crash, restarted, not a failed start.
            ctx.started();
            if ctx.restarts() == 0 {
                return Err("first".into());
            }
            ctx.shutdown_requested().await;
            Ok(())
        })
        .build()
        .unwrap();
    let (handle, _events, run) = common::start_until(
        tree,
        &[
            ("root/sub", common::is_ready),
            ("root/once", common::is_stopped),
            ("root/flaky", |k| matches!(k, EventKind::Restarting { .. })),
        ],
    )
    .await;
    // With no backoff, the restart follows the Restarting event at once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let snap = handle.snapshot().await.unwrap();
    let rows: Vec<(String, ChildKind, ChildState, u32)> = snap
        .iter()
        .map(|n| (n.path.to_string(), n.kind, n.state, n.restarts))
        .collect();
    assert_eq!(
        rows,
        [
            ("root".into(), ChildKind::Manager, ChildState::Running, 0),
            ("root/sub".into(), ChildKind::Manager, ChildState::Ready, 0),
            (
                "root/sub/leaf".into(),
                ChildKind::Task,
                ChildState::Ready,
                0
            ),
            ("root/once".into(), ChildKind::Task, ChildState::Exited, 0),
            ("root/flaky".into(), ChildKind::Task, ChildState::Running, 1),
        ]
    );
    let flaky = snap.find("root/flaky").unwrap();
    assert_eq!(flaky.uptime, Some(Duration::from_secs(3)));
    assert!(matches!(&flaky.last_exit, Some(ExitStatus::Failed(e)) if e.to_string() == "first"));
    assert!(matches!(
        snap.find("root/once").unwrap().last_exit,
        Some(ExitStatus::Completed)
    ));
    assert_eq!(snap.find("root/once").unwrap().uptime, None);
    assert!(snap.iter().all(|n| n.pid.is_none()));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_root_announces_when_every_child_is_ready_and_when_its_shutdown_begins() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("a", |ctx| async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .child(ChildSpec::task("b", |ctx| async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    let mut seen = Vec::new();
    while let Some(ev) = events.recv().await {
        let root_ready = ev.path == "root" && matches!(ev.kind, EventKind::Ready);
        seen.push((ev.path.to_string(), format!("{:?}", ev.kind)));
        if root_ready {
            break;
        }
    }
    let ready = |p: &str| seen.iter().position(|(path, k)| path == p && k == "Ready");
    assert!(
        ready("root").unwrap() > ready("root/a").unwrap(),
        "{seen:?}"
    );
    assert!(
        ready("root").unwrap() > ready("root/b").unwrap(),
        "{seen:?}"
    );
    handle.shutdown().unwrap();
    let mut after = Vec::new();
    while let Some(ev) = events.recv().await {
        after.push((ev.path.to_string(), format!("{:?}", ev.kind)));
    }
    run.await.unwrap().unwrap();
    assert_eq!(
        after.first(),
        Some(&("root".to_owned(), "ShuttingDown".to_owned())),
        "before any child is asked to stop: {after:?}"
    );
    assert_eq!(
        after.iter().filter(|(_, k)| k == "ShuttingDown").count(),
        1,
        "{after:?}"
    );
}

#[tokio::test]
async fn the_event_stream_ends_after_the_last_event_of_its_managers_run() {
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(ChildSpec::task("once", |_ctx| async { Ok(()) }).restart(Restart::Temporary))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    tree.run().await.unwrap();
    let mut kinds = Vec::new();
    while let Some(ev) = events.recv().await {
        kinds.push(ev.kind);
    }
    assert!(
        matches!(
            kinds[kinds.len() - 2..],
            [EventKind::Stopped, EventKind::Removed]
        ),
        "a temporary child is removed once stopped: {kinds:?}"
    );
    // Ended for good, although the handle (and so the manager) is still alive.
    assert!(events.recv().await.is_none());
    drop(handle);
}

#[tokio::test(start_paused = true)]
async fn a_subscription_taken_after_the_run_has_ended_ends_at_once() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("w", |ctx| async move {
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    let mut late = handle.events();
    assert!(late.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_events_of_a_start_are_delivered_within_a_timer_tick_even_if_nothing_else_happens() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("w", Idle))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    // The child never reports anything: only the manager's flush timer can deliver these.
    let starting =
        common::event_of(&mut events, "root/w", |k| matches!(k, EventKind::Starting)).await;
    let running = common::event_of(&mut events, "root/w", common::is_running).await;
    assert!(starting.at <= running.at, "in the order they happened");
    let lag = tokio::time::Instant::now() - running.at;
    assert!(lag <= Duration::from_millis(2), "delivered {lag:?} late");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_managers_events_follow_the_events_of_its_parent_that_started_it() {
    for _ in 0..20 {
        let sub = ProcessManager::builder("sub")
            .child(ChildSpec::new("leaf", Idle))
            .build()
            .unwrap();
        let tree = ProcessManager::builder("root")
            .child(ChildSpec::new("sub", sub))
            .build()
            .unwrap();
        let (handle, mut events, run) = common::start(tree);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let ev = events.recv().await.unwrap();
            if matches!(ev.kind, EventKind::Starting | EventKind::Running) {
                seen.push(format!("{} {:?}", ev.path, ev.kind));
            }
        }
        assert_eq!(
            seen,
            [
                "root/sub Starting",
                "root/sub Running",
                "root/sub/leaf Starting",
                "root/sub/leaf Running"
            ]
        );
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn an_event_subscription_read_in_a_select_that_keeps_cancelling_it_loses_no_event() {
    let sub = ProcessManager::builder("sub")
        .child(common::ready_waiter("leaf"))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("sub", sub))
        .task("flaky", |ctx| async move {
            // Up and running: its failure is a crash, restarted, not a failed start.
            ctx.started();
            if ctx.restarts() == 0 {
                return Err("first".into());
            }
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        })
        .build()
        .unwrap();
    let mut raced = tree.handle().events();
    let (handle, mut plain, run) = common::start(tree);
    let describe = |e: &overseer::Event| format!("{} {:?}", e.path, e.kind);
    // One reader awaits each event; it shuts the tree down once everything has started.
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut ready = 0;
        while let Some(ev) = plain.recv().await {
            if matches!(ev.kind, EventKind::Ready) && ev.path != "root/sub" {
                ready += 1;
                if ready == 2 {
                    handle.shutdown().unwrap();
                }
            }
            seen.push(describe(&ev));
        }
        seen
    });
    // The other drops its pending `recv` every time the yield is ready first.
    let (mut seen, mut cancelled) = (Vec::new(), 0);
    loop {
        tokio::select! {
            biased;
            _ = tokio::task::yield_now() => cancelled += 1,
            ev = raced.recv() => match ev {
                Some(ev) => seen.push(describe(&ev)),
                None => break,
            },
        }
    }
    run.await.unwrap().unwrap();
    assert!(cancelled > 0, "the select never dropped a pending recv");
    assert_eq!(raced.missed(), 0);
    assert_eq!(seen, reader.await.unwrap());
}

/// Events seen at `path` so far, without waiting (what was published before now).
fn published_at(events: &mut overseer::Events, path: &str) -> Vec<String> {
    use futures_util::FutureExt;
    let mut seen = Vec::new();
    while let Some(Some(ev)) = events.recv().now_or_never() {
        if ev.path == path {
            seen.push(format!("{:?}", ev.kind));
        }
    }
    seen
}

#[tokio::test]
async fn a_reload_of_the_whole_tree_is_announced_and_its_end_published_before_the_sender_hears() {
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("a"))
        .child(ChildSpec::new(
            "pool",
            ProcessManager::builder("pool")
                .child(common::ready_waiter("b"))
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start_until(tree, &[("root", common::is_ready)]).await;
    handle.broadcast(overseer::Control::Reload).await.unwrap();
    assert_eq!(
        published_at(&mut events, "root"),
        ["Reloading", "Reloaded"],
        "both published by the time the broadcast is answered"
    );
    handle
        .send("root/pool", overseer::Control::Reload)
        .await
        .unwrap();
    assert_eq!(
        published_at(&mut events, "root/pool"),
        ["Reloading", "Reloaded"],
        "a reload of a subtree is announced at its manager's path"
    );
    handle
        .send("root/a", overseer::Control::Reload)
        .await
        .unwrap();
    assert!(
        published_at(&mut events, "root").is_empty(),
        "a reload of one child is not a reload of the tree"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_reconfiguration_is_announced_as_a_reload_of_its_manager() {
    let build = |ids: &[&str]| {
        let mut b = ProcessManager::builder("root");
        for id in ids {
            b = b.child(common::ready_waiter(id));
        }
        b.build().unwrap()
    };
    let (handle, mut events, run) =
        common::start_until(build(&["a"]), &[("root", common::is_ready)]).await;
    handle
        .reconfigure("root", build(&["a", "b"]))
        .await
        .unwrap();
    let kinds: Vec<String> = {
        let mut kinds = Vec::new();
        while kinds.last().map(String::as_str) != Some("Reloaded") {
            let ev = events.recv().await.unwrap();
            if ev.path == "root" {
                kinds.push(format!("{:?}", ev.kind));
            }
        }
        kinds
    };
    assert_eq!(kinds, ["Reloading", "Reloaded"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_by_every_manager_and_never_while_one_is_wedged() {
    let (wedge, lever) = common::Wedge::new();
    let pool = ProcessManager::builder("pool")
        .child(ChildSpec::new("wedge", wedge))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("pool", pool))
        .build()
        .unwrap();
    let (handle, _events, run) = common::start(tree);
    common::wait_for_state(&handle, "root/pool/wedge", ChildState::Ready).await;
    handle.ping().await.expect("every manager answers");

    lever.wedge(&handle).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), handle.ping())
            .await
            .is_err(),
        "the nested manager's loop is blocked: the ping cannot be answered"
    );

    lever.release();
    handle
        .ping()
        .await
        .expect("answered again once the loop runs");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_ping_of_a_manager_whose_run_has_ended_is_refused() {
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("a"))
        .build()
        .unwrap();
    let (handle, _events, run) = common::start(tree);
    handle.ping().await.unwrap();
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert!(matches!(
        handle.ping().await,
        Err(overseer::ControlError::NotRunning { .. })
    ));
}

#[tokio::test]
async fn a_removed_child_is_announced_as_removed_after_its_stop() {
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("a"))
        .child(common::ready_waiter("b"))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start_until(tree, &[("root", common::is_ready)]).await;
    handle.remove("root/b").await.unwrap();
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("Removed") {
        let ev = events.recv().await.unwrap();
        if ev.path == "root/b" {
            seen.push(format!("{:?}", ev.kind));
        }
    }
    assert_eq!(
        seen[seen.len() - 2..],
        ["Stopped".to_owned(), "Removed".to_owned()]
    );
    assert!(handle.snapshot().await.unwrap().find("root/b").is_none());
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
