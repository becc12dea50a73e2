//! Tracing spans carry the child's path.
//!
//! Alone in its test binary on purpose: `tracing` caches each callsite's interest for the
//! whole process, and a callsite first reached on a thread without a subscriber — another test
//! running in parallel under `cargo test` — is cached as "never", so the subscriber this test
//! installs for its own thread with `set_default` would miss the child's span (it did, about 1
//! run in 20). With one test per process nothing races it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use overseer::{ChildSpec, ProcessManager, Restart};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tracing_spans_carry_the_childs_path() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sub = ProcessManager::builder("sub")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(
            ChildSpec::task("worker", |_ctx| async {
                tracing::info!("hello from inside");
                Ok(())
            })
            .restart(Restart::Temporary),
        )
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .child(ChildSpec::new("sub", sub).restart(Restart::Temporary))
        .build()
        .unwrap();
    tree.run().await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("hello from inside"))
        .unwrap_or_else(|| panic!("no event captured: {text}"));
    assert!(line.contains("child{path=root/sub/worker}"), "{line}");
}
