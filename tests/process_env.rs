//! Process children: the environment (inherit, clear, add, remove, env files) as the process
//! sees it.
// Real processes, checked through /proc: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use overseer::process::{Command, EnvFileError, ProcessError};
use process_common::{Scratch, process_error, run_once};

#[tokio::test]
async fn the_environment_is_inherited_by_default() {
    let s = Scratch::new();
    run_once(Command::shell(format!(
        "echo \"$PATH\" > {}",
        s.path("out")
    )))
    .await
    .unwrap();
    assert_eq!(s.line("out").await, std::env::var("PATH").unwrap());
}

#[tokio::test]
async fn a_cleared_environment_has_only_the_variables_added() {
    let s = Scratch::new();
    let cmd = Command::shell(format!("echo \"${{HOME-unset}} $X\" > {}", s.path("out")))
        .env_clear()
        .env("X", "added");
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("out").await, "unset added");
}

#[tokio::test]
async fn added_variables_are_seen_and_removed_ones_are_not() {
    let s = Scratch::new();
    let cmd = Command::shell(format!("echo \"$X ${{Y-removed}}\" > {}", s.path("out")))
        .env("X", "one two")
        .env("Y", "set")
        .env_remove("Y");
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("out").await, "one two removed");
}

#[tokio::test]
async fn an_env_file_is_read_and_explicit_variables_override_it() {
    let s = Scratch::new();
    std::fs::write(
        s.path("app.env"),
        "# settings\nexport A='x y'\nB=\"q\\\"z\"\nC=from-file # comment\n",
    )
    .unwrap();
    let cmd = Command::shell(format!("echo \"$A|$B|$C\" > {}", s.path("out")))
        .env_file(s.path("app.env"))
        .env("C", "explicit");
    run_once(cmd).await.unwrap();
    assert_eq!(s.line("out").await, "x y|q\"z|explicit");
}

#[tokio::test]
async fn a_missing_env_file_is_a_typed_error_and_nothing_is_spawned() {
    let s = Scratch::new();
    let cmd = Command::shell(format!("touch {}", s.path("ran"))).env_file(s.path("missing.env"));
    let err = run_once(cmd).await.unwrap_err();
    match process_error(&err) {
        ProcessError::EnvFile {
            path,
            source: EnvFileError::Read(_),
        } => assert_eq!(path.to_str().unwrap(), s.path("missing.env")),
        other => panic!("expected an env-file read error, got {other}"),
    }
    assert!(!s.exists("ran"));
}

#[tokio::test]
async fn an_env_file_interpolates_variables_and_reads_multi_line_values_as_compose_does() {
    let s = Scratch::new();
    std::fs::write(
        s.path("app.env"),
        "PORT=8080\nURL=http://${HOST:-localhost}:$PORT/\nHOME_DIR=${HOME}\nCERT=\"one\ntwo\"\n",
    )
    .unwrap();
    let out = s.path("out");
    let cmd = Command::shell(format!(
        "printf '%s|%s|%s\\n' \"$URL\" \"$HOME_DIR\" \"$CERT\" > {out}"
    ))
    .env_file(s.path("app.env"));
    run_once(cmd).await.unwrap();
    let home = std::env::var("HOME").unwrap_or_default();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, format!("http://localhost:8080/|{home}|one\ntwo\n"));
}

#[tokio::test]
async fn a_malformed_env_file_is_a_typed_error_naming_the_line() {
    let s = Scratch::new();
    std::fs::write(s.path("bad.env"), "A=1\nnot a pair\n").unwrap();
    let err = run_once(Command::new("true").env_file(s.path("bad.env")))
        .await
        .unwrap_err();
    match process_error(&err) {
        ProcessError::EnvFile {
            source: EnvFileError::Malformed { line, .. },
            ..
        } => assert_eq!(*line, 2),
        other => panic!("expected a malformed env file, got {other}"),
    }
    assert!(err.to_string().contains("bad.env"), "{err}");
}
