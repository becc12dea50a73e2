//! Peak resident memory per child, one fresh process per measurement.
//!
//! ```sh
//! cargo run --release --example memory_per_child
//! # single measurement (what the parent runs for each row):
//! cargo run --release --example memory_per_child -- --impl raw --n 100000
//! ```
//!
//! Parent mode (no `--impl`): for every impl in [`IMPLS`] and every n in
//! [`SIZES`], re-executes itself (`std::env::current_exe()`) with
//! `--impl X --n N` and prints a table.
//!
//! Child mode: builds a 2-worker multi-thread Tokio runtime, reads
//! `/proc/self/status` (VmRSS, VmHWM) just before building the tree and again
//! once all `n` children have signalled that they run, prints one
//! `RESULT ...` line, then shuts the tree down cleanly.
//!
//! Reported per child: `peak` = (VmHWM after − VmRSS before) / n, and
//! `rss` = (VmRSS after − VmRSS before) / n.
//!
//! The adapters are the bench ones (benches/common), pulled in by path, so the
//! trees measured here are exactly the ones benchmarked.

#[path = "../common/mod.rs"]
mod common;
mod measure;

use std::process::{Command, Stdio};

use common::{ovs, pm, raw, tgs};

const IMPLS: [&str; 4] = [
    "raw",
    "overseer",
    "processmanager",
    "tokio-graceful-shutdown",
];
const SIZES: [usize; 2] = [10_000, 100_000];

/// Memory figures from /proc/self/status, in bytes.
#[derive(Debug, Clone, Copy)]
struct Status {
    rss: u64,
    hwm: u64,
}

impl Status {
    fn read() -> Status {
        let (rss, hwm) = measure::memory_kib();
        Status {
            rss: rss * 1024,
            hwm: hwm * 1024,
        }
    }
}

macro_rules! peak_of {
    ($m:ident, $n:expr) => {{
        let (_elapsed, running) = $m::start($n).await;
        let peak = Status::read();
        $m::shutdown(running).await;
        peak
    }};
}

fn measure_child(imp: &str, n: usize) {
    let rt = measure::runtime();
    rt.block_on(async {
        let before = Status::read();
        let after = match imp {
            "raw" => peak_of!(raw, n),
            "processmanager" => peak_of!(pm, n),
            "tokio-graceful-shutdown" => peak_of!(tgs, n),
            "overseer" => peak_of!(ovs, n),
            other => panic!("unknown --impl {other}"),
        };
        println!(
            "RESULT {imp} {n} {} {} {} {}",
            before.rss, before.hwm, after.rss, after.hwm
        );
    });
}

fn per_child(after: u64, before: u64, n: usize) -> f64 {
    (after as f64 - before as f64) / n as f64
}

fn parent() {
    let exe = std::env::current_exe().expect("current_exe");
    println!(
        "{:<26} {:>8} {:>16} {:>16} {:>12} {:>12}",
        "impl", "n", "peak B/child", "rss B/child", "RSS0 MiB", "HWM MiB"
    );
    for imp in IMPLS {
        for n in SIZES {
            let out = Command::new(&exe)
                .args(["--impl", imp, "--n", &n.to_string()])
                .stdin(Stdio::null())
                .output()
                .expect("spawn child measurement");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout.lines().find(|l| l.starts_with("RESULT "));
            match (out.status.success(), line) {
                (true, Some(line)) => {
                    let f: Vec<u64> = line
                        .split_whitespace()
                        .skip(3)
                        .map(|v| v.parse().expect("number"))
                        .collect();
                    let (rss0, _hwm0, rss1, hwm1) = (f[0], f[1], f[2], f[3]);
                    println!(
                        "{:<26} {:>8} {:>16.0} {:>16.0} {:>12.1} {:>12.1}",
                        imp,
                        n,
                        per_child(hwm1, rss0, n),
                        per_child(rss1, rss0, n),
                        rss0 as f64 / 1048576.0,
                        hwm1 as f64 / 1048576.0
                    );
                }
                _ => {
                    // processmanager floods stderr, so only show the tail.
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
                    println!("{imp:<26} {n:>8}   FAILED ({})", out.status);
                    for l in tail.into_iter().rev() {
                        println!("    {l}");
                    }
                }
            }
        }
    }
}

fn main() {
    let args = measure::args();
    match measure::arg(&args, "--impl") {
        Some(imp) => {
            let n = measure::arg(&args, "--n").map_or(10_000, |v| v.parse().expect("--n <number>"));
            measure_child(&imp, n);
        }
        None => parent(),
    }
}
