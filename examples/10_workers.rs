//! 10 — same-binary workers: named functions of this program run as detached background
//! processes (this binary re-executed with an environment variable), started, inspected and
//! stopped by name and instance id.
//!
//! ```text
//! cargo run --features jobs --example 10_workers -- start SYNC nightly
//! cargo run --features jobs --example 10_workers -- info SYNC nightly
//! cargo run --features jobs --example 10_workers -- list SYNC
//! cargo run --features jobs --example 10_workers -- stop SYNC            # every SYNC, never SYNC_2
//! cargo run --features jobs --example 10_workers -- stop SYNC nightly
//! ```
//!
//! Workers: `SYNC` and `SYNC_2` print a tick every second until stopped; `ONCE` prints one
//! line and exits with code 7. The store is in `OVERSEER_JOBS_DIR`, else
//! `~/.cache/overseer/jobs`; a worker's output is in its job's `stdout.log`.

use std::process::ExitCode;
use std::time::Duration;

use overseer::jobs::{JobError, Store, Workers};

fn ticking(name: &str) -> i32 {
    let instance = Workers::current_instance().unwrap_or_default();
    for tick in 0u64.. {
        println!("{name} {instance} tick {tick}");
        std::thread::sleep(Duration::from_secs(1));
    }
    0
}

fn sync() -> i32 {
    ticking("SYNC")
}

fn sync_2() -> i32 {
    ticking("SYNC_2")
}

fn once() -> i32 {
    println!(
        "ONCE {} ran",
        Workers::current_instance().unwrap_or_default()
    );
    7
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), JobError> {
    let workers = Workers::new(Store::open_default()?)
        .register("SYNC", sync)
        .register("SYNC_2", sync_2)
        .register("ONCE", once);
    // First thing: when started as a worker, this runs it and exits.
    workers.check()?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["start", name, instance] => {
            let job = workers.start(name, instance)?;
            println!("started {} pid {}", job.id, job.pid.unwrap_or(0));
        }
        ["stop", name] | ["stop", name, _] => {
            let instance = args.get(2).copied();
            for job in workers.stop(name, instance, Duration::from_secs(5))? {
                let instance = job.label("overseer.instance").unwrap_or("");
                println!("stopped {} {instance} {}", job.id, job.status);
            }
        }
        ["info", name, instance] => {
            let job = workers.info(name, instance)?;
            println!("{} pid {} job {}", job.status, job.pid.unwrap_or(0), job.id);
        }
        ["list", name] => {
            for job in workers.instances(name)? {
                let instance = job.label("overseer.instance").unwrap_or("");
                println!("{instance} {} pid {}", job.status, job.pid.unwrap_or(0));
            }
        }
        _ => {
            eprintln!("usage: 10_workers start|stop|info|list NAME [INSTANCE]");
            return Err(JobError::InvalidSpec("unknown command".into()));
        }
    }
    Ok(())
}
