//! The store: a directory of job directories, and every operation on them.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::JobError;
use super::identity::{self, Liveness};
use super::shim::{self, Launch, LaunchError};
use super::spec::JobSpec;
use super::state::{self, Durability, Job, JobExit, ProcessRecord, ReadError, STATE_FILE, Status};
use super::wait;
use crate::process::Signal;
use crate::process::spawn::clone::{CStrings, candidates};

/// The environment variable that names the store's directory (see [`Store::locate`]).
pub const JOBS_DIR_ENV: &str = "OVERSEER_JOBS_DIR";

/// The per-job lock file (see the module docs on locking).
const LOCK_FILE: &str = "lock";

/// How long a cancel waits, after the job's process has ended, for its shim to record the
/// result (it does so at once; this only bounds a shim that cannot write).
const RESULT_GRACE: Duration = Duration::from_secs(5);

/// How long a cancel waits for the job to be gone after `SIGKILL` (a process in
/// uninterruptible sleep ends only when it next returns to user space).
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Which jobs [`Store::list`] returns: all of the given statuses (any if none given) and
/// all of the given labels (exact match of key and value).
///
/// ```
/// use overseer::jobs::{Filter, Status};
///
/// let running_backups = Filter::new().status(Status::Running).label("kind", "backup");
/// # let _ = running_backups;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Filter {
    statuses: Vec<Status>,
    labels: BTreeMap<String, String>,
}

impl Filter {
    /// Every job.
    pub fn new() -> Self {
        Filter::default()
    }

    /// Adds a status to accept (a job matches if it has any of the statuses added).
    pub fn status(mut self, status: Status) -> Self {
        self.statuses.push(status);
        self
    }

    /// Requires label `key` to be exactly `value`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Whether `job` matches.
    pub fn matches(&self, job: &Job) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&job.status))
            && self
                .labels
                .iter()
                .all(|(k, v)| job.labels.get(k).is_some_and(|have| have == v))
    }
}

/// What [`Store::list`] found: the matching jobs, oldest first, and the jobs that could not
/// be read (each a [`JobError::CorruptState`] or [`JobError::Io`]), which do not stop the
/// listing.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Listing {
    /// The matching jobs, by id (so by creation time).
    pub jobs: Vec<Job>,
    /// The jobs that could not be read.
    pub errors: Vec<JobError>,
}

/// A directory of detached jobs. Cheap to clone; any number of `Store`s in any number of
/// processes may use one directory at once (see the module docs on locking).
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
    sync_start: bool,
}

