//! A [`Command`] as a [`Runnable`]: pre-start commands, spawn, wait, stop, reload, with the
//! output captured alongside.

use std::future::Future;
use std::pin::Pin;

use tokio::time::{Interval, MissedTickBehavior};

use super::capture::Capture;
use super::command::{Command, MemoryLimit, OnReload};
use super::containment::Contained;
use super::error::ProcessError;
use super::exit;
use super::group::Group;
use super::prestart::{self, Outcome};
use super::stats;
use crate::child::Context;
use crate::control::Control;
use crate::error::{ControlError, RunResult};
use crate::runnable::{ChildKind, Runnable};

type Pending = Pin<Box<dyn Future<Output = Result<(), ControlError>> + Send>>;

#[async_trait::async_trait]
impl Runnable for Command {
    async fn run(&self, mut ctx: Context) -> RunResult {
        let shutdown = ctx.shutdown_token();
        for pre in &self.pre_start {
            match prestart::run(pre, &shutdown, self.stop_signal, self.stop_timeout).await? {
                Outcome::Done => {}
                Outcome::Stopped => return Ok(()),
            }
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let command = self.command_line();
        let mut prepared = self.prepare()?;
        let contained = Contained::prepare(self.containment, &mut prepared).map_err(|source| {
            ProcessError::Containment {
                command: command.clone(),
                source,
            }
        })?;
        let mut group = Group::spawn(prepared)
            .await
            .map_err(|source| ProcessError::Spawn {
                command: command.clone(),
                source,
            })?;
        group.contain(contained);
        let _pid = self.pid.set(group.pid());
        let _stats = self.stats.set(group.pid());
        tracing::info!(command, pid = group.pid(), "process started");
        // Spawned: from now on an exit is a crash, not a failed start.
        ctx.started();
        ctx.ready();
        let mut capture = Capture::start(group.take_output(), self.sink.as_ref());
        let result = capture
            .alongside(self.supervise(&mut group, &mut ctx, &command))
            .await;
        capture.drain().await;
        // Read once the output is drained, and only for a failure.
        result.map_err(|e| {
            e.with_output(|| {
                self.sink
                    .as_ref()
                    .map(|sink| sink.failure_lines(ProcessError::FAILURE_LINES))
                    .unwrap_or_default()
            })
            .into()
        })
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Process
    }

    /// Started once the main process is spawned, after its pre-start commands: a failed
    /// pre-start command, a missing program or a bad working directory is a failed start.
    fn reports_start(&self) -> bool {
        true
    }

    /// The stop timeout plus [`Command::SPEC_SHUTDOWN_MARGIN`], so that a spec made with
    /// [`ChildSpec::new`](crate::ChildSpec::new) lets the stop sequence run to its end.
    fn default_shutdown(&self) -> crate::spec::Shutdown {
        crate::spec::Shutdown::Timeout(
            self.stop_timeout
                .saturating_add(Command::SPEC_SHUTDOWN_MARGIN),
        )
    }

    fn pid(&self) -> Option<u32> {
        self.pid.get()
    }

    /// The group's figures ([`Command::stats`]): one `/proc` scan per call.
    fn resources(&self) -> Option<crate::snapshot::Resources> {
        self.stats()
            .map(|s| crate::snapshot::Resources::new(s.rss_bytes, s.cpu_percent, s.processes))
    }

    /// The same when `other` is a `Command` with the same settings: every one equal (an
    /// output sink the very same one, shared), pre-start commands included.
    fn same_as(&self, other: &dyn Runnable) -> bool {
        let other: &dyn std::any::Any = other;
        other
            .downcast_ref::<Command>()
            .is_some_and(|other| self.same_settings(other))
    }
}

impl Command {
    /// Whether `other` would start and stop its process exactly as this one does: every
    /// setting equal (the output sink the very same one, shared), pre-start commands
    /// included. The run's state (its pid, its figures) is not a setting.
    pub(crate) fn same_settings(&self, other: &Command) -> bool {
        // Destructured, so that a new setting cannot be forgotten here.
        let Command {
            program,
            args,
            env_clear,
            env_files,
            env,
            cwd,
            stdout,
            stderr,
            sink,
            stop_signal,
            stop_timeout,
            reload,
            success_codes,
            parent_death_signal,
            containment,
            pre_start,
            pid: _,
            stats: _,
            memory_limit,
            stop_command,
            #[cfg(test)]
                force_fallback: _,
        } = self;
        let same_sink = match (sink, &other.sink) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        };
        *program == other.program
            && *args == other.args
            && *env_clear == other.env_clear
            && *env_files == other.env_files
            && *env == other.env
            && *cwd == other.cwd
            && *stdout == other.stdout
            && *stderr == other.stderr
            && same_sink
            && *stop_signal == other.stop_signal
            && *stop_timeout == other.stop_timeout
            && *reload == other.reload
            && *success_codes == other.success_codes
            && *parent_death_signal == other.parent_death_signal
            && *containment == other.containment
            && *memory_limit == other.memory_limit
            && match (stop_command, &other.stop_command) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same_settings(b),
                _ => false,
            }
            && pre_start.len() == other.pre_start.len()
            && pre_start
                .iter()
                .zip(&other.pre_start)
                .all(|(a, b)| a.same_settings(b))
    }
}

