//! Lifecycle events: a stream of what happens to every node of a tree.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::{ExitStatus, Failure};
use crate::path::ChildPath;

/// One thing that happened to one node.
#[derive(Clone, Debug)]
pub struct Event {
    /// The node it happened to.
    pub path: ChildPath,
    /// What happened.
    pub kind: EventKind,
    /// When (Tokio's clock, so paused-time tests see virtual time).
    pub at: Instant,
}

/// What happened.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// The child is about to start (it may still wait for siblings it depends on).
    Starting,
    /// The child's run has been started.
    Running,
    /// The child reported readiness. For the root manager (which has no parent to tell):
    /// every child of the tree is ready, once per run, as a nested manager is ready for its
    /// parent.
    Ready,
    /// The child's run ended.
    Exited {
        /// How it ended.
        status: ExitStatus,
    },
    /// The child will be started again after `delay`.
    Restarting {
        /// The backoff delay before the restart.
        delay: Duration,
        /// How many times this child has been restarted, this one included.
        restarts: u32,
    },
    /// The manager at this path exceeded its restart intensity and gives up.
    GaveUp {
        /// The failure it gives up on.
        failure: Failure,
    },
    /// The child is stopped for good (a requested stop, a final exit, or the end of its
    /// manager) and will not run again unless restarted by a command.
    Stopped,
    /// The child was removed from its manager ([`Handle::remove`](crate::Handle::remove), a
    /// [reconfiguration](crate::Handle::reconfigure) that no longer declares it, a
    /// [`Temporary`](crate::Restart::Temporary) child's end): it is no longer in snapshots.
    /// Follows its `Stopped`.
    Removed,
    /// The manager at this path begins its shutdown (asked for, or because a failure ends
    /// it): from now on it asks its children to stop, in its stop order, and starts nothing.
    /// For a readiness endpoint that must stop routing before the children stop, or
    /// systemd's `STOPPING=1`.
    ShuttingDown,
    /// A reload of this manager's whole subtree begins: [`Control::Reload`] sent to the
    /// manager itself ([`Handle::broadcast`], the SIGHUP of a `Signals` child), or a
    /// [reconfiguration](crate::Handle::reconfigure) of it. [`Reloaded`](Self::Reloaded)
    /// follows. For systemd's `RELOADING=1`.
    ///
    /// [`Control::Reload`]: crate::Control::Reload
    /// [`Handle::broadcast`]: crate::Handle::broadcast
    Reloading,
    /// The reload that [`Reloading`](Self::Reloading) announced has been carried out as far
    /// as the manager sees it: every running child that reads messages has been handed the
    /// reload (what it does with it is its own: a process child signals or restarts its
    /// process), or the reconfiguration's changes are under way. Follows its `Reloading`
    /// even when the reload reached nobody.
    Reloaded,
    /// A probe of the child passed its success threshold (see [`crate::health`]).
    Healthy {
        /// Which probe.
        probe: crate::health::ProbeKind,
    },
    /// A probe of the child failed its failure threshold (see [`crate::health`]).
    Unhealthy {
        /// Which probe.
        probe: crate::health::ProbeKind,
        /// Its last error.
        error: std::sync::Arc<str>,
    },
}

/// One event channel per manager; events bubble up to every ancestor's channel.
///
/// The channel (its ring of `capacity` slots, about 100 bytes each) is made by the first
/// subscription: a manager nobody subscribes to costs no buffer. Events published before it
/// exists have no receiver and would be dropped by the channel anyway.
pub(crate) struct EventBus {
    /// `None` marks the end of a run of the manager that owns the bus.
    tx: OnceLock<broadcast::Sender<Option<Event>>>,
    capacity: usize,
    subscribers: AtomicUsize,
    /// Where the owning manager is: [`NOT_STARTED`], [`RUNNING`] or [`ENDED`].
    stage: AtomicU8,
}

/// No run has begun yet: a subscription waits for the first one.
const NOT_STARTED: u8 = 0;
/// A run is under way.
const RUNNING: u8 = 1;
/// The last run has ended: a subscription taken now ends at once.
const ENDED: u8 = 2;

