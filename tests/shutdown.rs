//! Shutdown: graceful request, per-child timeout, abort; Brutal; Infinity; one deadline down
//! the tree; abort reaching every level.

mod common;

use std::future::pending;
use std::time::Duration;

use std::sync::Arc;

use common::{Live, Log, alive_tasks, event_of, failing_on, is_exited, is_running};
use overseer::{Cause, ChildSpec, EventKind, ExitStatus, ProcessManager, Restart, Shutdown};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep};

const S: Duration = Duration::from_secs(1);

/// A child that ignores shutdown requests (but logs that it saw one).
fn stubborn(id: &str, live: &Live, log: &Log) -> ChildSpec {
    let (live, log, name) = (live.clone(), log.clone(), id.to_string());
    ChildSpec::task(id, move |ctx| {
        let (live, log, name) = (live.clone(), log.clone(), name.clone());
        async move {
            let _alive = live.enter();
            ctx.shutdown_requested().await;
            log.push(format!("{name} asked to stop"));
            pending::<()>().await;
            Ok(())
        }
    })
}

/// A child that takes `took` to stop once asked.
fn slow(id: &str, took: Duration, live: &Live) -> ChildSpec {
    let live = live.clone();
    ChildSpec::task(id, move |ctx| {
        let live = live.clone();
        async move {
            let _alive = live.enter();
            ctx.shutdown_requested().await;
            sleep(took).await;
            Ok(())
        }
    })
}

