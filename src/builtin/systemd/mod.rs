//! A child that tells systemd how the tree is doing (`sd_notify`).

mod status;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::MissedTickBehavior;

use crate::child::Context;
use crate::error::RunResult;
use crate::event::{Event, EventKind, Events};
use crate::handle::Handle;
use crate::path::ChildPath;
use crate::runnable::Runnable;
use crate::snapshot::ChildState;
use status::Tally;

/// Tells systemd what the tree does, through the `sd_notify` protocol (the `sd-notify`
/// crate): for a service with `Type=notify` (or `notify-reload`) that embeds a tree, or the
/// `overseer` daemon. It reports the whole tree wherever it is ([`Context::handle`] is the
/// root's); put it in the root manager, so that it stops after every other child.
///
/// | When | It sends |
/// |---|---|
/// | the root is ready: every child ready, as dependents see it ([`EventKind::Ready`] at the root) | `READY=1` |
/// | a node's stage changes (coalesced: one line per burst of events) | `STATUS=3/4 ready, 1 restarting` |
/// | a reload of the whole tree begins ([`EventKind::Reloading`]) | `RELOADING=1` with `MONOTONIC_USEC=` |
/// | …and has been handed to every child ([`EventKind::Reloaded`]) | `READY=1` |
/// | the root's shutdown begins ([`EventKind::ShuttingDown`]) | `STOPPING=1` |
/// | every half of `WATCHDOG_USEC`, if every manager's loop answers a [`Handle::ping`] within that half | `WATCHDOG=1` |
///
/// **Outside systemd** (no `NOTIFY_SOCKET` in the environment) it does nothing: it reports
/// ready and waits for the shutdown. The watchdog is on only when systemd set
/// `WATCHDOG_USEC` (`WatchdogSec=` in the unit) for this process (`WATCHDOG_PID`, if set,
/// is ours).
///
/// **The watchdog** proves more than that the process is scheduled: before each `WATCHDOG=1`
/// it pings the loop of every manager of the tree, and it withholds the ping (logging a
/// warning and saying so in `STATUS=`) when one of them does not answer within half of the
/// watchdog interval, so that systemd restarts a service whose supervision is wedged. It does
/// not check the children: their own probes and restarts do.
///
/// **Cost.** It reacts to the tree's events; while nothing changes it sends nothing and asks
/// nothing of the managers, except the watchdog's ping, one message round trip per manager
/// every half interval. A message is one datagram on a new socket (a few microseconds).
///
/// **Readiness and restarts.** It reports ready at once (the tree's readiness waits for
/// nothing of it). It [stops last](Runnable::stops_last), so status lines and watchdog pings
/// go on while the other children stop. If it is restarted it sends `READY=1` again at once
/// when the tree is ready then.
///
/// Process children inherit `NOTIFY_SOCKET`; with systemd's default `NotifyAccess=main`
/// their own notifications are ignored. See `examples/deploy/` for a unit file.
///
/// ```no_run
/// use overseer::{builtin::{Signals, Systemd}, ChildSpec, ProcessManager};
///
/// # async fn f() {
/// let tree = ProcessManager::builder("root")
///     .child(ChildSpec::new("systemd", Systemd::new()))
///     .child(ChildSpec::new("signals", Signals::new()))
///     .task("app", |ctx| async move {
///         ctx.ready();
///         ctx.shutdown_requested().await;
///         Ok(())
///     })
///     .build()
///     .unwrap();
/// tree.run().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Systemd {
    _private: (),
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` when it starts.
    pub fn new() -> Self {
        Systemd::default()
    }
}

/// Sends `states` as one notification; a failure is logged, not fatal: the tree does not
/// stop because systemd is not listening.
fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "sd_notify failed");
    }
}

impl Systemd {
    /// Reports the tree of `tree` (a handle to its root manager) to systemd from outside
    /// it, as the child does from inside, until the tree's run ends: for a program that
    /// runs a tree it does not build itself (the `overseer` command runs it beside the tree
    /// of its config). Does nothing outside systemd. Start it before or as the tree starts:
    /// it waits for the run to begin.
    ///
    /// # Errors
    /// [`ControlError`](crate::ControlError) when the tree's run has already ended.
    pub async fn report(&self, tree: Handle) -> Result<(), crate::ControlError> {
        if !under_systemd() {
            return Ok(());
        }
        let mut notifier = Notifier::begin(tree).await?;
        notifier.serve(std::future::pending()).await;
        Ok(())
    }
}

fn under_systemd() -> bool {
    let here = std::env::var_os("NOTIFY_SOCKET").is_some();
    if !here {
        tracing::debug!("not run by systemd (no NOTIFY_SOCKET): nothing to notify");
    }
    here
}

#[async_trait::async_trait]
impl Runnable for Systemd {
    async fn run(&self, ctx: Context) -> RunResult {
        if !under_systemd() {
            ctx.ready();
            ctx.shutdown_requested().await;
            return Ok(());
        }
        // Subscribed before this child reports ready, so the root's readiness (which waits
        // for it) cannot be missed.
        let mut notifier = Notifier::begin(ctx.handle()).await?;
        ctx.ready();
        if notifier.serve(ctx.shutdown_requested()).await {
            notifier.final_status(&ctx.path()).await;
        }
        Ok(())
    }

    fn stops_last(&self) -> bool {
        true
    }

    fn reads_messages(&self) -> bool {
        false
    }
}

/// The watchdog's pending ping of the tree: `true` once every manager answered in time.
type Ping = Pin<Box<dyn Future<Output = bool> + Send>>;

/// What the notifications are made from: the tree's events, its tally, the watchdog.
struct Notifier {
    tree: Handle,
    root: ChildPath,
    events: Events,
    tally: Tally,
    /// The last status line sent.
    sent: String,
    /// Half the watchdog interval, when systemd asked for pings.
    half: Option<Duration>,
}

impl Notifier {
    /// Subscribes to the tree's events, then takes one snapshot for the nodes whose events
    /// came before (they start beside a child that reports): from then on, the events alone.
    async fn begin(tree: Handle) -> Result<Notifier, crate::ControlError> {
        let events = tree.events();
        let asked = tokio::time::Instant::now();
        let snapshot = tree.snapshot().await?;
        let tally = Tally::from_snapshot(&snapshot, asked);
        match snapshot.state {
            // Ready before this began (a restarted child, a late report).
            ChildState::Ready => notify(&[NotifyState::Ready]),
            ChildState::Stopping => notify(&[NotifyState::Stopping]),
            _ => {}
        }
        Ok(Notifier {
            root: tree.path(),
            tree,
            events,
            tally,
            sent: String::new(),
            half: sd_notify::watchdog_enabled().map(|usec| usec / 2),
        })
    }

    /// Notifies until the tree's run ends (`false`) or `stop` completes (`true`).
    async fn serve(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(self.half.unwrap_or(Duration::MAX / 4));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pending: Option<Ping> = None;
        loop {
            tokio::select! {
                biased;
                event = self.events.recv() => {
                    let Some(event) = event else { return false };
                    self.on_event(&event);
                    self.on_burst();
                }
                _ = tick.tick(), if self.half.is_some() && pending.is_none() => {
                    let (tree, within) = (self.tree.clone(), self.half.unwrap_or_default());
                    pending = Some(Box::pin(async move {
                        matches!(tokio::time::timeout(within, tree.ping()).await, Ok(Ok(())))
                    }));
                }
                answered = async {
                    match pending.as_mut() {
                        Some(ping) => ping.await,
                        None => std::future::pending().await,
                    }
                }, if pending.is_some() => {
                    pending = None;
                    self.on_ping(answered);
                }
                () = &mut stop => return true,
            }
        }
    }

    fn on_ping(&mut self, answered: bool) {
        if answered {
            notify(&[NotifyState::Watchdog]);
        } else {
            tracing::warn!(tree = %self.root, "a manager does not answer: watchdog ping withheld");
            let line = format!("watchdog: a manager does not answer; {}", self.tally.line());
            notify(&[NotifyState::Status(&line)]);
            self.sent = line;
        }
    }

    /// Takes in the events already delivered (the rest of a burst, so that it makes one
    /// status line), then sends the status line if it changed.
    fn on_burst(&mut self) {
        while let Some(Some(event)) = futures_util::FutureExt::now_or_never(self.events.recv()) {
            self.on_event(&event);
        }
        let line = self.tally.line();
        if line != self.sent {
            notify(&[NotifyState::Status(&line)]);
            self.sent = line;
        }
    }

    /// The child `me` was asked to stop, which happens once every other child has ended:
    /// waits (a little) for the events of those ends (the last sibling passes the stop on as
    /// it ends, before its manager has published its end), so that the last status line
    /// says so.
    async fn final_status(&mut self, me: &ChildPath) {
        self.on_burst();
        let _ = tokio::time::timeout(FINAL_STATUS_WAIT, async {
            while !self.tally.all_ended_but(me) {
                let Some(event) = self.events.recv().await else {
                    break;
                };
                self.on_event(&event);
                self.on_burst();
            }
        })
        .await;
    }

    fn on_event(&mut self, event: &Event) {
        if self.tally.record(event) && event.path == self.root {
            announce(&event.kind);
        }
    }
}

/// How long a stopped child waits for the events of its siblings' ends, for the last status
/// line.
const FINAL_STATUS_WAIT: Duration = Duration::from_millis(100);

/// Sends at once what an event of the root calls for, each in a datagram of its own: systemd
/// reads only one of `READY=1` and `RELOADING=1` in one.
fn announce(kind: &EventKind) {
    match kind {
        EventKind::Ready | EventKind::Reloaded => notify(&[NotifyState::Ready]),
        EventKind::Reloading => match NotifyState::monotonic_usec_now() {
            // `Type=notify-reload` wants the moment the reload began with it.
            Ok(now) => notify(&[NotifyState::Reloading, now]),
            Err(error) => {
                tracing::warn!(%error, "no monotonic clock for MONOTONIC_USEC");
                notify(&[NotifyState::Reloading]);
            }
        },
        EventKind::ShuttingDown => notify(&[NotifyState::Stopping]),
        _ => {}
    }
}
