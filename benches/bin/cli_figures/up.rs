//! 0. **`up` of N processes until all are running**: each of N processes is `sh -c 'echo
//!    up; exec sleep 1000'`; the time from spawning the supervisor to the N-th `up` line on
//!    its standard output, so every process has been spawned, has run and had its line
//!    relayed. The raw lower bound is this program re-executed with `--raw N`, which spawns
//!    the same N commands with `std::process::Command` (`posix_spawn`) from one thread, the
//!    shell's path looked up once, their output going straight to its own; the peer is
//!    honcho (`pip install honcho`, a Procfile of the same N lines, Python's output
//!    unbuffered) when `honcho` is on the `PATH`. (Counting `overseer up`'s `started`
//!    lines instead would be wrong: the `Running` event comes when a child's run begins,
//!    before its process is spawned.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::measure::median;
use crate::which;

/// What each process runs: one line, then a long sleep (the shell execs it).
const SCRIPT: &str = "echo up; exec sleep 1000";

/// Runs the rounds and prints the table.
pub fn run(overseer: &Path, n: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("overseer.toml");
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("[processes.p{i}]\ncommand = \"{SCRIPT}\"\n"));
    }
    std::fs::write(&config, text).expect("write config");
    let procfile = dir.path().join("Procfile");
    let lines: String = (0..n).map(|i| format!("p{i}: {SCRIPT}\n")).collect();
    std::fs::write(&procfile, lines).expect("write Procfile");
    let honcho = which("honcho");
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
                    "up",
                ),
                "overseer" => time_to_lines(
                    Command::new(overseer)
                        .args(["up", "--color", "never"])
                        .arg(&config)
                        .env("OVERSEER_STATE_DIR", dir.path().join("state")),
                    n,
                    "| up",
                ),
                _ => time_to_lines(
                    Command::new(honcho.as_ref().expect("honcho"))
                        .args(["-f"])
                        .arg(&procfile)
                        .arg("start")
                        .env("PYTHONUNBUFFERED", "1"),
                    n,
                    "| up",
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

/// `--raw N`: spawns N [`SCRIPT`]s, their output going to this program's, then waits for
/// SIGINT and kills them (their `sleep`, which the shell became).
pub fn raw(n: usize) {
    // Blocked before the first line, taken with sigwait after the last: the children are
    // killed before this process ends.
    let mut set = sigint_blocked();
    // Looked up once, as overseer does: no failed `execve` along the PATH per spawn.
    let shell = which("sh").expect("sh on the PATH");
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(
            Command::new(&shell)
                .args(["-c", SCRIPT])
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn sh"),
        );
    }
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
