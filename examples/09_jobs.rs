//! 09 — detached jobs: a job outlives the program that started it, and any later run of
//! any program finds it again in the store, follows its output, and reads its real exit code.
//!
//! Run it twice: `cargo run --features jobs --example 09_jobs`. The first run starts a job
//! that counts to five (a second a step) and exits without waiting; the second run (within
//! five seconds) finds it running and follows its output to the end; a later run finds it
//! completed and removes it. The store is in `OVERSEER_JOBS_DIR`, else
//! `~/.cache/overseer/jobs`.

use std::ops::ControlFlow;

use overseer::jobs::{Filter, FollowOptions, JobSpec, Status, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open_default()?;
    let ours = Filter::new().label("example", "09_jobs");
    let listing = store.list(&ours)?;
    for error in &listing.errors {
        eprintln!("skipped: {error}");
    }
    match listing.jobs.last() {
        None => {
            let job = store.start(
                JobSpec::shell("for i in 1 2 3 4 5; do echo step $i; sleep 1; done")
                    .label("example", "09_jobs"),
            )?;
            println!(
                "started job {} (pid {:?}) in {}",
                job.id,
                job.pid,
                store.dir().display()
            );
            println!("run me again: I will follow it");
        }
        Some(job) if job.status == Status::Running => {
            println!("found job {} running; following it", job.id);
            let done = store.follow(&job.id, &FollowOptions::new(), |line| {
                println!("  {}", line.text());
                ControlFlow::Continue(())
            })?;
            println!("job {} {}", done.id, done.status);
        }
        Some(job) => {
            let exit = job.exit.map(|e| e.to_string()).unwrap_or_default();
            println!("job {} {} ({exit}); removing it", job.id, job.status);
            store.remove(&job.id)?;
        }
    }
    Ok(())
}
