//! A detached job as a child of a tree.
#![cfg(all(feature = "jobs", target_os = "linux"))]

mod jobs_common;

use std::time::Duration;

use jobs_common::*;
use overseer::jobs::{CHILD_LABEL, Filter, JobChild, JobSpec, Status};
use overseer::{ChildSpec, EventKind, ProcessManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_restart_reattaches_to_the_running_job_instead_of_starting_it_twice() {
    let (tmp, store) = store();
    let started = fifo(tmp.path(), "started");
    // Each start of the job writes to the FIFO; only the first is read, so a second start
    // would hang in its `echo` and show in the store as a second job.
    let spec = JobSpec::shell(format!("echo up > {}; exec sleep 1000", started.display()));
    let child = JobChild::new(store.clone(), "import", spec);
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("import", child))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let fifo = started.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || read_line(&fifo))
            .await
            .unwrap(),
        "up"
    );
    let running =
        |e: &overseer::Event| e.path == "root/import" && matches!(e.kind, EventKind::Running);
    wait_event(&mut events, running).await;

    handle.restart("root/import").await.unwrap();
    // The second run has found (or started) its job once it reports Running.
    wait_event(&mut events, running).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();

    let jobs = store
        .list(&Filter::new().label(CHILD_LABEL, "import"))
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    // Left running by the tree's shutdown (OnShutdown::Leave).
    assert_eq!(jobs[0].status, Status::Running);
    let job = store.cancel(&jobs[0].id, Duration::from_secs(5)).unwrap();
    assert!(gone(job.pid.unwrap()));
}

async fn wait_event(events: &mut overseer::Events, pred: impl Fn(&overseer::Event) -> bool) {
    loop {
        let ev = events.recv().await.expect("event stream ended");
        if pred(&ev) {
            return;
        }
    }
}
