//! The OS-process figures that criterion does not fit, each side by side with its raw
//! baseline in the same run (the others are in `benches/processes.rs`):
//!
//! 0. **Restart gap and stop of 100, interleaved.** The same adapters as
//!    `benches/processes.rs` (`benches/procs/mod.rs`), run in rounds that rotate through the
//!    implementations, so that a change in the machine's load hits all of them alike. Per
//!    round: `K` restarts of each (`raw`, `raw_group`, `raw_observed`: raw with a subscriber
//!    task that receives one message per restart, `raw_task_observed`: the same with each run
//!    in a task of its own, `overseer`, `overseer_no_events`), then one stop of 100 `sleep 1000` children of each (`raw`, `overseer_concurrent`,
//!    `overseer_reverse`, and `raw_one_by_one`: raw stopping them last first, each awaited
//!    before the next is signalled, the lower bound of the reverse order).
//!    Reported: the median over the rounds, and the median of the per-round ratios; for the
//!    restarts also percentiles of the single restart gaps, pooled over the rounds.
//! 1. **Supervisor RSS with 100 idle children.** One fresh process per measurement: the
//!    example re-executes itself (`--rss IMPL`), builds a 2-worker multi-thread Tokio runtime,
//!    starts 100 `sleep 1000` children and reads `VmRSS`/`VmHWM` from `/proc/self/status`
//!    once all of them run, then stops them.
//!    - `overseer`: one `ProcessManager` with 100 `Command` children (`StopOrder::Concurrent`,
//!      which only changes the teardown after the reading), running once all 100 `Ready`
//!      events (sent right after each spawn) have arrived;
//!    - `raw`: 100 `tokio::process::Child` handles held in a `Vec`.
//! 2. **200 MB of child stdout into a rotating log** (50 MB × 10 files), against a shell
//!    redirect of the same pipeline, in rounds whose order rotates, best and median:
//!    - `shell`: `sh -c 'head -c 200000000 /dev/zero | tr "\0" x | fold -w 99 > FILE'`;
//!    - `command`: the real path: a `ProcessManager` (2-worker runtime) with one
//!      `Command::shell(PIPELINE).capture(sink)` child (`Temporary`, significant, the manager
//!      auto-shuts down when it ends), timed from building the manager until `run()` returns,
//!      i.e. until the child's run has ended and all its output is in the files;
//!    - `pump`: the bare pump: the same pipeline spawned by `tokio::process` in its own
//!      process group with stdout piped, the pipe read by `OutputSink::pump` in a task of the
//!      same runtime (no manager, no pipe enlargement);
//!    - `rw_loop`: the same pipeline piped into this process and copied to a plain file by a
//!      blocking 64 KiB `read`/`write_all` loop on a std thread (no lines, no rotation, no
//!      runtime): the floor for a reader that is woken by every write of the pipeline, to
//!      tell what the pipe hop costs by itself on this machine from what the pump adds;
//!    - `paced_loop`: the same copy, read as the capture reads a busy pipe: the pipe
//!      enlarged to 1 MiB and non-blocking, drained until empty, then a sleep of 250 µs
//!      (`--nap-us N` for another length) instead of a read that blocks until the next write:
//!      the floor for a paced reader (the experiment that chose the capture's nap length).
//!
//!    Every round checks the byte count across the files (the capture adds one `\n` after the
//!    last, unterminated line), that no rotating file exceeds 50 MB or ends inside a line, and
//!    deletes the files. For all but `shell`, this process's own CPU time (user + system) is
//!    printed too.
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
//! Scratch files go to a temporary directory, removed at the end.

#[path = "../../procs/mod.rs"]
mod procs;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer::process::Command;
use overseer::process::output::{OutputConfig, OutputSink, Stream};
use overseer::{AutoShutdown, ProcessManager, Restart, StopOrder};

