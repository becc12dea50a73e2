//! Same-binary workers, driven through the example binary `10_workers`.
#![cfg(all(feature = "jobs", target_os = "linux"))]

mod jobs_common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use jobs_common::*;
use overseer::jobs::{Filter, Status, Store};

/// The example binary, built by `cargo test` next to this test's directory.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/10_workers");
    assert!(path.exists(), "build the example first: {}", path.display());
    path
}

/// Runs `10_workers args` on `store`; its exit code and stdout.
fn workers(store: &Store, args: &[&str]) -> (i32, String) {
    let out = Command::new(example())
        .args(args)
        .env("OVERSEER_JOBS_DIR", store.dir())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The job id in a `started <id> pid <pid>` line.
fn started_id(out: &str) -> String {
    out.split_whitespace().nth(1).unwrap().to_owned()
}

#[test]
fn a_binary_started_as_a_worker_runs_it_and_exits_with_its_code() {
    let (_tmp, store) = store();
    let (code, out) = workers(&store, &["start", "ONCE", "a"]);
    assert_eq!(code, 0, "{out}");
    let job = store.wait(&started_id(&out), None).unwrap();
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.exit.unwrap().code, Some(7));
    let log = std::fs::read_to_string(store.job_dir(&job.id).unwrap().join("stdout.log")).unwrap();
    assert_eq!(log, "ONCE a ran\n");
    let (code, out) = workers(&store, &["info", "ONCE", "a"]);
    assert_eq!((code, out.split_whitespace().next()), (0, Some("failed")));
}

#[test]
fn stopping_sync_stops_every_sync_instance_and_never_sync_2() {
    let (_tmp, store) = store();
    let mut pids = Vec::new();
    for (name, instance) in [("SYNC", "a"), ("SYNC", "b"), ("SYNC_2", "a")] {
        let (code, out) = workers(&store, &["start", name, instance]);
        assert_eq!(code, 0, "{out}");
        pids.push(store.get(&started_id(&out)).unwrap().pid.unwrap());
    }
    let (code, out) = workers(&store, &["stop", "SYNC"]);
    assert_eq!(code, 0);
    let mut stopped: Vec<&str> = out.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    stopped.sort();
    assert_eq!(stopped, ["a", "b"], "{out}");
    assert!(gone(pids[0]) && gone(pids[1]));
    let (_, info) = workers(&store, &["info", "SYNC_2", "a"]);
    assert!(info.starts_with("running"), "{info}");
    assert!(!gone(pids[2]));
    let (code, out) = workers(&store, &["stop", "SYNC_2", "a"]);
    assert_eq!(code, 0, "{out}");
    assert!(gone(pids[2]));
}

#[test]
fn a_running_instance_is_not_started_twice_and_a_stale_record_never_blocks_a_start() {
    let (_tmp, store) = store();
    let (_, out) = workers(&store, &["start", "SYNC", "a"]);
    let first = store.get(&started_id(&out)).unwrap();
    let (code, _) = workers(&store, &["start", "SYNC", "a"]);
    assert_eq!(code, 2, "a second start of a running instance is refused");
    // The worker and its shim die without a trace: the record says running, stale.
    let pid = first.pid.unwrap();
    let shim = ppid(pid);
    for p in [shim, pid] {
        Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status()
            .unwrap();
    }
    store.wait(&first.id, None).unwrap();
    // The record still says running (as a crash leaves it): a stale pid file.
    let path = store.job_dir(&first.id).unwrap().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["status"] = "running".into();
    state["ended_at_ms"] = serde_json::Value::Null;
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let (code, out) = workers(&store, &["start", "SYNC", "a"]);
    assert_eq!(code, 0, "{out}");
    let second = started_id(&out);
    assert_ne!(second, first.id);
    assert_eq!(store.get(&first.id).unwrap().status, Status::Orphaned);
    let running = store
        .list(&Filter::new().status(Status::Running))
        .unwrap()
        .jobs;
    assert_eq!(running.len(), 1);
    store.cancel(&second, Duration::from_secs(5)).unwrap();
}
