//! A command as a check: [`Probe::exec`](super::Probe::exec).

use tokio_util::sync::CancellationToken;

use super::check::{Check, CheckFuture};
use super::probe::Probe;
use crate::process::{Command, ProcessError, Signal};

/// Runs a command to its end: passing when it exits with one of its success codes.
struct ExecCheck {
    command: Command,
}

impl Check for ExecCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            // The probe's timeout drops this future, and with it the command's process group
            // (killed, as any group of ours that is dropped).
            let never = CancellationToken::new();
            crate::process::prestart::run(
                &self.command,
                &never,
                Signal::KILL,
                std::time::Duration::ZERO,
            )
            .await
            .map(drop)
            .map_err(|e| match e {
                ProcessError::PreStart { source, output, .. } => {
                    let mut message = source.to_string();
                    if !output.is_empty() {
                        message.push_str("; last output:");
                        for line in output.iter().rev().take(5).rev() {
                            message.push_str("\n  ");
                            message.push_str(line);
                        }
                    }
                    message.into()
                }
                e => e.into(),
            })
        })
    }

    fn describe(&self) -> String {
        format!("exec {}", self.command.command_line())
    }

    fn same_as(&self, other: &dyn Check) -> bool {
        super::check::downcast::<ExecCheck>(other)
            .is_some_and(|other| self.command.same_settings(&other.command))
    }
}

impl Probe {
    /// A probe that runs `command` at each check, as Kubernetes' `exec` probe: it passes when
    /// the command exits with one of its success codes (default 0) within the probe's
    /// timeout; otherwise the failure carries its exit status and its last 5 lines of output
    /// (stdout and stderr as read). A command still running at the timeout is killed with its
    /// process group. Feature `process`.
    pub fn exec(command: Command) -> Self {
        Probe::new(ExecCheck { command })
    }
}