const N: usize = 100;
const INTERLEAVED_ROUNDS: usize = 10;
const RESTARTS_PER_ROUND: u64 = 300;
const RSS_RUNS: usize = 3;
const BYTES: u64 = 200_000_000;
const PIPELINE: &str = r#"head -c 200000000 /dev/zero | tr "\0" x | fold -w 99"#;
/// The pipeline's line length, without the newline.
const LINE: u64 = 99;
/// What the pipeline writes: `BYTES` x's and a newline after each full line.
const SHELL_BYTES: u64 = BYTES + BYTES / LINE;
const ROTATE_BYTES: u64 = 50_000_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ----- 0. Interleaved restart gap and stop ------------------------------------------------

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

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
            median_f(values.clone()),
            names[0],
            median_f(ratios)
        );
    }
}

fn interleaved() {
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

// ----- 1. RSS ------------------------------------------------------------------------------

/// (VmRSS, VmHWM) of this process, in KiB.
fn status_kib() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |key: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing in /proc/self/status"));
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("kB value")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn rss_overseer(n: usize) -> (u64, u64) {
    // The bench's tree: 100 `sleep 1000` children, returned once all are `Ready`.
    let (handle, run) = procs::overseer_start(n, StopOrder::Concurrent).await;
    let snap = handle.snapshot().await.expect("snapshot");
    let with_pid = snap.children.iter().filter(|c| c.pid.is_some()).count();
    assert_eq!(with_pid, n, "every child has a running process");
    let after = status_kib();
    handle.shutdown().expect("shutdown");
    run.await.expect("run task").expect("clean shutdown");
    after
}

async fn rss_raw(n: usize) -> (u64, u64) {
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
    let after = status_kib();
    for child in &mut children {
        child.start_kill().expect("kill");
    }
    for child in &mut children {
        child.wait().await.expect("wait");
    }
    after
}

fn rss_child(imp: &str, n: usize) {
    let rt = runtime();
    let before = status_kib();
    let after = rt.block_on(async {
        match imp {
            "overseer" => tokio::spawn(rss_overseer(n)).await.expect("task"),
            "raw" => tokio::spawn(rss_raw(n)).await.expect("task"),
            other => panic!("unknown --rss {other}"),
        }
    });
    println!("RESULT {} {} {} {}", before.0, before.1, after.0, after.1);
}

fn rss_parent() {
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

// ----- 2. Output throughput ----------------------------------------------------------------

/// Deletes every file in `dir`; returns their total size. With `max_file`, also checks that
/// each file is at most that large and ends with a whole line (a rotating log).
fn remove_all(dir: &Path, max_file: Option<u64>) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read scratch dir") {
        let path = entry.expect("entry").path();
        let len = std::fs::metadata(&path).expect("metadata").len();
        if let Some(max) = max_file {
            assert!(len <= max, "{} has {len} bytes", path.display());
            let mut file = std::fs::File::open(&path).expect("open");
            file.seek(SeekFrom::End(-1)).expect("seek");
            let mut last = [0u8];
            file.read_exact(&mut last).expect("read");
            assert_eq!(last[0], b'\n', "{} ends inside a line", path.display());
        }
        total += len;
        std::fs::remove_file(path).expect("remove");
    }
    total
}

fn rotating_sink(dir: &Path) -> Arc<OutputSink> {
    OutputConfig::new()
        .log_file(dir.join("app.log"))
        .rotate(ROTATE_BYTES, 10)
        .build()
        .expect("open log")
}

fn shell(dir: &Path) -> Duration {
    let out = dir.join("shell.out");
    let t0 = Instant::now();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{PIPELINE} > '{}'", out.display()))
        .status()
        .expect("spawn sh");
    let took = t0.elapsed();
    assert!(status.success(), "shell redirect failed");
    took
}

