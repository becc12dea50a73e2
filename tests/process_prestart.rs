//! Process children: pre-start commands run in order and must succeed before the main process.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::time::Duration;

use overseer::ProcessManager;
use overseer::process::{Command, ProcessError};
use process_common::{Scratch, assert_clean, assert_dead, process_error, run_once};

#[tokio::test]
async fn pre_start_commands_run_in_order_before_the_main_process() {
    let s = Scratch::new();
    let log = s.path("log");
    let cmd = Command::shell(format!("echo main >> {log}"))
        .pre_start(Command::shell(format!("echo first >> {log}")))
        .pre_start(
            Command::new("sh")
                .arg("-c")
                .arg(format!("echo second >> {log}")),
        );
    run_once(cmd).await.unwrap();
    assert_eq!(s.lines("log", 3).await, ["first", "second", "main"]);
}

#[tokio::test]
async fn a_failed_pre_start_command_is_the_childs_failure_with_its_output() {
    let s = Scratch::new();
    let cmd = Command::shell(format!("touch {}", s.path("main-ran"))).pre_start(Command::shell(
        "echo installing; echo 'no network' >&2; exit 7",
    ));
    let err = run_once(cmd).await.unwrap_err();
    match process_error(&err) {
        ProcessError::PreStart {
            command,
            source,
            output,
        } => {
            assert_eq!(
                command,
                "/bin/sh -c 'echo installing; echo '\\''no network'\\'' >&2; exit 7'"
            );
            assert!(matches!(**source, ProcessError::Exited { code: 7, .. }));
            let mut output = output.clone();
            output.sort();
            assert_eq!(output, ["installing", "no network"]);
        }
        other => panic!("expected a pre-start failure, got {other}"),
    }
    assert_eq!(process_error(&err).code(), Some(7));
    assert!(err.to_string().contains("no network"), "{err}");
    assert!(!s.exists("main-ran"));
}

#[tokio::test]
async fn a_failed_pre_start_command_reports_only_its_last_64_lines() {
    let cmd = Command::new("true").pre_start(Command::shell("seq 1 100; exit 1"));
    let err = run_once(cmd).await.unwrap_err();
    let ProcessError::PreStart { output, .. } = process_error(&err) else {
        panic!("expected a pre-start failure")
    };
    let expected: Vec<String> = (37..=100).map(|n| n.to_string()).collect();
    assert_eq!(output, &expected);
}

#[tokio::test]
async fn a_pre_start_grandchild_holding_the_output_pipe_does_not_block_the_start() {
    let s = Scratch::new();
    // The pre-start command exits at once but leaves a `sleep` holding its stdout pipe.
    let pre = Command::shell(format!(
        "sleep 30 & echo $! > {}; echo done",
        s.path("grandchild")
    ));
    let cmd = Command::shell(format!("echo $$ > {}", s.path("pid"))).pre_start(pre);
    run_once(cmd).await.unwrap();
    assert_dead(s.pid("grandchild").await).await;
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_stop_during_a_pre_start_command_stops_its_group_and_skips_the_main_process() {
    let s = Scratch::new();
    let pre = Command::shell(format!("echo $$ > {}; exec sleep 30", s.path("pre")));
    let cmd = Command::shell(format!("touch {}", s.path("main-ran")))
        .pre_start(pre)
        .stop_timeout(Duration::from_secs(5));
    let tree = ProcessManager::builder("root")
        .child(cmd.into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pre_pid = s.pid("pre").await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pre_pid]).await;
    assert!(!s.exists("main-ran"));
}
