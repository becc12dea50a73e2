//! Process children with captured output: lines reach the log file, the tail, followers and
//! the callback; the sink outlives restarts; a process holding a pipe never hangs a stop.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;
mod process_output_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer::process::Command;
use overseer::process::output::{Line, OutputConfig, Stream};
use overseer::{ProcessManager, Shutdown};
use process_common::{PATIENCE, Scratch, assert_clean, assert_dead, is_alive, run_once};
use process_output_common::{all_lines, file_lines, log_files};
use tokio::sync::broadcast;

fn texts(lines: &[Line], stream: Stream) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.stream() == stream)
        .map(|l| l.text().into_owned())
        .collect()
}

/// Waits for the next line a follower gets, for at most [`PATIENCE`].
async fn next_line(follow: &mut broadcast::Receiver<Line>) -> Line {
    tokio::time::timeout(PATIENCE, follow.recv())
        .await
        .expect("a line within the patience")
        .expect("no lag, no close")
}

fn sigkill(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

#[tokio::test]
async fn stdout_and_stderr_lines_reach_the_log_file_and_the_tail() {
    let s = Scratch::new();
    let log = s.dir().join("app.log");
    let sink = OutputConfig::new().log_file(&log).tail(10).build().unwrap();
    let script = format!(
        "echo $$ > {}; echo out-1; echo err-1 >&2; echo out-2; printf err-2 >&2",
        s.path("pid")
    );
    run_once(Command::shell(script).capture(sink.clone()))
        .await
        .unwrap();
    let tail = sink.tail();
    assert_eq!(texts(&tail, Stream::Stdout), ["out-1", "out-2"]);
    assert_eq!(texts(&tail, Stream::Stderr), ["err-1", "err-2"]);
    let mut in_file = all_lines(&log);
    in_file.sort();
    assert_eq!(in_file, ["err-1", "err-2", "out-1", "out-2"]);
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn the_log_file_rotates_under_heavy_output_and_no_line_is_lost() {
    const LINES: usize = 200_000;
    const MAX_BYTES: u64 = 64 * 1024;
    let s = Scratch::new();
    let log = s.dir().join("app.log");
    let sink = OutputConfig::new()
        .log_file(&log)
        .rotate(MAX_BYTES, 1_000)
        .build()
        .unwrap();
    let script = format!("echo $$ > {}; seq 1 {LINES}", s.path("pid"));
    run_once(Command::shell(script).capture(sink))
        .await
        .unwrap();
    let files = log_files(&log);
    assert!(files.len() > 10, "only {} files: no rotation", files.len());
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        assert!(size <= MAX_BYTES, "{} holds {size} bytes", file.display());
        assert!(!file_lines(file).is_empty());
    }
    let expected: Vec<String> = (1..=LINES).map(|n| n.to_string()).collect();
    assert!(
        all_lines(&log) == expected,
        "lines lost, repeated or out of order"
    );
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_follower_receives_lines_while_the_process_runs() {
    let s = Scratch::new();
    let sink = OutputConfig::new().build().unwrap();
    let mut follow = sink.subscribe();
    let script = format!(
        "echo $$ > {}; echo first; echo second >&2; exec sleep 30",
        s.path("pid")
    );
    let cmd = Command::shell(script).capture(sink);
    let tree = ProcessManager::builder("root")
        .child(cmd.into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pid = s.pid("pid").await;
    let mut got = vec![next_line(&mut follow).await, next_line(&mut follow).await];
    got.sort_by_key(|l| l.stream() == Stream::Stderr);
    assert_eq!(texts(&got, Stream::Stdout), ["first"]);
    assert_eq!(texts(&got, Stream::Stderr), ["second"]);
    assert!(
        is_alive(pid),
        "the lines must arrive while the process runs"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn after_heavy_output_the_last_line_arrives_while_the_process_is_still_running() {
    // Heavy output makes the capture read the pipe in naps; the line after it must still
    // come at once, not wait for the end of the stream.
    let s = Scratch::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = OutputConfig::new()
        .on_line(move |line| {
            if line.text() == "last" {
                let _ = tx.send(());
            }
        })
        .build()
        .unwrap();
    let script = format!(
        "echo $$ > {}; seq 1 300000; echo last; exec sleep 30",
        s.path("pid")
    );
    let tree = ProcessManager::builder("root")
        .child(Command::shell(script).capture(sink).into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pid = s.pid("pid").await;
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("the last line within the patience")
        .expect("the callback is alive");
    assert!(is_alive(pid), "the line must arrive while the process runs");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn the_per_line_callback_sees_every_line_of_both_streams_in_order() {
    let s = Scratch::new();
    let seen: Arc<Mutex<Vec<Line>>> = Arc::default();
    let sink = OutputConfig::new()
        .on_line({
            let seen = Arc::clone(&seen);
            move |line| seen.lock().unwrap().push(line.clone())
        })
        .build()
        .unwrap();
    let script = format!(
        "echo $$ > {}; seq 1 5000 & seq 5001 8000 >&2; wait",
        s.path("pid")
    );
    run_once(Command::shell(script).capture(sink))
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    let out: Vec<String> = (1..=5000).map(|n| n.to_string()).collect();
    let err: Vec<String> = (5001..=8000).map(|n| n.to_string()).collect();
    assert!(texts(&seen, Stream::Stdout) == out, "stdout lines differ");
    assert!(texts(&seen, Stream::Stderr) == err, "stderr lines differ");
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn the_sink_survives_a_restart_so_tail_and_log_hold_both_runs() {
    let s = Scratch::new();
    let log = s.dir().join("app.log");
    let sink = OutputConfig::new().log_file(&log).tail(10).build().unwrap();
    let mut follow = sink.subscribe();
    // The first run prints and fails; the restarted one prints and stays up.
    let script = format!(
        "if [ -e {runs} ]; then echo $$ > {pid}; echo run-2; exec sleep 30; fi; \
         touch {runs}; echo run-1; exit 3",
        runs = s.path("ran-once"),
        pid = s.path("pid"),
    );
    let cmd = Command::shell(script).capture(sink.clone());
    assert!(Arc::ptr_eq(cmd.output().unwrap(), &sink));
    let tree = ProcessManager::builder("root")
        .child(cmd.into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    assert_eq!(next_line(&mut follow).await.text(), "run-1");
    assert_eq!(next_line(&mut follow).await.text(), "run-2");
    let pid = s.pid("pid").await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(texts(&sink.tail(), Stream::Stdout), ["run-1", "run-2"]);
    assert_eq!(all_lines(&log), ["run-1", "run-2"]);
    assert_clean(&[pid]).await;
}

/// A shell snippet that starts a grandchild in a new session, out of reach of the group kill,
/// holding the captured stdout and stderr for 30 s, and waits until it is there.
fn escape_with_the_pipes(s: &Scratch) -> String {
    let marker = s.path("grandchild");
    format!(
        "setsid sh -c 'echo $$ > {marker}.tmp; mv {marker}.tmp {marker}; exec sleep 30' & \
         while [ ! -e {marker} ]; do sleep 0.01; done"
    )
}

#[tokio::test]
async fn a_process_that_left_the_group_holding_the_pipe_does_not_hang_the_stop() {
    let s = Scratch::new();
    let sink = OutputConfig::new().tail(10).build().unwrap();
    let script = format!(
        "{}; echo $$ > {}; echo up; exec sleep 30",
        escape_with_the_pipes(&s),
        s.path("pid")
    );
    let cmd = Command::shell(script)
        .stop_timeout(Duration::from_secs(20))
        .capture(sink.clone());
    // Waiting for the end of the output would exceed 3 s: the manager would abort the run
    // and report a stop timeout.
    let spec = cmd
        .into_spec("p")
        .shutdown(Shutdown::Timeout(Duration::from_secs(3)));
    let tree = ProcessManager::builder("root").child(spec).build().unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let (pid, grandchild) = (s.pid("pid").await, s.pid("grandchild").await);
    handle.shutdown().unwrap();
    let result = run.await.unwrap();
    let still_holding = is_alive(grandchild);
    sigkill(grandchild);
    result.unwrap();
    assert!(
        still_holding,
        "the grandchild should have outlived the stop"
    );
    assert_eq!(texts(&sink.tail(), Stream::Stdout), ["up"]);
    assert_dead(grandchild).await;
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_process_that_left_the_group_holding_the_pipe_does_not_hang_an_exit() {
    let s = Scratch::new();
    let sink = OutputConfig::new().tail(10).build().unwrap();
    let script = format!(
        "{}; echo $$ > {}; echo done",
        escape_with_the_pipes(&s),
        s.path("pid")
    );
    let cmd = Command::shell(script).capture(sink.clone());
    let result = tokio::time::timeout(PATIENCE, run_once(cmd)).await;
    let grandchild = s.pid("grandchild").await;
    let still_holding = is_alive(grandchild);
    sigkill(grandchild);
    result.expect("the run ended").unwrap();
    assert!(still_holding, "the grandchild should have outlived the run");
    assert_eq!(texts(&sink.tail(), Stream::Stdout), ["done"]);
    assert_dead(grandchild).await;
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn captured_pipes_are_enlarged_to_one_mebibyte_where_the_system_allows() {
    const MIB: u64 = 1024 * 1024;
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    if max < MIB {
        return; // Not allowed here: the default size is kept, which is not an error.
    }
    let s = Scratch::new();
    let sink = OutputConfig::new().tail(10).build().unwrap();
    // Linux F_GETPIPE_SZ is 1032; Python's fcntl module names it only from 3.10 on.
    let script = format!(
        "import fcntl, os, sys\n\
         open({pid:?}, 'w').write(str(os.getpgrp()) + '\\n')\n\
         print(fcntl.fcntl(1, 1032))\n\
         print(fcntl.fcntl(2, 1032), file=sys.stderr)\n",
        pid = s.path("pid")
    );
    let cmd = Command::new("python3")
        .arg("-c")
        .arg(script)
        .capture(sink.clone());
    run_once(cmd).await.unwrap();
    let tail = sink.tail();
    assert_eq!(texts(&tail, Stream::Stdout), [MIB.to_string()]);
    assert_eq!(texts(&tail, Stream::Stderr), [MIB.to_string()]);
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_last_line_without_its_newline_is_kept_when_the_drain_gives_up_on_a_held_pipe() {
    let s = Scratch::new();
    let sink = OutputConfig::new().tail(10).build().unwrap();
    // The leader's last words have no newline; a process that left the group keeps both pipes
    // open, so the drain gives up on them.
    let script = format!(
        "{}; echo $$ > {}; echo first; printf 'fatal: no newline' >&2; exit 3",
        escape_with_the_pipes(&s),
        s.path("pid")
    );
    let cmd = Command::shell(script).capture(sink.clone());
    let result = tokio::time::timeout(PATIENCE, run_once(cmd)).await;
    let grandchild = s.pid("grandchild").await;
    sigkill(grandchild);
    assert!(
        result.expect("the run ended").is_err(),
        "exit 3 is a failure"
    );
    assert_eq!(texts(&sink.tail(), Stream::Stdout), ["first"]);
    assert_eq!(texts(&sink.tail(), Stream::Stderr), ["fatal: no newline"]);
    assert_dead(grandchild).await;
    assert_clean(&[s.pid("pid").await]).await;
}
