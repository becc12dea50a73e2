//! 07 — a tree of OS processes in groups: each group is a nested manager of
//! `process::Command` children, started, restarted and stopped as one; every line the
//! processes print is captured and shown with its name, like `foreman` does. Ends by itself
//! in about three seconds (or on Ctrl-C).
//!
//! ```text
//! root
//!  ├── signals       Ctrl-C → graceful shutdown
//!  ├── backend       a group restarted as one (OneForAll)
//!  │    ├── db       `sh` printing a checkpoint every 300 ms
//!  │    └── queue    `sh` printing its depth every 400 ms; starts once db is spawned
//!  └── frontend      a group of two instances of one program, one port each
//!       ├── web-0
//!       └── web-1
//! ```
//!
//! After a second the caller restarts the whole `backend` group (both processes stop, in
//! reverse order, and start again, in order), then stops `frontend` as one, then shuts the
//! tree down. Every process runs in its own process group, and a stop signals the whole group.
//! Run it with `cargo run --example 07_process_tree`.

use std::sync::Arc;
use std::time::Duration;

use overseer::builtin::Signals;
use overseer::prelude::*;
use overseer::process::Command;
use overseer::process::output::{OutputConfig, OutputSink};
use overseer::{EventKind, Events, Snapshot};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = shell(
        "db",
        "echo 'listening on 5432'; i=0; while :; do i=$((i+1)); echo \"checkpoint $i\"; sleep 0.3; done",
    )?;
    let queue = shell(
        "queue",
        "echo 'consuming jobs'; i=0; while :; do i=$((i+1)); echo \"depth $((i % 5))\"; sleep 0.4; done",
    )?;
    // A process child is ready once it has been spawned: `queue` waits for that.
    let backend = ProcessManager::builder("backend")
        .strategy(Strategy::OneForAll)
        .child(db.into_spec("db"))
        .child(queue.into_spec("queue").after("db", Condition::Ready))
        .build()?;

    // Two instances of one program, each with its own port and its own output prefix.
    let frontend = ProcessManager::builder("frontend")
        .children((0..2).map(|i| {
            let id = format!("web-{i}");
            let web = shell(
                &id,
                "echo \"serving on :$PORT\"; while :; do sleep 0.5; echo 'GET / 200'; done",
            )
            .expect("an output sink without files")
            .env("PORT", format!("{}", 8080 + i));
            web.into_spec(id)
        }))
        .build()?;

    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("signals", Signals::new()))
        .child(ChildSpec::new("backend", backend))
        .child(ChildSpec::new("frontend", frontend))
        .build()?;
    let handle = tree.handle();
    let printer = tokio::spawn(print_events(handle.events()));
    let run = tokio::spawn(async move { tree.run().await });

    tokio::time::sleep(Duration::from_millis(1000)).await;
    println!("-- the tree, with the pid of every process:");
    print_tree(&handle.snapshot().await?, 1);

    // Each command fails only when Ctrl-C has already stopped the tree.
    println!("-- restart the backend group");
    let _ = handle.restart("root/backend").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    println!("-- stop the frontend group");
    let _ = handle.stop("root/frontend").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("-- shutdown");
    let _ = handle.shutdown();
    let result = run.await?;
    printer.await?;
    println!("run() returned {result:?}");
    Ok(())
}

/// `sh -c script`, its stdout and stderr captured line by line and printed with `name`.
fn shell(name: &str, script: &str) -> Result<Command, Box<dyn std::error::Error>> {
    let prefix = name.to_string();
    let console: Arc<OutputSink> = OutputConfig::new()
        .on_line(move |line| println!("  {prefix:>6} | {}", line.text()))
        .build()?;
    Ok(Command::shell(script)
        .capture(console)
        .stop_timeout(Duration::from_secs(2)))
}

/// Prints when processes start and end.
async fn print_events(mut events: Events) {
    while let Some(event) = events.recv().await {
        let what = match &event.kind {
            EventKind::Running => "running".to_string(),
            EventKind::Exited { status } => format!("exited: {status}"),
            EventKind::Stopped => "stopped".to_string(),
            _ => continue,
        };
        println!("{:<22} {what}", event.path.to_string());
    }
}

fn print_tree(node: &Snapshot, depth: usize) {
    let pid = node.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
    println!(
        "{:indent$}{} [{}] {}{pid}",
        "",
        node.path,
        node.kind,
        node.state,
        indent = depth * 2
    );
    for child in &node.children {
        print_tree(child, depth + 1);
    }
}
