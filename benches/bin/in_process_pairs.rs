//! overseer against the raw lower bound in alternating rounds: a steadier view than
//! criterion's means on a shared machine, where a neighbour's load moves both sides alike
//! within one round.
//!
//! ```sh
//! cargo run --release --example in_process_pairs              # n = 1000, 10000, 100000
//! cargo run --release --example in_process_pairs -- 10000 30  # one size, 30 rounds
//! ```
//!
//! Each round runs raw, then overseer (default stop order): start `n` children, shut them
//! down, then a first-error cascade over `n` more. Then three more shutdowns of `n`
//! children, as ratios to raw's: overseer with `StopOrder::Concurrent`, and two raw stops in
//! the reverse order that overseer keeps by default: `raw_ordered` (cancel the last child,
//! await it, then the one before) and `raw_chain` (each child, once cancelled, cancels the
//! one before it). The adapters are the bench ones (benches/common), pulled in by path, so
//! the trees are exactly the benchmarked ones. For each measurement it prints the best and
//! the median time of each side over all rounds, and their ratios.

#[path = "../common/mod.rs"]
mod common;
mod measure;

use std::time::Duration;

use common::{ovs, raw, raw_chain, raw_ordered};
use overseer::StopOrder;

const MEASUREMENTS: [&str; 3] = ["start", "shutdown", "cascade"];
const OTHER_STOPS: [&str; 3] = ["overseer Concurrent", "raw_ordered", "raw_chain"];

fn main() {
    let mut args = std::env::args().skip(1);
    let sizes = match args.next() {
        Some(n) => vec![n.parse().expect("n: a number of children")],
        None => vec![1_000, 10_000, 100_000],
    };
    let rounds_arg: Option<usize> = args.next().map(|r| r.parse().expect("rounds: a number"));
    let runtime = measure::runtime();
    for n in sizes {
        let rounds = rounds_arg.unwrap_or(if n >= 100_000 { 8 } else { 30 });
        // times[side][measurement]: one entry per round.
        let mut times: [[Vec<Duration>; 3]; 2] = Default::default();
        // Shutdowns of the `OTHER_STOPS`.
        let mut other_stops: [Vec<Duration>; 3] = Default::default();
        for _ in 0..rounds {
            let (started, running) = runtime.block_on(raw::start(n));
            let stopped = runtime.block_on(raw::shutdown(running));
            let cascade = runtime.block_on(raw::cascade(n));
            push(&mut times[0], [started, stopped, cascade]);
            let (started, running) = runtime.block_on(ovs::start(n));
            let stopped = runtime.block_on(ovs::shutdown(running));
            let cascade = runtime.block_on(ovs::cascade(n));
            push(&mut times[1], [started, stopped, cascade]);
            let (_, running) = runtime.block_on(ovs::start_with(n, StopOrder::Concurrent));
            other_stops[0].push(runtime.block_on(ovs::shutdown(running)));
            let (_, running) = runtime.block_on(raw_ordered::start(n));
            other_stops[1].push(runtime.block_on(raw_ordered::shutdown(running)));
            let (_, running) = runtime.block_on(raw_chain::start(n));
            other_stops[2].push(runtime.block_on(raw_chain::shutdown(running)));
        }
        for (m, name) in MEASUREMENTS.iter().enumerate() {
            let (raw_best, raw_median) = best_and_median(&mut times[0][m]);
            let (ovs_best, ovs_median) = best_and_median(&mut times[1][m]);
            println!(
                "{name:8} n={n:6} ({rounds} rounds): best raw {:8.3} ms, overseer {:8.3} ms = {:.2}x \
                 | median raw {:8.3} ms, overseer {:8.3} ms = {:.2}x",
                ms(raw_best),
                ms(ovs_best),
                ms(ovs_best) / ms(raw_best),
                ms(raw_median),
                ms(ovs_median),
                ms(ovs_median) / ms(raw_median),
            );
        }
        let (raw_best, raw_median) = best_and_median(&mut times[0][1]);
        for (name, stops) in OTHER_STOPS.iter().zip(&mut other_stops) {
            let (best, median) = best_and_median(stops);
            println!(
                "shutdown n={n:6} {name:19}: best {:8.3} ms = {:.2}x raw | median {:8.3} ms = {:.2}x raw",
                ms(best),
                ms(best) / ms(raw_best),
                ms(median),
                ms(median) / ms(raw_median),
            );
        }
    }
}

fn push(side: &mut [Vec<Duration>; 3], round: [Duration; 3]) {
    for (list, time) in side.iter_mut().zip(round) {
        list.push(time);
    }
}

fn best_and_median(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
