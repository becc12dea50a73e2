//! The idle child.

mod common;

use overseer::{ChildSpec, Restart};

#[tokio::test]
async fn an_idle_child_keeps_an_otherwise_empty_manager_alive_until_shutdown() {
    let (handle, mut events, run) = common::start(common::idle_pool("root"));
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
