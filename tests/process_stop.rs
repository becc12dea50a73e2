//! Process children: stopping the whole process group (stop signal, timeout, SIGKILL), also
//! when the leader is gone, when the manager aborts the run, and when the supervisor dies.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::time::Duration;

use overseer::process::{Command, Signal};
use overseer::{Cause, ChildSpec, ProcessManager, Shutdown, TreeError};
use process_common::{Scratch, assert_clean, assert_dead, is_alive, run_once};
use tokio::time::Instant;

/// Runs a tree with the single child `spec`, waits for its pid file `pid`, asks the tree to
/// shut down and returns the result, the pid and how long the shutdown took.
async fn start_then_shut_down(
    s: &Scratch,
    spec: overseer::ChildSpec,
) -> (Result<(), TreeError>, i32, Duration) {
    let tree = ProcessManager::builder("root").child(spec).build().unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pid = s.pid("pid").await;
    let t0 = Instant::now();
    handle.shutdown().unwrap();
    let result = run.await.unwrap();
    (result, pid, t0.elapsed())
}

#[tokio::test]
async fn a_process_stops_on_the_stop_signal_and_the_stop_is_a_success() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; exec sleep 30", s.path("pid"));
    let (result, pid, _) = start_then_shut_down(&s, Command::shell(script).into_spec("p")).await;
    result.unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_child_that_traps_sigterm_is_killed_after_the_stop_timeout() {
    let s = Scratch::new();
    // `sleep` inherits the ignored SIGTERM: nobody in the group reacts to it.
    let script = format!("trap '' TERM; echo $$ > {}; sleep 30", s.path("pid"));
    let cmd = Command::shell(script).stop_timeout(Duration::from_millis(200));
    let (result, pid, took) = start_then_shut_down(&s, cmd.into_spec("p")).await;
    // Killed by the stop sequence, not aborted by the manager (which would be a StopTimeout).
    result.unwrap();
    assert!(took >= Duration::from_millis(200), "stopped after {took:?}");
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_stop_command_stops_the_process_instead_of_the_stop_signal_and_gets_its_pid() {
    let s = Scratch::new();
    // Deaf to SIGTERM; leaves cleanly once the stop command has made its file.
    let script = format!(
        "trap '' TERM; echo $$ > {pid}; while [ ! -e {stop} ]; do sleep 0.01; done; \
         echo clean > {marker}",
        pid = s.path("pid"),
        stop = s.path("stop"),
        marker = s.path("marker"),
    );
    let stop = Command::shell(format!(
        "echo $OVERSEER_PID > {told}; touch {stop}",
        told = s.path("told"),
        stop = s.path("stop"),
    ));
    let cmd = Command::shell(script)
        .stop_command(stop)
        .stop_timeout(Duration::from_secs(30));
    let (result, pid, _) = start_then_shut_down(&s, cmd.into_spec("p")).await;
    result.unwrap();
    assert_eq!(
        s.line("marker").await,
        "clean",
        "it left by itself, not by SIGKILL"
    );
    assert_eq!(
        s.pid("told").await,
        pid,
        "the stop command got the process's pid"
    );
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_stop_command_that_fails_is_followed_by_the_stop_signal() {
    let s = Scratch::new();
    let script = format!(
        "trap 'echo got-term > {marker}; exit 0' TERM; echo $$ > {pid}; sleep 30 & wait",
        marker = s.path("marker"),
        pid = s.path("pid"),
    );
    let cmd = Command::shell(script)
        .stop_command(Command::shell("exit 4"))
        .stop_timeout(Duration::from_secs(30));
    let (result, pid, _) = start_then_shut_down(&s, cmd.into_spec("p")).await;
    result.unwrap();
    assert_eq!(s.line("marker").await, "got-term");
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn the_configured_stop_signal_is_sent_instead_of_sigterm() {
    let s = Scratch::new();
    let script = format!(
        "trap '' TERM; trap 'echo got-int > {}; exit 0' INT; echo $$ > {}; sleep 30 & wait",
        s.path("marker"),
        s.path("pid")
    );
    // The background `sleep` ignores both signals (TERM inherited, INT as an asynchronous
    // command of a non-interactive shell): it is SIGKILLed when the stop timeout ends.
    let cmd = Command::shell(script)
        .stop_signal(Signal::INT)
        .stop_timeout(Duration::from_millis(500));
    // A SIGTERM would be ignored: the leader would be killed without writing the marker.
    let spec = cmd
        .into_spec("p")
        .shutdown(Shutdown::Timeout(Duration::from_secs(3)));
    let (result, pid, _) = start_then_shut_down(&s, spec).await;
    result.unwrap();
    assert_eq!(s.line("marker").await, "got-int");
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_grandchild_holding_stdout_and_ignoring_the_stop_signal_is_killed_at_the_stop_timeout() {
    let s = Scratch::new();
    // The grandchild ignores SIGTERM and keeps the inherited stdout open; the leader dies of
    // SIGTERM at once.
    // The leader writes its pid once the grandchild's trap is set.
    let script = format!(
        "(trap '' TERM; : > {t}; exec sleep 30) & while [ ! -e {t} ]; do sleep 0.01; done; \
         echo $! > {}; echo $$ > {}; wait",
        s.path("grandchild"),
        s.path("pid"),
        t = s.path("trapped"),
    );
    let cmd = Command::shell(script).stop_timeout(Duration::from_millis(500));
    // Waiting for the grandchild's end (or for the end of its output) would exceed 5 s.
    let spec = cmd
        .into_spec("p")
        .shutdown(Shutdown::Timeout(Duration::from_secs(5)));
    let (result, pid, took) = start_then_shut_down(&s, spec).await;
    result.unwrap();
    assert!(took >= Duration::from_millis(500), "stopped after {took:?}");
    let grandchild = s.pid("grandchild").await;
    assert_dead(grandchild).await;
    assert_clean(&[pid]).await;
}

/// A shell script for a leader with one member that traps SIGTERM, takes `cleanup` to clean
/// up, then writes "clean" into `marker` and exits. The leader writes its pid into `pid` once
/// the member's trap is set, then waits (for ever, or for `leader_wait` to end).
fn leader_with_a_slow_member(s: &Scratch, cleanup: &str, leader_wait: &str) -> String {
    let member = format!(
        "trap \"sleep {cleanup}; echo clean > {}; exit 0\" TERM; echo $$ > {}; \
         while :; do sleep 0.05; done",
        s.path("marker"),
        s.path("member")
    );
    format!(
        "sh -c '{member}' & while [ ! -s {} ]; do sleep 0.01; done; echo $$ > {}; {leader_wait}",
        s.path("member"),
        s.path("pid")
    )
}

#[tokio::test]
async fn a_member_of_the_group_gets_its_grace_period_after_the_leader_has_exited() {
    let s = Scratch::new();
    // On SIGTERM the leader (no trap) dies at once; the member needs 0.3 s to clean up.
    let script = leader_with_a_slow_member(&s, "0.3", "wait");
    let cmd = Command::shell(script).stop_timeout(Duration::from_secs(30));
    // The stop ends when the member is gone, long before the stop timeout: a stop that waited
    // for the timeout would be aborted by the manager after 10 s, a failure.
    let spec = cmd
        .into_spec("p")
        .shutdown(Shutdown::Timeout(Duration::from_secs(10)));
    let (result, pid, _) = start_then_shut_down(&s, spec).await;
    result.unwrap();
    assert_eq!(s.line("marker").await, "clean");
    let member = s.pid("member").await;
    assert_dead(member).await;
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn when_the_leader_exits_on_its_own_the_rest_of_its_group_gets_the_stop_signal_first() {
    let s = Scratch::new();
    // The leader exits 0 as soon as its member is set up.
    let script = leader_with_a_slow_member(&s, "0.1", "true");
    run_once(Command::shell(script).stop_timeout(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(s.line("marker").await, "clean");
    let (pid, member) = (s.pid("pid").await, s.pid("member").await);
    assert_dead(member).await;
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_leader_that_forks_and_exits_does_not_leave_its_group_running() {
    let s = Scratch::new();
    let script = format!(
        "sleep 30 & echo $! > {}; echo $$ > {}",
        s.path("grandchild"),
        s.path("pid")
    );
    run_once(Command::shell(script)).await.unwrap();
    let (pid, grandchild) = (s.pid("pid").await, s.pid("grandchild").await);
    assert_dead(grandchild).await;
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_run_aborted_by_the_manager_still_kills_the_whole_group() {
    let s = Scratch::new();
    let script = format!(
        "trap '' TERM; sleep 30 & echo $! > {}; echo $$ > {}; wait",
        s.path("grandchild"),
        s.path("pid")
    );
    // The manager gives up on the graceful stop long before the process's own stop timeout.
    let spec = Command::shell(script)
        .stop_timeout(Duration::from_secs(30))
        .into_spec("p")
        .shutdown(Shutdown::Timeout(Duration::from_millis(300)));
    let (result, pid, _) = start_then_shut_down(&s, spec).await;
    let err = result.unwrap_err();
    assert!(matches!(err.cause(), Cause::StopTimeout { .. }), "{err}");
    let grandchild = s.pid("grandchild").await;
    assert_dead(grandchild).await;
    assert_clean(&[pid]).await;
}

#[test]
fn a_spec_made_with_new_lets_the_stop_sequence_run_to_its_end() {
    let command = Command::new("sleep")
        .arg("1000")
        .stop_timeout(Duration::from_secs(20));
    let spec = ChildSpec::new("sleeper", command.clone());
    assert_eq!(
        spec.shutdown_policy(),
        Shutdown::Timeout(Duration::from_secs(20) + Command::SPEC_SHUTDOWN_MARGIN)
    );
    // A policy set on the spec wins.
    let spec = ChildSpec::new("sleeper", command).shutdown(Shutdown::Brutal);
    assert_eq!(spec.shutdown_policy(), Shutdown::Brutal);
}

#[tokio::test]
async fn a_stop_timeout_too_large_for_the_clock_means_no_sigkill_and_no_panic() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; exec sleep 30", s.path("pid"));
    let cmd = Command::shell(script).stop_timeout(Duration::MAX);
    let (result, pid, _) = start_then_shut_down(&s, cmd.into_spec("p")).await;
    result.unwrap();
    assert_clean(&[pid]).await;
}

/// A shell command, ended by `&`, that starts a member holding an exclusive `flock` on `lock`
/// which ignores SIGTERM and, once SIGKILLed, takes a while to be gone (it has 300 MB to give
/// back). It writes its pid into `ready` once it holds the lock.
fn slow_dying_lock_holder(lock: &str, ready: &str) -> String {
    format!(
        r#"perl -e 'use Fcntl ":flock"; $SIG{{TERM}} = "IGNORE"; open(my $l, ">", "{lock}") or die; flock($l, LOCK_EX) or die; my $x = "x" x (300 << 20); open(my $r, ">", "{ready}.tmp") or die; print $r "$$\n"; close $r; rename("{ready}.tmp", "{ready}"); sleep 60' &"#
    )
}

/// Whether nobody holds a `flock` on `path`.
fn lock_is_free(path: &str) -> bool {
    std::process::Command::new("flock")
        .args(["-n", path, "true"])
        .status()
        .expect("flock")
        .success()
}

#[tokio::test]
async fn a_restart_waits_until_every_member_of_the_last_run_has_exited() {
    let s = Scratch::new();
    let (lock, ready, log) = (s.path("lock"), s.path("ready"), s.path("log"));
    let member = slow_dying_lock_holder(&lock, &ready);
    // Each run notes whether the lock is free, starts the member, waits until it holds the
    // lock and crashes: the member gets SIGTERM (ignored), then SIGKILL after 100 ms.
    let script = format!(
        "if flock -n {lock} true; then echo free >> {log}; else echo held >> {log}; fi; \
         rm -f {ready}; {member} while [ ! -s {ready} ]; do sleep 0.01; done; exit 1"
    );
    let cmd = Command::shell(script).stop_timeout(Duration::from_millis(100));
    // Restarted at once: the test is about the overlap, and the service backoff's delays
    // (100 ms doubling) only made it slow enough to time out on a loaded machine.
    let tree = ProcessManager::builder("root")
        .intensity(100, Duration::from_secs(60))
        .backoff(overseer::Backoff::none())
        .child(cmd.into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let runs = s.lines("log", 4).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        runs[..4],
        ["free"; 4],
        "a run started while a member of the previous one held the lock"
    );
    assert_clean(&[]).await;
}

#[tokio::test]
async fn a_stop_returns_only_once_every_member_of_the_group_has_exited() {
    let s = Scratch::new();
    let (lock, ready) = (s.path("lock"), s.path("ready"));
    let member = slow_dying_lock_holder(&lock, &ready);
    let script = format!(
        "{member} while [ ! -s {ready} ]; do sleep 0.01; done; echo $$ > {}; wait",
        s.path("pid")
    );
    let cmd = Command::shell(script).stop_timeout(Duration::from_millis(100));
    let (result, pid, _) = start_then_shut_down(&s, cmd.into_spec("p")).await;
    result.unwrap();
    // Right when the stop returns, not eventually.
    let member = s.pid("ready").await;
    assert!(!is_alive(member), "member {member} outlived the stop");
    assert!(lock_is_free(&lock), "the member's lock outlived the stop");
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_run_whose_leader_exits_on_its_own_ends_once_every_member_of_its_group_has_exited() {
    let s = Scratch::new();
    let (lock, ready) = (s.path("lock"), s.path("ready"));
    let member = slow_dying_lock_holder(&lock, &ready);
    let script = format!("{member} while [ ! -s {ready} ]; do sleep 0.01; done; exit 0");
    run_once(Command::shell(script).stop_timeout(Duration::from_millis(100)))
        .await
        .unwrap();
    let member = s.pid("ready").await;
    assert!(!is_alive(member), "member {member} outlived the run");
    assert!(lock_is_free(&lock), "the member's lock outlived the run");
}
