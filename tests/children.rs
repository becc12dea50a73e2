//! What can be a child: closures, Runnable types, nested managers.

mod common;

use common::{Live, alive_tasks};
use overseer::{ChildSpec, Context, ProcessManager, Restart, RunResult, Runnable};

#[tokio::test]
async fn a_closure_is_a_child() {
    let (tx, mut rx) = common::signal();
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(
            ChildSpec::task("hello", move |ctx| {
                let tx = tx.clone();
                async move {
                    tx.send(ctx.path().to_string()).unwrap();
                    Ok(())
                }
            })
            .restart(Restart::Temporary),
        )
        .build()
        .unwrap();
    tree.run().await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), "root/hello");
}

struct Greeter {
    live: Live,
}

#[overseer::async_trait]
impl Runnable for Greeter {
    async fn run(&self, ctx: Context) -> RunResult {
        let _alive = self.live.enter();
        ctx.shutdown_requested().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_type_implementing_runnable_is_a_child() {
    let live = Live::default();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("greeter", Greeter { live: live.clone() }))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/greeter", common::is_running).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(live.count(), 0);
}

#[tokio::test]
async fn a_process_manager_is_a_child_nesting_to_any_depth() {
    let live = Live::default();
    let (tx, mut rx) = common::signal();
    let mut level = ProcessManager::builder("l5")
        .child(ChildSpec::task("leaf", {
            let live = live.clone();
            move |ctx| {
                let live = live.clone();
                let tx = tx.clone();
                async move {
                    let _alive = live.enter();
                    tx.send(ctx.path().to_string()).unwrap();
                    ctx.shutdown_requested().await;
                    Ok(())
                }
            }
        }))
        .build()
        .unwrap();
    for name in ["l4", "l3", "l2", "l1"] {
        level = ProcessManager::builder(name)
            .child(level.into_spec())
            .build()
            .unwrap();
    }
    let baseline = alive_tasks();
    let handle = level.handle();
    let run = tokio::spawn(async move { level.run().await });
    assert_eq!(rx.recv().await.unwrap(), "l1/l2/l3/l4/l5/leaf");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_manager_that_lives_until_done_stops_successfully_once_no_child_is_left() {
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(ChildSpec::task("a", |_| async { Ok(()) }).restart(Restart::Transient))
        .child(ChildSpec::task("b", |_| async { Ok(()) }).restart(Restart::Temporary))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    tree.run().await.unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn by_default_a_manager_whose_children_have_all_ended_stays_up_until_it_is_shut_down() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("a", |_| async { Ok(()) }).restart(Restart::Transient))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/a", common::is_stopped).await;
    // An hour later, still up: it ends only when asked.
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    assert!(!run.is_finished());
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_empty_manager_stays_up_is_ready_at_once_and_takes_children_through_its_handle() {
    let pool = ProcessManager::builder("pool").build().unwrap();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("pool", pool))
        .child(
            ChildSpec::task("user", |ctx| async move {
                ctx.shutdown_requested().await;
                Ok(())
            })
            .after("pool", overseer::Condition::Ready),
        )
        .build()
        .unwrap();
    let (handle, _events, run) = common::start_until(
        tree,
        &[
            ("root/pool", common::is_ready),
            ("root/user", common::is_running),
        ],
    )
    .await;
    let worker = common::ready_waiter("w");
    handle.add_child("root/pool", worker).await.unwrap();
    let snap = handle.snapshot().await.unwrap();
    assert!(snap.find("root/pool/w").is_some());
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_nested_manager_given_an_id_other_than_its_own_name_is_refused() {
    let workers = || ProcessManager::builder("workers").build().unwrap();
    let err = ProcessManager::builder("root")
        .child(ChildSpec::new("pool", workers()))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        overseer::SpecError::ManagerNameMismatch {
            id: "pool".into(),
            name: "workers".into()
        }
    );
    // At run time too, and nothing changes.
    let tree = ProcessManager::builder("root").build().unwrap();
    let (handle, _events, run) = common::start(tree);
    let err = handle
        .add(ChildSpec::new("pool", workers()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            overseer::ControlError::Spec(overseer::SpecError::ManagerNameMismatch { .. })
        ),
        "{err}"
    );
    let path = handle.add(workers().into_spec()).await.unwrap();
    assert_eq!(path, "root/workers");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
