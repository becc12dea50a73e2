//! Process children: exit statuses, success codes, and clear errors for what cannot start.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use overseer::process::{Command, ProcessError};
use overseer::{ChildKind, ProcessManager};
use process_common::{Scratch, assert_clean, process_error, run_once};

#[tokio::test]
async fn a_process_that_exits_0_is_a_success() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}", s.path("pid"));
    run_once(Command::shell(script)).await.unwrap();
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_non_zero_exit_code_is_a_typed_error_carrying_the_code() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; exit 3", s.path("pid"));
    let err = run_once(Command::shell(script)).await.unwrap_err();
    assert_eq!(err.path(), &"root/p");
    let e = process_error(&err);
    assert!(matches!(e, ProcessError::Exited { code: 3, .. }), "{e}");
    assert_eq!(e.code(), Some(3));
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_failure_names_the_path_and_the_whole_command_line_not_only_the_program() {
    let err = run_once(Command::shell("exit 3")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "root/p: `/bin/sh -c 'exit 3'` exited with code 3"
    );
}

#[tokio::test]
async fn a_failure_carries_the_last_lines_of_captured_output_stderr_first() {
    use overseer::process::output::OutputConfig;
    let script = "echo starting; for i in $(seq 1 30); do echo \"trace $i\" >&2; done; exit 1";
    let sink = OutputConfig::new().tail(100).build().unwrap();
    let err = run_once(Command::shell(script).capture(sink))
        .await
        .unwrap_err();
    let e = process_error(&err);
    let expected: Vec<String> = (11..=30).map(|i| format!("trace {i}")).collect();
    assert_eq!(e.output(), expected, "the last 20 lines of stderr");
    let shown = err.to_string();
    assert!(
        shown.ends_with("exited with code 1; last output:\n  trace 11\n  trace 12\n  trace 13\n  trace 14\n  trace 15\n  trace 16\n  trace 17\n  trace 18\n  trace 19\n  trace 20\n  trace 21\n  trace 22\n  trace 23\n  trace 24\n  trace 25\n  trace 26\n  trace 27\n  trace 28\n  trace 29\n  trace 30"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_failure_whose_output_goes_to_log_files_reads_its_last_lines_back_from_them() {
    use overseer::process::output::OutputConfig;
    let s = Scratch::new();
    let sink = OutputConfig::new()
        .stdout_file(s.dir().join("out.log"))
        .stderr_file(s.dir().join("err.log"))
        .build()
        .unwrap();
    let script =
        "echo 'Traceback (most recent call last):' >&2; echo 'ValueError: bad port' >&2; exit 1";
    let err = run_once(Command::shell(script).capture(sink))
        .await
        .unwrap_err();
    assert_eq!(
        process_error(&err).output(),
        ["Traceback (most recent call last):", "ValueError: bad port"]
    );
}

#[tokio::test]
async fn a_failure_of_a_process_whose_output_is_not_captured_carries_no_lines() {
    let err =
        run_once(Command::shell("echo hidden >&2; exit 1").stderr(overseer::process::Output::Null))
            .await
            .unwrap_err();
    assert!(process_error(&err).output().is_empty());
}

#[tokio::test]
async fn a_process_killed_by_a_signal_is_a_typed_error_carrying_the_signal() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; kill -USR1 $$", s.path("pid"));
    let err = run_once(Command::shell(script)).await.unwrap_err();
    let e = process_error(&err);
    assert_eq!(e.signal(), Some(overseer::process::Signal::USR1.as_raw()));
    assert!(e.to_string().contains("SIGUSR1"), "{e}");
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn a_configured_success_code_is_a_success() {
    let cmd = Command::shell("exit 42").success_codes([0, 42]);
    run_once(cmd).await.unwrap();
}

#[tokio::test]
async fn with_custom_success_codes_0_is_a_failure_unless_listed() {
    let err = run_once(Command::shell("exit 0").success_codes([42]))
        .await
        .unwrap_err();
    assert_eq!(process_error(&err).code(), Some(0));
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_naming_the_program() {
    let err = run_once(Command::new("/nonexistent/overseer-test-program"))
        .await
        .unwrap_err();
    match process_error(&err) {
        ProcessError::Spawn {
            command, source, ..
        } => {
            assert_eq!(command, "/nonexistent/overseer-test-program");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a spawn error, got {other}"),
    }
    assert!(err.to_string().contains("overseer-test-program"), "{err}");
}

#[tokio::test]
async fn a_missing_working_directory_is_a_clear_error_naming_the_directory() {
    let s = Scratch::new();
    let missing = s.dir().join("no-such-dir");
    let err = run_once(Command::new("true").current_dir(&missing))
        .await
        .unwrap_err();
    match process_error(&err) {
        ProcessError::WorkingDir { path, source, .. } => {
            assert_eq!(path, &missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a working-directory error, got {other}"),
    }
}

#[tokio::test]
async fn the_working_directory_is_where_the_process_runs() {
    let s = Scratch::new();
    run_once(Command::shell("pwd > out").current_dir(s.dir()))
        .await
        .unwrap();
    let expected = s.dir().canonicalize().unwrap();
    assert_eq!(s.line("out").await, expected.to_str().unwrap());
}

#[tokio::test]
async fn a_running_process_child_shows_its_kind_pid_memory_and_cpu_in_the_snapshot() {
    let s = Scratch::new();
    let script = format!("echo $$ > {}; exec sleep 30", s.path("pid"));
    let tree = ProcessManager::builder("root")
        .child(Command::shell(script).into_spec("p"))
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
    let snap = handle.snapshot().await.unwrap();
    let child = snap.find("root/p").unwrap();
    assert_eq!(child.kind, ChildKind::Process);
    assert_eq!(child.pid, Some(pid as u32));
    let resources = child.resources.expect("a running process has figures");
    assert!(resources.memory_bytes > 0, "{resources:?}");
    assert_eq!(resources.processes, 1);
    // A later reading has a CPU figure (the first starts the measure; readings share a scan
    // of /proc for up to 100 ms, and give the same figure meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let cpu = loop {
        let again = handle.snapshot().await.unwrap();
        let cpu = again.find("root/p").unwrap().resources.unwrap().cpu_percent;
        if cpu.is_some() || std::time::Instant::now() > deadline {
            break cpu;
        }
        tokio::task::yield_now().await;
    };
    assert!(cpu.is_some_and(|c| c >= 0.0), "{cpu:?}");
    assert!(
        snap.find("root").unwrap().resources.is_none(),
        "a manager has none"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_process_whose_program_is_missing_fails_the_tree_at_once_instead_of_being_restarted() {
    // Permanent, with room for many restarts: a typo is still reported at once.
    let tree = ProcessManager::builder("root")
        .intensity(1000, std::time::Duration::from_secs(1))
        .child(Command::new("/no/such/program").into_spec("typo"))
        .build()
        .unwrap();
    let mut events = tree.handle().events();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &"root/typo");
    assert!(
        matches!(err.cause(), overseer::Cause::FailedToStart { .. }),
        "{err}"
    );
    assert!(matches!(process_error(&err), ProcessError::Spawn { .. }));
    let mut restarts = 0;
    while let Some(event) = events.recv().await {
        restarts += usize::from(matches!(event.kind, overseer::EventKind::Restarting { .. }));
    }
    assert_eq!(restarts, 0);
}
