//! Process children: how they are started. What the program is found as, what it inherits
//! of the supervisor (its environment, but not its signal handlers, nor its ignored
//! `SIGPIPE`), and that a start that fails leaves nothing behind. These run on the default
//! spawn path (the fast `clone` one on Linux with pidfds); the crate's own tests
//! (`src/process/spawn/tests.rs`) run the same checks with the fallback forced.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", feature = "signal", target_os = "linux"))]

mod process_common;

use std::os::unix::fs::PermissionsExt;

use overseer::builtin::Signals;
use overseer::process::output::OutputConfig;
use overseer::process::{Command, Output, ProcessError};
use overseer::{AutoShutdown, ChildSpec, Condition, ProcessManager, Restart};
use process_common::{Scratch, assert_clean, process_error, run_once};

/// The disposition of `signal` in this process: its handler, `SIG_DFL` or `SIG_IGN`.
fn disposition(signal: i32) -> libc::sighandler_t {
    // SAFETY: queries the disposition into a zeroed `sigaction` on this stack; changes
    // nothing.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signal, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

/// An executable script `name` in the scratch directory that writes its first argument into
/// the file named by its second.
fn script(s: &Scratch, name: &str) {
    let path = s.path(name);
    std::fs::write(&path, "#!/bin/sh\necho \"$1\" > \"$2\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn a_missing_program_fails_the_start_with_a_spawn_error_carrying_enoent_and_leaves_no_zombie()
{
    for program in [
        "overseer-test-no-such-program",
        "/nonexistent/overseer-test",
    ] {
        // `run_once` checks that no zombie child is left.
        let err = run_once(Command::new(program)).await.unwrap_err();
        match process_error(&err) {
            ProcessError::Spawn { command: p, source } => {
                assert_eq!(p, program);
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "{source}");
            }
            other => panic!("expected a spawn error, got {other}"),
        }
    }
}

#[tokio::test]
async fn a_program_without_a_slash_is_found_through_the_supervisors_path() {
    let s = Scratch::new();
    // `sh` and `touch` are found in the supervisor's PATH (the child inherits it).
    run_once(Command::new("sh").args(["-c", &format!("touch {}", s.path("ran"))]))
        .await
        .unwrap();
    assert!(s.exists("ran"));
}

#[tokio::test]
async fn a_program_found_only_through_the_path_given_to_the_child_runs() {
    let s = Scratch::new();
    script(&s, "overseer-spawn-test-probe");
    let supervisor_path = std::env::var("PATH").unwrap();
    assert!(!supervisor_path.contains(&s.path("")), "the premise");
    let cmd = Command::new("overseer-spawn-test-probe")
        .args(["found", &s.path("out")])
        .env("PATH", format!("/usr/bin:{}:/bin", s.dir().display()));
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("out").await, "found");
}

#[tokio::test]
async fn without_a_path_a_program_is_looked_up_in_bin_and_usr_bin() {
    let s = Scratch::new();
    // As execvp (and so std) does: `/bin:/usr/bin`.
    let cmd = Command::new("sh")
        .args(["-c", &format!("echo ran > {}", s.path("out"))])
        .env_clear();
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("out").await, "ran");
}

#[tokio::test]
async fn a_child_that_writes_into_a_closed_pipe_dies_of_sigpipe_though_the_supervisor_ignores_it() {
    assert_eq!(
        disposition(libc::SIGPIPE),
        libc::SIG_IGN,
        "the premise: Rust ignores SIGPIPE in the supervisor"
    );
    let s = Scratch::new();
    // `yes` writes into a pipe whose reader (`head`) has exited; its status (128 + the
    // signal) is written down. An ignored SIGPIPE would make its write fail with EPIPE
    // instead, and it would exit with 1.
    let status = s.path("status");
    let cmd = Command::shell(format!("(yes; echo $? > {status}) | head -c 1 > /dev/null"));
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("status").await, (128 + libc::SIGPIPE).to_string());
}

#[tokio::test]
async fn a_signal_handler_installed_in_the_supervisor_is_not_inherited_and_the_child_dies_of_sigterm()
 {
    // `Signals` handles SIGTERM in the supervisor; the child starts once it is ready (its
    // handlers installed) and sends itself SIGTERM.
    let s = Scratch::new();
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(ChildSpec::new("signals", Signals::new()))
        .child(
            Command::shell(format!(
                "echo $$ > {}; kill -TERM $$; sleep 5",
                s.path("pid")
            ))
            .into_spec("p")
            .after("signals", Condition::Ready)
            .restart(Restart::Temporary)
            .significant(true),
        )
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert_ne!(
        disposition(libc::SIGTERM),
        libc::SIG_DFL,
        "the premise: the supervisor had a SIGTERM handler"
    );
    let e = process_error(&err);
    assert!(
        matches!(e, ProcessError::Signaled { signal, .. } if *signal == libc::SIGTERM),
        "{e}"
    );
    assert_clean(&[s.pid("pid").await]).await;
}

#[tokio::test]
async fn the_environment_working_directory_and_stdio_settings_reach_the_child() {
    let s = Scratch::new();
    std::fs::write(s.path("app.env"), "FROM_FILE=file\nOVERRIDDEN=file\n").unwrap();
    let sink = OutputConfig::new().tail(16).build().unwrap();
    let script = "echo \"cwd=$(pwd)\"; \
         echo \"env=$FROM_FILE $OVERRIDDEN $ADDED ${HOME-unset} ${REMOVED-removed}\"; \
         if read line; then echo \"stdin=$line\"; else echo stdin=eof; fi; \
         echo to-stderr >&2";
    let cmd = Command::shell(script)
        .env_clear()
        .env_file(s.path("app.env"))
        .env("OVERRIDDEN", "explicit")
        .env("ADDED", "a b")
        .env("REMOVED", "x")
        .env_remove("REMOVED")
        .current_dir(s.dir())
        .capture(sink.clone())
        .stderr(Output::Null);
    run_once(cmd).await.unwrap();
    let lines: Vec<String> = sink.tail().iter().map(|l| l.text().into_owned()).collect();
    assert_eq!(
        lines,
        [
            format!("cwd={}", s.dir().canonicalize().unwrap().display()),
            "env=file explicit a b unset removed".to_owned(),
            "stdin=eof".to_owned(),
        ]
    );
}
