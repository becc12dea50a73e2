//! A process child's logs read as a person says it: how it ended, its command line.
//!
//! Alone in its test binary, as `tests/tracing.rs` is, and for the same reason: a callsite
//! first reached without a subscriber is cached as uninterested for the whole process.
#![cfg(all(feature = "process", target_os = "linux"))]

mod common;

use common::Captured;
use overseer::ProcessManager;
use overseer::process::Command;

#[tokio::test]
async fn a_stopped_process_is_logged_as_terminated_by_its_signal_with_its_command_line() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let tree = ProcessManager::builder("root")
        .child(Command::new("sleep").arg("30").into_spec("sleeper"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    while let Some(event) = events.recv().await {
        if event.path == "root/sleeper" && matches!(event.kind, overseer::EventKind::Running) {
            break;
        }
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    let text = out.text();
    let line = text
        .lines()
        .find(|l| l.contains("process stopped"))
        .unwrap_or_else(|| panic!("no stop logged: {text}"));
    assert!(line.contains("status=terminated by SIGTERM"), "{line}");
    assert!(line.contains("command=\"sleep 30\""), "{line}");
    assert!(!line.contains("ExitStatus"), "{line}");
}
