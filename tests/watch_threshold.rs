//! A watch's change threshold, observed through its `tracing` events.
//!
//! Alone in its test binary, as tests/tracing.rs is and for the same reason: `tracing` caches
//! each callsite's interest for the whole process, so a subscriber installed for this test's
//! thread would miss events first reached on a thread of another test.
#![cfg(feature = "watch")]

use std::io::Write;
use std::time::Duration;

use overseer::watch::Watch;
use overseer::{ChildSpec, ProcessManager};
use tokio::sync::{mpsc, watch};

/// Sends each line the subscriber writes to the test.
struct Lines(mpsc::UnboundedSender<String>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_threshold_holds_the_restart_until_that_many_paths_have_changed() {
    let (tx, mut lines) = mpsc::unbounded_channel();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || Lines(tx.clone()))
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let (runs, mut seen) = watch::channel(Vec::<bool>::new());
    let third = dir.join("c");
    let child = ChildSpec::task("c", move |ctx| {
        let saw_third = third.exists();
        runs.send_modify(|r| r.push(saw_third));
        async move {
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
    .watch(
        Watch::new()
            .path(&dir)
            .threshold(3)
            .debounce(Duration::from_millis(200)),
    );
    let tree = ProcessManager::builder("root")
        .child(child)
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    seen.wait_for(|r| r.len() == 1).await.unwrap();

    // Two paths in one window: counted, below the threshold of 3.
    std::fs::write(dir.join("a"), "a").unwrap();
    std::fs::write(dir.join("b"), "b").unwrap();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.recv().await {
            if line.contains("below the threshold") {
                assert!(line.contains("seen=2"), "{line}");
                return;
            }
        }
    })
    .await
    .expect("no window closed below the threshold");
    assert_eq!(*seen.borrow(), [false], "no restart below the threshold");

    // The third path brings the count to the threshold: one restart, which sees it.
    std::fs::write(dir.join("c"), "c").unwrap();
    tokio::time::timeout(PATIENCE, seen.wait_for(|r| r.len() == 2))
        .await
        .expect("no restart at the threshold")
        .unwrap();
    assert_eq!(*seen.borrow(), [false, true]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
