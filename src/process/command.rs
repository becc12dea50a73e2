//! The builder of a process child: what to run, in which environment, how to stop and reload it.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::containment::Containment;
use super::envfile;
use super::error::ProcessError;
use super::output::OutputSink;
use super::signal::Signal;
use super::spawn::{EnvPlan, Prepared};
use super::stats::{ProcessStats, StatsCell};
use super::stdio::Output;
use crate::spec::ChildSpec;

/// What a process child does when it receives [`Control::Reload`](crate::Control::Reload).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnReload {
    /// Send this signal to the whole process group and keep running: for programs that
    /// reload their configuration on a signal (nginx, HAProxy and most daemons on `SIGHUP`).
    /// Most other programs die of `SIGHUP`, so this is an explicit choice.
    Signal(Signal),
    /// Stop the process (with the stop signal and timeout) and start it again, as
    /// [`Handle::restart`](crate::Handle::restart) does: whatever the child's restart policy,
    /// and without counting towards its manager's restart intensity. The default: a reload
    /// never kills a program that does not expect a signal.
    #[default]
    Restart,
}

/// An OS process as a child of a [`ProcessManager`](crate::ProcessManager): a builder for what
/// to run, and the [`Runnable`](crate::Runnable) that runs it.
///
/// # Guarantees
///
/// - **No shell** unless asked for with [`shell`](Self::shell): the program gets its arguments
///   as given, with no interpolation.
/// - **Own process group.** Each process leads a new process group; every signal (stop,
///   reload, kill) goes to the whole group, so its own children are reached too.
/// - **Start.** The process gets every signal at its default disposition: no handler of the
///   supervisor, and no signal it ignores (`SIGPIPE`, which Rust ignores; `SIGHUP` under
///   `nohup`; `SIGINT` and `SIGQUIT` when a script started the supervisor in the
///   background), as systemd starts its services (std and `posix_spawn` keep ignored
///   signals ignored, `SIGPIPE` aside), so that a reload by `SIGHUP` or a stop by `SIGINT`
///   reaches it whatever the supervisor ignores. On Linux with pidfds no blocked
///   signal (elsewhere the signal mask of the thread that started it, as std gives). On
///   Linux 5.4 and later it is started with `clone(CLONE_VM | CLONE_VFORK)`, as
///   `posix_spawn` starts one, whatever it needs before `exec` (the parent-death signal, a
///   cgroup); elsewhere through std (see [`parent_death_signal`](Self::parent_death_signal)
///   for what that costs).
/// - **Never a stranger's group.** A signal goes to the group only while its identity is
///   held, so that a process group that got the same id after ours was gone is never
///   signalled. On Linux 6.9 and later every group signal goes through a pidfd of the
///   leader (`pidfd_send_signal` with `PIDFD_SIGNAL_PROCESS_GROUP`), which can reach only
///   the group it led; on Linux 5.4 to 6.8 the leader is kept unreaped, a zombie, until the
///   rest of its group is gone, so its pid, hence the group's id, cannot be reused meanwhile
///   (members are then found by a scan of `/proc`, which costs about a millisecond per few
///   hundred processes on the system at each exit). Without pidfds (other systems, older
///   kernels, a seccomp filter that refuses them) the leader is reaped when it exits and
///   what is left of its group is signalled right after a `kill(-pgid, 0)` found members:
///   if in between the last member exits and its pid becomes the id of a new process group,
///   that group gets the signal.
/// - **Stop.** When its run is asked to stop, the group gets the
///   [stop signal](Self::stop_signal) (default `SIGTERM`), then `SIGCONT`; the whole group
///   gets up to the [stop timeout](Self::stop_timeout) (default 10 s) to exit, then what is
///   left of it gets `SIGKILL`, and the stop waits until every member has exited (by event,
///   through pidfds; `SIGKILL` is not instant: a process in uninterruptible sleep is gone
///   only when its system call returns, and a warning is logged when that takes more than a
///   second; the manager's [`Shutdown::Timeout`](crate::Shutdown::Timeout) still bounds a
///   requested stop). The leader exiting early does not cut the others' grace
///   period short: a worker behind a wrapper script finishes its own shutdown. The run ends
///   when the leader has exited and nobody else of the group is left,
///   never at the end of its output, so a grandchild holding a pipe cannot hold up a stop
///   beyond the stop timeout. A requested stop is a success (`Ok`), whatever the exit status.
/// - **The group ends with the leader.** Whenever the leader exits on its own, what is left of
///   its group gets the same sequence: the stop signal, up to the stop timeout, `SIGKILL`, a
///   wait until they are gone; a run leaves no process of its group behind, and a restart
///   never overlaps a member of the previous run (one holding a lock, say). Programs that
///   daemonize (fork, start a new session with `setsid` and exit) leave the group and so
///   escape this; run them in the foreground, or [`contain`](Self::contain) them. The exit is
///   reported (and a restart begins) once the group is gone; a stop asked for meanwhile is
///   part of that same grace period, and the exit stays what it was (a failure a restart
///   would have absorbed does not fail a shutdown asked for during the grace period). A
///   leader that exits just as it is asked to stop ends a stop: a success.
/// - **Abort.** If the run's future is dropped (its manager aborts it when the
///   [`Shutdown::Timeout`](crate::Shutdown::Timeout) of its spec expires, or the runtime shuts down), the whole group
///   is SIGKILLed at once, while its identity is held (see above), and the leader is reaped
///   once it has exited: by overseer's spawner thread (which looks 1, 2, 4 … up to 100 ms
///   apart), or, where the process was started through std, by Tokio's orphan reaper.
/// - **Dies with the supervisor.** By default the leader gets `SIGKILL` from the kernel when
///   the supervisor process dies, even of `SIGKILL` (Linux's parent-death signal, set from a
///   thread that lives as long as the process, see
///   [`parent_death_signal`](Self::parent_death_signal)); opt out with
///   [`no_parent_death_signal`](Self::no_parent_death_signal). Only the leader gets it, not
///   the processes it starts itself: a leader that dies of it leaves them to its own
///   handling of `SIGKILL`, which is none.
/// - **Containment** (opt-in, [`contain`](Self::contain)): the processes it starts that
///   leave the group (a new session) are stopped with it too, through a cgroup v2 of its own
///   where the machine allows, else the supervisor as a child subreaper; see
///   [`Containment`](super::Containment) for what each guarantees.
/// - **Reaped.** The leader is waited for through its pidfd (or Tokio's SIGCHLD handling
///   where there is none), no polling; other members of the group are reparented to init,
///   which reaps them (or, once a containment made the supervisor a subreaper, to the
///   supervisor, which reaps them). Members that outlive the leader are found by a scan of `/proc` and
///   waited for through pidfds; where there are no pidfds or no `/proc`, the group is probed
///   with `kill(-pgid, 0)` 1, 2, 4 … up to 50 ms apart. When nobody is left, the usual case,
///   this costs one system call (on Linux 6.9 and later, or without pidfds).
///   A member that has ended but waits as a zombie for a parent that never reaps (some
///   containers' init) counts as gone.
/// - **Exit status.** Exit code 0 (or another of the [success codes](Self::success_codes)) is
///   `Ok`; another code is [`ProcessError::Exited`], a signal [`ProcessError::Signaled`].
/// - **Ready** is reported as soon as the process is spawned.
/// - **Output** is inherited by default; [`capture`](Self::capture) reads it line by line into
///   an [`OutputSink`] without ever holding up a stop.
/// - **Resources.** [`stats`](Self::stats) samples the group's memory and CPU on demand;
///   [`memory_limit`](Self::memory_limit) stops a group that grows too large, as a failure.
/// - **Pid.** [`Runnable::pid`](crate::Runnable::pid) is the leader's pid while the main
///   process runs (not during pre-start commands). Specs that share one `Command` (through
///   [`ChildSpec::with_id`]) share that slot and show the pid of the run that started last;
///   clone the `Command` instead to give each child its own.
///
/// # The two timeouts
///
/// The manager's [`Shutdown::Timeout`](crate::Shutdown::Timeout) for this child bounds the whole stop; the
/// [stop timeout](Self::stop_timeout) is the grace period before `SIGKILL`. Keep the first
/// longer than the second, or the manager aborts the run first (the group is still SIGKILLed
/// by the drop guard, but the child is reported as [`Cause::StopTimeout`](crate::Cause)).
/// A spec made with [`into_spec`](Self::into_spec), [`ChildSpec::new`] or
/// [`ChildSpec::from_arc`] does this for you when no shutdown policy is set on it: its default
/// is the stop timeout plus [`SPEC_SHUTDOWN_MARGIN`](Self::SPEC_SHUTDOWN_MARGIN).
///
/// ```no_run
/// use std::time::Duration;
/// use overseer::process::{Command, Signal};
/// use overseer::ProcessManager;
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = Command::new("redis-server")
///     .arg("--port")
///     .arg("6380")
///     .env("REDIS_LOG", "verbose")
///     .stop_signal(Signal::INT)
///     .stop_timeout(Duration::from_secs(3));
/// let tree = ProcessManager::builder("root")
///     .child(redis.into_spec("redis"))
///     .build()?;
/// tree.run().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env_files: Vec<PathBuf>,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) sink: Option<Arc<OutputSink>>,
    pub(crate) stop_signal: Signal,
    pub(crate) stop_timeout: Duration,
    pub(crate) reload: OnReload,
    pub(crate) success_codes: Arc<[i32]>,
    pub(crate) parent_death_signal: Option<Signal>,
    pub(crate) containment: Containment,
    pub(crate) pre_start: Vec<Command>,
    pub(crate) pid: PidCell,
    pub(crate) stats: StatsCell,
    pub(crate) memory_limit: Option<MemoryLimit>,
    /// Run to stop the process instead of sending the stop signal.
    pub(crate) stop_command: Option<Box<Command>>,
    /// Spawn on the fallback path even where the fast one works (tests of that path).
    #[cfg(test)]
    pub(crate) force_fallback: bool,
}