/// Runs `tree`, waits until every child runs, requests a shutdown and returns the result and
/// how long the shutdown took.
async fn shut_down(
    tree: ProcessManager,
    live: &Live,
    n: usize,
) -> (Result<(), overseer::TreeError>, Duration) {
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    while live.count() < n {
        tokio::task::yield_now().await;
    }
    let t0 = Instant::now();
    handle.shutdown().unwrap();
    let result = run.await.unwrap();
    (result, t0.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_shutdown_is_aborted_after_its_own_timeout() {
    let (live, log) = (Live::default(), Log::default());
    let tree = ProcessManager::builder("root")
        .child(stubborn("stubborn", &live, &log).shutdown(Shutdown::Timeout(2 * S)))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (result, took) = shut_down(tree, &live, 1).await;
    assert_eq!(took, 2 * S);
    let err = result.unwrap_err();
    assert_eq!(err.path(), &"root/stubborn");
    assert!(matches!(err.cause(), Cause::StopTimeout { timeout } if *timeout == 2 * S));
    assert_eq!(log.entries(), ["stubborn asked to stop"]);
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_within_its_timeout_is_a_clean_shutdown() {
    let live = Live::default();
    let tree = ProcessManager::builder("root")
        .child(slow("slow", S, &live).shutdown(Shutdown::Timeout(2 * S)))
        .build()
        .unwrap();
    let (result, took) = shut_down(tree, &live, 1).await;
    result.unwrap();
    assert_eq!(took, S);
}

#[tokio::test(start_paused = true)]
async fn brutal_aborts_a_child_at_once_without_asking() {
    let (live, log) = (Live::default(), Log::default());
    let tree = ProcessManager::builder("root")
        .child(stubborn("brute", &live, &log).shutdown(Shutdown::Brutal))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (result, took) = shut_down(tree, &live, 1).await;
    result.unwrap();
    assert_eq!(took, Duration::ZERO);
    assert!(
        log.entries().is_empty(),
        "a brutal child is never asked: {:?}",
        log.entries()
    );
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_brutal_child_in_a_reverse_stop_is_aborted_without_being_asked_after_the_child_after_it()
{
    let (live, log) = (Live::default(), Log::default());
    let tree = ProcessManager::builder("root")
        .child(stubborn("first", &live, &log).shutdown(Shutdown::Timeout(S)))
        .child(stubborn("brute", &live, &log).shutdown(Shutdown::Brutal))
        .child(slow("last", S, &live))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (result, took) = shut_down(tree, &live, 3).await;
    // `last` takes 1 s, `brute` is aborted at once, `first` is asked and aborted after 1 s.
    assert_eq!(took, 2 * S);
    let err = result.unwrap_err();
    assert_eq!(err.path(), &"root/first");
    assert_eq!(log.entries(), ["first asked to stop"]);
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn infinity_waits_as_long_as_the_child_takes() {
    let live = Live::default();
    let tree = ProcessManager::builder("root")
        .child(slow("patient", 3600 * S, &live).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let (result, took) = shut_down(tree, &live, 1).await;
    result.unwrap();
    assert_eq!(took, 3600 * S);
}

#[tokio::test(start_paused = true)]
async fn one_deadline_is_shared_down_the_tree() {
    let (live, log) = (Live::default(), Log::default());
    let mid = ProcessManager::builder("mid")
        .child(stubborn("leaf", &live, &log).shutdown(Shutdown::Timeout(10 * S)))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("mid", mid).shutdown(Shutdown::Timeout(3 * S)))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (result, took) = shut_down(tree, &live, 1).await;
    assert_eq!(took, 3 * S, "the leaf's 10 s are cut to its parent's 3 s");
    let err = result.unwrap_err();
    assert!(err.path().as_str().starts_with("root/mid"), "{err}");
    assert!(matches!(err.cause(), Cause::StopTimeout { .. }), "{err}");
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_root_shutdown_timeout_caps_every_child_below_it() {
    let (live, log) = (Live::default(), Log::default());
    let mid = ProcessManager::builder("mid")
        .child(stubborn("leaf", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .shutdown_timeout(4 * S)
        .child(ChildSpec::new("mid", mid))
        .child(stubborn("sibling", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let (result, took) = shut_down(tree, &live, 2).await;
    assert_eq!(took, 4 * S);
    assert!(result.is_err());
    assert_eq!(live.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn abort_reaches_every_level_and_no_grandchild_task_survives_its_manager() {
    let (live, log) = (Live::default(), Log::default());
    let inner = ProcessManager::builder("inner")
        .child(stubborn("deep", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let mid = ProcessManager::builder("mid")
        .child(ChildSpec::new("inner", inner))
        .child(stubborn("leaf", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("mid", mid).shutdown(Shutdown::Brutal))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let (result, took) = shut_down(tree, &live, 2).await;
    result.unwrap();
    assert_eq!(took, Duration::ZERO);
    assert_eq!(
        live.count(),
        0,
        "every task below the aborted manager is gone"
    );
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn an_immediate_shutdown_aborts_every_child_at_every_level() {
    let (live, log) = (Live::default(), Log::default());
    let mid = ProcessManager::builder("mid")
        .child(stubborn("leaf", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("mid", mid))
        .child(stubborn("a", &live, &log).shutdown(Shutdown::Infinity))
        .build()
        .unwrap();
    let handle = tree.handle();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    while live.count() < 2 {
        tokio::task::yield_now().await;
    }
    // Graceful first: both are asked and ignore it ...
    handle.shutdown().unwrap();
    while log.entries().is_empty() {
        tokio::task::yield_now().await;
    }
    let t0 = Instant::now();
    // ... then now.
    handle.shutdown_now().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_aborts_the_tree() {
    let (live, log) = (Live::default(), Log::default());
    let tree = ProcessManager::builder("root")
        .child(stubborn("a", &live, &log))
        .build()
        .unwrap();
    let run = tokio::spawn(async move { tree.run().await });
    while live.count() < 1 {
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
    while live.count() > 0 {
        tokio::task::yield_now().await;
    }
    assert!(log.entries().is_empty());
}

/// A tree of `a` (which fails on its own once `fail` is notified, with `restart`) and `b`
/// (which takes 2 s to stop). A shutdown is requested; while `b` is stopping and `a` waits
/// for its turn, `a` fails. Returns the shutdown's result.
async fn a_fails_on_its_own_while_b_stops(restart: Restart) -> Result<(), overseer::TreeError> {
    let live = Live::default();
    let fail = Arc::new(Notify::new());
    let tree = ProcessManager::builder("root")
        .child(failing_on("a", &fail).restart(restart))
        .child(slow("b", 2 * S, &live))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    event_of(&mut events, "root/a", is_running).await;
    event_of(&mut events, "root/b", is_running).await;
    handle.shutdown().unwrap();
    fail.notify_one();
    let exited = event_of(&mut events, "root/a", is_exited).await;
    assert!(
        matches!(
            exited.kind,
            EventKind::Exited {
                status: ExitStatus::Failed(_)
            }
        ),
        "{exited:?}"
    );
    let result = run.await.unwrap();
    assert_eq!(live.count(), 0);
    result
}

#[tokio::test(start_paused = true)]
async fn a_permanent_child_that_fails_on_its_own_during_a_requested_shutdown_does_not_fail_it() {
    // Had the manager not been stopping, it would have restarted `a`: the failure is absorbed
    // (an event and a warning), as it would have been a moment before the request.
    a_fails_on_its_own_while_b_stops(Restart::Permanent)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_that_fails_on_its_own_during_a_shutdown_is_still_an_error() {
    let err = a_fails_on_its_own_while_b_stops(Restart::Temporary)
        .await
        .unwrap_err();
    assert_eq!(err.first().path.as_str(), "root/a");
    assert!(matches!(err.first().cause, Cause::Error(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn timeouts_too_large_for_the_clock_mean_no_timeout_and_no_panic() {
    let live = Live::default();
    let tree = ProcessManager::builder("root")
        .shutdown_timeout(Duration::MAX)
        .child(slow("a", S, &live).shutdown(Shutdown::Timeout(Duration::MAX)))
        .build()
        .unwrap();
    let (result, took) = shut_down(tree, &live, 1).await;
    result.unwrap();
    assert_eq!(took, S);
    assert_eq!(live.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failure_during_a_requested_shutdown_that_exceeds_the_restart_intensity_is_still_an_error()
 {
    let live = Live::default();
    let fail = Arc::new(Notify::new());
    let tree = ProcessManager::builder("root")
        .intensity(1, 60 * S)
        .child(failing_on("a", &fail))
        .child(slow("b", 2 * S, &live))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    event_of(&mut events, "root/a", is_running).await;
    // The one restart the intensity allows.
    fail.notify_one();
    event_of(&mut events, "root/a", |k| {
        matches!(k, EventKind::Restarting { .. })
    })
    .await;
    event_of(&mut events, "root/a", is_running).await;
    // A moment before the request, this failure would make the manager give up.
    handle.shutdown().unwrap();
    fail.notify_one();
    let err = run.await.unwrap().unwrap_err();
    assert!(matches!(err.first().cause, Cause::GaveUp { .. }), "{err}");
    assert_eq!(live.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn once_a_temporary_child_fails_during_a_shutdown_later_failures_are_kept_too() {
    let live = Live::default();
    let (fail_t, fail_p) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let tree = ProcessManager::builder("root")
        .intensity(10, 60 * S)
        .child(failing_on("p", &fail_p))
        .child(failing_on("t", &fail_t).restart(Restart::Temporary))
        .child(slow("b", 2 * S, &live))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    event_of(&mut events, "root/b", is_running).await;
    handle.shutdown().unwrap();
    // As a cascade would: the temporary child's failure leads, the permanent one's follows.
    fail_t.notify_one();
    event_of(&mut events, "root/t", is_exited).await;
    fail_p.notify_one();
    event_of(&mut events, "root/p", is_exited).await;
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(err.first().path.as_str(), "root/t", "{err}");
    let later: Vec<&str> = err.later().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(later, ["root/p"], "{err}");
}

/// `c` fails on its own just as the shutdown reaches it: its sibling `b`, asked first, passes
/// the stop on to `c` (see the stop chain in the crate docs) after `c`'s run has already
/// ended, and the manager reads both exits in one batch.
#[tokio::test(start_paused = true)]
async fn a_failure_that_came_before_the_stop_request_is_absorbed_as_it_would_have_been_before_the_shutdown()
 {
    let fail = Arc::new(Notify::new());
    let tree = ProcessManager::builder("root")
        .child(failing_on("c", &fail))
        .task("b", |ctx| async move {
            ctx.shutdown_requested().await;
            Ok(())
        })
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let baseline = alive_tasks();
    let run = tokio::spawn(async move { tree.run().await });
    event_of(&mut events, "root/b", is_running).await;
    // The root asks `b`, then `c` fails, then `b` ends and asks `c`, whose run is over.
    handle.shutdown().unwrap();
    fail.notify_one();
    // A restart would have absorbed `c`'s failure: the shutdown succeeds.
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}
