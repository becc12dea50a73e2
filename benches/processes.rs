//! OS-process children side by side, in one run: overseer against the raw lower bound
//! (`tokio::process` with no supervisor at all). Two groups:
//!
//! * `restart_gap`: a child that crashes at once (`/bin/false`, exit 1), restarted with no
//!   backoff and an intensity that never gives up. One criterion iteration is one restart.
//!   - `raw`: `tokio::process::Command::new("/bin/false").spawn()?.wait().await` in a loop;
//!   - `raw_group`: the same loop with what overseer does per spawn on top (own process
//!     group, stdio from `/dev/null`, `kill_on_drop`, and a `SIGKILL` to the group after the
//!     leader is reaped), to tell the cost of the spawn options from the cost of the manager;
//!   - `overseer`: one manager, one `Command` child; the time between the first and the
//!     `K+1`-th `EventKind::Running` event (their `at` timestamps) for `K` restarts;
//!   - `overseer_no_events`: the same tree without an event subscriber (which costs a task
//!     wake-up per event): intensity `K - 1`, so the manager gives up at the `K`-th crash;
//!     the time from spawning `run()` to its return, i.e. `K` spawn+wait cycles plus one
//!     start and one give-up of the manager.
//! * `stop_100`: 100 `sleep 1000` children that exit on `SIGTERM`, all running; the time to
//!   stop them all. Start-up is outside the timed part.
//!   - `raw`: `SIGTERM` to each of 100 `tokio::process::Child`ren, then await all `wait()`s;
//!   - `overseer_reverse`: `handle.shutdown()` until `run()` returns, default
//!     [`StopOrder::Reverse`] (one child at a time, 100 sequential round trips);
//!   - `overseer_concurrent`: the same with [`StopOrder::Concurrent`];
//!   - `raw_one_by_one`: raw in the reverse order: `SIGTERM` to the last child, await its
//!     `wait()`, then the one before: the lower bound of the default order.
//!
//! ```sh
//! cargo bench --bench processes -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! `stop_100` sets its own warm-up (0.3 s) and measurement time (1 s) of timed work, which
//! take precedence over the command line: every iteration spawns 100 processes outside the
//! timed part, so 5 s of timed stops would mean minutes of wall-clock time.
//!
//! The measured code is in `benches/procs/mod.rs`, shared with the measurement program
//! `benches/bin/process_figures/` (`cargo run --release --example process_figures`), which
//! also runs the restart and stop figures in interleaved rounds (less exposed to load drift on
//! a shared machine than criterion's one-bench-after-the-other order).
//!
//! The other two process figures (supervisor RSS with 100 children, 200 MB of output into a
//! rotating log) need a fresh process or a long single run: they are in that program too.

mod procs;

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group};
use procs::{
    STOP_N, overseer_restarts, overseer_runs_until_give_up, overseer_stop_concurrent,
    overseer_stop_reverse, raw_group_restarts, raw_restarts, raw_stop, raw_stop_one_by_one,
};
use tokio::runtime::Runtime;

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
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .without_plots()
}

fn restart_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("restart_gap");
    g.sampling_mode(SamplingMode::Flat);
    macro_rules! one {
        ($name:literal, $f:ident) => {{
            let rt = runtime();
            g.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async move { tokio::spawn($f(iters)).await.expect("task") })
                })
            });
        }};
    }
    one!("raw", raw_restarts);
    one!("raw_group", raw_group_restarts);
    one!("overseer", overseer_restarts);
    one!("overseer_no_events", overseer_runs_until_give_up);
    g.finish();
}

// ----- stop 100 -----------------------------------------------------------------------------

fn stop_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("stop_{STOP_N}"));
    g.sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    macro_rules! one {
        ($name:literal, $f:ident) => {{
            let rt = runtime();
            g.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += tokio::spawn($f(STOP_N)).await.expect("task");
                        }
                        total
                    })
                })
            });
        }};
    }
    one!("raw", raw_stop);
    one!("overseer_reverse", overseer_stop_reverse);
    one!("overseer_concurrent", overseer_stop_concurrent);
    one!("raw_one_by_one", raw_stop_one_by_one);
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = restart_benches, stop_benches
}

criterion::criterion_main!(benches);
