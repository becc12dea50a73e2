//! What can be a child: closures, Runnable types, nested managers.

mod common;

use common::{Live, alive_tasks};
use overseer::{ChildSpec, Context, ProcessManager, Restart, RunResult, Runnable};

#[tokio::test]
async fn a_closure_is_a_child() {
    let (tx, mut rx) = common::signal();
    let tree = ProcessManager::builder("root")
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
            .child(ChildSpec::new(format!("sub-{name}"), level))
            .build()
            .unwrap();
    }
    let baseline = alive_tasks();
    let handle = level.handle();
    let run = tokio::spawn(async move { level.run().await });
    assert_eq!(
        rx.recv().await.unwrap(),
        "l1/sub-l1/sub-l2/sub-l3/sub-l4/leaf"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_manager_with_no_children_left_stops_successfully() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("a", |_| async { Ok(()) }).restart(Restart::Transient))
        .child(ChildSpec::task("b", |_| async { Ok(()) }).restart(Restart::Temporary))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    tree.run().await.unwrap();
    assert_eq!(alive_tasks(), baseline);
}
