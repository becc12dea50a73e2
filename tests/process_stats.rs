//! Process children: resource stats of the group and the memory limit.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::sync::Arc;
use std::time::Duration;

use overseer::process::{Command, ProcessError};
use overseer::{ChildSpec, ProcessManager};
use process_common::{PATIENCE, Scratch, assert_clean, process_error, run_once};

#[tokio::test]
async fn stats_cover_every_process_of_the_group_while_it_runs_and_none_after() {
    let s = Scratch::new();
    // A leader, a busy grandchild and a sleeping one.
    let script = format!(
        "(while :; do :; done) & sleep 30 & echo $$ > {}; wait",
        s.path("pid")
    );
    // Kept shared, so that the caller can ask the running command for its stats.
    let cmd = Arc::new(Command::shell(script));
    assert_eq!(cmd.stats(), None, "not started yet");
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::from_arc("p", cmd.clone()))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    // Ready once spawned and recorded: the pid file alone can come first (the process runs
    // while its spawn is being answered).
    loop {
        let event = events.recv().await.expect("the tree runs");
        if event.path == "root/p" && matches!(event.kind, overseer::EventKind::Ready) {
            break;
        }
    }
    let pid = s.pid("pid").await;
    let first = cmd.stats().expect("stats while running");
    assert_eq!(first.pid, pid as u32);
    assert_eq!(first.processes, 3, "{first:?}");
    assert!(first.rss_bytes > 0);
    assert_eq!(first.cpu_percent, None, "no previous sample");
    // CPU % needs an interval: wait until the busy loop has used some CPU time.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let later = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let later = cmd.stats().expect("stats while running");
        if later.cpu_time > first.cpu_time {
            break later;
        }
        assert!(tokio::time::Instant::now() < deadline, "no CPU time used");
    };
    assert!(later.cpu_percent.is_some_and(|p| p > 0.0), "{later:?}");
    assert!(later.uptime > first.uptime);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(cmd.stats(), None, "stopped");
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_group_over_its_memory_limit_is_stopped_with_a_typed_error() {
    const LIMIT: u64 = 50 * 1024 * 1024;
    let s = Scratch::new();
    let script = format!(
        "import os, time\n\
         open({pid:?}, 'w').write(str(os.getpgrp()) + '\\n')\n\
         x = b'x' * (200 * 1024 * 1024)\n\
         time.sleep(30)\n",
        pid = s.path("pid")
    );
    let cmd = Command::new("python3")
        .arg("-c")
        .arg(script)
        .memory_limit(LIMIT, Duration::from_millis(50));
    let err = run_once(cmd).await.unwrap_err();
    match process_error(&err) {
        ProcessError::MemoryLimit { limit, rss, .. } => {
            assert_eq!(*limit, LIMIT);
            assert!(*rss > LIMIT, "rss {rss}");
        }
        other => panic!("not a memory limit error: {other}"),
    }
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_group_under_its_memory_limit_runs_to_its_end() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; sleep 0.3", s.path("pid"));
    let cmd = Command::shell(script).memory_limit(512 * 1024 * 1024, Duration::from_millis(20));
    run_once(cmd).await.unwrap();
    assert_clean(&[s.pid("pid").await]).await;
}