/// A limit on the resident memory of a process group, checked periodically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemoryLimit {
    pub(crate) bytes: u64,
    pub(crate) interval: Duration,
}

impl Command {
    /// The default grace period between the stop signal and `SIGKILL`.
    pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

    /// How much longer than the stop timeout [`into_spec`](Self::into_spec) lets the manager
    /// wait before it aborts the run.
    pub const SPEC_SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

    /// A command that runs `program`, with no arguments, the supervisor's environment, its
    /// working directory, inherited stdout and stderr, and stdin from `/dev/null`.
    ///
    /// A `program` without a `/` is looked up in the `PATH` of the environment the process
    /// gets (so a `PATH` set with [`env`](Self::env) is the one searched), or in
    /// `/bin:/usr/bin` when that environment has none, as std (through `execvp`) does; a
    /// relative one is relative to the [working directory](Self::current_dir). A program
    /// that is not found fails the start with [`ProcessError::Spawn`] carrying `ENOENT`.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env_files: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdout: Output::default(),
            stderr: Output::default(),
            sink: None,
            stop_signal: Signal::TERM,
            stop_timeout: Self::DEFAULT_STOP_TIMEOUT,
            reload: OnReload::default(),
            success_codes: Arc::new([0]),
            parent_death_signal: Some(Signal::KILL),
            containment: Containment::ProcessGroup,
            pre_start: Vec::new(),
            pid: PidCell::default(),
            stats: StatsCell::default(),
            memory_limit: None,
            stop_command: None,
            #[cfg(test)]
            force_fallback: false,
        }
    }

    /// A command that runs `script` with `/bin/sh -c`, the shell `system(3)` runs: named by
    /// its path, so that no spawn searches the `PATH` for it. The only way this type involves
    /// a shell: never pass untrusted text here.
    pub fn shell(script: impl AsRef<OsStr>) -> Self {
        Command::new("/bin/sh").arg("-c").arg(script)
    }

    /// Adds one argument, passed as is.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments, passed as is.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Starts from an empty environment instead of inheriting the supervisor's.
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    /// Sets a variable. Applied after env files, in call order with [`env_remove`](Self::env_remove).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes a variable (inherited, or from an env file). Applied after env files, in call
    /// order with [`env`](Self::env).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Adds an env file in the `.env` format, read as docker-compose reads an `env_file`:
    ///
    /// - `KEY=value` per line (spaces around `=` allowed), `#` comment lines, an optional
    ///   `export ` in front; keys are letters, digits, `_` and `.`, not starting with a digit;
    /// - unquoted values are trimmed and end at a ` #` comment; single-quoted values are
    ///   literal; double-quoted values understand `\n`, `\r`, `\t`, `\"`, `\\` and `\$`;
    ///   quoted values may span several lines;
    /// - in unquoted and double-quoted values, `$VAR`, `${VAR}`, `${VAR:-default}` (unset or
    ///   empty), `${VAR-default}` (unset), `${VAR:?message}` and `${VAR?message}` (the start
    ///   fails) take `VAR` from the file's earlier entries, else the supervisor's environment;
    /// - backquoted values and nested references inside a default are not read.
    ///
    /// Files are read at each start, in the order added, over the inherited (or cleared)
    /// environment; a missing or malformed file, or a required variable that is not set,
    /// fails the start with [`ProcessError::EnvFile`] before anything is spawned.
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env_files.push(path.into());
        self
    }

    /// Runs the process in `dir`; a missing directory fails the start with
    /// [`ProcessError::WorkingDir`].
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Where stdout goes (default [`Output::Inherit`]).
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where stderr goes (default [`Output::Inherit`]).
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// Captures stdout and stderr line by line into `sink`: log files with rotation, the
    /// in-memory tail, live subscribers and the per-line callback, as configured by the
    /// [`OutputConfig`](super::output::OutputConfig) that built it. Sets both streams to
    /// [`Output::Capture`]; call [`stdout`](Self::stdout) or [`stderr`](Self::stderr)
    /// afterwards to send one of them elsewhere.
    ///
    /// Guarantees:
    /// - **Never blocks the child** beyond the pipe's capacity (raised to 1 MiB on Linux when
    ///   the system allows): the pipes are read as fast as the log file takes the bytes, also
    ///   while the process is being stopped.
    /// - **Busy output is read in batches.** While a child's writes come less than a nap apart,
    ///   its pipe is read once per 250 µs nap (a `timerfd`; elsewhere than Linux once per Tokio
    ///   timer tick, 1–2 ms) instead of once per `write(2)`, so a line of a busy child may
    ///   wait that long, plus any delay of a busy machine, before it is delivered; a quiet
    ///   child's line is read at once. It takes the supervisor's CPU time for a fast writer
    ///   down by about half (figures in `BENCHMARKS.md`, *output*). Pipes the system would
    ///   not enlarge to at least 256 KiB are never batched: a batch could fill them and block
    ///   the child.
    /// - **Never holds up a stop or an exit.** A run ends when the leader has exited and the
    ///   rest of its group is gone (see *Stop* above); what is still in the pipes is then read
    ///   until they end, or until they stay silent for 100 ms (at most 1 s), and the pipes are
    ///   dropped (a last line without its newline is still delivered). Only a process that
    ///   left the group (a new session) can keep a pipe open that long; what it writes later
    ///   is lost.
    /// - **One sink across restarts.** Every run of this command pumps into the same sink, so
    ///   log files continue, the tail holds lines of successive runs and subscribers keep
    ///   following. Clones of this `Command` share the sink too (their lines interleave);
    ///   give each its own to keep them apart.
    ///
    /// Cost: no task and no timer while the process runs; the reading happens inside the
    /// child's run future, as described in [`OutputSink::pump`]. Pre-start commands keep their
    /// own capture (their output is in [`ProcessError::PreStart`]).
    ///
    /// ```no_run
    /// use overseer::process::Command;
    /// use overseer::process::output::OutputConfig;
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let sink = OutputConfig::new()
    ///     .log_file("/var/log/app.log")
    ///     .rotate(10 * 1024 * 1024, 5)
    ///     .tail(200)
    ///     .build()?;
    /// let app = Command::new("./app").capture(sink.clone());
    /// let mut follow = sink.subscribe();
    /// # let _ = (app, follow.recv().await);
    /// # Ok(())
    /// # }
    /// ```
    pub fn capture(mut self, sink: Arc<OutputSink>) -> Self {
        self.sink = Some(sink);
        self.stdout = Output::Capture;
        self.stderr = Output::Capture;
        self
    }

    /// The sink given to [`capture`](Self::capture), if any: the same one for every run.
    pub fn output(&self) -> Option<&Arc<OutputSink>> {
        self.sink.as_ref()
    }

    /// The signal sent to the group to ask it to stop (default `SIGTERM`).
    pub fn stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }

    /// How long the group gets to exit after the stop signal before what is left of it is
    /// SIGKILLed (default [`DEFAULT_STOP_TIMEOUT`](Self::DEFAULT_STOP_TIMEOUT)); also the grace
    /// period of what is left of the group after the leader exits on its own. Also applies to
    /// pre-start commands.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// What a reload does (default: [`OnReload::Restart`], a graceful restart;
    /// `OnReload::Signal(Signal::HUP)` forwards `SIGHUP` to the group instead).
    pub fn on_reload(mut self, reload: OnReload) -> Self {
        self.reload = reload;
        self
    }

    /// The exit codes that count as success (default `[0]`).
    pub fn success_codes(mut self, codes: impl IntoIterator<Item = i32>) -> Self {
        self.success_codes = codes.into_iter().collect();
        self
    }

    /// The signal the kernel sends the process when the supervisor process dies (Linux
    /// `PR_SET_PDEATHSIG`; default `SIGKILL`), so that it does not outlive a supervisor that
    /// was SIGKILLed or crashed. Only the leader gets it, not the processes it starts itself.
    ///
    /// The kernel sends it when the *thread* that started the process exits, not the
    /// process: overseer therefore starts every process child (and pre-start command) that
    /// has one from a dedicated thread that lives as long as the process, never from a Tokio
    /// worker or blocking-pool thread, which may end while the supervisor runs (after
    /// `block_in_place`, say). If the supervisor dies between the start and the `prctl`, the
    /// process signals itself before it runs the program. The kernel clears the setting when
    /// the program is set-user-ID or set-group-ID, or has file capabilities. Ignored on
    /// systems other than Linux.
    ///
    /// Cost: on Linux 5.4 and later (pidfds), nothing measurable beyond the hand-off to that
    /// thread (two thread wake-ups, about 35 µs on the project's machine): the process is
    /// started with `clone(CLONE_VM | CLONE_VFORK)`, as `posix_spawn` starts one, and the
    /// `prctl` runs in the child before `exec` without copying the supervisor's page tables.
    /// Where that path is not available (older kernels, a seccomp filter that refuses
    /// `clone`, Android), the process is started by std with a `pre_exec` hook, which makes
    /// it `fork` rather than `posix_spawn`: about 0.4–0.5 ms more per start on the project's
    /// machine, more for a supervisor with more memory mapped.
    pub fn parent_death_signal(mut self, signal: Signal) -> Self {
        self.parent_death_signal = Some(signal);
        self
    }

    /// No [parent-death signal](Self::parent_death_signal): the process keeps running when the
    /// supervisor dies without stopping it (reparented to init or a subreaper), as a plain
    /// `std::process::Command` would. For a process that must survive a crash of its
    /// supervisor; another supervisor run then finds it still running.
    pub fn no_parent_death_signal(mut self) -> Self {
        self.parent_death_signal = None;
        self
    }

    /// What the stop of a run reaches beyond the process group: with
    /// [`Containment::Descendants`], also the processes it started that left the group (a
    /// daemon that double-forks and calls `setsid`), through a cgroup v2 of its own where
    /// the machine allows, else through the supervisor as a child subreaper (see
    /// [`Containment`] for what each guarantees, and what it costs). Default
    /// [`Containment::ProcessGroup`]. Applies to the main process, not to pre-start
    /// commands (give them their own).
    ///
    /// ```no_run
    /// use overseer::process::{Command, Containment};
    ///
    /// // A program that daemonizes itself: its daemon is stopped with it.
    /// let legacy = Command::new("/usr/sbin/legacyd").contain(Containment::Descendants);
    /// # let _ = legacy;
    /// ```
    pub fn contain(mut self, containment: Containment) -> Self {
        self.containment = containment;
        self
    }

    /// The resource usage of the running process and the rest of its group: resident memory,
    /// CPU time and CPU % since the previous call, uptime (see [`ProcessStats`]). `None` when
    /// the main process is not running (not started, between restarts, during pre-start
    /// commands) or where `/proc` is not available (Linux only).
    ///
    /// The figures come from a scan of `/proc` (a `readdir` and one small read per process on
    /// the system, about a millisecond per few hundred processes) at most 100 ms old, shared
    /// by every process child of the supervisor: a [snapshot](crate::Handle::snapshot) of a
    /// tree of `n` processes costs one scan, not `n`. A scan, when one is due, is done
    /// synchronously on the calling thread; nothing is measured between calls. Specs sharing
    /// one `Command` share its samples, as they share [`pid`](crate::Runnable::pid).
    ///
    /// A clone of a `Command` is another child with no stats: to ask the one a manager runs,
    /// share it.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use overseer::process::Command;
    /// use overseer::{ChildSpec, ProcessManager};
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = Arc::new(Command::new("./worker"));
    /// let tree = ProcessManager::builder("root")
    ///     .child(ChildSpec::from_arc("worker", worker.clone()))
    ///     .build()?;
    /// tokio::spawn(async move { tree.run().await });
    /// if let Some(stats) = worker.stats() {
    ///     println!("{} bytes resident, {:?} of CPU", stats.rss_bytes, stats.cpu_time);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> Option<ProcessStats> {
        self.stats.sample()
    }

    /// Stops the process when the resident memory of its group exceeds `bytes`, checked every
    /// `check_interval` while it runs (at least 10 ms). The stop uses the stop signal and
    /// timeout, then the run fails with [`ProcessError::MemoryLimit`], so the manager restarts
    /// the child according to its restart policy.
    ///
    /// The group's memory is the sum of its members' RSS, as in [`ProcessStats::rss_bytes`]
    /// (shared pages counted per member). A spike shorter than the interval can go unseen.
    ///
    /// Cost: one timer for this child and one `/proc` scan (see [`stats`](Self::stats)) per
    /// interval, done synchronously inside the child's run (on a runtime thread). This is the only periodic wake-up of a process child: without a cgroup the
    /// kernel gives no event when a process's RSS grows. Linux only; ignored where `/proc`
    /// is not available.
    pub fn memory_limit(mut self, bytes: u64, check_interval: Duration) -> Self {
        self.memory_limit = Some(MemoryLimit {
            bytes,
            interval: check_interval.max(Duration::from_millis(10)),
        });
        self
    }

    /// Stops the process by running `cmd` instead of sending the stop signal (process-compose's
    /// `shutdown.command`): for a program with its own way to be stopped (`nginx -s quit`,
    /// `pg_ctl stop`). `cmd` runs in a process group of its own, with the group's pid in
    /// `OVERSEER_PID`, and its output is discarded. The stop timeout counts from the stop
    /// request, as with a signal: by then the process must have exited, else its group is
    /// `SIGKILL`ed (and a stop command still running is killed with its own group). A stop
    /// command that cannot start or fails is logged (`WARN`) and the stop signal is sent
    /// instead. Of `cmd`, its program, arguments, environment, working directory, success
    /// codes and parent-death signal are used. Costs one spawn per stop.
    pub fn stop_command(mut self, cmd: Command) -> Self {
        self.stop_command = Some(Box::new(cmd));
        self
    }

    /// Adds a one-shot command that must succeed before the main process starts (e.g.
    /// `npm install`). Pre-start commands run in the order added, each in its own process
    /// group with its output captured; a failure is the child's failure
    /// ([`ProcessError::PreStart`], with the last lines of its output), and a stop request
    /// stops it like the main process. Of `cmd`, its program, arguments, environment,
    /// working directory, success codes and parent-death signal are used; its own
    /// pre-start commands run before it.
    pub fn pre_start(mut self, mut cmd: Command) -> Self {
        self.pre_start.append(&mut cmd.pre_start);
        self.pre_start.push(cmd);
        self
    }

    /// A [`ChildSpec`] for this command: `ChildSpec::new(id, self)`, whose default shutdown
    /// policy (see [`Runnable::default_shutdown`](crate::Runnable::default_shutdown)) is the
    /// stop timeout plus [`SPEC_SHUTDOWN_MARGIN`](Self::SPEC_SHUTDOWN_MARGIN), so the stop
    /// sequence always runs to its end before the manager would abort it.
    pub fn into_spec(self, id: impl Into<Arc<str>>) -> ChildSpec {
        ChildSpec::new(id, self)
    }

    /// The program as configured, for messages.
    /// The command line as errors and logs show it (see `command_line::render`).
    pub(crate) fn command_line(&self) -> String {
        super::command_line::render(&self.program, &self.args)
    }

    /// Everything to spawn a run of this command as the leader of a new process group (see
    /// [`spawn`](super::spawn)): env files read, working directory checked, stdio set from
    /// the configuration.
    pub(crate) fn prepare(&self) -> Result<Prepared, ProcessError> {
        let mut changes = Vec::with_capacity(self.env.len());
        for path in &self.env_files {
            let vars = envfile::read(path).map_err(|source| ProcessError::EnvFile {
                path: path.clone(),
                source,
            })?;
            changes.extend(
                vars.into_iter()
                    .map(|(key, value)| (OsString::from(key), Some(OsString::from(value)))),
            );
        }
        changes.extend(self.env.iter().cloned());
        if let Some(dir) = &self.cwd {
            check_dir(dir).map_err(|source| ProcessError::WorkingDir {
                command: self.command_line(),
                path: dir.clone(),
                source,
            })?;
        }
        let mut prepared = Prepared::new(self.program.clone());
        prepared.args.clone_from(&self.args);
        prepared.env = EnvPlan {
            clear: self.env_clear,
            changes,
        };
        prepared.cwd.clone_from(&self.cwd);
        prepared.stdout = self.stdout.stream(self.sink.is_some());
        prepared.stderr = self.stderr.stream(self.sink.is_some());
        prepared.death_signal = self.parent_death_signal;
        #[cfg(test)]
        {
            prepared.force_fallback = self.force_fallback;
        }
        Ok(prepared)
    }
}