impl Command {
    /// Waits for the spawned process to exit, forwarding reloads and stopping its group when
    /// asked to. Returns once the leader is reaped and the rest of its group has exited
    /// (given the stop signal and the stop timeout, then SIGKILLed).
    async fn supervise(
        &self,
        group: &mut Group,
        ctx: &mut Context,
        command: &str,
    ) -> Result<(), ProcessError> {
        // A reload-as-restart asks the manager to restart this child; the manager answers by
        // requesting a stop, which the loop below sees as `Control::Shutdown`.
        let mut restart: Option<Pending> = None;
        let pgid = group.pid();
        let mut memory = self.memory_limit.map(|limit| {
            let mut check = tokio::time::interval_at(
                crate::deadline::from_now_or_far(limit.interval),
                limit.interval,
            );
            check.set_missed_tick_behavior(MissedTickBehavior::Delay);
            (limit, check)
        });
        loop {
            // Biased: a stop that was asked for is seen before an exit, so that a leader that
            // exits just as it is asked to stop ends a stop (a success), whatever its status.
            tokio::select! {
                biased;
                msg = ctx.recv() => match msg {
                    Some(Control::Reload) => match self.reload {
                        OnReload::Signal(signal) => group.signal(signal),
                        OnReload::Restart if restart.is_none() => {
                            let (handle, path) = (ctx.handle(), ctx.path());
                            restart = Some(Box::pin(async move { handle.restart(path.as_str()).await }));
                        }
                        OnReload::Restart => {}
                    },
                    Some(Control::Shutdown) | None => {
                        let status = self.stop(group, command).await;
                        tracing::info!(command, status = %exit::describe_result(&status), "process stopped");
                        return Ok(());
                    }
                    Some(_) => {}
                },
                status = group.wait() => {
                    let status = status.map_err(|source| ProcessError::Wait {
                        command: command.to_owned(),
                        source,
                    })?;
                    tracing::info!(command, status = %exit::describe(&status), "process exited");
                    // Settled in one step, under the stop signal's lock: asked between the
                    // look at the inbox and now, it is a stop all the same; otherwise its
                    // outcome is its own, and a stop asked during the grace period of the
                    // rest of the group does not turn this exit into a stop. (Looking first
                    // and settling after left a window where a request came in between: the
                    // run failed, but its manager, seeing a stop asked before its end, judged
                    // the failure as that of a stop.)
                    let asked = !ctx.ended_on_its_own();
                    // What is left of the group gets the stop sequence, as in a stop.
                    let deadline = crate::deadline::from_now_or_far(self.stop_timeout);
                    group.settle(Some(self.stop_signal), deadline).await;
                    if asked {
                        return Ok(());
                    }
                    return exit::check(status, &self.success_codes, command);
                }
                Some(result) = wait_for(&mut restart) => {
                    restart = None;
                    if let Err(e) = result {
                        tracing::warn!(command, error = %e, "reload: restart refused");
                    }
                }
                rss = over_limit(&mut memory, pgid) => {
                    let limit = self.memory_limit.map_or(0, |l| l.bytes);
                    tracing::warn!(command, rss, limit, "memory limit exceeded; stopping the process");
                    let status = self.stop(group, command).await;
                    tracing::info!(command, status = %exit::describe_result(&status), "process stopped");
                    return Err(ProcessError::MemoryLimit {
                        command: command.to_owned(),
                        limit,
                        rss,
                        output: Vec::new(),
                    });
                }
            }
        }
    }
}

impl Command {
    /// Stops the group: with the stop command if there is one, else the stop signal; then
    /// `SIGKILL` at the stop timeout (see [`Command::stop_command`]).
    async fn stop(
        &self,
        group: &mut Group,
        command: &str,
    ) -> std::io::Result<std::process::ExitStatus> {
        let Some(stop) = &self.stop_command else {
            return group.stop(self.stop_signal, self.stop_timeout).await;
        };
        let deadline = crate::deadline::from_now_or_far(self.stop_timeout);
        let stop = Command::clone(stop)
            .env("OVERSEER_PID", group.pid().to_string())
            .stdout(super::Output::Null)
            .stderr(super::Output::Null);
        let never = tokio_util::sync::CancellationToken::new();
        let ran = tokio::time::timeout_at(
            deadline,
            prestart::run(&stop, &never, self.stop_signal, self.stop_timeout),
        )
        .await;
        match ran {
            Ok(Ok(_)) => tracing::debug!(command, "stop command done"),
            Ok(Err(e)) => {
                tracing::warn!(command, error = %e, "stop command failed; sending the stop signal");
                group.signal(self.stop_signal);
                group.signal(super::Signal::CONT);
            }
            Err(_) => tracing::warn!(
                command,
                "stop command still running at the stop timeout; killed"
            ),
        }
        group.stop_by(deadline).await
    }
}

/// Completes with the group's resident memory when a check finds it over the limit; pending
/// forever when there is no limit.
async fn over_limit(memory: &mut Option<(MemoryLimit, Interval)>, pgid: u32) -> u64 {
    let Some((limit, check)) = memory else {
        return std::future::pending().await;
    };
    loop {
        check.tick().await;
        if let Some(usage) = stats::group_usage(pgid) {
            if usage.rss_bytes > limit.bytes {
                return usage.rss_bytes;
            }
        }
    }
}

/// Completes with the pending restart request's answer; pending forever when there is none.
async fn wait_for(pending: &mut Option<Pending>) -> Option<Result<(), ControlError>> {
    match pending {
        Some(fut) => Some(fut.await),
        None => std::future::pending().await,
    }
}
