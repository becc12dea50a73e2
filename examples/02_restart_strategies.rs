//! 02 — restart strategies side by side, then restart intensity and backoff. Ends by itself in
//! about two seconds.
//!
//! Part 1 runs the same three children under each [`Strategy`]; `b` crashes once, 100 ms
//! after it starts:
//! ```text
//! root            OneForOne, then OneForAll, then RestForOne
//!  ├── a
//!  ├── b          crashes once
//!  └── c
//! ```
//! - `OneForOne`: only `b` is restarted;
//! - `OneForAll`: `c` and `a` are stopped (in reverse order), then all three start again;
//! - `RestForOne`: `c`, declared after `b`, is stopped; then `b` and `c` start again.
//!
//! Part 2 gives one child that always crashes a restart budget: at most 3 restarts within 10
//! seconds, each after an exponential backoff (50 ms, doubling, at most 400 ms). The fourth
//! crash exceeds the budget: the manager gives up and `run()` returns a typed error.
//!
//! Run it with `cargo run --example 02_restart_strategies`.

use std::time::Duration;

use overseer::prelude::*;
use overseer::{Cause, EventKind};

// One thread: the children's lines come out in the order things happen.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    for (strategy, what) in [
        (
            Strategy::OneForOne,
            "only the child that failed is restarted",
        ),
        (Strategy::OneForAll, "every child is restarted"),
        (
            Strategy::RestForOne,
            "the child that failed and those declared after it are restarted",
        ),
    ] {
        println!("{strategy:?}: {what}");
        side_by_side(strategy).await;
        println!();
    }
    intensity_and_backoff().await;
}

/// A child that says when it starts and when it is asked to stop.
fn worker(id: &'static str) -> ChildSpec {
    ChildSpec::task(id, move |ctx| async move {
        println!("    {id}: started (restarts so far: {})", ctx.restarts());
        ctx.shutdown_requested().await;
        println!("    {id}: stopped");
        Ok(())
    })
}

/// `b`: its first run crashes after 100 ms; later runs wait for shutdown.
fn crashes_once() -> ChildSpec {
    ChildSpec::task("b", |ctx| async move {
        println!("    b: started (restarts so far: {})", ctx.restarts());
        if ctx.restarts() == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("    b: crashes");
            return Err("b crashed".into());
        }
        ctx.shutdown_requested().await;
        println!("    b: stopped");
        Ok(())
    })
}

async fn side_by_side(strategy: Strategy) {
    let tree = ProcessManager::builder("root")
        .strategy(strategy)
        .child(worker("a"))
        .child(crashes_once())
        .child(worker("c"))
        .build()
        .expect("a valid tree");
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    // Long enough for the crash and the restart that follows it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("  -- shutdown (children stop in reverse order)");
    handle.shutdown().expect("the tree runs");
    let result = run.await.expect("the run task is not cancelled");
    println!("  run() returned {result:?}");
}

async fn intensity_and_backoff() {
    println!("Intensity and backoff: at most 3 restarts in 10 s, 50 ms doubling up to 400 ms");
    let tree = ProcessManager::builder("root")
        .task("always", |_ctx| async { Err("cannot connect".into()) })
        .intensity(3, Duration::from_secs(10))
        // `.jitter(0.2)` would shorten each delay by up to 20 %, so that many restarting
        // children spread out; a run that lasts `reset_after` (default 60 s) starts over at 50 ms.
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_millis(400),
        ))
        .build()
        .expect("a valid tree");
    let mut events = tree.handle().events();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event.kind {
                EventKind::Exited { status } => println!("  {}: {status}", event.path),
                EventKind::Restarting { delay, restarts } => {
                    println!("  {}: restart #{restarts} in {delay:?}", event.path)
                }
                EventKind::GaveUp { .. } => println!("  {}: gives up", event.path),
                _ => {}
            }
        }
    });
    let result = tree.run().await;
    printer.await.expect("the printer ends with the tree");
    match result {
        Err(error) => {
            println!("run() returned the error: {error}");
            if let Cause::GaveUp { last_child, .. } = error.cause() {
                println!("  the restart that was one too many: {last_child}");
            }
        }
        Ok(()) => println!("run() returned Ok"),
    }
}
