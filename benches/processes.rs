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
//!     `K+1`-th `EventKind::Running` event (their `at` timestamps) for `K` restarts.
//! * `stop_100`: 100 `sleep 1000` children that exit on `SIGTERM`, all running; the time to
//!   stop them all. Start-up is outside the timed part.
//!   - `raw`: `SIGTERM` to each of 100 `tokio::process::Child`ren, then await all `wait()`s;
//!   - `overseer_reverse`: `handle.shutdown()` until `run()` returns, default
//!     [`StopOrder::Reverse`] (one child at a time, 100 sequential round trips);
//!   - `overseer_concurrent`: the same with [`StopOrder::Concurrent`].
//!
//! ```sh
//! cargo bench --bench processes -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! `stop_100` sets its own warm-up (0.3 s) and measurement time (1 s) of timed work, which
//! take precedence over the command line: every iteration spawns 100 processes outside the
//! timed part, so 5 s of timed stops would mean minutes of wall-clock time.
//!
//! The other two process figures (supervisor RSS with 100 children, 200 MB of output into a
//! rotating log) need a fresh process or a long single run: see `examples/process_figures.rs`.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group};
use futures_util::future::join_all;
use overseer::process::{Command, Output};
use overseer::{Backoff, EventKind, Handle, ProcessManager, StopOrder, TreeError};
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

const STOP_N: usize = 100;

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

fn pid_of(child: &tokio::process::Child) -> Pid {
    child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
        .expect("a running child has a pid")
}

// ----- restart gap --------------------------------------------------------------------------

/// `k` spawn+wait rounds of `/bin/false`, as the SPEC's raw loop.
async fn raw_restarts(k: u64) -> Duration {
    let t0 = Instant::now();
    for _ in 0..k {
        let status = tokio::process::Command::new("/bin/false")
            .spawn()
            .expect("spawn /bin/false")
            .wait()
            .await
            .expect("wait");
        assert_eq!(status.code(), Some(1));
    }
    t0.elapsed()
}

/// The raw loop with overseer's spawn options (see `Command::prepare` and `Group`).
async fn raw_group_restarts(k: u64) -> Duration {
    use std::process::Stdio;
    let t0 = Instant::now();
    for _ in 0..k {
        let mut child = tokio::process::Command::new("/bin/false")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn /bin/false");
        let pgid = pid_of(&child);
        let status = child.wait().await.expect("wait");
        assert_eq!(status.code(), Some(1));
        // Nobody is left in the group: ESRCH, as in overseer's `Group::wait`.
        let _ = kill_process_group(pgid, Signal::KILL);
    }
    t0.elapsed()
}

/// One manager with one crashing `Command` child: the time spanned by `k` restarts, from
/// the `at` of the first `Running` event to that of the `k+1`-th.
async fn overseer_restarts(k: u64) -> Duration {
    let crash = Command::new("/bin/false")
        .stdout(Output::Null)
        .stderr(Output::Null)
        .into_spec("crash");
    let tree = ProcessManager::builder("root")
        .child(crash)
        .intensity(u32::MAX, Duration::from_secs(1))
        .backoff(Backoff::none())
        .build()
        .expect("valid tree");
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let mut first = None;
    let mut seen = 0;
    let mut span = Duration::ZERO;
    while let Some(ev) = events.recv().await {
        if !matches!(ev.kind, EventKind::Running) || !ev.path.as_str().ends_with("/crash") {
            continue;
        }
        match first {
            None => first = Some(ev.at),
            Some(t0) => {
                seen += 1;
                if seen == k {
                    span = ev.at.duration_since(t0);
                    break;
                }
            }
        }
    }
    assert_eq!(seen, k, "event stream ended early");
    assert_eq!(events.missed(), 0, "the event subscriber fell behind");
    drop(events);
    handle.shutdown().expect("shutdown");
    let res = run.await.expect("run task");
    assert!(res.is_ok(), "overseer: shutdown returned {res:?}");
    span
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
    g.finish();
}

// ----- stop 100 -----------------------------------------------------------------------------

/// 100 `sleep 1000` children held as Tokio `Child`ren; SIGTERM to each, then every wait.
async fn raw_stop(n: usize) -> Duration {
    let mut children: Vec<tokio::process::Child> = (0..n)
        .map(|_| {
            tokio::process::Command::new("sleep")
                .arg("1000")
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn sleep")
        })
        .collect();
    let t0 = Instant::now();
    for child in &children {
        kill_process(pid_of(child), Signal::TERM).expect("SIGTERM");
    }
    let statuses = join_all(children.iter_mut().map(|c| c.wait())).await;
    let took = t0.elapsed();
    for status in statuses {
        assert_eq!(status.expect("wait").code(), None, "killed by SIGTERM");
    }
    took
}

/// A manager with `n` `sleep 1000` children, every one of them spawned (all `Ready`).
async fn overseer_start(n: usize, order: StopOrder) -> (Handle, JoinHandle<Result<(), TreeError>>) {
    // One `Command` cloned per child, so each has its own pid slot.
    let sleep = Command::new("sleep")
        .arg("1000")
        .stdout(Output::Null)
        .stop_timeout(Duration::from_secs(5));
    let tree = ProcessManager::builder("root")
        .children((0..n).map(|i| sleep.clone().into_spec(format!("s{i}"))))
        .stop_order(order)
        .build()
        .expect("valid tree");
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let mut ready = 0;
    while ready < n {
        let ev = events
            .recv()
            .await
            .expect("tree ended before all children ran");
        if matches!(ev.kind, EventKind::Ready) {
            ready += 1;
        }
    }
    assert_eq!(events.missed(), 0);
    (handle, run)
}

async fn overseer_stop(n: usize, order: StopOrder) -> Duration {
    let (handle, run) = overseer_start(n, order).await;
    let t0 = Instant::now();
    handle.shutdown().expect("shutdown");
    let res = run.await.expect("run task");
    let took = t0.elapsed();
    assert!(res.is_ok(), "overseer: shutdown returned {res:?}");
    took
}

async fn overseer_stop_reverse(n: usize) -> Duration {
    overseer_stop(n, StopOrder::Reverse).await
}

async fn overseer_stop_concurrent(n: usize) -> Duration {
    overseer_stop(n, StopOrder::Concurrent).await
}

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
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = restart_benches, stop_benches
}

criterion::criterion_main!(benches);
