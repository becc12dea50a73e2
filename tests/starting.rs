//! Starting: a child that cannot start fails its manager's start at once; an added child's
//! start is its add's answer.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Log, alive_tasks, logged};
use overseer::{
    Cause, ChildSpec, ChildState, Context, ControlError, ProcessManager, RunResult, Runnable,
};

/// A child that counts its runs and fails at once on each of them.
fn fails_at_once(id: &str, runs: &Arc<AtomicU32>) -> ChildSpec {
    let runs = runs.clone();
    ChildSpec::task(id, move |_ctx| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Err("bad config".into()) }
    })
}

#[tokio::test(start_paused = true)]
async fn a_declared_child_that_fails_before_it_has_started_fails_the_tree_at_once_without_a_restart()
 {
    let runs = Arc::default();
    let tree = ProcessManager::builder("root")
        .intensity(100, Duration::from_secs(1))
        .child(fails_at_once("bad", &runs))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &"root/bad");
    assert!(
        matches!(err.cause(), Cause::FailedToStart { cause } if cause.to_string() == "bad config"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "root/bad: failed to start: bad config");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no restart");
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn the_siblings_started_before_a_failed_start_are_stopped_in_reverse_order() {
    let log = Log::default();
    let runs = Arc::default();
    let tree = ProcessManager::builder("root")
        .child(logged("a", &log))
        .child(logged("b", &log))
        .child(fails_at_once("bad", &runs).after("b", overseer::Condition::Started))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert!(matches!(err.cause(), Cause::FailedToStart { .. }), "{err}");
    assert_eq!(log.with_prefix("stop:"), ["stop:b", "stop:a"]);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_has_waited_for_anything_or_said_it_started_is_restarted_when_it_fails() {
    for says_so in [false, true] {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let tree = ProcessManager::builder("root")
            .child(ChildSpec::task("flaky", move |ctx| {
                let runs = counter.clone();
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        if says_so {
                            ctx.started();
                        } else {
                            tokio::task::yield_now().await;
                        }
                        return Err("crash".into());
                    }
                    ctx.shutdown_requested().await;
                    Ok(())
                }
            }))
            .build()
            .unwrap();
        let (handle, mut events, run) = common::start(tree);
        // Restarted: a second run.
        common::event_of(&mut events, "root/flaky", common::is_running).await;
        common::event_of(&mut events, "root/flaky", common::is_running).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "says so: {says_so}");
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_that_fails_before_it_has_started_is_a_failure_like_any_other() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let tree = ProcessManager::builder("root")
        .intensity(2, Duration::from_secs(60))
        .child(ChildSpec::task("flaky", move |ctx| {
            let runs = counter.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    ctx.started();
                }
                // Every run fails; only the first had started.
                Err("down".into())
            }
        }))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    // Restarted twice, then given up on: the restarts' failed starts are failures.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(matches!(err.cause(), Cause::GaveUp { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_child_of_a_nested_manager_that_cannot_start_fails_the_whole_tree_at_once() {
    let runs = Arc::default();
    let inner = ProcessManager::builder("inner")
        .child(common::ready_waiter("ok"))
        .child(fails_at_once("bad", &runs))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .intensity(100, Duration::from_secs(1))
        .child(inner.into_spec())
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &"root/inner/bad");
    assert!(matches!(err.cause(), Cause::FailedToStart { .. }), "{err}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the nested manager is not restarted"
    );
}

/// A child that says it has started only after `delay` (paused time).
struct SlowStart(Duration);

#[overseer::async_trait]
impl Runnable for SlowStart {
    async fn run(&self, ctx: Context) -> RunResult {
        tokio::select! {
            () = tokio::time::sleep(self.0) => {}
            () = ctx.shutdown_requested() => return Ok(()),
        }
        ctx.started();
        ctx.shutdown_requested().await;
        Ok(())
    }

    fn reports_start(&self) -> bool {
        true
    }
}

