//! A detached job as a child of a tree, reattached to rather than started twice.

use std::sync::Mutex;
use std::time::Duration;

use super::error::JobError;
use super::spec::JobSpec;
use super::state::{Job, Status};
use super::store::{Filter, Store};
use super::wait::Interrupt;
use crate::{ChildKind, Context, RunResult, Runnable};

/// The label that ties a job to its [`JobChild`] (its key).
pub const CHILD_LABEL: &str = "overseer.child";

/// What a [`JobChild`] does to its job when its tree stops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnShutdown {
    /// Leave the job running; the next run (in this process or after a restart of the whole
    /// program) reattaches to it. The default.
    Leave,
    /// Cancel the job ([`Store::cancel`] with this timeout).
    Cancel(Duration),
}

/// A child of a tree that runs a detached job: each run reattaches to the job of its key
/// that is still pending or running in the store, and starts one only if there is none. So
/// a restart of the tree (or of the whole program) never starts the job twice.
///
/// A run ends when the job ends: `Ok` if it `completed`, an error ([`JobError::Ended`])
/// otherwise. On shutdown, the job is left running or cancelled ([`OnShutdown`]).
///
/// The key is recorded as the label [`CHILD_LABEL`]; two trees with the same key and store
/// share one job. Cost: a listing of the store's jobs with that label per run.
///
/// ```no_run
/// use overseer::jobs::{JobChild, JobSpec, Store};
/// use overseer::{ChildSpec, ProcessManager};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Store::open_default()?;
/// let nightly = JobChild::new(store, "nightly-import", JobSpec::new("import-data"));
/// let tree = ProcessManager::builder("root")
///     .child(ChildSpec::new("import", nightly))
///     .build()?;
/// tree.run().await?;
/// # Ok(())
/// # }
/// ```
pub struct JobChild {
    store: Store,
    key: String,
    spec: JobSpec,
    on_shutdown: OnShutdown,
    pid: Mutex<Option<u32>>,
}

impl JobChild {
    /// A child running `spec` as the job of `key` in `store`.
    pub fn new(store: Store, key: impl Into<String>, spec: JobSpec) -> JobChild {
        JobChild {
            store,
            key: key.into(),
            spec,
            on_shutdown: OnShutdown::Leave,
            pid: Mutex::new(None),
        }
    }

    /// What to do with the job on shutdown (default [`OnShutdown::Leave`]).
    pub fn on_shutdown(mut self, on_shutdown: OnShutdown) -> JobChild {
        self.on_shutdown = on_shutdown;
        self
    }

    fn set_pid(&self, pid: Option<u32>) {
        if let Ok(mut slot) = self.pid.lock() {
            *slot = pid;
        }
    }
}

#[async_trait::async_trait]
impl Runnable for JobChild {
    async fn run(&self, ctx: Context) -> RunResult {
        let (job, reattached) = tokio::task::spawn_blocking({
            let (store, key, spec) = (self.store.clone(), self.key.clone(), self.spec.clone());
            move || find_or_start(&store, &key, spec)
        })
        .await??;
        tracing::info!(key = %self.key, id = %job.id, pid = job.pid, reattached, "job child running");
        self.set_pid(job.pid);
        ctx.started();
        let interrupt = Interrupt::new()?;
        let mut waiting = tokio::task::spawn_blocking({
            let store = self.store.clone();
            let id = job.id.clone();
            let interrupt = interrupt.clone();
            move || store.wait(&id, Some(&interrupt))
        });
        let ended = tokio::select! {
            ended = &mut waiting => ended,
            () = ctx.shutdown_requested() => {
                interrupt.trigger();
                let _ = waiting.await;
                self.set_pid(None);
                if let OnShutdown::Cancel(timeout) = self.on_shutdown {
                    let store = self.store.clone();
                    let id = job.id.clone();
                    match tokio::task::spawn_blocking(move || store.cancel(&id, timeout)).await? {
                        Ok(_) | Err(JobError::AlreadyFinished { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                return Ok(());
            }
        };
        self.set_pid(None);
        let job = ended??;
        match job.status {
            Status::Completed => Ok(()),
            status => Err(JobError::Ended {
                id: job.id,
                status,
                exit: job.exit,
            }
            .into()),
        }
    }

    /// A run has started once it has found or started its job.
    fn reports_start(&self) -> bool {
        true
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Process
    }

    fn pid(&self) -> Option<u32> {
        self.pid.lock().ok().and_then(|p| *p)
    }
}

/// The running or pending job of `key`, or a new one; whether it was found.
fn find_or_start(store: &Store, key: &str, spec: JobSpec) -> Result<(Job, bool), JobError> {
    let filter = Filter::new()
        .status(Status::Running)
        .status(Status::Pending)
        .label(CHILD_LABEL, key);
    if let Some(job) = store.list(&filter)?.jobs.pop() {
        return Ok((job, true));
    }
    Ok((store.start(spec.label(CHILD_LABEL, key))?, false))
}