fn check_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if std::fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        ))
    }
}

impl fmt::Debug for Command {
    /// Shows env keys but never env values, which may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_keys: Vec<_> = self.env.iter().map(|(k, _)| k).collect();
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env_clear", &self.env_clear)
            .field("env_keys", &env_keys)
            .field("env_files", &self.env_files)
            .field("cwd", &self.cwd)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("capture", &self.sink.is_some())
            .field("stop_signal", &self.stop_signal)
            .field("stop_timeout", &self.stop_timeout)
            .field("reload", &self.reload)
            .field("memory_limit", &self.memory_limit)
            .field("containment", &self.containment)
            .field("pre_start", &self.pre_start.len())
            .finish_non_exhaustive()
    }
}

/// The pid of the current run, 0 when none. A clone starts empty: it is another child.
#[derive(Default)]
pub(crate) struct PidCell(AtomicU32);

impl Clone for PidCell {
    fn clone(&self) -> Self {
        PidCell::default()
    }
}

impl PidCell {
    pub(crate) fn get(&self) -> Option<u32> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&p| p != 0)
    }

    /// Records `pid` until the returned guard is dropped.
    pub(crate) fn set(&self, pid: u32) -> PidGuard<'_> {
        self.0.store(pid, Ordering::Relaxed);
        PidGuard(self)
    }
}

/// Clears the recorded pid when the run that set it ends.
pub(crate) struct PidGuard<'a>(&'a PidCell);

impl Drop for PidGuard<'_> {
    fn drop(&mut self) {
        self.0.0.store(0, Ordering::Relaxed);
    }
}
