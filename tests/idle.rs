//! The idle child.

mod common;

use overseer::{ChildSpec, ProcessManager, Restart, builtin::Idle};

#[tokio::test]
async fn an_idle_child_keeps_an_otherwise_empty_manager_alive_until_shutdown() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::event_of(&mut events, "root/idle", common::is_running).await;
    // A job comes and goes; the manager stays.
    let job = ChildSpec::task("job", |_| async { Ok(()) }).restart(Restart::Temporary);
    handle.add(job).await.unwrap();
    common::event_of(&mut events, "root/job", common::is_stopped).await;
    assert!(!run.is_finished());
    handle.snapshot().await.unwrap();
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
