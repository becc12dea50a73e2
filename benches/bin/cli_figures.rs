//! The `overseer` command as a whole process, side by side with its raw lower bound and, when
//! installed, a peer, in interleaved rounds:
//!
//! - **`up` of N processes until all are running**: from spawning `overseer up` on a config
//!   of N `sleep 1000` processes to the N-th `started` line on its output; the raw lower
//!   bound is this program re-executed with `--raw N`, which spawns the same N commands with
//!   `std::process::Command` (`posix_spawn`) from one thread, the program's path looked up
//!   once, and prints a line after each; the peer is
//!   honcho (`pip install honcho`, a Procfile of the same N lines, its `started (pid=…)`
//!   lines, Python's output unbuffered) when `honcho` is on the `PATH`.
//!
//! ```sh
//! cargo build --release --features cli --bin overseer
//! cargo run --release --features cli --example cli_figures            # N = 100, 10 rounds
//! cargo run --release --features cli --example cli_figures -- --n 100 --rounds 20
//! ```
//!
//! The `overseer` binary is taken from next to this program's directory
//! (`target/release/overseer`). Linux only.

#[path = "measure.rs"]
mod measure;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use measure::{arg, load};

fn main() {
    let args = measure::args();
    let n: usize = arg(&args, "--n").map_or(100, |v| v.parse().expect("--n <number>"));
    if arg(&args, "--raw").is_some() {
        raw(n);
        return;
    }
    let rounds: usize =
        arg(&args, "--rounds").map_or(10, |v| v.parse().expect("--rounds <number>"));
    let overseer = overseer_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("overseer.toml");
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[processes.p{i}]\ncommand = [\"sleep\", \"1000\"]\n"
        ));
    }
    std::fs::write(&config, text).expect("write config");
    let procfile = dir.path().join("Procfile");
    let lines: String = (0..n).map(|i| format!("p{i}: sleep 1000\n")).collect();
    std::fs::write(&procfile, lines).expect("write Procfile");
    let honcho = which("honcho");
    println!("load average at start: {}", load());
    println!("## up of {n} processes until all are running ({rounds} rounds, ms)");
    let mut names = vec!["raw", "overseer"];
    if honcho.is_some() {
        names.push("honcho");
    }
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let me = std::env::current_exe().expect("current exe");
    for round in 0..rounds {
        for k in 0..names.len() {
            // Rotate the order so that a change of load hits every implementation alike.
            let which = (k + round) % names.len();
            let took = match names[which] {
                "raw" => time_to_lines(
                    Command::new(&me).args(["--raw", "x", "--n", &n.to_string()]),
                    n,
                    "started",
                ),
                "overseer" => time_to_lines(
                    Command::new(&overseer)
                        .args(["up", "--color", "never"])
                        .arg(&config)
                        .env("OVERSEER_STATE_DIR", dir.path().join("state")),
                    n,
                    "] started",
                ),
                _ => time_to_lines(
                    Command::new(honcho.as_ref().expect("honcho"))
                        .args(["-f"])
                        .arg(&procfile)
                        .arg("start")
                        .env("PYTHONUNBUFFERED", "1"),
                    n,
                    " started (pid=",
                ),
            };
            rows[which].push(took.as_secs_f64() * 1e3);
        }
    }
    let medians: Vec<f64> = rows.iter().map(|r| median(r.clone())).collect();
    for (name, (row, med)) in names.iter().zip(rows.iter().zip(&medians)) {
        let min = row.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = row.iter().cloned().fold(0.0, f64::max);
        println!(
            "{name:<10} median {med:8.1} ms  (min {min:.1}, max {max:.1})  median / raw {:.2}x",
            med / medians[0]
        );
    }
    println!("load average at end: {}", load());
}

/// Spawns `cmd` and times it until `n` lines containing `marker` were printed; then stops it
/// with SIGINT (SIGKILL after 10 s) and waits for it.
fn time_to_lines(cmd: &mut Command, n: usize, marker: &str) -> Duration {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = 0;
    let mut line = String::new();
    while seen < n {
        line.clear();
        if out.read_line(&mut line).expect("read") == 0 {
            panic!("ended after {seen} of {n} lines with {marker:?}");
        }
        if line.contains(marker) {
            seen += 1;
        }
    }
    let took = t0.elapsed();
    stop(&mut child, out);
    took
}

fn stop(child: &mut Child, mut out: BufReader<std::process::ChildStdout>) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
    // Drain its output so that it never blocks on a full pipe while stopping.
    let drain = std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut sink);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = drain.join();
}

/// `--raw N`: spawns N `sleep 1000`, one line after each, then waits for SIGINT and kills
/// them.
fn raw(n: usize) {
    // Blocked before the first line, taken with sigwait after the last: the children are
    // killed before this process ends.
    let mut set = sigint_blocked();
    // Looked up once, as overseer does: no failed `execve` along the PATH per spawn.
    let sleep = which("sleep").expect("sleep on the PATH");
    let mut children = Vec::with_capacity(n);
    let mut out = std::io::stdout().lock();
    for i in 0..n {
        children.push(
            Command::new(&sleep)
                .arg("1000")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn sleep"),
        );
        let _ = writeln!(out, "p{i} started");
        let _ = out.flush();
    }
    drop(out);
    wait_for_sigint(&mut set);
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn sigint_blocked() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise the set; sigprocmask blocks SIGINT for this
    // (single-threaded) process so that sigwait can take it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_sigint(set: &mut libc::sigset_t) {
    let mut signal = 0;
    // SAFETY: `set` was initialised above; sigwait writes the signal number.
    unsafe {
        libc::sigwait(set, &mut signal);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn overseer_binary() -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("overseer"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release --features cli --bin overseer",
        bin.display()
    );
    bin
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
