//! 05 — what a child does with its messages: a worker that does its own work and, in the same
//! `select!`, reads `Reload` and messages of the application's own types from its inbox with
//! `Context::recv` — one of them a request that carries a channel for its answer. Ends by
//! itself in about a second.
//!
//! ```text
//! root
//!  └── counter   counts ticks; Reload re-reads its settings; SetInterval changes its pace;
//!                Report asks for the count and gets an answer back
//! ```
//!
//! Run it with `cargo run --example 05_custom_messages`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer::prelude::*;
use tokio::sync::oneshot;

/// Settings the worker reads at start and again on every `Reload`.
#[derive(Clone, Debug)]
struct Settings {
    label: String,
}

/// A custom message: tick at this interval from now on.
struct SetInterval(Duration);

/// A custom message that asks for an answer: the worker sends its count on the channel. A
/// custom message is shared (a broadcast hands every child the same value), so the one-shot
/// sender is taken out of a `Mutex`.
struct Report(Mutex<Option<oneshot::Sender<u64>>>);

impl Report {
    fn new() -> (Self, oneshot::Receiver<u64>) {
        let (tx, rx) = oneshot::channel();
        (Report(Mutex::new(Some(tx))), rx)
    }
}

// One thread: the children's lines come out in the order things happen.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Arc::new(Mutex::new(Settings {
        label: "ticks".into(),
    }));
    let tree = ProcessManager::builder("root")
        .child(counter(settings.clone()))
        .build()?;
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });

    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "count after 300 ms at 100 ms a tick: {}",
        report(&handle).await?
    );

    // `Control::custom` wraps any `Send + Sync + 'static` value.
    handle
        .send(
            "root/counter",
            Control::custom(SetInterval(Duration::from_millis(20))),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "count 300 ms later at 20 ms a tick: {}",
        report(&handle).await?
    );

    // Reload: the application changes the settings, then tells the child to re-read them.
    settings.lock().expect("settings").label = "beats".into();
    handle.send("root/counter", Control::Reload).await?;

    // A value of a type the child does not know about is delivered; the child ignores it.
    handle.send("root/counter", Control::custom(42u8)).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;

    handle.shutdown()?;
    run.await??;
    println!("stopped cleanly");
    Ok(())
}

/// Asks the counter for its count and waits for the answer.
async fn report(handle: &Handle) -> Result<u64, Box<dyn std::error::Error>> {
    let (request, answer) = Report::new();
    handle
        .send("root/counter", Control::custom(request))
        .await?;
    Ok(answer.await?)
}

fn counter(settings: Arc<Mutex<Settings>>) -> ChildSpec {
    ChildSpec::task("counter", move |mut ctx| {
        let settings = settings.clone();
        async move {
            let mut current = settings.lock().expect("settings").clone();
            let mut count = 0u64;
            let mut ticker = tokio::time::interval(Duration::from_millis(100));
            ticker.tick().await; // the first tick is immediate
            loop {
                // `recv` is cancel safe: when the tick wins, no message is lost.
                tokio::select! {
                    _ = ticker.tick() => count += 1,
                    msg = ctx.recv() => match msg {
                        Some(Control::Reload) => {
                            current = settings.lock().expect("settings").clone();
                            println!("  counter: reloaded, now counting {}", current.label);
                        }
                        Some(Control::Custom(msg)) => {
                            if let Some(SetInterval(every)) = msg.downcast_ref::<SetInterval>() {
                                println!("  counter: ticking every {every:?}");
                                ticker = tokio::time::interval(*every);
                                ticker.tick().await;
                            } else if let Some(Report(reply)) = msg.downcast_ref::<Report>() {
                                if let Some(reply) = reply.lock().expect("reply").take() {
                                    let _ = reply.send(count);
                                }
                            } else {
                                println!("  counter: ignoring a message of another type");
                            }
                        }
                        // Asked to stop: `Shutdown` comes once, then `None`.
                        Some(Control::Shutdown) | None => break,
                        Some(_) => {}
                    },
                }
            }
            println!("  counter: stopping after {count} {}", current.label);
            Ok(())
        }
    })
}
