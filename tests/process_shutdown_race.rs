//! A process child that fails on its own just before or while a shutdown is requested: the
//! shutdown judges the failure as it would have a moment earlier (a restart would have
//! absorbed it: the shutdown succeeds), never as a failure to stop.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::time::Duration;

use overseer::process::Command;
use overseer::{Backoff, EventKind, ProcessManager};
use process_common::{Scratch, assert_clean};

#[tokio::test]
async fn a_crash_during_the_grace_period_of_lingering_members_does_not_fail_a_requested_shutdown() {
    let s = Scratch::new();
    // The member ignores the stop signal but notes it; the leader exits with 1 at once.
    let member = format!(
        "trap \"echo term >> {}\" TERM; echo $$ > {}; while :; do sleep 0.05; done",
        s.path("term"),
        s.path("member")
    );
    let script = format!(
        "sh -c '{member}' & while [ ! -s {} ]; do sleep 0.01; done; echo $$ > {}; exit 1",
        s.path("member"),
        s.path("pid")
    );
    let tree = ProcessManager::builder("root")
        .child(
            Command::shell(script)
                .stop_timeout(Duration::from_secs(1))
                .into_spec("p"),
        )
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pid = s.pid("pid").await;
    // The member got the stop signal: the leader's exit has been seen, and the rest of its
    // group has its grace period. The shutdown is asked for during it.
    s.line("term").await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_process_shut_down_between_its_restarts_never_fails_the_shutdown() {
    // Each try restarts `false` a few times with no delay, then shuts the tree down while it
    // keeps crashing: the stop request and a crash race each time.
    for attempt in 0..100 {
        let tree = ProcessManager::builder("root")
            .intensity(1_000_000, Duration::from_secs(1))
            .backoff(Backoff::none())
            .child(Command::new("false").into_spec("p"))
            .build()
            .unwrap();
        let handle = tree.handle();
        let mut events = handle.events();
        let run = tokio::spawn(async move { tree.run().await });
        loop {
            let event = events.recv().await.expect("the tree runs");
            if matches!(event.kind, EventKind::Restarting { restarts, .. } if restarts >= 3) {
                break;
            }
        }
        handle.shutdown().unwrap();
        let result = run.await.unwrap();
        assert!(result.is_ok(), "try {attempt}: {result:?}");
    }
    assert_clean(&[]).await;
}
