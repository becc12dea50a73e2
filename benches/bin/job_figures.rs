//! Figures of detached jobs (issue 16), each beside its raw lower bound, in one run:
//!
//! - **start**: `Store::start` of `true` (a fork for the shim and two clones that copy no
//!   page tables, setsid, the job's directory, two writes of state.json, each fsync'ed)
//!   against a raw `std::process::Command` spawn of `true` with stdout and stderr
//!   appended to files; interleaved rounds, medians. Both wait for the exec (std reads its
//!   exec-error pipe). Also an fsync'ed atomic file write alone, the part of the start that
//!   is the disk's.
//! - **list**: `Store::list` with a status filter over a store of 10,000 finished jobs (copies
//!   of one real finished job's state under distinct ids, half completed, half failed).
//! - **follow**: per line, `Store::follow` over a finished job's 200,000-line log against
//!   reading the file and cutting it into lines with `memchr`; and the live latency from a
//!   line's `write` into a running job's log to its callback.
//!
//! Run: `cargo run --release --features jobs --example job_figures [-- --rounds 200]`. The
//! store is a temporary directory under `$TMPDIR` (its file system decides the fsync cost).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use overseer::jobs::{Filter, FollowOptions, JobSpec, Status, Store};

mod measure;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let args = measure::args();
    let rounds: usize = measure::arg(&args, "--rounds").map_or(200, |r| r.parse().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    println!(
        "load {}; store in {}",
        measure::load(),
        tmp.path().display()
    );
    start(&tmp, rounds);
    list(&tmp);
    follow(&tmp);
}

fn start(tmp: &tempfile::TempDir, rounds: usize) {
    let store = Store::open(tmp.path().join("start")).unwrap();
    let logs = tmp.path().join("raw");
    std::fs::create_dir_all(&logs).unwrap();
    let unsynced = Store::open(tmp.path().join("start-unsynced"))
        .unwrap()
        .sync_start(false);
    let (mut raw, mut job, mut write) = (Vec::new(), Vec::new(), Vec::new());
    let mut job_unsynced = Vec::new();
    for round in 0..rounds {
        let append = |name: &str| {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(logs.join(name))
                .unwrap()
        };
        let t = Instant::now();
        let mut child = Command::new("true")
            .stdin(Stdio::null())
            .stdout(append("out"))
            .stderr(append("err"))
            .spawn()
            .unwrap();
        raw.push(ms(t));
        child.wait().unwrap();

        let t = Instant::now();
        let started = store.start(JobSpec::new("true")).unwrap();
        job.push(ms(t));
        store.wait(&started.id, None).unwrap();

        let t = Instant::now();
        let started = unsynced.start(JobSpec::new("true")).unwrap();
        job_unsynced.push(ms(t));
        unsynced.wait(&started.id, None).unwrap();

        let t = Instant::now();
        let path = logs.join(format!(".w{round}.tmp"));
        let mut f = File::create(&path).unwrap();
        f.write_all(&[b'x'; 600]).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&path, logs.join("w.json")).unwrap();
        File::open(&logs).unwrap().sync_all().unwrap();
        write.push(ms(t));
    }
    let (r, j, w) = (
        measure::median(raw.clone()),
        measure::median(job.clone()),
        measure::median(write),
    );
    println!(
        "start ({rounds} interleaved rounds): raw spawn median {r:.3} ms (p90 {:.3}), \
         Store::start median {j:.3} ms (p90 {:.3}): {:.2}x; one fsync'ed atomic write {w:.3} ms",
        measure::percentile(&mut raw, 0.9),
        measure::percentile(&mut job, 0.9),
        j / r
    );
    let u = measure::median(job_unsynced.clone());
    println!(
        "start without fsync (Store::sync_start(false)): median {u:.3} ms (p90 {:.3}): {:.2}x",
        measure::percentile(&mut job_unsynced, 0.9),
        u / r
    );
}

fn list(tmp: &tempfile::TempDir) {
    let store = Store::open(tmp.path().join("list")).unwrap();
    let seed = store.start(JobSpec::new("true")).unwrap();
    let seed = store.wait(&seed.id, None).unwrap();
    let text =
        std::fs::read_to_string(store.job_dir(&seed.id).unwrap().join("state.json")).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    for i in 0..10_000u32 {
        let id = format!("{:011x}-{i:06x}", 1u64 << 40);
        state["id"] = id.clone().into();
        state["status"] = if i % 2 == 0 { "completed" } else { "failed" }.into();
        let dir = store.dir().join(&id);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    }
    let filter = Filter::new().status(Status::Failed);
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let listing = store.list(&filter).unwrap();
        times.push(ms(t));
        found = listing.jobs.len();
        assert!(listing.errors.is_empty());
    }
    let median = measure::median(times.clone());
    println!(
        "list 10,001 jobs, status filter ({found} match), 20 runs: median {median:.1} ms, max {:.1} ms",
        measure::percentile(&mut times, 1.0)
    );
}

fn follow(tmp: &tempfile::TempDir) {
    let store = Store::open(tmp.path().join("follow")).unwrap();
    let lines = 200_000;
    let job = store
        .start(JobSpec::new("seq").arg("1").arg(lines.to_string()))
        .unwrap();
    store.wait(&job.id, None).unwrap();
    let log = store.job_dir(&job.id).unwrap().join("stdout.log");
    let (mut direct, mut followed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t = Instant::now();
        let mut bytes = Vec::new();
        File::open(&log).unwrap().read_to_end(&mut bytes).unwrap();
        let mut n = 0usize;
        let mut sum = 0usize;
        for line in bytes.split(|&b| b == b'\n') {
            n += 1;
            sum += line.len();
        }
        std::hint::black_box((n, sum));
        direct.push(ms(t));

        let t = Instant::now();
        let mut n = 0usize;
        let mut sum = 0usize;
        store
            .follow(&job.id, &FollowOptions::new(), |l| {
                n += 1;
                sum += l.bytes.len();
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n, lines);
        std::hint::black_box(sum);
        followed.push(ms(t));
    }
    let (d, f) = (measure::median(direct), measure::median(followed));
    println!(
        "follow a finished job's {lines} lines, 10 runs: reading the file {d:.2} ms, follow {f:.2} ms: \
         {:.3} us more per line",
        (f - d) * 1e3 / lines as f64
    );

    // Live: one line at a time into a running job's log, from write to callback.
    let running = store.start(JobSpec::new("sleep").arg("1000")).unwrap();
    let (tx, rx) = mpsc::channel();
    let follower = std::thread::spawn({
        let store = store.clone();
        let id = running.id.clone();
        move || {
            store.follow(&id, &FollowOptions::new(), |_| {
                let _ = tx.send(Instant::now());
                ControlFlow::Continue(())
            })
        }
    });
    let mut out = OpenOptions::new()
        .append(true)
        .open(store.job_dir(&running.id).unwrap().join("stdout.log"))
        .unwrap();
    // The follower is ready once a first line comes through.
    out.write_all(b"warm-up\n").unwrap();
    rx.recv().unwrap();
    let mut latency = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        writeln!(out, "line {i}").unwrap();
        let seen = rx.recv().unwrap();
        latency.push(seen.duration_since(t).as_secs_f64() * 1e6);
    }
    store
        .cancel(&running.id, std::time::Duration::from_secs(5))
        .unwrap();
    follower.join().unwrap().unwrap();
    let median = measure::median(latency.clone());
    println!(
        "follow a running job, write to callback, 1000 lines: median {median:.0} us, p99 {:.0} us, max {:.0} us",
        measure::percentile(&mut latency, 0.99),
        measure::percentile(&mut latency, 1.0)
    );
}
