//! The OS-process figures that criterion does not fit, each side by side with its raw
//! baseline in the same run (the others are in `benches/processes.rs`). One part per module:
//!
//! 0. [`interleaved`]: **restart gap and stop of 100**, the same adapters as
//!    `benches/processes.rs` (`benches/procs/mod.rs`) in rounds that rotate through the
//!    implementations, so that a change in the machine's load hits all of them alike.
//! 1. [`rss`]: **supervisor RSS with 100 idle children**, one fresh process per measurement
//!    (the program re-executes itself with `--rss IMPL`).
//! 2. [`output`]: **200 MB of child stdout into a rotating log** against a shell redirect of
//!    the same pipeline, through a manager, the bare pump and two plain copy loops.
//!
//! ```sh
//! cargo run --release --example process_figures                 # all, default rounds
//! cargo run --release --example process_figures -- --rounds 5   # 5 throughput rounds
//! cargo run --release --example process_figures -- --only interleaved   # or rss, output
//! # only some output variants (e.g. to profile one):
//! cargo run --release --example process_figures -- --only output --variants shell,command
//! # the paced copy loop with another nap length:
//! cargo run --release --example process_figures -- --only output --variants shell,paced_loop --nap-us 100
//! # one RSS measurement (what the parent runs for each row):
//! cargo run --release --example process_figures -- --rss overseer [--n 100]
//! ```
//!
//! Scratch files go to a temporary directory, removed at the end. Linux only (`/proc`).

#[path = "../measure.rs"]
mod measure;
#[path = "../../procs/mod.rs"]
mod procs;

mod interleaved;
mod output;
mod rss;

use std::time::Duration;

use measure::{arg, load};

fn main() {
    let args = measure::args();
    if let Some(imp) = arg(&args, "--rss") {
        let n = arg(&args, "--n").map_or(rss::N, |v| v.parse().expect("--n <number>"));
        rss::child(&imp, n);
        return;
    }
    let rounds = arg(&args, "--rounds").map_or(3, |v| v.parse().expect("--rounds <number>"));
    let only = arg(&args, "--only");
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    println!("load average at start: {}", load());
    if wants("interleaved") {
        interleaved::run();
    }
    if wants("rss") {
        rss::parent();
    }
    if wants("output") {
        let variants: Vec<String> = arg(&args, "--variants")
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let nap = arg(&args, "--nap-us").map_or(Duration::from_micros(250), |v| {
            Duration::from_micros(v.parse().expect("--nap-us <microseconds>"))
        });
        output::run(rounds, &variants, nap);
    }
    println!("load average at end: {}", load());
}
