//! Throughput of output capture: 200 MB of child stdout into a rotating log file, against a
//! shell redirect of the same data in the same run (SPEC E: at least 0.9× the redirect's speed).
//!
//! ```sh
//! cargo run --release --example output_throughput            # 3 rounds of each
//! cargo run --release --example output_throughput -- 5       # 5 rounds
//! ```
//!
//! The data is `head -c 200000000 /dev/zero | tr '\0' 'x' | fold -w 100`: 2 million lines of
//! 100 bytes. Per round, in turn:
//! - `shell`: `sh -c '<pipeline> > file'`, the lower bound the SPEC compares with;
//! - `copy`: the pipeline's stdout piped into this process and copied to a file with
//!   `tokio::io::copy` (no lines), to show what the extra pipe hop costs by itself;
//! - `pump`: the pipeline's stdout through [`OutputSink::pump`] into `app.log` rotated at
//!   50 MB, keeping 10 files (so 4 rotations per round).
//!
//! Prints the best time of each over the rounds and `speed ratio = shell / pump` (≥ 0.9 is
//! the goal). Uses a scratch directory under the system temp dir and removes it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use overseer::process::output::{OutputConfig, OutputSink, Stream};

mod measure;

const BYTES: u64 = 200_000_000;
const PIPELINE: &str = "head -c 200000000 /dev/zero | tr '\\0' 'x' | fold -w 100";

fn shell(dir: &Path) -> Duration {
    let out = dir.join("shell.out");
    let started = Instant::now();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{PIPELINE} > '{}'", out.display()))
        .status()
        .expect("spawn sh");
    let took = started.elapsed();
    assert!(status.success(), "shell redirect failed");
    assert!(std::fs::metadata(&out).unwrap().len() > BYTES);
    std::fs::remove_file(out).unwrap();
    took
}

fn spawn_pipeline() -> tokio::process::Child {
    tokio::process::Command::new("sh")
        .args(["-c", PIPELINE])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

async fn copy(dir: &Path) -> Duration {
    let out = dir.join("copy.out");
    let started = Instant::now();
    let mut child = spawn_pipeline();
    let mut stdout = child.stdout.take().unwrap();
    let mut file = tokio::fs::File::create(&out).await.unwrap();
    tokio::io::copy(&mut stdout, &mut file).await.unwrap();
    assert!(child.wait().await.unwrap().success());
    let took = started.elapsed();
    std::fs::remove_file(out).unwrap();
    took
}

async fn pump(dir: &Path) -> Duration {
    let log = dir.join("app.log");
    let sink: std::sync::Arc<OutputSink> = OutputConfig::new()
        .log_file(&log)
        .rotate(50_000_000, 10)
        .build()
        .expect("open log");
    let started = Instant::now();
    let cpu_before = measure::own_cpu_ms();
    let mut child = spawn_pipeline();
    let stdout = child.stdout.take().unwrap();
    sink.pump(stdout, Stream::Stdout).await.expect("pump");
    assert!(child.wait().await.unwrap().success());
    let took = started.elapsed();
    println!(
        "  pump's own CPU: {} ms",
        measure::own_cpu_ms() - cpu_before
    );
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        total += std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(path).unwrap();
    }
    assert_eq!(total, BYTES + BYTES / 100, "every byte and newline logged");
    took
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("rounds: a number"))
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("overseer-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut best_shell, mut best_copy, mut best_pump) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 1..=rounds {
        let s = shell(&dir);
        let c = copy(&dir).await;
        let p = pump(&dir).await;
        println!(
            "round {round}: shell {:.3}s  copy {:.3}s  pump {:.3}s",
            s.as_secs_f64(),
            c.as_secs_f64(),
            p.as_secs_f64()
        );
        best_shell = best_shell.min(s);
        best_copy = best_copy.min(c);
        best_pump = best_pump.min(p);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let mb = (BYTES + BYTES / 100) as f64 / 1e6;
    for (name, took) in [
        ("shell", best_shell),
        ("copy", best_copy),
        ("pump", best_pump),
    ] {
        println!(
            "best {name:5} {:.3}s  {:7.1} MB/s",
            took.as_secs_f64(),
            mb / took.as_secs_f64()
        );
    }
    println!(
        "speed ratio shell/pump = {:.3} (goal >= 0.9)",
        best_shell.as_secs_f64() / best_pump.as_secs_f64()
    );
}
