//! Process children: reload (forward a signal, or restart) and groups of processes as one
//! nested manager.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use overseer::builtin::Idle;
use overseer::process::{Command, OnReload, Signal};
use overseer::{ChildSpec, Control, ProcessManager, Restart, TreeError};
use process_common::{Scratch, assert_clean, is_alive};
use tokio::task::JoinHandle;

/// A process that appends its pid to `pids` and then sleeps; `sleep` is exec'd, so the pid
/// stays the group leader's.
fn sleeper(s: &Scratch, pids: &str) -> Command {
    Command::shell(format!("echo $$ >> {}; exec sleep 30", s.path(pids)))
}

fn start(tree: ProcessManager) -> (overseer::Handle, JoinHandle<Result<(), TreeError>>) {
    let handle = tree.handle();
    (handle, tokio::spawn(async move { tree.run().await }))
}

fn pid(line: &str) -> i32 {
    line.trim().parse().unwrap()
}

#[tokio::test]
async fn reload_by_signal_forwards_sighup_to_the_process_group_and_keeps_it_running() {
    let s = Scratch::new();
    // Each SIGHUP to the group kills the `sleep` and runs the trap; the shell keeps running.
    // Short sleeps: with `sleep 30`, CI once saw no trap within 10 s. A shell that misses
    // the signal in its `wait` (suspected: one arriving while it forks the next `sleep`) runs
    // the trap when that sleep ends, so a short one bounds the delay.
    let script = format!(
        "trap 'echo hup >> {}' HUP; echo $$ > {}; while :; do sleep 1 & wait $!; done",
        s.path("hup"),
        s.path("pid")
    );
    let tree = ProcessManager::builder("root")
        .child(
            Command::shell(script)
                .on_reload(OnReload::Signal(Signal::HUP))
                .into_spec("p"),
        )
        .build()
        .unwrap();
    let (handle, run) = start(tree);
    let pid = s.pid("pid").await;
    handle.send("root/p", Control::Reload).await.unwrap();
    assert_eq!(s.line("hup").await, "hup");
    // Still the same process: a reload by signal is not a restart.
    assert!(is_alive(pid));
    assert_eq!(
        handle
            .snapshot()
            .await
            .unwrap()
            .find("root/p")
            .unwrap()
            .restarts,
        0
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn reload_restarts_a_process_gracefully_by_default_even_when_it_is_transient() {
    let s = Scratch::new();
    let cmd = sleeper(&s, "pids");
    assert_eq!(OnReload::default(), OnReload::Restart);
    let tree = ProcessManager::builder("root")
        .child(cmd.into_spec("p").restart(Restart::Transient))
        .build()
        .unwrap();
    let (handle, run) = start(tree);
    let first = pid(&s.lines("pids", 1).await[0]);
    handle.send("root/p", Control::Reload).await.unwrap();
    let second = pid(&s.lines("pids", 2).await[1]);
    assert_ne!(first, second);
    let node = handle
        .snapshot()
        .await
        .unwrap()
        .find("root/p")
        .cloned()
        .unwrap();
    assert!(
        matches!(node.last_exit, Some(overseer::ExitStatus::Completed)),
        "stopped as asked (SIGTERM), not killed by a SIGHUP it did not expect: {:?}",
        node.last_exit
    );
    assert_clean(&[first]).await;
    assert!(is_alive(second));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[second]).await;
}

/// root { idle, group { a, b } }: two processes under one nested manager; `idle` keeps the
/// root running when the group is stopped.
fn tree_with_group(s: &Scratch) -> ProcessManager {
    let group = ProcessManager::builder("group")
        .child(sleeper(s, "a").into_spec("a"))
        .child(sleeper(s, "b").into_spec("b"))
        .build()
        .unwrap();
    ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .child(ChildSpec::new("group", group))
        .build()
        .unwrap()
}

#[tokio::test]
async fn restarting_a_group_restarts_all_its_processes_as_one() {
    let s = Scratch::new();
    let (handle, run) = start(tree_with_group(&s));
    let (a1, b1) = (pid(&s.line("a").await), pid(&s.line("b").await));
    handle.restart("root/group").await.unwrap();
    let (a2, b2) = (
        pid(&s.lines("a", 2).await[1]),
        pid(&s.lines("b", 2).await[1]),
    );
    assert_clean(&[a1, b1]).await;
    assert!(is_alive(a2) && is_alive(b2));
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[a2, b2]).await;
}

#[tokio::test]
async fn stopping_a_group_stops_all_its_processes_while_the_tree_runs_on() {
    let s = Scratch::new();
    let (handle, run) = start(tree_with_group(&s));
    let (a, b) = (pid(&s.line("a").await), pid(&s.line("b").await));
    handle.stop("root/group").await.unwrap();
    assert_clean(&[a, b]).await;
    assert!(!run.is_finished());
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
