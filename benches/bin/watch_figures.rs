//! File-watching figures (issue 15): how long from a file's write to the restart's beginning,
//! and what setting up a watch over a large tree costs.
//!
//! ```sh
//! cargo run --release --features watch --example watch_figures
//! ```
//!
//! - **Latency**: a child watches a directory with a debounce window of `W` (100 ms and
//!   50 ms); the program writes a file 20 times, each time once the child's new run has
//!   begun (so its watch is set up), and takes the time from just before the write to the
//!   first event of the child that the restart publishes (its run's end, `Exited`). Reported:
//!   median, min and max, and the median minus `W` (goal: at most 25 ms).
//! - **Set-up**: a tree of 10,000 directories (100 × 100) and 100,000 files (10 per leaf) in
//!   a temp dir; the time to attach the watch (`ChildSpec::watch`: paths resolved, globs
//!   compiled) and the time from the tree's start to the child's run beginning, which
//!   includes the watch's set-up (a recursive inotify watch per directory), against the same
//!   for a child without a watch; the resident memory the watch adds (`VmRSS` with the child
//!   running, minus before it). Run three times; the first run's memory is the one reported
//!   (later runs reuse freed memory). The kernel's memory for the inotify watches is not in
//!   this process's RSS.
//!
//! Prints the inotify limits (`/proc/sys/fs/inotify/max_user_watches`, `max_user_instances`)
//! and the machine's load, since the figures move with it.

mod measure;

use std::path::Path;
use std::time::{Duration, Instant};

use overseer::watch::Watch;
use overseer::{ChildSpec, EventKind, ProcessManager};
use tokio::sync::watch;

fn proc_value(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// A child that says when each of its runs begins.
fn child(runs: &watch::Sender<usize>) -> ChildSpec {
    let runs = runs.clone();
    ChildSpec::task("c", move |ctx| {
        runs.send_modify(|n| *n += 1);
        async move {
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
}

async fn latency(window: Duration) -> Vec<Duration> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().canonicalize().expect("canonical");
    let (runs, mut ran) = watch::channel(0usize);
    let tree = ProcessManager::builder("root")
        .intensity(1000, Duration::from_secs(1))
        .child(child(&runs).watch(Watch::new().path(&dir).debounce(window)))
        .build()
        .expect("tree");
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let mut samples = Vec::new();
    for i in 1..=20usize {
        ran.wait_for(|n| *n >= i).await.expect("runs");
        let start = tokio::time::Instant::now();
        std::fs::write(dir.join("file"), i.to_string()).expect("write");
        loop {
            let ev = events.recv().await.expect("events");
            if ev.path == "root/c" && matches!(ev.kind, EventKind::Exited { .. }) {
                samples.push(ev.at - start);
                break;
            }
        }
    }
    handle.shutdown().expect("shutdown");
    run.await.expect("join").expect("tree");
    samples.sort();
    samples
}

fn make_tree(root: &Path) {
    for a in 0..100 {
        for b in 0..100 {
            let dir = root.join(format!("d{a}/e{b}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            for f in 0..10 {
                std::fs::write(dir.join(format!("f{f}.txt")), "x").expect("write");
            }
        }
    }
}

struct SetUp {
    attach: Duration,
    start: Duration,
    start_unwatched: Duration,
    rss_kib: i64,
}

async fn start_time(spec: ChildSpec, runs: &mut watch::Receiver<usize>) -> Duration {
    let before = *runs.borrow();
    let tree = ProcessManager::builder("root")
        .child(spec)
        .build()
        .expect("tree");
    let handle = tree.handle();
    let t0 = Instant::now();
    let run = tokio::spawn(async move { tree.run().await });
    runs.wait_for(|n| *n > before).await.expect("runs");
    let elapsed = t0.elapsed();
    handle.shutdown().expect("shutdown");
    run.await.expect("join").expect("tree");
    elapsed
}

async fn set_up(root: &Path) -> SetUp {
    let (runs, mut ran) = watch::channel(0usize);
    let start_unwatched = start_time(child(&runs), &mut ran).await;
    let (rss_before, _) = measure::memory_kib();
    let t0 = Instant::now();
    let spec = child(&runs).watch(Watch::new().path(root));
    let attach = t0.elapsed();
    let before = *ran.borrow();
    let tree = ProcessManager::builder("root")
        .child(spec)
        .build()
        .expect("tree");
    let handle = tree.handle();
    let t0 = Instant::now();
    let run = tokio::spawn(async move { tree.run().await });
    ran.wait_for(|n| *n > before).await.expect("runs");
    let start = t0.elapsed();
    let (rss_after, _) = measure::memory_kib();
    handle.shutdown().expect("shutdown");
    run.await.expect("join").expect("tree");
    SetUp {
        attach,
        start,
        start_unwatched,
        rss_kib: rss_after as i64 - rss_before as i64,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    println!(
        "inotify: max_user_watches {}, max_user_instances {}; load {}",
        proc_value("/proc/sys/fs/inotify/max_user_watches"),
        proc_value("/proc/sys/fs/inotify/max_user_instances"),
        measure::load()
    );
    let rt = measure::runtime();
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().canonicalize().expect("canonical");
        let t0 = Instant::now();
        make_tree(&root);
        println!(
            "tree of 10,000 directories and 100,000 files made in {}",
            ms(t0.elapsed())
        );
        for i in 1..=3 {
            let s = set_up(&root).await;
            println!(
                "set-up {i}: attach {}, start with watch {} (without {}), added RSS {:.1} MiB",
                ms(s.attach),
                ms(s.start),
                ms(s.start_unwatched),
                s.rss_kib as f64 / 1024.0
            );
        }
        drop(tmp);
        for window in [Duration::from_millis(100), Duration::from_millis(50)] {
            let samples = latency(window).await;
            let median = samples[samples.len() / 2];
            println!(
                "latency, debounce {}: median {} (min {}, max {}), median - debounce {}",
                ms(window),
                ms(median),
                ms(samples[0]),
                ms(samples[samples.len() - 1]),
                ms(median.saturating_sub(window))
            );
        }
    });
    println!("load after: {}", measure::load());
}
