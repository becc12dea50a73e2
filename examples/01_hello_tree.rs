//! 01 — a supervision tree at work, in two acts, ending by itself in about three seconds
//! (or at once on Ctrl-C).
//!
//! Act 1, restart and graceful shutdown:
//! ```text
//! root
//!  ├── signals   Ctrl-C → graceful shutdown, a second Ctrl-C → immediate
//!  ├── db        reports ready after 100 ms
//!  ├── api       starts only once db is ready
//!  └── flaky     crashes every 400 ms and is restarted after a 200 ms backoff
//! ```
//! After 1.5 s the caller asks for a graceful shutdown: children stop in reverse order and
//! `run()` returns `Ok`.
//!
//! Act 2, the first-error cascade:
//! ```text
//! root
//!  ├── db
//!  └── jobs      a nested manager
//!       ├── resize
//!       └── upload   temporary; fails with "disk full" after 300 ms
//! ```
//! The failure is not absorbed (a temporary child's failure escalates), so `jobs` stops
//! `resize`, returns the error to `root`, which stops `db` and returns the error, with the
//! failing child's full path, to the caller.
//!
//! Run it with `cargo run --example 01_hello_tree`.

use std::time::Duration;

use overseer::builtin::Signals;
use overseer::prelude::*;
use overseer::{EventKind, Events, TreeError};

#[tokio::main]
async fn main() {
    if act_one().await.is_err() {
        return;
    }
    match act_two().await {
        Ok(()) => println!("act 2: the tree was stopped before the failure happened"),
        Err(error) => println!("act 2: run() returned the first error: {error}"),
    }
}

/// A child that reports ready after `delay` and then waits for shutdown.
fn service(id: &'static str, delay: Duration) -> ChildSpec {
    ChildSpec::task(id, move |ctx| async move {
        tokio::time::sleep(delay).await;
        ctx.ready();
        ctx.shutdown_requested().await;
        Ok(())
    })
}

async fn act_one() -> Result<(), TreeError> {
    println!("act 1: restart and graceful shutdown");
    let flaky = ChildSpec::task("flaky", |ctx| async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(400)) => {
                Err(format!("crash number {}", ctx.restarts() + 1).into())
            }
            _ = ctx.shutdown_requested() => Ok(()),
        }
    });
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("signals", Signals::new()))
        .child(service("db", Duration::from_millis(100)))
        .child(service("api", Duration::ZERO).after("db", Condition::Ready))
        .child(flaky)
        .intensity(10, Duration::from_secs(5))
        .backoff(Backoff::fixed(Duration::from_millis(200)))
        .build()
        .expect("a valid tree");
    let handle = tree.handle();
    let printer = tokio::spawn(print_events(handle.events()));
    let run = tokio::spawn(async move { tree.run().await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!("-- the caller asks for a graceful shutdown");
    // Fails only when Ctrl-C already stopped the tree.
    let _ = handle.shutdown();
    let result = run.await.expect("the run task is not cancelled");
    printer.await.expect("the printer ends with the tree");
    println!("act 1: run() returned {result:?}\n");
    result
}

async fn act_two() -> Result<(), TreeError> {
    println!("act 2: the first-error cascade");
    let upload = ChildSpec::task("upload", |_ctx| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Err("disk full".into())
    })
    .restart(Restart::Temporary);
    let jobs = ProcessManager::builder("jobs")
        .child(service("resize", Duration::ZERO))
        .child(upload)
        .build()
        .expect("a valid tree");
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("signals", Signals::new()))
        .child(service("db", Duration::ZERO))
        .child(ChildSpec::new("jobs", jobs).restart(Restart::Temporary))
        .build()
        .expect("a valid tree");
    let printer = tokio::spawn(print_events(tree.handle().events()));
    let result = tree.run().await;
    printer.await.expect("the printer ends with the tree");
    result
}

/// Prints the lifecycle events of the tree until it stops.
async fn print_events(mut events: Events) {
    while let Some(event) = events.recv().await {
        let what = match &event.kind {
            EventKind::Starting => "starting".to_string(),
            EventKind::Running => "running".to_string(),
            EventKind::Ready => "ready".to_string(),
            EventKind::Exited { status } => format!("exited: {status}"),
            EventKind::Restarting { delay, restarts } => {
                format!("restart #{restarts} in {delay:?}")
            }
            EventKind::GaveUp { failure } => format!("gave up on {failure}"),
            EventKind::Stopped => "stopped".to_string(),
            other => format!("{other:?}"),
        };
        println!("  {:<18} {what}", event.path.to_string());
    }
}
