//! A child that turns Unix signals into tree commands.

use std::collections::HashMap;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use signal_hook::consts::{FORBIDDEN, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::low_level::signal_name;

use crate::child::Context;
use crate::control::Control;
use crate::error::{Cause, Failure, RunResult};
use crate::lock::lock;
use crate::runnable::Runnable;

/// Turns signals into commands for the whole tree. By default ([`Signals::new`]):
///
/// - the first SIGINT, SIGTERM or SIGQUIT: graceful shutdown ([`Handle::shutdown`]);
/// - a second one while that shutdown runs: immediate shutdown ([`Handle::shutdown_now`]);
/// - SIGHUP: [`Control::Reload`] to every child that reads messages.
///
/// [`shutdown_on`](Self::shutdown_on), [`reload_on`](Self::reload_on) and
/// [`ignore`](Self::ignore) say which signals mean what; a signal in none of them is not
/// handled at all.
///
/// **Results.** A graceful shutdown caused by a signal is a success: the root's run returns
/// `Ok` unless children failed while stopping. A second signal that forces the immediate
/// shutdown is not: the run returns an error whose failures include
/// [`Cause::Interrupted`], at this child's path, so that a program can tell a clean stop from
/// an interrupted one (and exit with a non-zero code).
///
/// **While it runs, and after.** It reports ready once its handlers are installed. While it
/// runs, the process does not die of the signals it handles. Once it has stopped (and no
/// other `Signals` child handles them), those signals have their default effect again: a
/// program that does cleanup after the tree's run returns can still be stopped by SIGTERM or
/// Ctrl-C. (The handler stays installed, as `signal-hook` never removes one; it then performs
/// the signal's default action.)
///
/// It [stops last](Runnable::stops_last): its manager asks it to stop only once every other
/// child has ended, in either [`StopOrder`](crate::StopOrder), so it still catches the second
/// signal while the others shut down. Put it in the root manager: inside a nested manager it
/// stops with that manager, which may be before its siblings. It does not
/// [read messages](Runnable::reads_messages): reloads do not reach it.
///
/// [`Handle::shutdown`]: crate::Handle::shutdown
/// [`Handle::shutdown_now`]: crate::Handle::shutdown_now
///
/// ```no_run
/// use overseer::{builtin::Signals, ChildSpec, ProcessManager};
/// use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
///
/// # async fn f() {
/// let signals = Signals::new()
///     .shutdown_on([SIGINT, SIGTERM]) // SIGQUIT keeps its default: a core dump
///     .reload_on([SIGUSR1]);
/// let tree = ProcessManager::builder("root")
///     .child(ChildSpec::new("signals", signals))
///     .task("app", |ctx| async move { ctx.shutdown_requested().await; Ok(()) })
///     .build()
///     .unwrap();
/// tree.run().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Signals {
    shutdown: Vec<c_int>,
    reload: Vec<c_int>,
    ignore: Vec<c_int>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

/// What a handled signal means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Meaning {
    Shutdown,
    Reload,
    Ignore,
}

impl Signals {
    /// SIGINT, SIGTERM and SIGQUIT shut the tree down (a second one at once); SIGHUP reloads.
    pub fn new() -> Self {
        Signals {
            shutdown: vec![SIGINT, SIGTERM, SIGQUIT],
            reload: vec![SIGHUP],
            ignore: Vec::new(),
        }
    }

    /// The signals that shut the tree down, gracefully the first time and at once the second
    /// (replaces the default set). Signal numbers are the platform's, as in
    /// `signal_hook::consts` or `libc`.
    pub fn shutdown_on(mut self, signals: impl IntoIterator<Item = c_int>) -> Self {
        self.shutdown = signals.into_iter().collect();
        self
    }

    /// The signals that send [`Control::Reload`] to the tree (replaces the default set).
    pub fn reload_on(mut self, signals: impl IntoIterator<Item = c_int>) -> Self {
        self.reload = signals.into_iter().collect();
        self
    }

    /// Signals that are caught and do nothing while this child runs (say, SIGHUP for a tree
    /// that has nothing to reload, so that it does not end the process).
    pub fn ignore(mut self, signals: impl IntoIterator<Item = c_int>) -> Self {
        self.ignore = signals.into_iter().collect();
        self
    }

    /// Each handled signal and its meaning; an error for a signal that cannot be handled or
    /// is given two meanings.
    fn meanings(&self) -> Result<HashMap<c_int, Meaning>, SignalsError> {
        let mut meanings = HashMap::new();
        let sets = [
            (&self.shutdown, Meaning::Shutdown),
            (&self.reload, Meaning::Reload),
            (&self.ignore, Meaning::Ignore),
        ];
        for (set, meaning) in sets {
            for &signal in set {
                if FORBIDDEN.contains(&signal) || signal_name(signal).is_none() {
                    return Err(SignalsError::CannotHandle { signal });
                }
                if meanings
                    .insert(signal, meaning)
                    .is_some_and(|m| m != meaning)
                {
                    return Err(SignalsError::TwoMeanings { signal });
                }
            }
        }
        Ok(meanings)
    }
}

