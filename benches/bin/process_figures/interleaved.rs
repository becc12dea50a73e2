//! Part 0: **restart gap and stop of 100, interleaved.** The same adapters as
//! `benches/processes.rs` (`benches/procs/mod.rs`), run in rounds that rotate through the
//! implementations, so that a change in the machine's load hits all of them alike. Per round:
//! `K` restarts of each (`raw`, `raw_group`, `raw_observed`: raw with a subscriber task that
//! receives one message per restart, `raw_task_observed`: the same with each run in a task of
//! its own, `overseer`, `overseer_no_events`), then one stop of 100 `sleep 1000` children of
//! each (`raw`, `overseer_concurrent`, `overseer_reverse`, and `raw_one_by_one`: raw stopping
//! them last first, each awaited before the next is signalled, the lower bound of the reverse
//! order).
//!
//! Reported: the median over the rounds, and the median of the per-round ratios; for the
//! restarts also percentiles of the single restart gaps, pooled over the rounds.

use crate::measure::{load, median, percentile, runtime};
use crate::procs;

const INTERLEAVED_ROUNDS: usize = 10;
const RESTARTS_PER_ROUND: u64 = 300;

/// Prints, per implementation, the median over the rounds (ms) and the median of the
/// per-round ratios to the first implementation (the raw baseline).
fn report(unit: &str, names: &[&str], rows: &[Vec<f64>]) {
    for (i, name) in names.iter().enumerate() {
        let values: Vec<f64> = rows.iter().map(|r| r[i]).collect();
        let ratios: Vec<f64> = rows.iter().map(|r| r[i] / r[0]).collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        println!(
            "{name:<20} median {:8.3} {unit}  (min {lo:.3}, max {hi:.3})  median ratio to {} {:.2}x",
            median(values.clone()),
            names[0],
            median(ratios)
        );
    }
}

/// Runs both parts and prints their tables.
pub fn run() {
    let rt = runtime();
    println!(
        "## Restart gap, interleaved: {INTERLEAVED_ROUNDS} rounds x {RESTARTS_PER_ROUND} restarts each (ms per restart)"
    );
    let names = [
        "raw",
        "raw_group",
        "raw_observed",
        "raw_task_observed",
        "overseer",
        "overseer_no_events",
    ];
    let mut rows = Vec::new();
    let mut pooled: [Vec<f64>; 6] = Default::default();
    for round in 0..INTERLEAVED_ROUNDS {
        let mut row = [0.0; 6];
        for j in 0..names.len() {
            let i = (round + j) % names.len();
            let gaps = rt.block_on(async {
                let k = RESTARTS_PER_ROUND;
                tokio::spawn(async move {
                    match i {
                        0 => procs::raw_restart_gaps(k).await,
                        1 => procs::raw_group_restart_gaps(k).await,
                        2 => procs::raw_observed_restart_gaps(k).await,
                        3 => procs::raw_task_observed_restart_gaps(k).await,
                        4 => procs::overseer_restart_gaps(k).await,
                        // No single gaps without events: the mean of `k` runs.
                        _ => {
                            let total = procs::overseer_runs_until_give_up(k).await;
                            vec![total / k as u32; k as usize]
                        }
                    }
                })
                .await
                .expect("task")
            });
            let ms: Vec<f64> = gaps.iter().map(|g| g.as_secs_f64() * 1e3).collect();
            row[i] = ms.iter().sum::<f64>() / ms.len() as f64;
            pooled[i].extend(ms);
        }
        rows.push(row.to_vec());
    }
    println!("mean per restart, per round:");
    report("ms", &names, &rows);
    println!(
        "single restarts, all rounds pooled (less sensitive to preemption bursts; \
         overseer_no_events has only per-round means):"
    );
    let raw_median = percentile(&mut pooled[0], 0.5);
    for (i, name) in names.iter().enumerate() {
        let p10 = percentile(&mut pooled[i], 0.1);
        let p50 = percentile(&mut pooled[i], 0.5);
        let p90 = percentile(&mut pooled[i], 0.9);
        println!(
            "{name:<20} p10 {p10:.3} ms  median {p50:.3} ms  p90 {p90:.3} ms  median / raw median {:.2}x",
            p50 / raw_median
        );
    }
    println!("load average: {}", load());

    println!();
    println!(
        "## Stop {} children, interleaved: {INTERLEAVED_ROUNDS} rounds (ms)",
        procs::STOP_N
    );
    let names = [
        "raw",
        "overseer_concurrent",
        "overseer_reverse",
        "raw_one_by_one",
    ];
    let mut rows = Vec::new();
    for round in 0..INTERLEAVED_ROUNDS {
        let mut row = [0.0; 4];
        for j in 0..4 {
            let i = (round + j) % 4;
            let took = rt.block_on(async {
                let n = procs::STOP_N;
                tokio::spawn(async move {
                    match i {
                        0 => procs::raw_stop(n).await,
                        1 => procs::overseer_stop_concurrent(n).await,
                        2 => procs::overseer_stop_reverse(n).await,
                        _ => procs::raw_stop_one_by_one(n).await,
                    }
                })
                .await
                .expect("task")
            });
            row[i] = took.as_secs_f64() * 1e3;
        }
        rows.push(row.to_vec());
    }
    report("ms", &names, &rows);
    println!("load average: {}", load());
    println!();
}
