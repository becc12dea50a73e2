//! A [`Command`] as a [`Runnable`]: pre-start commands, spawn, wait, stop, reload.

use std::future::Future;
use std::pin::Pin;

use super::command::{Command, OnReload};
use super::error::ProcessError;
use super::exit;
use super::group::Group;
use super::prestart::{self, Outcome};
use crate::context::Context;
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
        let program = self.program_name();
        let mut cmd = self.prepare()?;
        let mut group = Group::spawn(&mut cmd).map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;
        let _pid = self.pid.set(group.pid());
        tracing::info!(program, pid = group.pid(), "process started");
        ctx.ready();
        // A reload-as-restart asks the manager to restart this child; the manager answers by
        // requesting a stop, which the loop below sees as `Control::Shutdown`.
        let mut restart: Option<Pending> = None;
        loop {
            tokio::select! {
                status = group.wait() => {
                    let status = status.map_err(|source| ProcessError::Wait {
                        program: program.clone(),
                        source,
                    })?;
                    tracing::info!(program, %status, "process exited");
                    return Ok(exit::check(status, &self.success_codes, &program)?);
                }
                Some(result) = wait_for(&mut restart) => {
                    restart = None;
                    if let Err(e) = result {
                        tracing::warn!(program, error = %e, "reload: restart refused");
                    }
                }
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
                        let status = group.stop(self.stop_signal, self.stop_timeout).await;
                        tracing::info!(program, ?status, "process stopped");
                        return Ok(());
                    }
                    Some(_) => {}
                },
            }
        }
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Process
    }

    fn pid(&self) -> Option<u32> {
        self.pid.get()
    }
}

/// Completes with the pending restart request's answer; pending forever when there is none.
async fn wait_for(pending: &mut Option<Pending>) -> Option<Result<(), ControlError>> {
    match pending {
        Some(fut) => Some(fut.await),
        None => std::future::pending().await,
    }
}