/// Why a [`Signals`] child could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalsError {
    /// The signal cannot be caught (SIGKILL, SIGSTOP), must not be (SIGSEGV, SIGILL, SIGFPE),
    /// or is not known here.
    #[error("signal {signal} cannot be handled")]
    CannotHandle {
        /// The signal's number.
        signal: c_int,
    },
    /// The signal was given two meanings (shutdown, reload, ignore).
    #[error("signal {} was given two meanings", name(*signal))]
    TwoMeanings {
        /// The signal's number.
        signal: c_int,
    },
}

fn name(signal: c_int) -> String {
    signal_name(signal).map_or_else(|| format!("signal {signal}"), str::to_string)
}

#[async_trait::async_trait]
impl Runnable for Signals {
    async fn run(&self, ctx: Context) -> RunResult {
        let meanings = self.meanings()?;
        let numbers: Vec<c_int> = meanings.keys().copied().collect();
        // While this guard lives, these signals do not have their default effect.
        let _handled = Handled::new(&numbers)?;
        let mut signals = signal_hook_tokio::Signals::new(&numbers)?;
        // Ready means the handlers are installed.
        ctx.ready();
        let tree = ctx.handle();
        let mut shutting_down = false;
        loop {
            tokio::select! {
                signal = signals.next() => {
                    let Some(signal) = signal else { return Ok(()) };
                    match meanings.get(&signal).copied() {
                        Some(Meaning::Reload) => {
                            tracing::info!(signal = %name(signal), "reloading the tree");
                            if let Err(e) = tree.broadcast(Control::Reload).await {
                                tracing::warn!(error = %e, "reload not delivered everywhere");
                            }
                        }
                        Some(Meaning::Shutdown) if !shutting_down => {
                            shutting_down = true;
                            tracing::info!(signal = %name(signal), "shutting down gracefully");
                            let _ = tree.shutdown();
                        }
                        Some(Meaning::Shutdown) => {
                            tracing::warn!(signal = %name(signal), "second signal: shutting down now");
                            let failure = Failure {
                                path: ctx.path(),
                                cause: Cause::Interrupted { signal },
                            };
                            let _ = tree.shutdown_interrupted(failure);
                        }
                        Some(Meaning::Ignore) | None => {}
                    }
                }
                () = ctx.shutdown_requested() => return Ok(()),
            }
        }
    }

    fn stops_last(&self) -> bool {
        true
    }

    fn reads_messages(&self) -> bool {
        false
    }
}

/// Per signal: how many [`Signals`] children handle it now, and the flag that, when none
/// does, makes the handler perform the signal's default action.
static HANDLED: Mutex<Option<HashMap<c_int, Handler>>> = Mutex::new(None);

struct Handler {
    /// How many `Signals` children handle the signal now.
    count: usize,
    /// Set when none does: the handler then performs the default action.
    default: Arc<AtomicBool>,
}

/// Holds `signals` away from their default action while a [`Signals`] child runs.
struct Handled(Vec<c_int>);

impl Handled {
    fn new(signals: &[c_int]) -> std::io::Result<Self> {
        let mut handled = lock(&HANDLED);
        let handled = handled.get_or_insert_with(HashMap::new);
        let mut taken = Vec::with_capacity(signals.len());
        for &signal in signals {
            let handler = match handled.get_mut(&signal) {
                Some(handler) => handler,
                None => {
                    let default = Arc::new(AtomicBool::new(false));
                    // Registered once per signal, for the life of the process; checked by
                    // `meanings` not to be a forbidden signal (for which it would panic).
                    if let Err(e) =
                        signal_hook::flag::register_conditional_default(signal, default.clone())
                    {
                        release(handled, &taken);
                        return Err(e);
                    }
                    handled
                        .entry(signal)
                        .or_insert(Handler { count: 0, default })
                }
            };
            handler.count += 1;
            handler.default.store(false, Ordering::SeqCst);
            taken.push(signal);
        }
        Ok(Handled(taken))
    }
}

impl Drop for Handled {
    fn drop(&mut self) {
        if let Some(handled) = lock(&HANDLED).as_mut() {
            release(handled, &self.0);
        }
    }
}

/// One fewer child handles each of `signals`; those that none handles get their default
/// action back.
fn release(handled: &mut HashMap<c_int, Handler>, signals: &[c_int]) {
    for signal in signals {
        if let Some(handler) = handled.get_mut(signal) {
            handler.count = handler.count.saturating_sub(1);
            if handler.count == 0 {
                handler.default.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signal_hook::consts::{SIGKILL, SIGUSR1};

    #[test]
    fn a_signal_that_cannot_be_caught_is_refused_with_its_number() {
        let err = Signals::new().ignore([SIGKILL]).meanings().unwrap_err();
        assert_eq!(err, SignalsError::CannotHandle { signal: SIGKILL });
    }

    #[test]
    fn a_signal_given_two_meanings_is_refused() {
        let err = Signals::new().reload_on([SIGINT]).meanings().unwrap_err();
        assert_eq!(err, SignalsError::TwoMeanings { signal: SIGINT });
        assert_eq!(err.to_string(), "signal SIGINT was given two meanings");
    }

    #[test]
    fn the_sets_replace_the_defaults() {
        let meanings = Signals::new()
            .shutdown_on([SIGTERM])
            .reload_on([SIGUSR1])
            .meanings()
            .unwrap();
        assert_eq!(meanings.len(), 2);
        assert_eq!(meanings[&SIGTERM], Meaning::Shutdown);
        assert_eq!(meanings[&SIGUSR1], Meaning::Reload);
    }
}
