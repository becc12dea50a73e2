//! Part 2: **200 MB of child stdout into a rotating log** (50 MB × 10 files), against a
//! shell redirect of the same pipeline, in rounds whose order rotates, best and median. The
//! ways of getting the output into files are in [`variants`]: `shell`, `command` (the real
//! path, through a `ProcessManager`), `pump`, `rw_loop` and `paced_loop`.
//!
//! Every round checks the byte count across the files (the capture adds one `\n` after the
//! last, unterminated line), that no rotating file exceeds 50 MB or ends inside a line, and
//! deletes the files. For all but `shell`, this process's own CPU time (user + system) is
//! printed too.

mod variants;

use std::path::Path;
use std::time::Duration;

use crate::measure::{load, own_cpu_ms, runtime};

const BYTES: u64 = 200_000_000;
const PIPELINE: &str = r#"head -c 200000000 /dev/zero | tr "\0" x | fold -w 99"#;
/// The pipeline's line length, without the newline.
const LINE: u64 = 99;
/// What the pipeline writes: `BYTES` x's and a newline after each full line.
const SHELL_BYTES: u64 = BYTES + BYTES / LINE;
const ROTATE_BYTES: u64 = 50_000_000;

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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const OUTPUT_NAMES: [&str; 5] = ["shell", "command", "pump", "rw_loop", "paced_loop"];

/// Runs `rounds` rounds of the `variants` (all when empty) and prints their times and ratios;
/// `nap` is the nap of `paced_loop`.
pub fn run(rounds: usize, variants: &[String], nap: Duration) {
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
                0 => variants::shell(dir.path()),
                1 => rt.block_on(variants::command(dir.path())),
                2 => rt.block_on(variants::pump(dir.path())),
                3 => variants::rw_loop(dir.path()),
                _ => variants::paced_loop(dir.path(), nap),
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
