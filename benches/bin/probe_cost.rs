//! What health probes cost the supervisor: its own CPU time per probe, with 100 children each
//! probed once a second by TCP connect and by HTTP GET against `python3 -m http.server` on
//! 127.0.0.1, next to the same tree without probes (the floor) and to a `curl` per probe (what
//! an exec probe running curl, as process-compose users often write, costs).
//!
//! `cargo run --release --features health-http --example probe_cost -- [CHILDREN] [SECONDS]`
//! (defaults 100 and 20). Linux only.

use std::process::Stdio;
use std::time::{Duration, Instant};

use overseer::health::Probe;
use overseer::{ChildSpec, ProcessManager};

#[path = "measure.rs"]
mod measure;

/// CPU time (user + system) so far of this process (`who` = self) or of its reaped children,
/// in microseconds.
fn cpu_us(who: libc::c_int) -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid out-pointer for one `rusage`.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: filled in by a successful getrusage.
    let usage = unsafe { usage.assume_init() };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// A child that waits to be stopped, with `probe` as its liveness probe (if any).
fn child(n: usize, probe: Option<Probe>) -> ChildSpec {
    let spec = ChildSpec::task(format!("c{n}"), |ctx| async move {
        ctx.shutdown_requested().await;
        Ok(())
    });
    match probe {
        Some(probe) => spec.liveness(probe.failure_threshold(1_000_000)),
        None => spec,
    }
}

/// Runs `children` children with `probe` for `seconds`; returns the supervisor's CPU time in
/// µs over that time, and how many probes ran: one per child per period (the elapsed time
/// over the period, rounded).
fn run(children: usize, seconds: u64, probe: Option<Probe>) -> (u64, u64) {
    let rt = measure::runtime();
    rt.block_on(async {
        let period = Duration::from_secs(1);
        let tree = ProcessManager::builder("root")
            .children((0..children).map(|n| child(n, probe.clone().map(|p| p.period(period)))))
            .build()
            .unwrap();
        let handle = tree.handle();
        let run = tokio::spawn(async move { tree.run().await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start_cpu = cpu_us(libc::RUSAGE_SELF);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let cpu = cpu_us(libc::RUSAGE_SELF) - start_cpu;
        let elapsed = started.elapsed();
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
        let probes = if probe.is_some() {
            (children as u64) * (elapsed.as_secs_f64() / period.as_secs_f64()).round() as u64
        } else {
            0
        };
        (cpu, probes)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let children: usize = args.next().map_or(100, |a| a.parse().expect("CHILDREN"));
    let seconds: u64 = args.next().map_or(20, |a| a.parse().expect("SECONDS"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("healthz"), "ok\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    // Until it listens.
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("http://127.0.0.1:{port}/healthz");
    println!(
        "probe cost: {children} children probed every 1 s for {seconds} s; load {}",
        measure::load()
    );

    let (idle, _) = run(children, seconds, None);
    println!(
        "  no probes (floor)     supervisor CPU {:>8.1} ms",
        idle as f64 / 1000.0
    );
    for (name, probe) in [
        ("tcp connect", Probe::tcp(format!("127.0.0.1:{port}"))),
        ("http GET", Probe::http(&url).unwrap()),
    ] {
        let (cpu, probes) = run(children, seconds, Some(probe));
        let per = cpu.saturating_sub(idle) as f64 / probes as f64;
        println!(
            "  {name:<21} supervisor CPU {:>8.1} ms, {probes} probes: {per:>6.1} µs per probe",
            cpu as f64 / 1000.0
        );
    }

    // The peer: one `curl` per probe, its CPU time (the child's, reaped) per run.
    let runs = 200;
    let before = cpu_us(libc::RUSAGE_CHILDREN);
    let started = Instant::now();
    for _ in 0..runs {
        let status = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-f", &url])
            .status()
            .expect("curl");
        assert!(status.success());
    }
    let per = (cpu_us(libc::RUSAGE_CHILDREN) - before) as f64 / runs as f64;
    println!(
        "  curl per probe (peer)  {per:>6.1} µs of CPU per probe ({:.1} ms wall each)",
        started.elapsed().as_secs_f64() * 1000.0 / runs as f64
    );
    let _ = server.kill();
    let _ = server.wait();
}