/// The real path: a manager with one `Command::shell(PIPELINE).capture(sink)` child that runs
/// once; `run()` returns after the child's run has ended, its pipes drained and the log file
/// flushed.
async fn command(dir: &Path) -> Duration {
    let sink = rotating_sink(dir);
    let t0 = Instant::now();
    let child = Command::shell(PIPELINE)
        .capture(sink)
        .into_spec("output")
        .restart(Restart::Temporary)
        .significant(true);
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(child)
        .build()
        .expect("valid tree");
    tokio::spawn(async move { tree.run().await })
        .await
        .expect("run task")
        .expect("the pipeline succeeds");
    t0.elapsed()
}

async fn pump(dir: &Path) -> Duration {
    let sink = rotating_sink(dir);
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", PIPELINE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().expect("piped stdout");
    let pumping = tokio::spawn(async move { sink.pump(stdout, Stream::Stdout).await });
    let status = child.wait().await.expect("wait");
    pumping.await.expect("pump task").expect("pump");
    let took = t0.elapsed();
    assert!(status.success(), "pipeline failed");
    took
}

/// CPU time (user + system) of this process so far, in ms (Linux `/proc/self/stat`, 10 ms
/// clock ticks assumed).
fn own_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks * 10
}

/// Runs the pipeline with its stdout piped into this process, and `copy` on a std thread to
/// copy the pipe into a plain file in `dir`; the time until both are done.
fn copy_loop<F>(dir: &Path, copy: F) -> Duration
where
    F: FnOnce(std::process::ChildStdout, std::fs::File) + Send + 'static,
{
    let t0 = Instant::now();
    let mut child = std::process::Command::new("sh")
        .args(["-c", PIPELINE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().expect("piped stdout");
    let file = std::fs::File::create(dir.join("copy.out")).expect("create");
    std::thread::spawn(move || copy(stdout, file))
        .join()
        .expect("copier thread");
    let status = child.wait().expect("wait");
    let took = t0.elapsed();
    assert!(status.success(), "pipeline failed");
    took
}

/// A blocking 64 KiB `read`/`write_all` loop: woken by every write of the pipeline.
fn rw_loop(dir: &Path) -> Duration {
    use std::io::{Read, Write};
    copy_loop(dir, |mut stdout, mut file| {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).expect("write");
        }
    })
}