#[tokio::test(start_paused = true)]
async fn an_add_is_answered_once_the_child_has_started() {
    let tree = ProcessManager::builder("root").build().unwrap();
    let (handle, _events, run) = common::start(tree);
    let t0 = tokio::time::Instant::now();
    let path = handle
        .add(ChildSpec::new("slow", SlowStart(Duration::from_secs(3))))
        .await
        .unwrap();
    assert_eq!(path, "root/slow");
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    // A closure child has started once it waits for anything: at once here.
    let t1 = tokio::time::Instant::now();
    handle.add(common::ready_waiter("quick")).await.unwrap();
    assert_eq!(t1.elapsed(), Duration::ZERO);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_added_child_that_fails_to_start_is_refused_with_its_error_and_the_manager_is_unchanged()
{
    let runs = Arc::default();
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("w"))
        .build()
        .unwrap();
    let (handle, _events, run) = common::start_until(tree, &[("root/w", common::is_ready)]).await;
    let before = handle.snapshot().await.unwrap();
    let err = handle.add(fails_at_once("bad", &runs)).await.unwrap_err();
    let ControlError::FailedToStart(failure) = err else {
        panic!("not a failed start: {err}");
    };
    assert_eq!(failure.path, "root/bad");
    assert!(matches!(failure.cause, Cause::FailedToStart { .. }));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let after = handle.snapshot().await.unwrap();
    let shape = |s: &overseer::Snapshot| -> Vec<(String, ChildState)> {
        s.iter().map(|n| (n.path.to_string(), n.state)).collect()
    };
    assert_eq!(shape(&after), shape(&before));
    // The id is free again.
    handle.add(common::ready_waiter("bad")).await.unwrap();
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_add_whose_manager_shuts_down_before_the_child_started_is_refused_as_shutting_down() {
    let tree = ProcessManager::builder("root").build().unwrap();
    let (handle, _events, run) = common::start(tree);
    let add = {
        let handle = handle.clone();
        tokio::spawn(async move {
            handle
                .add(ChildSpec::new("slow", SlowStart(Duration::from_secs(3600))))
                .await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    handle.shutdown().unwrap();
    let err = add.await.unwrap().unwrap_err();
    assert!(matches!(err, ControlError::ShuttingDown { .. }), "{err}");
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_waiting_for_a_sibling_that_failed_for_good_fails_to_start_naming_both() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let tree = ProcessManager::builder("root")
        .child(
            ChildSpec::task("migrate", |ctx| async move {
                ctx.started();
                tokio::task::yield_now().await;
                Err("schema locked".into())
            })
            .restart(overseer::Restart::Temporary),
        )
        .child(
            ChildSpec::task("app", move |_ctx| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .after("migrate", overseer::Condition::Completed),
        )
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    // The failure that ended the tree comes first; the child it left waiting follows.
    assert_eq!(err.path(), &"root/migrate", "{err:?}");
    let [then] = err.later() else {
        panic!("one later failure: {err:?}")
    };
    assert_eq!(then.path, "root/app");
    assert!(matches!(then.cause, Cause::FailedToStart { .. }), "{then}");
    assert_eq!(
        then.to_string(),
        "root/app: failed to start: root/app waits for root/migrate (Completed), which ended \
         for good without it: schema locked"
    );
    let unmet = then
        .downcast_ref::<overseer::UnmetDependency>()
        .expect("an UnmetDependency");
    assert_eq!(
        (unmet.child.as_str(), unmet.on.as_str()),
        ("root/app", "root/migrate")
    );
    assert_eq!(unmet.condition, overseer::Condition::Completed);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the app never ran");
}

#[tokio::test(start_paused = true)]
async fn a_child_waiting_for_a_sibling_to_end_starts_once_it_has_ended_even_in_failure() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (in_step, in_next) = (log.clone(), log.clone());
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(
            ChildSpec::task("step", move |ctx| {
                let log = in_step.clone();
                async move {
                    ctx.started();
                    tokio::task::yield_now().await;
                    log.lock().unwrap().push("step failed");
                    Err("optional step failed".into())
                }
            })
            .restart(overseer::Restart::Temporary)
            .escalates(false),
        )
        .child(
            ChildSpec::task("next", move |_ctx| {
                let log = in_next.clone();
                async move {
                    log.lock().unwrap().push("next ran");
                    Ok(())
                }
            })
            .restart(overseer::Restart::Transient)
            .after("step", overseer::Condition::Ended),
        )
        .build()
        .unwrap();
    tree.run().await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["step failed", "next ran"]);
}