impl Store {
    /// Where the store is: `configured` if given (a config file's value), else the
    /// environment variable [`OVERSEER_JOBS_DIR`](JOBS_DIR_ENV) if set and not empty, else
    /// `<user cache dir>/overseer/jobs` (`~/.cache/overseer/jobs` on Linux, through the
    /// `directories` crate).
    pub fn locate(configured: Option<&Path>) -> Result<PathBuf, JobError> {
        if let Some(dir) = configured {
            return Ok(dir.to_path_buf());
        }
        if let Some(dir) = std::env::var_os(JOBS_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        directories::BaseDirs::new()
            .map(|base| base.cache_dir().join("overseer").join("jobs"))
            .ok_or(JobError::NoStoreDir)
    }

    /// Opens the store at [`locate(None)`](Self::locate).
    pub fn open_default() -> Result<Store, JobError> {
        Store::open(Store::locate(None)?)
    }

    /// Opens the store at `dir`, creating it (and missing parents) with mode 0700 if it does
    /// not exist. An existing directory's mode is left as it is. The path is made absolute
    /// (shims write into it from `/`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, JobError> {
        let dir = dir.as_ref();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| JobError::io("cannot create the job store", dir, e))?;
        let dir =
            fs::canonicalize(dir).map_err(|e| JobError::io("cannot open the job store", dir, e))?;
        Ok(Store {
            dir,
            sync_start: true,
        })
    }

    /// Whether [`start`](Self::start)'s two writes of `state.json` (pending, then running)
    /// are `fsync`ed before they are renamed into place (default: yes). They stay atomic
    /// either way (a temporary file renamed into place); every later write (the result, a
    /// status found, a cancel) is always `fsync`ed, with its directory.
    ///
    /// What a power loss can do: the job itself dies with the machine either way (and reads
    /// as `orphaned` after the reboot). With the `fsync`s, its `state.json` is whole, the
    /// pending or the running one (the directories are not `fsync`ed at the start, so a job
    /// started just before the loss may also be missing). Without, its `state.json` may be
    /// empty, so it reads as [`JobError::CorruptState`], which [`remove`](Self::remove)
    /// clears; a start then costs an `fsync` less per write (see `BENCHMARKS.md`).
    pub fn sync_start(mut self, sync: bool) -> Store {
        self.sync_start = sync;
        self
    }

    /// How [`start`](Self::start) writes `state.json` (see [`sync_start`](Self::sync_start)).
    fn start_durability(&self) -> Durability {
        if self.sync_start {
            Durability::Data
        } else {
            Durability::Atomic
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of job `id` (which may not exist).
    pub fn job_dir(&self, id: &str) -> Result<PathBuf, JobError> {
        check_id(id)?;
        Ok(self.dir.join(id))
    }

    /// The log file of job `id` for `stream`: `stdout.log` or `stderr.log` in its directory.
    pub fn log_path(
        &self,
        id: &str,
        stream: crate::process::output::Stream,
    ) -> Result<PathBuf, JobError> {
        Ok(self.job_dir(id)?.join(log_name(stream)))
    }

    /// Starts `spec` as a detached job and returns it, `Running`.
    ///
    /// The job gets a new session and its own process group, stdin from `/dev/null`, stdout
    /// and stderr appended to `stdout.log` and `stderr.log` in its directory, and a shim
    /// parent that records its exit status (see [`shim`](super) in the module docs). It
    /// keeps running when the calling process exits or is killed.
    ///
    /// The job's directory appears in the store at once, complete (it is prepared under a
    /// hidden name and renamed), with `state.json` saying `pending`, then `running` once the
    /// program has been executed.
    ///
    /// Cost: one fork (the shim) and two clones that copy no page tables, the job's
    /// directory made, and two writes of `state.json`, each `fsync`ed (see
    /// [`sync_start`](Self::sync_start) and `BENCHMARKS.md`).
    /// Blocks until the program has been executed (or failed to be).
    ///
    /// # Errors
    ///
    /// [`JobError::Spawn`] if the program cannot be executed (the job stays in the store as
    /// `failed`, with the reason); [`JobError::InvalidSpec`] for an empty program or a NUL
    /// byte; [`JobError::Io`] if the store cannot be written.
    pub fn start(&self, spec: JobSpec) -> Result<Job, JobError> {
        if spec.program.is_empty() {
            return Err(JobError::InvalidSpec("the program is empty".into()));
        }
        let cwd = match &spec.cwd {
            Some(dir) if dir.is_absolute() => dir.clone(),
            other => {
                let here = std::env::current_dir()
                    .map_err(|e| JobError::io("cannot read the working directory", ".", e))?;
                other.as_ref().map_or(here.clone(), |d| here.join(d))
            }
        };
        let env = spec.resolved_env();
        let path_var = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        let invalid = |e: io::Error| JobError::InvalidSpec(e.to_string());
        let mut argv = CStrings::default();
        argv.push(&[spec.program.as_bytes()]).map_err(invalid)?;
        for arg in &spec.args {
            argv.push(&[arg.as_bytes()]).map_err(invalid)?;
        }
        let mut envp = CStrings::default();
        for (k, v) in &env {
            envp.push(&[k.as_bytes(), b"=", v.as_bytes()])
                .map_err(invalid)?;
        }
        let found = candidates(&spec.program, path_var).map_err(invalid)?;
        let cwd_c = shim::c_string(cwd.as_os_str()).map_err(invalid)?;

        let now = state::now_ms();
        let me = identity::of(std::process::id()).ok().flatten();
        let mut job = Job {
            id: String::new(),
            status: Status::Pending,
            command: spec.command_line(),
            cwd: cwd.clone(),
            labels: spec.labels.clone(),
            created_at_ms: now,
            started_at_ms: None,
            ended_at_ms: None,
            cancel_requested_at_ms: None,
            pid: None,
            exit: None,
            error: None,
            process: None,
            shim: None,
            starter: me.map(|m| ProcessRecord {
                pid: m.pid,
                start: m.start,
            }),
            boot_id: identity::boot_id().map(str::to_owned),
        };
        let (dir, stdout, stderr) = self.create_job_dir(&mut job)?;
        let stdin =
            File::open("/dev/null").map_err(|e| JobError::io("cannot open", "/dev/null", e))?;
        let launch = Launch {
            candidates: found,
            argv,
            envp,
            cwd: cwd_c,
            stdin: above_stdio(stdin.into())?,
            stdout: above_stdio(stdout.into())?,
            stderr: above_stdio(stderr.into())?,
            dir: shim::c_string(dir.as_os_str()).map_err(invalid)?,
            result_tmp: shim::c_string(dir.join(".result.json.tmp").as_os_str())
                .map_err(invalid)?,
            result: shim::c_string(dir.join(shim::RESULT_FILE).as_os_str()).map_err(invalid)?,
        };
        let launched = shim::launch(&launch);
        drop(launch);
        let _lock = lock(&dir)?;
        let mut current = read_job(&job.id, &dir)?;
        current.starter = None;
        let record = |pid, start| ProcessRecord { pid, start };
        let outcome = match launched {
            Ok(l) => {
                current.status = Status::Running;
                current.pid = Some(l.pid);
                current.started_at_ms = Some(state::now_ms());
                current.process = Some(record(l.pid, l.pid_start));
                current.shim = Some(record(l.shim_pid, l.shim_start));
                Ok(())
            }
            Err(LaunchError::Exec(e, l)) => {
                current.status = Status::Failed;
                current.pid = Some(l.pid);
                current.process = Some(record(l.pid, l.pid_start));
                current.shim = Some(record(l.shim_pid, l.shim_start));
                current.ended_at_ms = Some(state::now_ms());
                current.exit = Some(JobExit::from_raw(127 << 8));
                current.error = Some(format!("cannot execute: {e}"));
                Err(e)
            }
            Err(LaunchError::Setup(e)) => {
                current.status = Status::Failed;
                current.ended_at_ms = Some(state::now_ms());
                current.error = Some(format!("cannot start: {e}"));
                Err(e)
            }
        };
        state::write_atomic(
            &dir,
            STATE_FILE,
            &state::encode(&current),
            self.start_durability(),
        )
        .map_err(|e| JobError::io("cannot write", dir.join(STATE_FILE), e))?;
        match outcome {
            Ok(()) => {
                tracing::debug!(id = %current.id, pid = current.pid, "job started");
                Ok(current)
            }
            Err(source) => Err(JobError::Spawn {
                id: current.id,
                program: spec.program.to_string_lossy().into_owned(),
                source,
            }),
        }
    }

    /// Makes the job's directory under a hidden name, with its state (pending), lock and
    /// log files, then renames it into place (never over another job's). Sets `job.id`.
    fn create_job_dir(&self, job: &mut Job) -> Result<(PathBuf, File, File), JobError> {
        for _ in 0..16 {
            let id = new_id();
            job.id.clone_from(&id);
            let tmp = self.dir.join(format!(".new-{id}"));
            DirBuilder::new()
                .mode(0o700)
                .create(&tmp)
                .map_err(|e| JobError::io("cannot create the job directory", &tmp, e))?;
            let made = (|| {
                let log = |name: &str| {
                    OpenOptions::new()
                        .append(true)
                        .create(true)
                        .mode(0o600)
                        .open(tmp.join(name))
                };
                File::create(tmp.join(LOCK_FILE))?;
                let out = log("stdout.log")?;
                let err = log("stderr.log")?;
                state::write_atomic(
                    &tmp,
                    STATE_FILE,
                    &state::encode(job),
                    self.start_durability(),
                )?;
                Ok::<_, io::Error>((out, err))
            })();
            let (out, err) = match made {
                Ok(files) => files,
                Err(e) => {
                    let _ = fs::remove_dir_all(&tmp);
                    return Err(JobError::io("cannot prepare the job directory", &tmp, e));
                }
            };
            let dir = self.dir.join(&id);
            match rustix::fs::renameat_with(
                rustix::fs::CWD,
                &tmp,
                rustix::fs::CWD,
                &dir,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => return Ok((dir, out, err)),
                Err(rustix::io::Errno::EXIST) => {
                    let _ = fs::remove_dir_all(&tmp);
                }
                Err(e) => {
                    let _ = fs::remove_dir_all(&tmp);
                    return Err(JobError::io(
                        "cannot create the job directory",
                        dir,
                        e.into(),
                    ));
                }
            }
        }
        Err(JobError::io(
            "cannot find a free job id in",
            &self.dir,
            io::Error::from(io::ErrorKind::AlreadyExists),
        ))
    }

    /// Job `id`, its status resolved now (see the module docs): a running job whose result
    /// has been recorded reads as finished, one that vanished without a result as
    /// `orphaned`. A change of status is saved (so each is found once).
    ///
    /// Cost: reading `state.json`; for a job not yet finished, the result file and one or
    /// two `/proc/PID/stat`.
    ///
    /// # Errors
    ///
    /// [`JobError::NotFound`], [`JobError::InvalidId`], [`JobError::CorruptState`].
    pub fn get(&self, id: &str) -> Result<Job, JobError> {
        let job = self.get_recorded(id)?;
        refresh(&self.dir.join(id), job)
    }

    /// Job `id` as its `state.json` says, not resolved.
    fn get_recorded(&self, id: &str) -> Result<Job, JobError> {
        let dir = self.job_dir(id)?;
        read_job(id, &dir).map_err(|e| match e {
            JobError::CorruptState { .. } if !dir.exists() => JobError::NotFound {
                id: id.to_owned(),
                store: self.dir.clone(),
            },
            e => e,
        })
    }

    /// The jobs that match `filter`, each resolved as by [`get`](Self::get). A job that
    /// cannot be read is reported in [`Listing::errors`] and does not stop the listing; a
    /// job removed while the listing runs is left out.
    ///
    /// Cost: one directory read, and per job one `state.json` read and parse (finished jobs
    /// need nothing more). See `BENCHMARKS.md` for 10,000 jobs.
    pub fn list(&self, filter: &Filter) -> Result<Listing, JobError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| JobError::io("cannot read the job store", &self.dir, e))?;
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| check_id(name).is_ok())
            .collect();
        ids.sort_unstable();
        let mut listing = Listing::default();
        for id in ids {
            let dir = self.dir.join(&id);
            match read_job(&id, &dir).and_then(|job| refresh(&dir, job)) {
                Ok(job) if filter.matches(&job) => listing.jobs.push(job),
                Ok(_) => {}
                // Removed while we listed.
                Err(_) if !dir.exists() => {}
                Err(e) => listing.errors.push(e),
            }
        }
        Ok(listing)
    }

    /// Cancels job `id`: `SIGTERM` (then `SIGCONT`, so that a stopped process sees it) to
    /// its whole process group; `SIGKILL` to the group if the job's process has not ended
    /// after `timeout`; when it has ended, `SIGKILL` to what is left of its group. Returns
    /// the job as its shim recorded it: `cancelled`, with the real exit status.
    ///
    /// **Identity first:** before any signal, the job's process is looked up by pid *and*
    /// start time (through a pidfd opened, then checked: it cannot reach another process
    /// later). If the pid now belongs to another process, nothing is signalled and the job
    /// is marked `orphaned`. Group signals go through that pidfd on Linux 6.9 and later
    /// (they cannot reach another group); before, through `kill(-pgid)` right after the
    /// check found the leader alive (the leader's pid, hence the group's id, cannot be
    /// reused while the leader lives or is an unreaped zombie of its shim).
    ///
    /// A pending job is waited for (within `timeout`) until it runs. A job recorded running
    /// but found gone now (its pid reused, or ended without a result) is returned as found
    /// (`orphaned`, or finished), with nothing signalled.
    ///
    /// # Errors
    ///
    /// [`JobError::AlreadyFinished`] if it was recorded finished before the call; [`JobError::NotFound`] and the like.
    pub fn cancel(&self, id: &str, timeout: Duration) -> Result<Job, JobError> {
        let dir = self.job_dir(id)?;
        let recorded = self.get_recorded(id)?;
        if recorded.status.is_finished() {
            return Err(JobError::AlreadyFinished {
                id: id.to_owned(),
                status: recorded.status,
            });
        }
        let mut job = self.get(id)?;
        if job.status == Status::Pending {
            job = self.watch(id, None, Some(timeout), |j| {
                if j.status == Status::Pending {
                    std::ops::ControlFlow::Continue(())
                } else {
                    std::ops::ControlFlow::Break(())
                }
            })?;
        }
        if job.status.is_finished() {
            // Found finished (or orphaned: gone, or its pid reused) just now: nothing to
            // signal.
            return Ok(job);
        }
        let io_err = |e: io::Error| JobError::io("cannot cancel job in", &dir, e);
        let leader = match job.identity(&job.process) {
            Some(identity) => identity.hold().map_err(io_err)?,
            None => None,
        };
        let Some(leader) = leader else {
            return self.settle_without_process(id, &dir);
        };
        {
            let _lock = lock(&dir)?;
            let mut current = read_job(id, &dir)?;
            if current.cancel_requested_at_ms.is_none() {
                current.cancel_requested_at_ms = Some(state::now_ms());
                save(&dir, &current)?;
            }
        }
        let pid = job.pid.unwrap_or(0);
        tracing::debug!(id, pid, "cancelling job");
        signal_group(&leader, pid, Signal::TERM, true);
        signal_group(&leader, pid, Signal::CONT, true);
        if !wait::readable(&leader, Some(Instant::now() + timeout)).map_err(io_err)? {
            tracing::debug!(id, pid, "job did not stop in time: SIGKILL to its group");
            signal_group(&leader, pid, Signal::KILL, true);
            wait::readable(&leader, Some(Instant::now() + KILL_GRACE)).map_err(io_err)?;
        }
        // The leader is gone; what is left of its group (only reachable through the pidfd).
        signal_group(&leader, pid, Signal::KILL, false);
        let shim = job.identity(&job.shim).map(|s| s.hold()).transpose();
        if let Ok(Some(Some(shim))) = shim {
            wait::readable(&shim, Some(Instant::now() + RESULT_GRACE)).map_err(io_err)?;
        }
        self.get(id)
    }

    /// A running job whose process is gone or whose pid belongs to another process: waits
    /// for its shim (if alive) to record the result, else marks it orphaned. Signals nothing.
    fn settle_without_process(&self, id: &str, dir: &Path) -> Result<Job, JobError> {
        let job = self.get(id)?;
        if let Some(shim) = job.identity(&job.shim) {
            if let Ok(Some(fd)) = shim.hold() {
                let _ = wait::readable(&fd, Some(Instant::now() + RESULT_GRACE));
            }
        }
        let _lock = lock(dir)?;
        let job = read_job(id, dir)?;
        let mut job = resolve(dir, job);
        if !job.status.is_finished() {
            tracing::warn!(
                id,
                pid = job.pid,
                "job's process is not the recorded one: not signalled, marked orphaned"
            );
            job.status = Status::Orphaned;
            job.ended_at_ms = Some(state::now_ms());
            job.error = Some(
                "its process is gone or its pid belongs to another process; nothing was signalled"
                    .into(),
            );
        }
        save(dir, &job)?;
        Ok(job)
    }

    /// Removes job `id`'s directory (state and logs). Refused while the job is pending or
    /// running. A job whose `state.json` is unreadable can be removed (that is the way out).
    ///
    /// The directory is first renamed to a hidden name, so listings never see half of it.
    pub fn remove(&self, id: &str) -> Result<(), JobError> {
        let dir = self.job_dir(id)?;
        if !dir.exists() {
            return Err(JobError::NotFound {
                id: id.to_owned(),
                store: self.dir.clone(),
            });
        }
        let lock = lock(&dir)?;
        if let Ok(job) = read_job(id, &dir) {
            let job = resolve(&dir, job);
            if !job.status.is_finished() {
                return Err(JobError::StillRunning {
                    id: id.to_owned(),
                    status: job.status,
                });
            }
        }
        let trash = self
            .dir
            .join(format!(".trash-{id}-{:x}", fastrand::u64(..)));
        fs::rename(&dir, &trash).map_err(|e| JobError::io("cannot remove job", &dir, e))?;
        drop(lock);
        fs::remove_dir_all(&trash).map_err(|e| JobError::io("cannot remove", &trash, e))
    }

    /// Removes the finished jobs that ended (or, if they never started, were created) more
    /// than `older_than` ago. Returns their ids. Running and pending jobs are never removed.
    pub fn cleanup(&self, older_than: Duration) -> Result<Vec<String>, JobError> {
        let limit = state::now_ms()
            .saturating_sub(u64::try_from(older_than.as_millis()).unwrap_or(u64::MAX));
        let mut removed = Vec::new();
        for job in self.list(&Filter::new())?.jobs {
            let when = job.ended_at_ms.unwrap_or(job.created_at_ms);
            if job.status.is_finished() && when < limit {
                match self.remove(&job.id) {
                    Ok(()) => removed.push(job.id),
                    Err(JobError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// Blocks until job `id` has finished; returns it. See [`watch`](Self::watch).
    pub fn wait(&self, id: &str, interrupt: Option<&wait::Interrupt>) -> Result<Job, JobError> {
        self.watch(id, interrupt, None, |_| std::ops::ControlFlow::Continue(()))
    }
}

/// Sends `signal` to the group led by the process of `leader` (a pidfd whose identity was
/// checked). Through the pidfd where the kernel can (6.9); else by `kill(-pid)` only when
/// `fallback` is set and the leader has not ended (its pidfd is not readable). Errors (the
/// group is gone) are logged at debug level.
fn signal_group(leader: &OwnedFd, pid: u32, signal: Signal, fallback: bool) {
    use crate::process::pidfd;
    let result = if pidfd::can_signal_groups(leader) {
        pidfd::signal_group(leader, signal.as_raw())
    } else if fallback && matches!(wait::readable(leader, Some(Instant::now())), Ok(false)) {
        match i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            Some(pgid) => rustix::process::kill_process_group(pgid, signal.to_rustix())
                .map_err(io::Error::from),
            None => return,
        }
    } else {
        return;
    };
    if let Err(e) = result {
        tracing::debug!(pid, %signal, error = %e, "signal to the job's group not delivered");
    }
}

/// Reads the state of job `id` in `dir`.
pub(crate) fn read_job(id: &str, dir: &Path) -> Result<Job, JobError> {
    let path = || dir.join(STATE_FILE);
    match state::read(dir) {
        Ok(job) => Ok(job),
        Err(ReadError::Missing) => Err(JobError::CorruptState {
            id: id.to_owned(),
            path: path(),
            reason: "the file is missing".into(),
        }),
        Err(ReadError::Invalid(reason)) => Err(JobError::CorruptState {
            id: id.to_owned(),
            path: path(),
            reason,
        }),
        Err(ReadError::Io(e)) => Err(JobError::io("cannot read", path(), e)),
    }
}

fn save(dir: &Path, job: &Job) -> Result<(), JobError> {
    state::write_atomic(
        dir,
        STATE_FILE,
        &state::encode(job),
        Durability::DataAndName,
    )
    .map_err(|e| JobError::io("cannot write", dir.join(STATE_FILE), e))
}

/// The job's status decided now, from its state, its result file and its processes'
/// identities (see the module docs). Reads only; errors reading `/proc` count as "alive"
/// (nothing is concluded from an error).
pub(crate) fn resolve(dir: &Path, mut job: Job) -> Job {
    if job.status.is_finished() {
        return job;
    }
    let alive = |record: &Option<ProcessRecord>, job: &Job| {
        job.identity(record)
            .is_some_and(|i| !matches!(i.liveness(), Ok(Liveness::Gone)))
    };
    let finish = |job: &mut Job, result: shim::ShimResult| {
        let exit = JobExit::from_raw(result.wait_status as i32);
        job.status = if job.cancel_requested_at_ms.is_some() {
            Status::Cancelled
        } else if exit.success() {
            Status::Completed
        } else {
            Status::Failed
        };
        job.exit = Some(exit);
        job.ended_at_ms = Some(result.ended_at_ms);
    };
    let result = || shim::read_result(dir).ok().flatten();
    if let Some(r) = result() {
        finish(&mut job, r);
        return job;
    }
    match job.status {
        Status::Pending => {
            if job.starter.is_some() && !alive(&job.starter, &job) {
                job.status = Status::Orphaned;
                job.ended_at_ms = Some(state::now_ms());
                job.error = Some("its starter ended before recording it as started".into());
            }
        }
        _ => {
            if alive(&job.shim, &job) {
                return job;
            }
            // The shim writes the result, then exits: look again now that it is gone.
            if let Some(r) = result() {
                finish(&mut job, r);
            } else if !alive(&job.process, &job) {
                job.status = Status::Orphaned;
                job.ended_at_ms = Some(state::now_ms());
                job.error = Some("it ended without a recorded result (its shim is gone)".into());
            }
        }
    }
    job
}

/// `job` resolved; a change of status is saved under the job's lock (re-read and resolved
/// again there, so two processes never save different conclusions).
pub(crate) fn refresh(dir: &Path, job: Job) -> Result<Job, JobError> {
    if job.status.is_finished() {
        return Ok(job);
    }
    let resolved = resolve(dir, job.clone());
    if resolved.status == job.status {
        return Ok(resolved);
    }
    let _lock = lock(dir)?;
    let current = read_job(&job.id, dir)?;
    if current.status.is_finished() {
        return Ok(current);
    }
    let resolved = resolve(dir, current.clone());
    if resolved != current {
        save(dir, &resolved)?;
    }
    Ok(resolved)
}

/// Takes the job's lock (`flock(LOCK_EX)` on its `lock` file), held until the file is
/// dropped.
pub(crate) fn lock(dir: &Path) -> Result<File, JobError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => JobError::NotFound {
                id: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                store: dir.parent().map(Path::to_path_buf).unwrap_or_default(),
            },
            _ => JobError::io("cannot open the lock", &path, e),
        })?;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(JobError::io("cannot lock", &path, e.into())),
        }
    }
}

