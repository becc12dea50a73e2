//! 02 — driving a running tree through its handle: control messages by path, children added
//! and removed at run time, and a snapshot of the whole tree. Ends by itself in under a second.
//!
//! ```text
//! root
//!  ├── config     answers Reload by re-reading its settings
//!  └── workers    a nested manager; workers are added and removed while it runs
//!       └── idle  keeps the pool open while it has no workers
//! ```
//!
//! Run it with `cargo run --example 02_control_and_snapshots`.

use overseer::Snapshot;
use overseer::builtin::Idle;
use overseer::prelude::*;

/// A custom message: any `Send + Sync + 'static` value.
struct Resize(usize);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ChildSpec::task("config", |mut ctx| async move {
        let mut generation = 0;
        while let Some(msg) = ctx.recv().await {
            match msg {
                Control::Reload => {
                    generation += 1;
                    println!(
                        "  {}: reloaded, settings generation {generation}",
                        ctx.path()
                    );
                }
                Control::Custom(custom) => {
                    if let Some(Resize(n)) = custom.downcast_ref::<Resize>() {
                        println!("  {}: asked to resize to {n}", ctx.path());
                    }
                }
                Control::Shutdown => break,
                _ => {}
            }
        }
        Ok(())
    });
    // A manager whose children have all ended stops; `Idle` keeps a pool that only gets
    // children at run time open.
    let workers = ProcessManager::builder("workers")
        .child(ChildSpec::new("idle", Idle))
        .build()?;
    let tree = ProcessManager::builder("root")
        .child(config)
        .child(ChildSpec::new("workers", workers))
        .build()?;
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });

    // Messages by path: one child, or every child below a path, or the whole tree.
    handle.send("root/config", Control::Reload).await?;
    handle
        .send("root/config", Control::custom(Resize(4)))
        .await?;

    // Children added at run time start at once; each is addressed by its path.
    for i in 0..3 {
        let worker = ChildSpec::task(format!("w{i}"), |ctx| async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            Ok(())
        });
        let path = handle.add_child("root/workers", worker).await?;
        println!("added {path}");
    }
    // A duplicate id is refused and changes nothing.
    let duplicate = ChildSpec::task("w0", |_ctx| async { Ok(()) });
    if let Err(e) = handle.add_child("root/workers", duplicate).await {
        println!("refused: {e}");
    }
    handle.restart("root/workers/w1").await?;
    handle.remove("root/workers/w2").await?;
    // An unknown path is a clear error.
    if let Err(e) = handle.send("root/nope", Control::Reload).await {
        println!("refused: {e}");
    }

    println!("snapshot:");
    print_tree(&handle.snapshot().await?, 1);

    handle.shutdown()?;
    run.await??;
    println!("stopped cleanly");
    Ok(())
}

fn print_tree(node: &Snapshot, depth: usize) {
    println!(
        "{:indent$}{} [{}] {}, restarts {}",
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
