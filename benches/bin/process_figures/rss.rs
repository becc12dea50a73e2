//! Part 1: **supervisor RSS with 100 idle children.** One fresh process per measurement: the
//! program re-executes itself (`--rss IMPL`), builds a 2-worker multi-thread Tokio runtime,
//! starts 100 `sleep 1000` children and reads `VmRSS`/`VmHWM` from `/proc/self/status` once
//! all of them run, then stops them.
//! - `overseer`: one `ProcessManager` with 100 `Command` children (`StopOrder::Concurrent`,
//!   which only changes the teardown after the reading), running once all 100 `Ready` events
//!   (sent right after each spawn) have arrived;
//! - `raw`: 100 `tokio::process::Child` handles held in a `Vec`.

use std::process::Stdio;

use overseer::StopOrder;

use crate::measure::{memory_kib, runtime};
use crate::procs;

/// Idle children per measurement.
pub const N: usize = 100;
const RSS_RUNS: usize = 3;

async fn overseer(n: usize) -> (u64, u64) {
    // The bench's tree: 100 `sleep 1000` children, returned once all are `Ready`.
    let (handle, run) = procs::overseer_start(n, StopOrder::Concurrent).await;
    let snap = handle.snapshot().await.expect("snapshot");
    let with_pid = snap.children.iter().filter(|c| c.pid.is_some()).count();
    assert_eq!(with_pid, n, "every child has a running process");
    let after = memory_kib();
    handle.shutdown().expect("shutdown");
    run.await.expect("run task").expect("clean shutdown");
    after
}

async fn raw(n: usize) -> (u64, u64) {
    let mut children: Vec<tokio::process::Child> = (0..n)
        .map(|_| {
            tokio::process::Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn sleep")
        })
        .collect();
    let after = memory_kib();
    for child in &mut children {
        child.start_kill().expect("kill");
    }
    for child in &mut children {
        child.wait().await.expect("wait");
    }
    after
}

/// One measurement, in this fresh process: prints `RESULT` and four figures (KiB).
pub fn child(imp: &str, n: usize) {
    let rt = runtime();
    let before = memory_kib();
    let after = rt.block_on(async {
        match imp {
            "overseer" => tokio::spawn(overseer(n)).await.expect("task"),
            "raw" => tokio::spawn(raw(n)).await.expect("task"),
            other => panic!("unknown --rss {other}"),
        }
    });
    println!("RESULT {} {} {} {}", before.0, before.1, after.0, after.1);
}

/// Runs [`RSS_RUNS`] measurements of each implementation, each in a fresh process, and
/// prints the table.
pub fn parent() {
    let exe = std::env::current_exe().expect("current_exe");
    println!("## Supervisor RSS with {N} idle `sleep 1000` children (KiB, fresh process each)");
    println!(
        "{:<10} {:>4} {:>12} {:>12} {:>12} {:>12}",
        "impl", "run", "RSS before", "RSS with N", "HWM with N", "delta"
    );
    for run in 1..=RSS_RUNS {
        for imp in ["raw", "overseer"] {
            let out = std::process::Command::new(&exe)
                .args(["--rss", imp])
                .stdin(Stdio::null())
                .output()
                .expect("spawn measurement");
            let stdout = String::from_utf8_lossy(&out.stdout);
            match stdout.lines().find(|l| l.starts_with("RESULT ")) {
                Some(line) if out.status.success() => {
                    let f: Vec<u64> = line
                        .split_whitespace()
                        .skip(1)
                        .map(|v| v.parse().expect("number"))
                        .collect();
                    println!(
                        "{imp:<10} {run:>4} {:>12} {:>12} {:>12} {:>12}",
                        f[0],
                        f[2],
                        f[3],
                        f[2] as i64 - f[0] as i64
                    );
                }
                _ => println!(
                    "{imp:<10} {run:>4} FAILED ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
    }
}
