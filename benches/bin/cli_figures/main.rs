//! The `overseer` command as a whole process, side by side with its raw lower bound and the
//! peers that are installed, in interleaved rounds. One part per module:
//!
//! 0. [`up`]: `overseer up` of N processes until all are running, against a raw spawn loop
//!    and honcho.
//! 1. [`daemon`]: a CLI round trip (`overseer ps`, `ps --json`) against a daemon running N
//!    processes, and the daemon's RSS, against supervisord (`supervisorctl status`) and PM2
//!    (`pm2 ls`).
//!
//! ```sh
//! cargo build --release --features cli --bin overseer
//! cargo run --release --features cli --example cli_figures                 # N = 100, all parts
//! cargo run --release --features cli --example cli_figures -- --only up --rounds 20
//! cargo run --release --features cli --example cli_figures -- --only daemon --n 100
//! ```
//!
//! Peers: `pip install honcho supervisor`, `npm install -g pm2`; a missing one is skipped and
//! said so. The `overseer` binary is taken from next to this program's directory
//! (`target/release/overseer`). Scratch files go to a temporary directory. Linux only.

#[path = "../measure.rs"]
mod measure;

mod daemon;
mod up;

use std::path::{Path, PathBuf};

use measure::{arg, load};

fn main() {
    let args = measure::args();
    let n: usize = arg(&args, "--n").map_or(100, |v| v.parse().expect("--n <number>"));
    if arg(&args, "--raw").is_some() {
        up::raw(n);
        return;
    }
    let rounds: usize =
        arg(&args, "--rounds").map_or(10, |v| v.parse().expect("--rounds <number>"));
    let only = arg(&args, "--only");
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let overseer = overseer_binary();
    println!("load average at start: {}", load());
    if wants("up") {
        up::run(&overseer, n, rounds);
    }
    if wants("daemon") {
        daemon::run(&overseer, n);
    }
    println!("load average at end: {}", load());
}

/// The `overseer` binary next to this program's directory.
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

/// `program` on the `PATH`, if it is there.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
