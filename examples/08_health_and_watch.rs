//! 08 — health probes and file watching on a small stack: a setup step that must complete, an
//! HTTP server that counts as ready only once its readiness probe gets an answer, a worker that
//! waits for it, and a restart of the server when its config file is edited. Ends by itself in
//! about two seconds (or on Ctrl-C).
//!
//! ```text
//! root
//!  ├── signals  Ctrl-C → graceful shutdown
//!  ├── setup    writes the config file, then completes
//!  ├── api      an HTTP server on 127.0.0.1, after `setup` completed; ready when
//!  │            GET /healthz answers 200; restarted when the config file changes
//!  └── worker   starts once `api` is ready
//! ```
//!
//! Run it with `cargo run --features health-http,watch --example 08_health_and_watch`.

use std::path::PathBuf;
use std::time::Duration;

use overseer::builtin::Signals;
use overseer::health::Probe;
use overseer::prelude::*;
use overseer::watch::Watch;
use overseer::{EventKind, Events};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("overseer-example-08-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("api.toml");
    std::fs::write(&config, "greeting = \"hello\"\n")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();

    let setup_config = config.clone();
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("signals", Signals::new()))
        .child(
            ChildSpec::task("setup", move |_ctx| {
                let config = setup_config.clone();
                async move {
                    // A migration, a download, a config check: work that must finish first.
                    tokio::fs::metadata(&config).await?;
                    Ok(())
                }
            })
            .restart(Restart::Transient),
        )
        .child(
            ChildSpec::task("api", move |ctx| {
                let config = config.clone();
                async move { serve(ctx, port, config).await }
            })
            .after("setup", Condition::Completed)
            .readiness(
                Probe::http(&format!("http://127.0.0.1:{port}/healthz"))?
                    .period(Duration::from_millis(100)),
            )
            .watch(
                Watch::new()
                    .path(&dir)
                    .glob("*.toml")
                    .debounce(Duration::from_millis(100)),
            ),
        )
        .child(
            ChildSpec::task("worker", |ctx| async move {
                ctx.shutdown_requested().await;
                Ok(())
            })
            .after("api", Condition::Ready),
        )
        .build()?;

    let handle = tree.handle();
    let events = handle.events();
    let printer = tokio::spawn(print(events));
    let run = tokio::spawn(async move { tree.run().await });

    // Once the stack is up, edit the config: the api restarts (and is ready again).
    tokio::time::sleep(Duration::from_millis(700)).await;
    println!("-- editing {}", dir.join("api.toml").display());
    std::fs::write(dir.join("api.toml"), "greeting = \"bonjour\"\n")?;
    tokio::time::sleep(Duration::from_millis(900)).await;

    let snapshot = handle.snapshot().await?;
    for node in snapshot.iter() {
        println!(
            "   {:<12} {:<8} health {:?}, restarts {}",
            node.path.to_string(),
            node.state.to_string(),
            node.health,
            node.restarts
        );
    }
    handle.shutdown()?;
    run.await??;
    printer.await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A tiny HTTP server: answers every request with 200 and the config's greeting. It takes a
/// moment to come up, as real servers do, so the probe sees it refuse connections first.
async fn serve(ctx: Context, port: u16, config: PathBuf) -> RunResult {
    let greeting = tokio::fs::read_to_string(&config).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        tokio::select! {
            () = ctx.shutdown_requested() => return Ok(()),
            accepted = listener.accept() => {
                let (mut socket, _) = accepted?;
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await?;
                let body = greeting.trim();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await?;
            }
        }
    }
}

/// Prints the events that tell the story.
async fn print(mut events: Events) {
    while let Some(event) = events.recv().await {
        let what = match &event.kind {
            EventKind::Running => "running".to_string(),
            EventKind::Ready => "ready".to_string(),
            EventKind::Healthy { probe } => format!("{probe} probe passes"),
            EventKind::Unhealthy { probe, error } => format!("{probe} probe fails: {error}"),
            EventKind::Exited { status } => format!("exited: {status}"),
            EventKind::Restarting { delay, .. } => format!("restarting in {delay:?}"),
            EventKind::Stopped => "stopped".to_string(),
            _ => continue,
        };
        println!("{:<12} {what}", event.path.to_string());
    }
}
