//! 11 — the tree's logs as JSON lines, for a log pipeline (Loki, Elasticsearch, CloudWatch,
//! `kubectl logs | jq`): every event the crate and the children log runs inside the child's
//! span, whose `path` field says which node it is, so each line can be filtered by node.
//!
//! ```text
//! root
//!  ├── api        logs a line, then waits for the shutdown
//!  └── workers    a nested manager
//!       └── job   fails once (the crate logs the failure and the restart), then completes
//! ```
//!
//! The crate's own lines about a child (its failure, its restart) are logged by its manager,
//! in the manager's span, and name the child in their own `path` field. A line looks like
//! (wrapped here):
//!
//! ```text
//! {"timestamp":"…","level":"INFO","fields":{"message":"working","attempt":1},
//!  "target":"11_json_logs","span":{"path":"root/workers/job","name":"child"}}
//! ```
//!
//! Run it with `cargo run --example 11_json_logs`, or filter one node's lines with
//! `cargo run --example 11_json_logs 2>/dev/null | jq 'select(.span.path == "root/workers/job")'`.

use std::time::Duration;

use overseer::EventKind;
use overseer::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // JSON lines on standard output, with the innermost span (the child's) on each line.
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(tracing::Level::INFO)
        .init();

    let workers = ProcessManager::builder("workers")
        .backoff(Backoff::fixed(Duration::from_millis(50)))
        .child(
            ChildSpec::task("job", |ctx| async move {
                // Started: a failure from now on is a crash to restart, not a failed start.
                ctx.ready();
                let attempt = ctx.restarts() + 1;
                tracing::info!(attempt, "working");
                if attempt == 1 {
                    return Err("the first attempt fails".into());
                }
                tracing::info!(attempt, "done");
                Ok(())
            })
            .restart(Restart::Transient),
        )
        .build()?;
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::task("api", |ctx| async move {
            tracing::info!("listening");
            ctx.ready();
            ctx.shutdown_requested().await;
            tracing::info!("closing");
            Ok(())
        }))
        .child(ChildSpec::new("workers", workers))
        .build()?;

    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    // Once the job has completed, shut the tree down.
    while let Some(event) = events.recv().await {
        if event.path == "root/workers/job" && matches!(event.kind, EventKind::Stopped) {
            handle.shutdown()?;
        }
    }
    run.await??;
    Ok(())
}
