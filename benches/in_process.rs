//! In-process trees side by side, in one run: overseer against the raw lower bound
//! (`JoinSet` + `CancellationToken`) and the peers processmanager 0.6 and
//! tokio-graceful-shutdown 0.20, over a flat tree of `n` trivial long-lived children.
//! Groups: `start/N` and `shutdown/N` for N in 1000, 10000, 100000, and `cascade/10000`.
//! `shutdown/N` also times two raw stops in the reverse order overseer keeps by default
//! (`raw-ordered`: one child at a time, each awaited; `raw-chain`: each child cancels the one
//! before it), the raw lower bound of that order.
//!
//! ```sh
//! cargo bench --bench in_process 2>/dev/null
//! ```
//!
//! `2>/dev/null` matters: processmanager (default features) prints several lines per child
//! to stderr; criterion's results go to stdout. Memory per child: see
//! `benches/bin/memory_per_child.rs`.

mod common;

use std::time::Duration;

use common::{ovs, pm, raw, raw_chain, raw_ordered, tgs};
use criterion::{Criterion, SamplingMode, criterion_group};
use tokio::runtime::Runtime;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const CASCADE_N: usize = 10_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config() -> Criterion {
    // Small samples keep the whole run near three minutes on two cores.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    // Flat sampling: every sample runs the same iteration count, so a 10-sample
    // run needs only >= 10 iterations instead of >= 55 (linear sampling).
    g.sampling_mode(SamplingMode::Flat);
}

/// One bench: start `n` children and shut them down, once per iteration; `pick` chooses which
/// of the two durations (start, shutdown) is timed — the other part runs untimed.
macro_rules! start_then_shutdown {
    ($g:expr, $name:literal, $n:expr, $pick:expr, $($m:ident)::+) => {{
        let rt = runtime();
        let pick: fn(Duration, Duration) -> Duration = $pick;
        $g.bench_function($name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (started, running) = rt.block_on($($m)::+::start($n));
                        let stopped = rt.block_on($($m)::+::shutdown(running));
                        pick(started, stopped)
                    })
                    .sum()
            })
        });
    }};
}

/// `start/N`: until all `n` children have signalled that they run.
fn start_benches(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("start/{n}"));
        configure(&mut g);
        let start = |started, _| started;
        start_then_shutdown!(g, "raw", n, start, raw);
        start_then_shutdown!(g, "overseer", n, start, ovs);
        start_then_shutdown!(g, "processmanager", n, start, pm);
        start_then_shutdown!(g, "tokio-graceful-shutdown", n, start, tgs);
        g.finish();
    }
}

/// `shutdown/N`: from the shutdown request until the tree's run has returned.
fn shutdown_benches(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("shutdown/{n}"));
        configure(&mut g);
        let shutdown = |_, stopped| stopped;
        start_then_shutdown!(g, "raw", n, shutdown, raw);
        start_then_shutdown!(g, "overseer", n, shutdown, ovs);
        start_then_shutdown!(g, "overseer-concurrent", n, shutdown, ovs::concurrent);
        start_then_shutdown!(g, "raw-ordered", n, shutdown, raw_ordered);
        start_then_shutdown!(g, "raw-chain", n, shutdown, raw_chain);
        start_then_shutdown!(g, "processmanager", n, shutdown, pm);
        start_then_shutdown!(g, "tokio-graceful-shutdown", n, shutdown, tgs);
        g.finish();
    }
}

/// `cascade/10000`: from firing child 0's failure until the top level has
/// returned the error with every child finished.
fn cascade_benches(c: &mut Criterion) {
    let n = CASCADE_N;
    let mut g = c.benchmark_group(format!("cascade/{n}"));
    configure(&mut g);
    macro_rules! one {
        ($name:literal, $($m:ident)::+) => {{
            let rt = runtime();
            g.bench_function($name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| rt.block_on($($m)::+::cascade(n))).sum())
            });
        }};
    }
    one!("raw", raw);
    one!("overseer", ovs);
    one!("overseer-concurrent", ovs::concurrent);
    one!("processmanager", pm);
    one!("tokio-graceful-shutdown", tgs);
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = start_benches, shutdown_benches, cascade_benches
}

criterion::criterion_main!(benches);
