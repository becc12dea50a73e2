//! Tracing spans carry the child's path.
//!
//! Alone in its test binary on purpose: `tracing` caches each callsite's interest for the
//! whole process, and a callsite first reached on a thread without a subscriber — another test
//! running in parallel under `cargo test` — is cached as "never", so the subscriber this test
//! installs for its own thread with `set_default` would miss the child's span (it did, about 1
//! run in 20). With one test per process nothing races it.

mod common;

use common::Captured;
use overseer::{ChildSpec, ProcessManager, Restart};
use tracing::Instrument;

#[tokio::test]
async fn tracing_spans_carry_the_childs_path_once_inside_the_callers_span() {
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
    let service = tracing::info_span!("service");
    tree.run().instrument(service).await.unwrap();
    let text = out.text();
    let line = text
        .lines()
        .find(|l| l.contains("hello from inside"))
        .unwrap_or_else(|| panic!("no event captured: {text}"));
    assert!(
        line.contains(" service:child{path=root/sub/worker}: "),
        "the caller's span, then the child's path once: {line}"
    );
    assert!(
        !line.contains("path=root/sub}"),
        "no manager's path repeated: {line}"
    );
}
