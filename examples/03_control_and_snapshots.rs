//! 03 — a running tree seen and addressed from outside through its `Handle`: messages by path
//! (to one child, to a subtree, to the whole tree), the errors that say why a message was
//! refused, and a snapshot of every node. Ends by itself in under a second.
//!
//! ```text
//! root
//!  ├── api        answers Reload
//!  ├── flaky      its first run crashes after a moment, so the snapshot shows a restart
//!  ├── migrate    a one-shot job: completes and is not restarted (Transient)
//!  └── workers    a nested manager
//!       ├── w-0   answers Reload
//!       └── w-1   answers Reload
//! ```
//!
//! Adding, stopping and removing children is `04_dynamic_children`; what a child does with
//! its messages, custom ones included, is `05_custom_messages`.
//!
//! Run it with `cargo run --example 03_control_and_snapshots`.

use std::time::Duration;

use overseer::Snapshot;
use overseer::prelude::*;

// One thread: the children's lines come out in the order things happen.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workers = ProcessManager::builder("workers")
        .children(reloadable("w").replicas(2))
        .build()?;
    let tree = ProcessManager::builder("root")
        .child(reloadable("api"))
        .child(ChildSpec::task("flaky", |mut ctx| async move {
            if ctx.restarts() == 0 {
                // Up for a moment, then down: a crash, restarted (a first run that failed
                // before waiting for anything would be a failed start, failing the tree).
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Err("lost its connection".into());
            }
            answer_reloads(&mut ctx).await;
            Ok(())
        }))
        .child(
            ChildSpec::task("migrate", |_ctx| async {
                println!("  migrate: schema up to date");
                Ok(())
            })
            .restart(Restart::Transient),
        )
        .child(ChildSpec::new("workers", workers))
        .build()?;
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let pause = || tokio::time::sleep(Duration::from_millis(100));
    pause().await;

    // A path names one node; a message to a manager's path reaches every child below it.
    println!("-- Reload to root/api");
    handle.send("root/api", Control::Reload).await?;
    pause().await;
    println!("-- Reload to root/workers (a subtree)");
    handle.send("root/workers", Control::Reload).await?;
    pause().await;
    println!("-- Reload to the whole tree");
    handle.broadcast(Control::Reload).await?;
    pause().await;

    // Nothing is lost silently: a message that cannot be delivered is an error.
    for path in ["root/nope", "root/migrate"] {
        if let Err(e) = handle.send(path, Control::Reload).await {
            println!("-- Reload to {path} refused: {e}");
        }
    }

    println!("-- snapshot:");
    print_tree(&handle.snapshot().await?, 1);

    handle.shutdown()?;
    run.await??;
    println!("stopped cleanly");
    Ok(())
}

/// A child that prints each `Reload` it reads until it is asked to stop.
fn reloadable(id: &str) -> ChildSpec {
    ChildSpec::task(id, |mut ctx| async move {
        ctx.ready();
        answer_reloads(&mut ctx).await;
        Ok(())
    })
}

async fn answer_reloads(ctx: &mut Context) {
    // `recv` yields `Shutdown` once when the run is asked to stop, then `None`.
    while let Some(msg) = ctx.recv().await {
        match msg {
            Control::Reload => println!("  {}: reloaded", ctx.path()),
            Control::Shutdown => break,
            _ => {}
        }
    }
}

fn print_tree(node: &Snapshot, depth: usize) {
    let uptime = node
        .uptime
        .map(|u| format!(", up {} ms", u.as_millis()))
        .unwrap_or_default();
    let last_exit = node
        .last_exit
        .as_ref()
        .map(|e| format!(", last exit: {e}"))
        .unwrap_or_default();
    println!(
        "{:indent$}{} [{}] {}, restarts {}{uptime}{last_exit}",
        "",
        node.path,
        node.kind,
        node.state,
        node.restarts,
        indent = depth * 2
    );
    for child in &node.children {
        print_tree(child, depth + 1);
    }
}
