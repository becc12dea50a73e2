//! Process children and the death of their supervisor: the parent-death signal is on by
//! default, is set from a thread that lives as long as the process (so a healthy child is not
//! killed when a runtime thread ends), and can be turned off.
// Real processes, checked through /proc; PR_SET_PDEATHSIG: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::time::Duration;

use overseer::ProcessManager;
use overseer::process::Command;
use process_common::{PATIENCE, Scratch, assert_clean, assert_dead, is_alive};

/// Set for the copy of this test binary that [`supervisor`] runs: the directory to write pids
/// into, and which child to run.
const HELPER_DIR: &str = "OVERSEER_TEST_PDEATHSIG_DIR";
const HELPER_MODE: &str = "OVERSEER_TEST_PDEATHSIG_MODE";

/// Not a test: the supervisor process of the tests below, which run this test binary with
/// `--ignored --exact` and [`HELPER_DIR`] set to get a supervisor they may SIGKILL. Its child
/// writes its pid into `pid`; in mode `pre_start`, a pre-start command does, and never ends.
#[test]
#[ignore = "helper: run by the parent-death tests of this file"]
fn supervisor() {
    let Ok(dir) = std::env::var(HELPER_DIR) else {
        return;
    };
    let mode = std::env::var(HELPER_MODE).unwrap_or_default();
    let script = format!("echo $$ > {dir}/pid.tmp && mv {dir}/pid.tmp {dir}/pid; exec sleep 30");
    let child = match mode.as_str() {
        "opt_out" => Command::shell(script).no_parent_death_signal(),
        "pre_start" => Command::new("true").pre_start(Command::shell(script)),
        _ => Command::shell(script),
    };
    let tree = ProcessManager::builder("helper")
        .child(child.into_spec("p"))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rt.block_on(tree.run());
}

/// Runs [`supervisor`] in `mode`, waits for its child's pid, SIGKILLs the supervisor and
/// returns the pid.
async fn sigkill_the_supervisor_of(s: &Scratch, mode: &str) -> i32 {
    let mut supervisor = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["supervisor", "--exact", "--ignored", "--nocapture"])
        .env(HELPER_DIR, s.dir())
        .env(HELPER_MODE, mode)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = s.pid("pid").await;
    assert!(is_alive(pid));
    supervisor.kill().await.unwrap();
    pid
}

#[tokio::test]
async fn a_process_child_dies_with_its_sigkilled_supervisor_by_default() {
    let s = Scratch::new();
    let pid = sigkill_the_supervisor_of(&s, "default").await;
    assert_dead(pid).await;
    assert_clean(&[]).await;
}

#[tokio::test]
async fn a_pre_start_command_dies_with_its_sigkilled_supervisor_by_default() {
    let s = Scratch::new();
    let pid = sigkill_the_supervisor_of(&s, "pre_start").await;
    assert_dead(pid).await;
    assert_clean(&[]).await;
}

#[tokio::test]
async fn a_process_child_without_a_parent_death_signal_outlives_its_sigkilled_supervisor() {
    let s = Scratch::new();
    let pid = sigkill_the_supervisor_of(&s, "opt_out").await;
    // Its supervisor is gone (reaped by tokio's `kill`): the child was reparented.
    assert!(is_alive(pid), "the child died with its supervisor");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    assert_dead(pid).await;
}

/// The id of the calling thread.
fn current_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// The defect of issue 13: `PR_SET_PDEATHSIG` fires when the *thread* that forked the child
/// exits. Here the runtime's only worker thread, which ran the child's start, gives its role
/// to a new thread (`block_in_place`) and then ends as an idle blocking-pool thread.
#[test]
fn a_healthy_child_survives_the_end_of_the_runtime_thread_that_started_it() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(50))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = Scratch::new();
        let script = format!("echo $$ > {}; exec sleep 30", s.path("pid"));
        let tree = ProcessManager::builder("root")
            .child(Command::shell(script).into_spec("p"))
            .build()
            .unwrap();
        let handle = tree.handle();
        let run = tokio::spawn(async move { tree.run().await });
        let pid = s.pid("pid").await;
        // On the only worker thread (which ran the child's start): hand the worker's role to
        // a new thread, and block until a task has run there.
        let old_worker = tokio::spawn(async {
            tokio::task::block_in_place(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                tokio::spawn(async move { tx.send(current_tid()) });
                let new_worker = rx.recv().unwrap();
                let old_worker = current_tid();
                assert_ne!(old_worker, new_worker);
                old_worker
            })
        })
        .await
        .unwrap();
        // The old worker ends once it has been idle for the keep-alive.
        let gone = tokio::time::Instant::now() + PATIENCE;
        while std::path::Path::new(&format!("/proc/self/task/{old_worker}")).exists() {
            assert!(
                tokio::time::Instant::now() < gone,
                "thread {old_worker} did not end"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A parent-death signal is sent as the thread ends; give a killed child 0.5 s to be
        // seen dead (a bound on the check, not a delay: it passes only by lasting).
        for _ in 0..50 {
            assert!(
                is_alive(pid),
                "the child was killed when thread {old_worker} ended"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(s.pid("pid").await, pid, "the child was restarted");
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
        assert_clean(&[pid]).await;
    });
}
