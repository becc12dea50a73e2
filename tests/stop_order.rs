//! Stop orders: `StopOrder::Concurrent` (every child is asked at once, the manager waits for
//! all), the reverse order and its stop chain, children that stop last.
//!
//! The whole suite runs twice, with the stop chain (the default) and without it
//! (`ProcessManagerBuilder::stop_chain(false)`): the chain is an optimisation only, so every
//! test must pass both ways.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Log, alive_tasks, logged, logged_taking};
use overseer::{
    ChildSpec, ChildState, EventKind, ProcessManager, ProcessManagerBuilder, StopOrder, Strategy,
};
use tokio::sync::Notify;

/// The suite, for managers built with the stop chain on (`true`) or off.
macro_rules! stop_order_suite {
    ($chain:expr) => {
        /// A manager builder with the stop chain as this copy of the suite wants it.
        fn builder(name: &str) -> ProcessManagerBuilder {
            ProcessManager::builder(name).stop_chain($chain)
        }

/// A child that, once asked to stop, completes only after all `n` children have been asked.
/// With children stopped one at a time it would wait in vain (and be aborted after its
/// shutdown timeout, which fails the run).
fn waits_for_all_asked(
    id: &str,
    asked: &Arc<(AtomicUsize, Notify)>,
    n: usize,
    log: &Log,
) -> ChildSpec {
    let (name, asked, log) = (id.to_string(), asked.clone(), log.clone());
    ChildSpec::task(id, move |ctx| {
        let (name, asked, log) = (name.clone(), asked.clone(), log.clone());
        async move {
            log.push(format!("start:{name}"));
            ctx.shutdown_requested().await;
            log.push(format!("asked:{name}"));
            let notified = asked.1.notified();
            if asked.0.fetch_add(1, Ordering::SeqCst) + 1 == n {
                asked.1.notify_waiters();
            } else {
                notified.await;
            }
            Ok(())
        }
    })
}

fn counter() -> Arc<(AtomicUsize, Notify)> {
    Arc::new((AtomicUsize::new(0), Notify::new()))
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_stop_order_asks_every_child_in_reverse_order_before_waiting_for_any() {
    let log = Log::default();
    let asked = counter();
    let ids = ["a", "b", "c", "d"];
    let tree = builder("root")
        .stop_order(StopOrder::Concurrent)
        .children(
            ids.iter()
                .map(|id| waits_for_all_asked(id, &asked, ids.len(), &log)),
        )
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/d", |k| matches!(k, EventKind::Running)).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        log.with_prefix("asked:"),
        ["asked:d", "asked:c", "asked:b", "asked:a"]
    );
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn the_default_stop_order_would_not_ask_the_next_child_before_the_last_one_exited() {
    // The control for the test above: the same children under the default order wait in vain
    // and are aborted after their 5 s shutdown timeout.
    let log = Log::default();
    let asked = counter();
    let tree = builder("root")
        .children(
            ["a", "b"]
                .iter()
                .map(|id| waits_for_all_asked(id, &asked, 2, &log)),
        )
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/b", |k| matches!(k, EventKind::Running)).await;
    handle.shutdown().unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(err.path(), &"root/b");
    assert!(
        matches!(err.cause(), overseer::Cause::StopTimeout { .. }),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_restart_with_a_concurrent_stop_order_stops_the_group_at_once_and_starts_it_in_order()
 {
    let log = Log::default();
    let asked = counter();
    let first_run = Arc::new(AtomicUsize::new(0));
    let crash = {
        let (log, first_run) = (log.clone(), first_run.clone());
        ChildSpec::task("crash", move |ctx| {
            let (log, first_run) = (log.clone(), first_run.clone());
            async move {
                // Up and running: its failure is a crash, restarted, not a failed start.
                ctx.started();
                log.push("start:crash");
                if first_run.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("boom".into());
                }
                ctx.shutdown_requested().await;
                Ok(())
            }
        })
    };
    let tree = builder("root")
        .strategy(Strategy::OneForAll)
        .stop_order(StopOrder::Concurrent)
        .intensity(5, Duration::from_secs(10))
        .child(waits_for_all_asked("a", &asked, 3, &log))
        .child(waits_for_all_asked("b", &asked, 3, &log))
        .child(waits_for_all_asked("c", &asked, 3, &log))
        .child(crash)
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/crash", |k| {
        matches!(k, EventKind::Restarting { .. })
    })
    .await;
    common::event_of(&mut events, "root/crash", |k| {
        matches!(k, EventKind::Running)
    })
    .await;
    assert_eq!(log.with_prefix("asked:"), ["asked:c", "asked:b", "asked:a"]);
    let starts = log.with_prefix("start:");
    assert_eq!(
        &starts[starts.len() - 4..],
        ["start:a", "start:b", "start:c", "start:crash"]
    );
    handle.shutdown_now().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

/// A temporary child that fails when asked to stop.
fn fails_when_stopped(id: &str) -> ChildSpec {
    ChildSpec::task(id, |ctx| async move {
        ctx.shutdown_requested().await;
        Err("refused to stop cleanly".into())
    })
    .restart(overseer::Restart::Temporary)
}

#[tokio::test(start_paused = true)]
async fn a_temporary_bystander_reached_by_the_stop_chain_ahead_of_its_manager_is_removed_like_one_the_manager_asked()
 {
    // On this current-thread runtime the last child's exit asks `temp` to stop, and `temp`
    // exits, before the manager has handled the first exit: the manager must still treat
    // `temp`'s exit as the stop it is, not as a temporary child failing on its own (which
    // would cascade).
    let crash = Arc::new(Notify::new());
    let trigger = crash.clone();
    let tree = builder("root")
        .strategy(Strategy::OneForAll)
        .intensity(10, Duration::from_secs(60))
        .child(fails_when_stopped("temp"))
        .child(ChildSpec::task("steady", |ctx| async move {
            ctx.shutdown_requested().await;
            Ok(())
        }))
        .child(ChildSpec::task("crasher", move |ctx| {
            let crash = trigger.clone();
            async move {
                tokio::select! {
                    _ = crash.notified() => Err("crash".into()),
                    _ = ctx.shutdown_requested() => Ok(()),
                }
            }
        }))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/crasher", common::is_running).await;
    crash.notify_one();
    common::next_event(&mut events, |e| {
        e.path == "root/steady" && matches!(e.kind, EventKind::Running)
    })
    .await;
    let snapshot = handle.snapshot().await.unwrap();
    assert!(
        snapshot.iter().all(|n| n.path != "root/temp"),
        "the temporary bystander is removed, not restarted"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_child_that_ends_on_its_own_during_a_reverse_stop_does_not_hurry_the_child_before_it() {
    // Stop order c, b, a. While `c` takes its time, `b` ends on its own; `a` must still wait
    // for `c`. (`b` is linked to ask `a` when its run ends, but only a run that was asked to
    // stop may pass the stop on.)
    let log = Log::default();
    let (release_c, b_go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let c_asked = Arc::new(Notify::new());
    let (a_log, c_log) = (log.clone(), log.clone());
    let (release, go, asked) = (release_c.clone(), b_go.clone(), c_asked.clone());
    let tree = builder("root")
        .child(ChildSpec::task("a", move |ctx| {
            let log = a_log.clone();
            async move {
                ctx.shutdown_requested().await;
                log.push("a asked");
                Ok(())
            }
        }))
        .child(ChildSpec::task("b", move |_ctx| {
            let go = go.clone();
            async move {
                go.notified().await;
                Ok(())
            }
        }))
        .child(ChildSpec::task("c", move |ctx| {
            let (log, release, asked) = (c_log.clone(), release.clone(), asked.clone());
            async move {
                ctx.shutdown_requested().await;
                asked.notify_one();
                release.notified().await;
                log.push("c stopped");
                Ok(())
            }
        }))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/c", common::is_running).await;
    handle.shutdown().unwrap();
    // `c` is asked first (the sequence is linked by then); then `b` ends while `c` is still
    // stopping.
    c_asked.notified().await;
    b_go.notify_one();
    common::event_of(&mut events, "root/b", common::is_exited).await;
    release_c.notify_one();
    run.await.unwrap().unwrap();
    assert_eq!(log.entries(), ["c stopped", "a asked"]);
    assert_eq!(alive_tasks(), 0);
}

/// `a`, `b`, `c` (slow to stop: 10, 100, 300 ms); `b` is stopped by a command, before or
/// during the shutdown. `a` must not be asked before `c` has exited.
async fn a_stopped_b_and_a_shutdown(stop_b_first: bool) -> Vec<String> {
    let log = Log::default();
    let tree = builder("root")
        .child(logged_taking("a", &log, 10))
        .child(logged_taking("b", &log, 100))
        .child(logged_taking("c", &log, 300))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/c", common::is_running).await;
    let h = handle.clone();
    let stop_b = async move {
        let _ = h.stop("root/b").await;
    };
    let stopping = if stop_b_first {
        let stopping = tokio::spawn(stop_b);
        common::wait_for_state(&handle, "root/b", ChildState::Stopping).await;
        handle.shutdown().unwrap();
        stopping
    } else {
        handle.shutdown().unwrap();
        common::wait_for_state(&handle, "root/c", ChildState::Stopping).await;
        tokio::spawn(stop_b)
    };
    run.await.unwrap().unwrap();
    stopping.await.unwrap();
    log.entries()
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry} missing in {log:?}"))
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_by_a_command_before_a_reverse_stop_does_not_hurry_the_child_before_it() {
    let log = a_stopped_b_and_a_shutdown(true).await;
    assert!(
        position(&log, "stopped:c") < position(&log, "stop:a"),
        "{log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_by_a_command_during_a_reverse_stop_does_not_hurry_the_child_before_it() {
    let log = a_stopped_b_and_a_shutdown(false).await;
    assert!(
        position(&log, "stopped:c") < position(&log, "stop:a"),
        "{log:?}"
    );
}

/// A child that stops last: it logs when asked, then stops.
struct Last(Log);

#[async_trait::async_trait]
impl overseer::Runnable for Last {
    async fn run(&self, ctx: overseer::Context) -> overseer::RunResult {
        self.0.push("start:last");
        ctx.shutdown_requested().await;
        self.0.push("asked:last");
        Ok(())
    }

    fn stops_last(&self) -> bool {
        true
    }
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_last_is_asked_only_once_every_other_child_has_ended_in_either_order() {
    for order in [StopOrder::Reverse, StopOrder::Concurrent] {
        for strategy in [Strategy::OneForOne, Strategy::OneForAll] {
            let log = Log::default();
            // Declared in the middle: either order alone would ask it before `a`.
            let tree = builder("root")
                .stop_order(order)
                .strategy(strategy)
                .child(logged("a", &log))
                .child(ChildSpec::new("last", Last(log.clone())))
                .child(logged("b", &log))
                .build()
                .unwrap();
            let handle = tree.handle();
            let mut events = handle.events();
            let baseline = alive_tasks();
            let run = tokio::spawn(async move { tree.run().await });
            common::event_of(&mut events, "root/b", common::is_running).await;
            handle.shutdown().unwrap();
            run.await.unwrap().unwrap();
            let entries = log.entries();
            for other in ["stopped:a", "stopped:b"] {
                assert!(
                    position(&entries, other) < position(&entries, "asked:last"),
                    "{order:?} {strategy:?}: {entries:?}"
                );
            }
            assert_eq!(alive_tasks(), baseline);
        }
    }
}

/// A `OneForAll` group of `last` (which stops last), `member` and `failing` (fails when `fail`
/// is notified), running.
async fn group_with_last_and(
    order: StopOrder,
    member: ChildSpec,
    log: &Log,
    fail: &Arc<Notify>,
) -> (
    overseer::Handle,
    overseer::Events,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
) {
    let tree = builder("root")
        .stop_order(order)
        .strategy(Strategy::OneForAll)
        .child(ChildSpec::new("last", Last(log.clone())))
        .child(member)
        .child(common::failing_on("failing", fail))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/failing", common::is_running).await;
    (handle, events, run)
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_last_is_stopped_last_in_a_group_restart_too() {
    for order in [StopOrder::Reverse, StopOrder::Concurrent] {
        let (log, fail) = (Log::default(), Arc::new(Notify::new()));
        let (handle, mut events, run) =
            group_with_last_and(order, logged("a", &log), &log, &fail).await;
        fail.notify_one();
        // The group comes back: `failing` runs a second time.
        common::event_of(&mut events, "root/failing", common::is_running).await;
        let entries = log.entries();
        assert!(
            position(&entries, "stopped:a") < position(&entries, "asked:last"),
            "{order:?}: {entries:?}"
        );
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_group_restart_asks_a_child_that_stops_last_only_after_a_member_stopped_by_a_command_has_ended()
 {
    for order in [StopOrder::Reverse, StopOrder::Concurrent] {
        let (log, fail) = (Log::default(), Arc::new(Notify::new()));
        let slow = logged_taking("slow", &log, 100).shutdown(overseer::Shutdown::Infinity);
        let (handle, mut events, run) = group_with_last_and(order, slow, &log, &fail).await;
        // `slow` is being stopped by a command when `failing` fails.
        let stop = {
            let handle = handle.clone();
            tokio::spawn(async move { handle.stop("root/slow").await })
        };
        common::wait_for_state(&handle, "root/slow", ChildState::Stopping).await;
        fail.notify_one();
        common::event_of(&mut events, "root/last", common::is_exited).await;
        stop.await.unwrap().unwrap();
        let entries = log.entries();
        assert!(
            position(&entries, "stopped:slow") < position(&entries, "asked:last"),
            "{order:?}: {entries:?}"
        );
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn an_immediate_shutdown_settles_a_child_that_stops_last_and_was_still_waiting_to_start() {
    let log = Log::default();
    let stubborn = ChildSpec::task("stubborn", |_ctx| async move {
        std::future::pending::<()>().await;
        Ok(())
    })
    .shutdown(overseer::Shutdown::Infinity);
    // Never starts: `stubborn` never reports ready.
    let last =
        ChildSpec::new("last", Last(log.clone())).after("stubborn", overseer::Condition::Ready);
    let tree = builder("root")
        .stop_order(StopOrder::Concurrent)
        .child(stubborn)
        .child(last)
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/stubborn", common::is_running).await;
    handle.shutdown().unwrap();
    // `stubborn` is asked and ignores it; `last` waits for its round, which never comes.
    common::wait_for_state(&handle, "root/stubborn", ChildState::Stopping).await;
    handle.shutdown_now().unwrap();
    common::event_of(&mut events, "root/last", common::is_stopped).await;
    run.await.unwrap().unwrap();
    assert!(
        log.entries().is_empty(),
        "it never ran: {:?}",
        log.entries()
    );
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_nested_manager_stopped_by_its_parent_stops_its_children_in_reverse_order() {
    let log = Log::default();
    let ids = ["a", "b", "c"];
    let sub = builder("sub")
        .children(ids.iter().map(|id| logged(id, &log)))
        .build()
        .unwrap();
    let tree = builder("root")
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
    let tree = builder("root")
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
    };
}

mod with_the_stop_chain {
    use super::*;
    stop_order_suite!(true);
}

mod without_the_stop_chain {
    use super::*;
    stop_order_suite!(false);
}
