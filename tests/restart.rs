//! Restart policies × strategies, with OTP's meanings.

mod common;

use std::time::Duration;

use common::{Log, alive_tasks};
use overseer::{ChildSpec, EventKind, Events, ProcessManager, Restart, Strategy};

/// A child that logs `start:<id>:<restarts>`; fails on its first run when `fail_first`;
/// completes on its first run that does not fail when `complete`; otherwise runs until asked
/// to stop, logging `stop:<id>`.
fn child(id: &str, log: &Log, restart: Restart, fail_first: bool, complete: bool) -> ChildSpec {
    let (name, log) = (id.to_string(), log.clone());
    ChildSpec::task(id, move |ctx| {
        let (name, log) = (name.clone(), log.clone());
        async move {
            // Up and running: a failure now is a crash, restarted, not a failed start.
            ctx.started();
            log.push(format!("start:{name}:{}", ctx.restarts()));
            if fail_first && ctx.restarts() == 0 {
                return Err("first run fails".into());
            }
            let first_good_run = u32::from(fail_first);
            if complete && ctx.restarts() == first_good_run {
                return Ok(());
            }
            ctx.shutdown_requested().await;
            log.push(format!("stop:{name}"));
            Ok(())
        }
    })
    .restart(restart)
}

/// A tree whose children restart at once (these tests are about who restarts, not when).
fn tree(strategy: Strategy, children: Vec<ChildSpec>) -> ProcessManager {
    ProcessManager::builder("root")
        .strategy(strategy)
        .intensity(10, Duration::from_secs(1))
        .backoff(overseer::Backoff::none())
        .children(children)
        .build()
        .unwrap()
}

/// Waits until each `(path, n)` has had `n` Running events.
async fn runs(events: &mut Events, targets: &[(&str, usize)]) {
    let mut seen = vec![0; targets.len()];
    while seen.iter().zip(targets).any(|(s, (_, n))| s < n) {
        let ev = common::next_event(events, |e| matches!(e.kind, EventKind::Running)).await;
        if let Some(i) = targets.iter().position(|(p, _)| ev.path == *p) {
            seen[i] += 1;
        }
    }
}

async fn run_until(tree: ProcessManager, until: impl AsyncFnOnce(&mut Events)) {
    let baseline = alive_tasks();
    let (handle, mut events, run) = common::start(tree);
    until(&mut events).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_permanent_child_is_restarted_after_it_completes_and_after_it_fails() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            child("fails", &log, Restart::Permanent, true, false),
            child("completes", &log, Restart::Permanent, false, true),
        ],
    );
    run_until(t, async |ev| {
        runs(ev, &[("root/fails", 2), ("root/completes", 2)]).await;
    })
    .await;
    assert_eq!(
        log.with_prefix("start:fails"),
        ["start:fails:0", "start:fails:1"]
    );
    assert_eq!(
        log.with_prefix("start:completes"),
        ["start:completes:0", "start:completes:1"]
    );
}

#[tokio::test]
async fn a_transient_child_is_restarted_after_a_failure_but_not_after_completing() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            child("t", &log, Restart::Transient, true, true),
            child("keep", &log, Restart::Permanent, false, false),
        ],
    );
    let handle = t.handle();
    run_until(t, async |ev| {
        common::event_of(ev, "root/t", common::is_stopped).await;
        let snap = handle.snapshot().await.unwrap();
        assert_eq!(
            snap.find("root/t").unwrap().state,
            overseer::ChildState::Exited
        );
        assert_eq!(snap.find("root/t").unwrap().restarts, 1);
    })
    .await;
    assert_eq!(log.with_prefix("start:t"), ["start:t:0", "start:t:1"]);
}

#[tokio::test]
async fn a_temporary_child_is_never_restarted_and_is_removed_when_it_completes() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            child("once", &log, Restart::Temporary, false, true),
            child("keep", &log, Restart::Permanent, false, false),
        ],
    );
    let handle = t.handle();
    run_until(t, async |ev| {
        common::event_of(ev, "root/once", common::is_stopped).await;
        let snap = handle.snapshot().await.unwrap();
        assert!(snap.find("root/once").is_none());
    })
    .await;
    assert_eq!(log.with_prefix("start:once"), ["start:once:0"]);
}