/// The same copy as [`rw_loop`], read as the capture reads a busy pipe: the pipe enlarged to
/// 1 MiB and non-blocking, drained with 64 KiB reads until it is empty, then a sleep of `nap`
/// (a thread sleep, as exact as a `timerfd`), instead of a read that blocks until the next
/// write. The floor for a paced reader, and the experiment that chose the capture's nap.
fn paced_loop(dir: &Path, nap: Duration) -> Duration {
    use std::io::Write;
    copy_loop(dir, move |stdout, mut file| {
        // Refused by a lowered pipe-max-size: then the default size, paced all the same.
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1024 * 1024);
        rustix::io::ioctl_fionbio(&stdout, true).expect("non-blocking pipe");
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rustix::io::read(&stdout, &mut buf) {
                Ok(0) => break,
                Ok(n) => file.write_all(&buf[..n]).expect("write"),
                Err(rustix::io::Errno::AGAIN) => std::thread::sleep(nap),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const OUTPUT_NAMES: [&str; 5] = ["shell", "command", "pump", "rw_loop", "paced_loop"];

fn throughput(rounds: usize, variants: &[String], nap: Duration) {
    let wanted = |i: usize| variants.is_empty() || variants.iter().any(|v| v == OUTPUT_NAMES[i]);
    let dir = tempfile::tempdir().expect("scratch dir");
    let rt = runtime();
    println!();
    println!("## 200 MB of stdout into a rotating log (50 MB x 10) vs a shell redirect");
    println!("(order rotates each round; own CPU = this process's user + system time)");
    let mut times: [Vec<Duration>; 5] = Default::default();
    let mut cpus: [Vec<u64>; 5] = Default::default();
    for round in 0..rounds {
        let mut line = format!("round {}:", round + 1);
        for j in 0..OUTPUT_NAMES.len() {
            let i = (round + j) % OUTPUT_NAMES.len();
            if !wanted(i) {
                continue;
            }
            let cpu0 = own_cpu_ms();
            let took = match i {
                0 => shell(dir.path()),
                1 => rt.block_on(command(dir.path())),
                2 => rt.block_on(pump(dir.path())),
                3 => rw_loop(dir.path()),
                _ => paced_loop(dir.path(), nap),
            };
            let cpu = own_cpu_ms() - cpu0;
            let rotating = matches!(i, 1 | 2).then_some(ROTATE_BYTES);
            let bytes = remove_all(dir.path(), rotating);
            // The capture ends the last, unterminated line with a newline in the file.
            let expected = match rotating {
                Some(_) => SHELL_BYTES + u64::from(BYTES % LINE != 0),
                None => SHELL_BYTES,
            };
            assert_eq!(bytes, expected, "{} wrote {bytes} bytes", OUTPUT_NAMES[i]);
            line += &format!(
                "  {} {:.3} s ({bytes} B{})",
                OUTPUT_NAMES[i],
                took.as_secs_f64(),
                if i == 0 {
                    String::new()
                } else {
                    format!(", CPU {cpu} ms")
                }
            );
            times[i].push(took);
            cpus[i].push(cpu);
        }
        println!("{line}  load {}", load());
    }
    let mb = (BYTES as f64) / 1e6;
    for (i, name) in OUTPUT_NAMES.iter().enumerate() {
        let v = &times[i];
        if v.is_empty() {
            continue;
        }
        let best = *v.iter().min().expect("a round");
        let med = median(v.clone());
        let cpu = if i == 0 {
            String::new()
        } else {
            let mut c = cpus[i].clone();
            c.sort_unstable();
            format!(
                "  own CPU median {} ms (min {}, max {})",
                c[c.len() / 2],
                c[0],
                c[c.len() - 1]
            )
        };
        println!(
            "{name:8} best {:.3} s ({:.0} MB/s)  median {:.3} s ({:.0} MB/s){cpu}",
            best.as_secs_f64(),
            mb / best.as_secs_f64(),
            med.as_secs_f64(),
            mb / med.as_secs_f64()
        );
    }
    let best = |v: &Vec<Duration>| v.iter().min().copied().expect("a round");
    for i in 1..OUTPUT_NAMES.len() {
        if times[0].is_empty() || times[i].is_empty() {
            continue;
        }
        // Shell and variant timed in the same round, next to each other: a drift of the load
        // between rounds moves both alike.
        let mut paired: Vec<f64> = times[0]
            .iter()
            .zip(&times[i])
            .map(|(shell, variant)| shell.as_secs_f64() / variant.as_secs_f64())
            .collect();
        paired.sort_by(f64::total_cmp);
        println!(
            "speed ratio shell/{}: best {:.3}, median {:.3}, median of per-round ratios {:.3}{}",
            OUTPUT_NAMES[i],
            best(&times[0]).as_secs_f64() / best(&times[i]).as_secs_f64(),
            median(times[0].clone()).as_secs_f64() / median(times[i].clone()).as_secs_f64(),
            paired[paired.len() / 2],
            if i == 1 { " (goal >= 0.9)" } else { "" }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |key: &str| {
        args.iter()
            .position(|a| a == key)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(imp) = arg("--rss") {
        let n = arg("--n").map_or(N, |v| v.parse().expect("--n <number>"));
        rss_child(&imp, n);
        return;
    }
    let rounds = arg("--rounds").map_or(3, |v| v.parse().expect("--rounds <number>"));
    let only = arg("--only");
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    println!("load average at start: {}", load());
    if wants("interleaved") {
        interleaved();
    }
    if wants("rss") {
        rss_parent();
    }
    if wants("output") {
        let variants: Vec<String> = arg("--variants")
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let nap = arg("--nap-us").map_or(Duration::from_micros(250), |v| {
            Duration::from_micros(v.parse().expect("--nap-us <microseconds>"))
        });
        throughput(rounds, &variants, nap);
    }
    println!("load average at end: {}", load());
}
