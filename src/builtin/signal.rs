//! A child that turns Unix signals into tree commands.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::context::Context;
use crate::control::Control;
use crate::error::RunResult;
use crate::runnable::Runnable;

/// Turns signals into commands for the whole tree:
///
/// - the first SIGINT, SIGTERM or SIGQUIT: graceful shutdown ([`Handle::shutdown`]);
/// - a second one while that shutdown runs: immediate shutdown ([`Handle::shutdown_now`]);
/// - SIGHUP: [`Control::Reload`] to every child.
///
/// A shutdown caused by a signal is a success: the root's run returns `Ok` unless children
/// failed while stopping.
///
/// It reports ready once its handlers are installed. It [stops last](Runnable::stops_last):
/// its manager asks it to stop only once every other child has ended, in either
/// [`StopOrder`](crate::StopOrder), so it still catches the second signal while the others
/// shut down. Put it in the root manager: inside a nested manager it stops with that
/// manager, which may be before its siblings. While it runs, the process does not die of
/// these signals (it installs handlers); they stay installed after it stops, and further
/// signals are then ignored until the process exits.
///
/// [`Handle::shutdown`]: crate::Handle::shutdown
/// [`Handle::shutdown_now`]: crate::Handle::shutdown_now
///
/// ```no_run
/// use overseer::{builtin::Signals, ChildSpec, ProcessManager};
///
/// # async fn f() {
/// let tree = ProcessManager::builder("root")
///     .child(ChildSpec::new("signals", Signals))
///     .task("app", |ctx| async move { ctx.shutdown_requested().await; Ok(()) })
///     .build()
///     .unwrap();
/// tree.run().await.unwrap();
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Signals;

#[async_trait::async_trait]
impl Runnable for Signals {
    async fn run(&self, mut ctx: Context) -> RunResult {
        let mut signals = signal_hook_tokio::Signals::new([SIGINT, SIGTERM, SIGQUIT, SIGHUP])?;
        // Ready means the handlers are installed.
        ctx.ready();
        let tree = ctx.handle();
        let mut shutting_down = false;
        loop {
            tokio::select! {
                signal = signals.next() => {
                    let Some(signal) = signal else { return Ok(()) };
                    if signal == SIGHUP {
                        tracing::info!("SIGHUP: reloading the tree");
                        if let Err(e) = tree.broadcast(Control::Reload).await {
                            tracing::warn!(error = %e, "reload not delivered");
                        }
                    } else if !shutting_down {
                        shutting_down = true;
                        tracing::info!(signal, "signal: shutting down gracefully");
                        let _ = tree.shutdown();
                    } else {
                        tracing::warn!(signal, "second signal: shutting down now");
                        let _ = tree.shutdown_now();
                    }
                }
                msg = ctx.recv() => match msg {
                    // Reloads reach this child too; it has nothing to reload.
                    Some(Control::Shutdown) | None => return Ok(()),
                    Some(_) => {}
                },
            }
        }
    }

    fn stops_last(&self) -> bool {
        true
    }
}