#[tokio::test]
async fn a_temporary_child_whose_failure_does_not_escalate_stays_exited_with_it_and_the_rest_runs_on()
 {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            child("optional", &log, Restart::Temporary, true, false).escalates(false),
            child("keep", &log, Restart::Permanent, false, false),
        ],
    );
    let handle = t.handle();
    run_until(t, async |ev| {
        common::event_of(ev, "root/optional", common::is_stopped).await;
        let snap = handle.snapshot().await.unwrap();
        let optional = snap.find("root/optional").expect("kept");
        assert_eq!(optional.state, overseer::ChildState::Exited);
        assert!(
            optional.last_exit.as_ref().is_some_and(|e| !e.is_success()),
            "{:?}",
            optional.last_exit
        );
        assert_eq!(
            snap.find("root/keep").unwrap().state,
            overseer::ChildState::Running
        );
    })
    .await;
    assert_eq!(log.with_prefix("start:optional"), ["start:optional:0"]);
    assert_eq!(log.with_prefix("stop:keep"), ["stop:keep"]);
}

#[tokio::test]
async fn a_child_that_does_not_escalate_ends_alone_at_its_own_restart_limit() {
    let crashing = ChildSpec::task("crashing", |ctx| async move {
        ctx.started();
        Err("crash".into())
    })
    .intensity(2, Duration::from_secs(60))
    .escalates(false);
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            crashing,
            child("keep", &log, Restart::Permanent, false, false),
        ],
    );
    let handle = t.handle();
    run_until(t, async |ev| {
        common::event_of(ev, "root/crashing", common::is_stopped).await;
        let snap = handle.snapshot().await.unwrap();
        let crashing = snap.find("root/crashing").unwrap();
        assert_eq!(crashing.state, overseer::ChildState::Exited);
        assert_eq!(crashing.restarts, 2);
        assert_eq!(
            snap.find("root/keep").unwrap().state,
            overseer::ChildState::Running
        );
    })
    .await;
}

#[tokio::test]
async fn one_for_one_restarts_only_the_child_that_exited() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![
            child("a", &log, Restart::Permanent, false, false),
            child("b", &log, Restart::Permanent, true, false),
            child("c", &log, Restart::Permanent, false, false),
        ],
    );
    run_until(t, async |ev| runs(ev, &[("root/b", 2)]).await).await;
    let starts = log.with_prefix("start:");
    assert_eq!(starts, ["start:a:0", "start:b:0", "start:c:0", "start:b:1"]);
}

#[tokio::test]
async fn one_for_all_stops_the_others_in_reverse_order_and_starts_all_in_order() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForAll,
        vec![
            child("a", &log, Restart::Permanent, false, false),
            child("b", &log, Restart::Permanent, true, false),
            child("c", &log, Restart::Permanent, false, false),
        ],
    );
    run_until(t, async |ev| {
        runs(ev, &[("root/a", 2), ("root/b", 2), ("root/c", 2)]).await;
    })
    .await;
    let entries = log.entries();
    let restart_part: Vec<&str> = entries[3..8].iter().map(String::as_str).collect();
    assert_eq!(
        restart_part,
        ["stop:c", "stop:a", "start:a:1", "start:b:1", "start:c:1"]
    );
}

#[tokio::test]
async fn rest_for_one_restarts_the_child_and_those_declared_after_it() {
    let log = Log::default();
    let t = tree(
        Strategy::RestForOne,
        vec![
            child("a", &log, Restart::Permanent, false, false),
            child("b", &log, Restart::Permanent, true, false),
            child("c", &log, Restart::Permanent, false, false),
            child("d", &log, Restart::Permanent, false, false),
        ],
    );
    run_until(t, async |ev| {
        runs(ev, &[("root/b", 2), ("root/c", 2), ("root/d", 2)]).await;
    })
    .await;
    let entries = log.entries();
    let restart_part: Vec<&str> = entries[4..9].iter().map(String::as_str).collect();
    assert_eq!(
        restart_part,
        ["stop:d", "stop:c", "start:b:1", "start:c:1", "start:d:1"]
    );
    assert_eq!(log.with_prefix("start:a"), ["start:a:0"]);
}

#[tokio::test]
async fn a_temporary_child_stopped_as_a_bystander_of_a_group_restart_is_not_restarted() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForAll,
        vec![
            child("temp", &log, Restart::Temporary, false, false),
            child("b", &log, Restart::Permanent, true, false),
        ],
    );
    let handle = t.handle();
    run_until(t, async |ev| {
        runs(ev, &[("root/b", 2)]).await;
        let snap = handle.snapshot().await.unwrap();
        assert!(
            snap.find("root/temp").is_none(),
            "the temporary bystander is gone"
        );
    })
    .await;
    assert_eq!(log.with_prefix("start:temp"), ["start:temp:0"]);
    assert_eq!(log.with_prefix("stop:temp"), ["stop:temp"]);
}

