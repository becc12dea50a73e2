//! Detached jobs that outlive the process that started them, and same-binary workers
//! (feature `jobs`, Linux).
//!
//! A [`Store`] is a directory; each job is a directory in it:
//!
//! ```text
//! <store>/                      0700; default ~/.cache/overseer/jobs (Store::locate)
//!  └── 0192f3a6b1c-3fa92c/      the job's id: creation time (hex ms) and 24 random bits
//!       ├── state.json          the job as recorded (Job), written atomically
//!       ├── result.json         written by the shim when the job's process has ended
//!       ├── stdout.log          the job's stdout and stderr, appended to by the job itself
//!       ├── stderr.log
//!       └── lock                flock'ed by writers of state.json
//! ```
//!
//! Unlike a [`Command`](crate::process::Command) child of a tree, a job is not tied to the
//! process that started it: no kill-on-drop, no pipes owned by the starter, no parent-death
//! signal. It runs in a new session, in its own process group, writes to its own files, and
//! is found again by any process that opens the store.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use std::time::Duration;
//! use overseer::jobs::{Filter, FollowOptions, JobSpec, Status, Store};
//!
//! # fn main() -> Result<(), overseer::jobs::JobError> {
//! let store = Store::open_default()?;
//! let job = store.start(JobSpec::shell("for i in 1 2 3; do echo step $i; sleep 1; done")
//!     .label("kind", "demo"))?;
//! // Later, from this process or any other:
//! let done = store.follow(&job.id, &FollowOptions::new(), |line| {
//!     println!("{}", line.text());
//!     ControlFlow::Continue(())
//! })?;
//! assert_eq!(done.status, Status::Completed);
//! let running = store.list(&Filter::new().status(Status::Running).label("kind", "demo"))?;
//! # let _ = running; store.cancel(&job.id, Duration::from_secs(5)).ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! **Start.** [`Store::start`] records the job (`pending`), starts a *shim* that starts the job
//! (see the `shim` module's docs for why a double fork and no re-exec), and records it
//! `running` with the pids and start times of the job and its shim. The job keeps running
//! when its starter exits or is killed.
//!
//! **The real exit status** is written by the shim, the job's parent, into `result.json`
//! (temporary file, `fsync`, `rename`, `fsync` of the directory) when the job's process
//! ends, whoever is alive then. The first store operation that sees it folds it into
//! `state.json`.
//!
//! **Statuses** ([`Status`]), decided by [`Store::get`] and [`Store::list`] from the state,
//! the result file and the processes' identities:
//! - `pending`: recorded, being started; becomes `orphaned` if its starter is gone before
//!   it recorded the start (the job may then run unrecorded: the one window of this design).
//! - `running`: no result yet, and the shim (or, if the shim was killed, the job's process)
//!   is alive *as the same process* (pid and start time).
//! - `completed` / `failed`: the shim recorded the exit (code 0 / anything else, a signal,
//!   or an `execve` failure, 127).
//! - `cancelled`: the shim recorded the exit after a [`Store::cancel`] asked for it (the real
//!   status is kept in [`Job::exit`]).
//! - `orphaned`: no result, and neither the shim nor the job's process is alive as recorded:
//!   the shim was SIGKILLed and the job then ended, the machine rebooted, or the pid now
//!   belongs to another process. A finished status never changes again.
//!
//! **Identity.** A process is named by its pid *and* its start time (field 22 of
//! `/proc/PID/stat`) within one boot (`/proc/sys/kernel/random/boot_id`). Before any signal,
//! [`Store::cancel`] opens a pidfd for the pid and then checks the start time, so the pidfd
//! is bound to the recorded process; a reused pid is never signalled (the job is marked
//! `orphaned` instead).
//!
//! **Atomicity.** Every write of `state.json` and `result.json` is a new temporary file,
//! `fsync`ed and renamed into place: a reader sees the old file or the new one. The writes
//! after the start also `fsync` the directory; the start's two do not (see
//! [`Store::sync_start`] for what a power loss can do). A job's
//! directory is prepared under a hidden name and renamed into the store complete; removal
//! renames it out first. So readers need no lock.
//!
//! **Locking.** Writers of a job's `state.json` (start, status changes found by any reader,
//! cancel, remove) hold `flock(LOCK_EX)` on the job's `lock` file for the read-modify-write,
//! so concurrent processes never lose each other's updates; they never hold it while
//! waiting for a process. Creating jobs needs no lock (unique ids, `rename` without
//! replace). The shim takes no lock: it writes only `result.json`.
//!
//! **Output.** The job's stdout and stderr are the log files themselves (opened for
//! append): nothing of ours sits in the path of its output, and nothing is lost when no
//! process of ours is alive. The price: no rotation (a rotation needs a process between the
//! job and the file, which the shim, not allowed to allocate, cannot be) and no timestamps.
//!
//! **Workers.** [`Workers`] runs named functions of the current binary as jobs: the binary
//! re-executed with [`WORKER_ENV`] set, and a [`Workers::check`] at the top of `main`.
//!
//! Linux only: identities and waits use `/proc`, pidfds and inotify.

mod child;
mod error;
mod follow;
mod identity;
mod shim;
mod spec;
mod state;
mod store;
mod wait;
mod worker;

pub use child::{CHILD_LABEL, JobChild, OnShutdown};
pub use error::JobError;
pub use follow::{FollowOptions, LogLine, MAX_FOLLOW_LINE};
pub use spec::JobSpec;
pub use state::{Job, JobExit, Status};
pub use store::{Filter, JOBS_DIR_ENV, Listing, Store};
pub use wait::Interrupt;
pub use worker::{WORKER_ENV, WORKER_INSTANCE_ENV, WorkerFn, Workers};