impl EventBus {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(EventBus {
            tx: OnceLock::new(),
            capacity: capacity.max(1),
            subscribers: AtomicUsize::new(0),
            stage: AtomicU8::new(NOT_STARTED),
        })
    }

    /// A run of the owning manager begins.
    pub(crate) fn run_started(&self) {
        self.stage.store(RUNNING, Ordering::SeqCst);
    }

    pub(crate) fn has_subscribers(&self) -> bool {
        self.subscribers.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn publish(&self, event: Event) {
        if let Some(tx) = self.tx.get() {
            let _ = tx.send(Some(event));
        }
    }

    /// Ends every current subscription: the owning manager's run is over. Subscriptions taken
    /// from now on (until another run begins) end at once.
    pub(crate) fn end_of_run(&self) {
        // Before the send: a subscription made after the send sees the stage.
        self.stage.store(ENDED, Ordering::SeqCst);
        if let Some(tx) = self.tx.get() {
            let _ = tx.send(None);
        }
    }

    pub(crate) fn subscribe(self: &Arc<Self>) -> Events {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        let tx = self.tx.get_or_init(|| broadcast::channel(self.capacity).0);
        let rx = tx.subscribe();
        // After `subscribe`: a run that ended before it is seen here, one that ends after it
        // sends this receiver its end.
        let ended = self.stage.load(Ordering::SeqCst) == ENDED;
        Events {
            rx: BroadcastStream::new(rx),
            bus: self.clone(),
            missed: 0,
            ended,
        }
    }
}

/// A subscription to a tree's lifecycle events: a [`Stream`] of [`Event`]s, also readable with
/// [`recv`](Events::recv).
///
/// Events are buffered per subscriber up to the manager's event capacity; a subscriber that
/// falls further behind skips the oldest events and [`missed`](Events::missed) counts them.
/// Events are only built while at least one subscription exists.
///
/// Events arrive in the order they happened, each with the moment it happened
/// ([`Event::at`]), but not always at once: the events of a manager's wake-up that started a
/// child are held until a later wake-up of that manager starts none (for an OS process, the
/// one that hears it has been spawned) or until Tokio's timer next ticks, about 2 ms at most
/// on an idle runtime. A subscriber woken while the child starts would run beside it on
/// another core and slow the start down (measured on the restarts of a crashing process
/// child: see `docs/benchmark-log.md`). Time what happened by the events' `at`, not by when
/// they arrive.
pub struct Events {
    rx: BroadcastStream<Option<Event>>,
    bus: Arc<EventBus>,
    missed: u64,
    ended: bool,
}

impl Events {
    /// The next event; `None` once the run of the manager this subscription was taken from
    /// has ended (after its last child stopped), and from then on. A subscription taken
    /// before the manager runs waits for its run; one taken after its run has ended (and
    /// before another begins, for a nested manager that its parent restarts) ends at once.
    ///
    /// # Cancel safety
    /// Cancel safe: an event is taken from the subscription only when `recv` returns it, so a
    /// future dropped before it completes (a `select!` branch that lost) loses nothing, and
    /// the next call returns the event this one would have returned. Reading the subscription
    /// as a [`Stream`] is the same.
    pub async fn recv(&mut self) -> Option<Event> {
        futures_util::StreamExt::next(self).await
    }

    /// How many events this subscriber skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Event>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.rx).poll_next(cx) {
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => self.missed += n,
                Poll::Ready(Some(Ok(Some(ev)))) => return Poll::Ready(Some(ev)),
                Poll::Ready(Some(Ok(None))) | Poll::Ready(None) => self.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.bus.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("missed", &self.missed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            path: ChildPath::root("root"),
            kind: EventKind::Stopped,
            at: Instant::now(),
        }
    }

    #[test]
    fn a_bus_makes_its_channel_only_for_its_first_subscriber() {
        let bus = EventBus::new(1024);
        bus.publish(event());
        bus.end_of_run();
        assert!(bus.tx.get().is_none(), "no subscriber, no buffer");
        bus.run_started();
        let mut events = bus.subscribe();
        assert!(bus.tx.get().is_some());
        bus.publish(event());
        bus.end_of_run();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let first = events
                .recv()
                .await
                .expect("the event published after subscribing");
            assert!(matches!(first.kind, EventKind::Stopped), "{first:?}");
            assert!(
                events.recv().await.is_none(),
                "the end of the run ends the stream"
            );
        });
    }

    #[test]
    fn a_subscription_waits_for_the_first_run_but_not_after_the_last() {
        let bus = EventBus::new(4);
        let before = bus.subscribe();
        assert!(!before.ended, "taken before any run: it waits for the run");
        bus.run_started();
        bus.end_of_run();
        let after = bus.subscribe();
        assert!(after.ended, "taken after the run: nothing more will come");
        bus.run_started();
        assert!(
            !bus.subscribe().ended,
            "a new run (a restarted nested manager)"
        );
    }
}