/// A new job id: the time in milliseconds (hex, so ids sort by creation) and 24 random bits.
fn new_id() -> String {
    format!("{:011x}-{:06x}", state::now_ms(), fastrand::u32(..1 << 24))
}

/// Ids are 1 to 64 characters of `0-9`, `a-z`, `-`, not starting with `-`: never a path.
pub(crate) fn check_id(id: &str) -> Result<(), JobError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(JobError::InvalidId(id.to_owned()))
    }
}

fn log_name(stream: crate::process::output::Stream) -> &'static str {
    match stream {
        crate::process::output::Stream::Stdout => "stdout.log",
        crate::process::output::Stream::Stderr => "stderr.log",
    }
}

/// `fd`, or a duplicate numbered 3 or more if it is 0, 1 or 2 (the shim `dup2`s its sources
/// onto 0, 1, 2, and a source among them could be overwritten first).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, JobError> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 3)
        .map_err(|e| JobError::io("cannot duplicate a descriptor for", "the job", e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_never_a_path() {
        for bad in ["", "..", "a/b", "-x", "A", &"a".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_id(&new_id()).is_ok());
    }

    #[test]
    fn a_filter_needs_one_of_its_statuses_and_all_of_its_labels() {
        let mut job: Job = serde_json::from_str(
            r#"{"id":"a","status":"running","command":["x"],"cwd":"/","labels":{"k":"v","o":"p"},
            "created_at_ms":1,"started_at_ms":null,"ended_at_ms":null,"cancel_requested_at_ms":null,
            "pid":null,"exit":null,"error":null}"#,
        )
        .unwrap();
        assert!(Filter::new().matches(&job));
        assert!(
            Filter::new()
                .status(Status::Failed)
                .status(Status::Running)
                .matches(&job)
        );
        assert!(!Filter::new().status(Status::Failed).matches(&job));
        assert!(Filter::new().label("k", "v").matches(&job));
        assert!(!Filter::new().label("k", "v").label("o", "q").matches(&job));
        job.labels.clear();
        assert!(!Filter::new().label("k", "v").matches(&job));
    }
}
