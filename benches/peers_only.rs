//! TEMPORARY: peer comparison without overseer (raw lower bound,
//! processmanager 0.6, tokio-graceful-shutdown 0.20) over a flat tree of `n`
//! trivial long-lived children. Groups: `start/N`, `shutdown/N` (N in 1000,
//! 10000, 100000) and `cascade/10000`; functions `raw`, `processmanager`,
//! `tokio-graceful-shutdown`.
//!
//! How to run
//! ----------
//! Cargo auto-discovers this file, but an auto-discovered bench uses the
//! libtest harness (harness = true), which ignores `criterion_main!`'s `main`.
//! Until Cargo.toml gets
//!
//! ```toml
//! [[bench]]
//! name = "peers_only"
//! harness = false
//! ```
//!
//! (after which plain `cargo bench --bench peers_only` works), run it through
//! the `#[test]` shim at the bottom, in the optimized bench profile:
//!
//! ```sh
//! cargo bench --bench peers_only -- --test --nocapture 2>/dev/null
//! # optional criterion filter: PEERS_ONLY_FILTER=cascade cargo bench ...
//! ```
//!
//! `2>/dev/null` matters: processmanager (default features) `eprintln!`s
//! several lines per child; criterion's results go to stdout.

mod common;

use std::time::Duration;

use common::{pm, raw, tgs};
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

/// `start/N`: sum of the durations `start` returns; shutdown runs outside the
/// timed part.
fn start_benches(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("start/{n}"));
        configure(&mut g);
        macro_rules! one {
            ($name:literal, $m:ident) => {{
                let rt = runtime();
                g.bench_function($name, |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let (elapsed, running) = rt.block_on($m::start(n));
                            total += elapsed;
                            rt.block_on($m::shutdown(running));
                        }
                        total
                    })
                });
            }};
        }
        one!("raw", raw);
        one!("processmanager", pm);
        one!("tokio-graceful-shutdown", tgs);
        g.finish();
    }
}

/// `shutdown/N`: sum of the durations `shutdown` returns; start runs outside
/// the timed part.
fn shutdown_benches(c: &mut Criterion) {
    for n in SIZES {
        let mut g = c.benchmark_group(format!("shutdown/{n}"));
        configure(&mut g);
        macro_rules! one {
            ($name:literal, $m:ident) => {{
                let rt = runtime();
                g.bench_function($name, |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let (_, running) = rt.block_on($m::start(n));
                            total += rt.block_on($m::shutdown(running));
                        }
                        total
                    })
                });
            }};
        }
        one!("raw", raw);
        one!("processmanager", pm);
        one!("tokio-graceful-shutdown", tgs);
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
        ($name:literal, $m:ident) => {{
            let rt = runtime();
            g.bench_function($name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| rt.block_on($m::cascade(n))).sum())
            });
        }};
    }
    one!("raw", raw);
    one!("processmanager", pm);
    one!("tokio-graceful-shutdown", tgs);
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = start_benches, shutdown_benches, cascade_benches
}

// `harness = false` build: criterion's own main. (Under the libtest harness
// rustc supplies its own entry point and this `main` is simply unused.)
criterion::criterion_main!(benches);

// libtest-harness build (auto-discovered, no [[bench]] entry): run the same
// groups from a test. `#[test]` items only exist when rustc builds with
// `--test`, i.e. not in the `harness = false` build. (`cfg(test)` can't tell
// the two apart: cargo sets it for every bench target.) Criterion is
// configured in code, not from argv (argv holds libtest flags here).
#[test]
fn peers_only() {
    let mut c = config();
    if let Ok(filter) = std::env::var("PEERS_ONLY_FILTER") {
        c = c.with_filter(filter);
    }
    start_benches(&mut c);
    shutdown_benches(&mut c);
    cascade_benches(&mut c);
    c.final_summary();
}
