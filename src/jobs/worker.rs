//! Same-binary workers: named functions of the current program, run as detached jobs.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::JobError;
use super::spec::JobSpec;
use super::state::{Job, Status};
use super::store::{Filter, Store};

/// The environment variable that makes the program run a worker: its value is the worker's
/// name. Set by [`Workers::start`], read by [`Workers::check`].
pub const WORKER_ENV: &str = "OVERSEER_WORKER";

/// The environment variable that holds the worker's instance id.
pub const WORKER_INSTANCE_ENV: &str = "OVERSEER_WORKER_INSTANCE";

/// The labels a worker's job carries.
const NAME_LABEL: &str = "overseer.worker";
const INSTANCE_LABEL: &str = "overseer.instance";

/// A worker: a function of the program, run in a process of its own; what it returns is
/// the process's exit code.
pub type WorkerFn = fn() -> i32;

/// Named functions of the current binary that run as detached jobs in a [`Store`].
///
/// The program registers its workers, and calls [`check`](Self::check) at the top of
/// `main`: when the program was started as a worker (by [`start`](Self::start), which runs
/// the current executable again with [`WORKER_ENV`] set to the worker's name), `check`
/// runs that worker and exits with its code; otherwise it returns and `main` goes on.
///
/// Each started worker is a job labelled with its name and instance id; names match
/// exactly (stopping `SYNC` never stops `SYNC_2`). An instance runs at most once at a time:
/// starting it again while it runs is refused; a record of an instance whose process is
/// gone (a stale record, a reused pid) is seen as `orphaned` and never blocks a start.
///
/// ```no_run
/// use std::time::Duration;
/// use overseer::jobs::{Store, Workers};
///
/// fn sync() -> i32 {
///     // ... the work ...
///     0
/// }
///
/// fn main() -> Result<(), overseer::jobs::JobError> {
///     let workers = Workers::new(Store::open_default()?).register("SYNC", sync);
///     workers.check()?; // runs the worker and exits, when started as one
///     let job = workers.start("SYNC", "nightly")?;
///     println!("started {} as pid {:?}", job.id, job.pid);
///     workers.stop("SYNC", None, Duration::from_secs(5))?;
///     Ok(())
/// }
/// ```
pub struct Workers {
    store: Store,
    workers: Vec<(String, WorkerFn)>,
    program: Option<PathBuf>,
}

impl Workers {
    /// No workers yet, kept in `store`.
    pub fn new(store: Store) -> Workers {
        Workers {
            store,
            workers: Vec::new(),
            program: None,
        }
    }

    /// Registers `work` as the worker `name` (a later registration of the same name
    /// replaces it).
    pub fn register(mut self, name: impl Into<String>, work: WorkerFn) -> Workers {
        let name = name.into();
        self.workers.retain(|(n, _)| *n != name);
        self.workers.push((name, work));
        self
    }

    /// The program started for workers (default: the current executable).
    pub fn program(mut self, path: impl Into<PathBuf>) -> Workers {
        self.program = Some(path.into());
        self
    }

    /// The store the workers' jobs are in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// When this process was started as a worker ([`WORKER_ENV`] set): runs it and exits
    /// the process with its code. Otherwise returns `Ok(())` at once.
    ///
    /// # Errors
    ///
    /// [`JobError::UnknownWorker`] if [`WORKER_ENV`] names no registered worker.
    pub fn check(&self) -> Result<(), JobError> {
        let Some(name) = std::env::var_os(WORKER_ENV) else {
            return Ok(());
        };
        let name = name.to_string_lossy();
        let Some((_, work)) = self.workers.iter().find(|(n, _)| *n == name) else {
            return Err(JobError::UnknownWorker(name.into_owned()));
        };
        tracing::debug!(worker = %name, "running as a worker");
        let code = work();
        std::process::exit(code)
    }

    /// The instance id of the worker this process runs as, if it is one.
    pub fn current_instance() -> Option<String> {
        std::env::var(WORKER_INSTANCE_ENV).ok()
    }

    /// Starts worker `name` as instance `instance`: a job running this program with
    /// [`WORKER_ENV`] and [`WORKER_INSTANCE_ENV`] set.
    ///
    /// Starts of the same store are serialised by a lock (`.workers.lock` in the store), so
    /// two processes never start the same instance twice.
    ///
    /// # Errors
    ///
    /// [`JobError::UnknownWorker`], [`JobError::WorkerRunning`] if the instance is pending
    /// or running (found by identity, so a stale record does not count), or the errors of
    /// [`Store::start`].
    pub fn start(&self, name: &str, instance: &str) -> Result<Job, JobError> {
        if !self.workers.iter().any(|(n, _)| n == name) {
            return Err(JobError::UnknownWorker(name.to_owned()));
        }
        let program = match &self.program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| JobError::io("cannot find the current executable", "", e))?,
        };
        let lock_path = self.store.dir().join(".workers.lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| JobError::io("cannot open", &lock_path, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| JobError::io("cannot lock", &lock_path, e.into()))?;
        let live = self.store.list(
            &Filter::new()
                .status(Status::Pending)
                .status(Status::Running)
                .label(NAME_LABEL, name)
                .label(INSTANCE_LABEL, instance),
        )?;
        if let Some(job) = live.jobs.into_iter().next() {
            return Err(JobError::WorkerRunning {
                name: name.to_owned(),
                instance: instance.to_owned(),
                id: job.id,
            });
        }
        let spec = JobSpec::new(program)
            .env(WORKER_ENV, name)
            .env(WORKER_INSTANCE_ENV, instance)
            .label(NAME_LABEL, name)
            .label(INSTANCE_LABEL, instance);
        let job = self.store.start(spec);
        drop(lock);
        job
    }

    /// Stops the running instances of worker `name` (exactly that name), or only instance
    /// `instance`, each as [`Store::cancel`] does with `timeout`. Returns the stopped jobs.
    pub fn stop(
        &self,
        name: &str,
        instance: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<Job>, JobError> {
        let mut stopped = Vec::new();
        for job in self.instances(name)? {
            if instance.is_some_and(|i| job.label(INSTANCE_LABEL) != Some(i)) {
                continue;
            }
            match self.store.cancel(&job.id, timeout) {
                Ok(job) => stopped.push(job),
                Err(JobError::AlreadyFinished { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stopped)
    }

    /// The pending and running instances of worker `name`.
    pub fn instances(&self, name: &str) -> Result<Vec<Job>, JobError> {
        Ok(self
            .store
            .list(
                &Filter::new()
                    .status(Status::Pending)
                    .status(Status::Running)
                    .label(NAME_LABEL, name),
            )?
            .jobs)
    }

    /// The latest job of worker `name`, instance `instance`, whatever its status.
    pub fn info(&self, name: &str, instance: &str) -> Result<Job, JobError> {
        self.store
            .list(
                &Filter::new()
                    .label(NAME_LABEL, name)
                    .label(INSTANCE_LABEL, instance),
            )?
            .jobs
            .pop()
            .ok_or_else(|| JobError::NoSuchWorker {
                name: name.to_owned(),
                instance: instance.to_owned(),
            })
    }
}
