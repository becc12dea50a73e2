//! 04 — children added, stopped, restarted and removed while the tree runs, through a
//! `Handle`: a pool of workers that grows and shrinks, and short jobs that are forgotten once
//! they are done. Ends by itself in under a second.
//!
//! ```text
//! root
//!  └── pool          a nested manager that only gets children at run time
//!       ├── idle     keeps the pool open while it has no other child
//!       ├── worker-0 … worker-2   added from one template (`ChildSpec::replicas`)
//!       └── job-0 … job-4         temporary: gone once they complete
//! ```
//!
//! Run it with `cargo run --example 04_dynamic_children`.

use std::time::Duration;

use overseer::builtin::Idle;
use overseer::prelude::*;
use overseer::{EventKind, Snapshot};

// One thread: the children's lines come out in the order things happen.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A manager whose children have all ended stops: `Idle` keeps the empty pool open.
    // `Concurrent`: at shutdown every worker is asked at once, not one after the other.
    let pool = ProcessManager::builder("pool")
        .child(ChildSpec::new("idle", Idle))
        .stop_order(StopOrder::Concurrent)
        .build()?;
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("pool", pool))
        .build()?;
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });

    // One template, many workers: `replicas(n)` names them `worker-0` … `worker-{n-1}` and
    // shares everything else. `add_child` returns once the child is added and started.
    let template = ChildSpec::task("worker", |ctx| async move {
        println!(
            "  {}: started (restarts so far: {})",
            ctx.path(),
            ctx.restarts()
        );
        ctx.ready();
        ctx.shutdown_requested().await;
        println!("  {}: stopping", ctx.path());
        Ok(())
    });
    for spec in template.replicas(3) {
        let path = handle.add_child("root/pool", spec).await?;
        println!("added {path}");
    }
    wait_for(&mut events, "root/pool/worker-", 3, is_ready).await;
    print_pool(&handle).await?;

    // `stop` keeps the child declared; `restart` starts it again (counted in its restarts,
    // not in the manager's restart intensity); `remove` stops it and forgets it.
    println!("-- stop worker-1");
    handle.stop("root/pool/worker-1").await?;
    print_pool(&handle).await?;
    println!("-- restart worker-1");
    handle.restart("root/pool/worker-1").await?;
    wait_for(&mut events, "root/pool/worker-1", 1, is_ready).await;
    println!("-- remove worker-2");
    handle.remove("root/pool/worker-2").await?;
    print_pool(&handle).await?;

    // Temporary children are removed once they end, so a pool that runs any number of short
    // jobs does not grow.
    println!("-- 5 temporary jobs");
    for i in 0..5 {
        let job = ChildSpec::task(format!("job-{i}"), move |_ctx| async move {
            tokio::time::sleep(Duration::from_millis(20 * (i + 1))).await;
            println!("  job-{i}: done");
            Ok(())
        })
        .restart(Restart::Temporary);
        handle.add_child("root/pool", job).await?;
    }
    wait_for(&mut events, "root/pool/job-", 5, |kind| {
        matches!(kind, EventKind::Stopped)
    })
    .await;
    print_pool(&handle).await?;

    // A refused command changes nothing.
    if let Err(e) = handle
        .add_child("root/pool", template.with_id("worker-0"))
        .await
    {
        println!("refused: {e}");
    }
    if let Err(e) = handle
        .add_child("root/pool/worker-0", template.with_id("worker-9"))
        .await
    {
        println!("refused: {e}");
    }

    println!("-- shutdown");
    handle.shutdown()?;
    run.await??;
    println!("stopped cleanly");
    Ok(())
}

/// Waits for `n` events matching `kind` of nodes whose path starts with `prefix`.
async fn wait_for(
    events: &mut overseer::Events,
    prefix: &str,
    n: usize,
    kind: fn(&EventKind) -> bool,
) {
    let mut seen = 0;
    while seen < n {
        let event = events.recv().await.expect("the tree runs");
        if event.path.as_str().starts_with(prefix) && kind(&event.kind) {
            seen += 1;
        }
    }
}

fn is_ready(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Ready)
}

/// Prints the pool's children: id, state, restarts.
async fn print_pool(handle: &Handle) -> Result<(), overseer::ControlError> {
    let snapshot: Snapshot = handle.snapshot().await?;
    let pool = snapshot.find("root/pool").expect("the pool is declared");
    let rows: Vec<String> = pool
        .children
        .iter()
        .map(|c| {
            let id = c.path.as_str().rsplit('/').next().unwrap_or_default();
            format!("{id} {} (restarts {})", c.state, c.restarts)
        })
        .collect();
    println!("pool: {}", rows.join(", "));
    Ok(())
}
