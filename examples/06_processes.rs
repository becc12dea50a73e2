//! 06 — real OS processes under a manager: a pre-start step, a flaky process restarted with
//! backoff, output captured into a rotating log with an in-memory tail, resource stats, and a
//! graceful stop of every process group. Ends by itself in about three seconds (or on Ctrl-C).
//!
//! ```text
//! root
//!  ├── signals    Ctrl-C → graceful shutdown
//!  └── services   a nested manager: the group of processes, started and stopped as one
//!       ├── web      `sh` printing a line every 200 ms; a pre-start step must succeed first
//!       └── flaky    prints, then exits with code 3 after 500 ms; restarted after 300 ms
//! ```
//!
//! Logs go to a temporary directory, which is printed and removed at the end.
//! Run it with `cargo run --example 06_processes`.

use std::sync::Arc;
use std::time::Duration;

use overseer::builtin::Signals;
use overseer::prelude::*;
use overseer::process::Command;
use overseer::process::output::{OutputConfig, OutputSink};
use overseer::{EventKind, Events};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("overseer-example-06-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("logs in {}", dir.display());

    let web_log = OutputConfig::new()
        .log_file(dir.join("web.log"))
        .rotate(64 * 1024, 3)
        .tail(5)
        .timestamps(true)
        .build()?;
    let flaky_log: Arc<OutputSink> = OutputConfig::new()
        .log_file(dir.join("flaky.log"))
        .tail(10)
        .build()?;

    // `Arc<Command>` keeps a way to ask the running process for its stats.
    let web = Arc::new(
        Command::shell("i=0; while true; do i=$((i+1)); echo \"web: request $i\"; sleep 0.2; done")
            .pre_start(Command::shell("echo 'web: preparing assets'"))
            .capture(web_log.clone())
            .stop_timeout(Duration::from_secs(2)),
    );
    let flaky = Command::shell(
        "echo \"flaky: up (pid $$)\"; sleep 0.5; echo 'flaky: giving up' >&2; exit 3",
    )
    .capture(flaky_log.clone())
    .stop_timeout(Duration::from_secs(2));

    let services = ProcessManager::builder("services")
        // No shutdown policy needed: a process child's default lets its stop sequence finish.
        .child(ChildSpec::from_arc("web", web.clone()))
        .child(flaky.into_spec("flaky"))
        .intensity(10, Duration::from_secs(10))
        .backoff(Backoff::fixed(Duration::from_millis(300)))
        .build()?;
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("signals", Signals::new()))
        .child(ChildSpec::new("services", services))
        .build()?;
    let handle = tree.handle();
    let printer = tokio::spawn(print_events(handle.events()));
    let run = tokio::spawn(async move { tree.run().await });

    tokio::time::sleep(Duration::from_millis(1500)).await;
    if let Some(stats) = web.stats() {
        println!(
            "-- web: pid {}, {} process(es), RSS {} KiB, up {:?}",
            stats.pid,
            stats.processes,
            stats.rss_bytes / 1024,
            stats.uptime
        );
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!("-- the caller asks for a graceful shutdown");
    let _ = handle.shutdown();
    let result = run.await?;
    printer.await?;
    println!("run() returned {result:?}");

    println!("last lines of web:");
    for line in web_log.tail() {
        println!("    {line}");
    }
    println!("last lines of flaky (both runs and streams):");
    for line in flaky_log.tail() {
        println!("    {line}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Prints the lifecycle events of the tree until it stops.
async fn print_events(mut events: Events) {
    while let Some(event) = events.recv().await {
        let what = match &event.kind {
            EventKind::Running => "running".to_string(),
            EventKind::Exited { status } => format!("exited: {status}"),
            EventKind::Restarting { delay, restarts } => {
                format!("restart #{restarts} in {delay:?}")
            }
            EventKind::Stopped => "stopped".to_string(),
            _ => continue,
        };
        println!("  {:<22} {what}", event.path.to_string());
    }
}