#[tokio::test]
async fn a_restart_emits_restarting_and_gives_a_fresh_context() {
    let log = Log::default();
    let t = tree(
        Strategy::OneForOne,
        vec![child("b", &log, Restart::Permanent, true, false)],
    );
    run_until(t, async |ev| {
        let e = common::event_of(ev, "root/b", |k| matches!(k, EventKind::Restarting { .. })).await;
        assert!(matches!(e.kind, EventKind::Restarting { restarts: 1, delay } if delay.is_zero()));
        runs(ev, &[("root/b", 1)]).await;
    })
    .await;
    assert_eq!(log.with_prefix("start:b"), ["start:b:0", "start:b:1"]);
}

/// A permanent child that fails when `fail` is notified and otherwise runs until asked to
/// stop, which takes it `stop_takes`.
fn breakable(
    id: &str,
    fail: &std::sync::Arc<tokio::sync::Notify>,
    stop_takes: Duration,
) -> ChildSpec {
    let fail = fail.clone();
    ChildSpec::task(id, move |ctx| {
        let fail = fail.clone();
        async move {
            tokio::select! {
                () = fail.notified() => Err("broke".into()),
                () = ctx.shutdown_requested() => {
                    tokio::time::sleep(stop_takes).await;
                    Ok(())
                }
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn failures_during_a_group_restart_are_all_restarted_once_it_is_over() {
    use std::sync::Arc;
    use tokio::sync::Notify;
    let fails: Vec<Arc<Notify>> = (0..4).map(|_| Arc::new(Notify::new())).collect();
    let tree = ProcessManager::builder("root")
        .strategy(Strategy::RestForOne)
        .intensity(10, Duration::from_secs(60))
        .child(breakable("a1", &fails[0], Duration::ZERO))
        .child(breakable("a2", &fails[1], Duration::ZERO))
        .child(breakable("b", &fails[2], Duration::ZERO))
        .child(breakable("c", &fails[3], Duration::from_secs(2)))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (handle, mut events, run) = common::start(tree);
    runs(
        &mut events,
        &[("root/a1", 1), ("root/a2", 1), ("root/b", 1), ("root/c", 1)],
    )
    .await;
    // `b` fails: `b` and `c` restart together, and `c` takes 2 s to stop. Meanwhile `a1` and
    // `a2` fail; their exits wait for the group restart, and each then starts its own.
    fails[2].notify_one();
    loop {
        let ev = events.recv().await.expect("events");
        if ev.path == "root/b" && matches!(ev.kind, EventKind::Restarting { .. }) {
            break;
        }
    }
    fails[0].notify_one();
    fails[1].notify_one();
    let a2_again = tokio::time::timeout(Duration::from_secs(60), async {
        runs(&mut events, &[("root/a2", 1)]).await;
    })
    .await;
    assert!(a2_again.is_ok(), "a2 was never restarted");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

/// `strategy` restarts the group of `b` (which fails once `done` has ended) and `done` (a
/// transient child that completes on its first run); returns how `done` started.
async fn group_restart_with_a_completed_transient_child(strategy: Strategy) -> Vec<String> {
    let log = Log::default();
    let fail = std::sync::Arc::new(tokio::sync::Notify::new());
    let done = child("done", &log, Restart::Transient, false, true);
    let b = common::failing_on("b", &fail);
    let children = match strategy {
        Strategy::RestForOne => vec![b, done],
        _ => vec![done, b],
    };
    let t = tree(strategy, children);
    let handle = t.handle();
    run_until(t, async |ev| {
        common::event_of(ev, "root/done", common::is_stopped).await;
        fail.notify_one();
        // The group starts again in one go: `done` too, by the time `b` runs.
        runs(ev, &[("root/b", 1)]).await;
        let snap = handle.snapshot().await.unwrap();
        assert_eq!(
            common::state_of(&snap, "root/done"),
            Some(overseer::ChildState::Running)
        );
    })
    .await;
    log.with_prefix("start:done")
}

#[tokio::test]
async fn one_for_all_restarts_a_transient_child_that_had_completed_normally() {
    let starts = group_restart_with_a_completed_transient_child(Strategy::OneForAll).await;
    assert_eq!(starts, ["start:done:0", "start:done:1"]);
}

#[tokio::test]
async fn rest_for_one_restarts_a_transient_child_after_it_that_had_completed_normally() {
    let starts = group_restart_with_a_completed_transient_child(Strategy::RestForOne).await;
    assert_eq!(starts, ["start:done:0", "start:done:1"]);
}
