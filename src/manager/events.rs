//! Publishing a run's lifecycle events: held while the children a wake-up spawned start.
//!
//! A subscriber woken in the wake-up that spawns a child's task is the second task ready to
//! run, so Tokio wakes another worker for it, and it runs while the child starts; an event
//! published after the spawn can wake it once more. On a machine with few cores this makes
//! each restart of a crashing process child measurably slower with a subscriber than without
//! (BENCHMARKS.md has the figures and the raw loops that show the cause).
//!
//! So the events of a wake-up that spawned a child are held, and published at the end of the
//! next wake-up that spawns none (for a process child, the one that hears it is ready, once
//! its process has been spawned), or once the flush timer is due, whichever comes first: at
//! Tokio's next millisecond tick or the one after, about 2 ms at most on an idle runtime.
//! Order and timestamps are those of the moments the events happened; only their delivery
//! lags. A wake-up that spawns a nested manager publishes what is held before the spawn and
//! right after it, so that the nested manager's own events follow the ones that led to it.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::child::record::ParentRun;
use crate::deadline;
use crate::event::{Event, EventKind};
use crate::path::ChildPath;

/// How long held events may wait for a wake-up that spawns nothing: asked of Tokio's timer,
/// which rounds it up to its next millisecond tick.
const HOLD_AT_MOST: Duration = Duration::from_micros(1);

/// A run's events on their way to the subscribers of its manager and every one above it.
pub(crate) struct Publisher {
    run: Arc<ParentRun>,
    /// Made but not yet published.
    held: RefCell<Vec<Event>>,
    /// A child's task (not a nested manager's) was spawned in this wake-up.
    spawned: bool,
    /// The flush timer is set.
    armed: bool,
    timer: Pin<Box<Sleep>>,
}

impl Publisher {
    pub(crate) fn new(run: Arc<ParentRun>) -> Self {
        Publisher {
            run,
            held: RefCell::new(Vec::new()),
            spawned: false,
            armed: false,
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }

    /// Records an event about `path`; builds nothing when nobody listens.
    pub(crate) fn emit(&self, path: impl FnOnce() -> ChildPath, kind: impl FnOnce() -> EventKind) {
        if !self.run.wants_events() {
            return;
        }
        let event = Event {
            path: path(),
            kind: kind(),
            at: Instant::now(),
        };
        self.held.borrow_mut().push(event);
    }

    /// Notes that this wake-up spawned a child's task; a nested manager's instead publishes
    /// what is held (see the module docs).
    pub(crate) fn spawned_child(&mut self, is_manager: bool) {
        if is_manager {
            self.publish();
        } else {
            self.spawned = true;
        }
    }

    /// Publishes every held event, in order.
    pub(crate) fn publish(&self) {
        let events = std::mem::take(&mut *self.held.borrow_mut());
        for event in events {
            self.run.publish(event);
        }
    }

    /// At the end of a wake-up: publishes the held events, or, if it spawned a child, keeps
    /// them and sets the flush timer.
    pub(crate) fn end_of_wake_up(&mut self) {
        let spawned = std::mem::take(&mut self.spawned);
        if self.held.borrow().is_empty() {
            return;
        }
        let overdue = self.armed && self.timer.deadline() <= Instant::now();
        if !spawned || overdue {
            // Overdue: a run whose every wake-up spawns a child (many children restarting at
            // once) would otherwise hold its events for as long as that lasts, since its
            // loop takes child reports before the flush timer.
            self.publish();
            self.disarm();
        } else if !self.armed {
            let at = Instant::now() + HOLD_AT_MOST;
            self.timer.as_mut().reset(at);
            self.armed = true;
        }
    }

    /// Completes when the flush timer fires; never while it is not set. Cancel safe.
    pub(crate) async fn flush_due(&mut self) {
        if self.armed {
            self.timer.as_mut().await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    /// The flush timer fired.
    pub(crate) fn on_flush_due(&mut self) {
        self.armed = false;
        self.publish();
    }

    fn disarm(&mut self) {
        if self.armed {
            self.armed = false;
            // Moved out of the way, so that it does not wake the run for nothing.
            self.timer
                .as_mut()
                .reset(deadline::from_now_or_far(Duration::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;

    use super::*;
    use crate::event::EventBus;
    use crate::handle::{Front, Handle};
    use crate::mailbox::Mailbox;

    /// A publisher for a run at `root`, and its bus (the caller subscribes, or not).
    fn publisher() -> (Publisher, Arc<EventBus>) {
        let bus = EventBus::new(16);
        let front = Arc::new(Front {
            mailbox: Arc::new(Mailbox::new()),
            bus: bus.clone(),
            path: Mutex::new(ChildPath::root("root")),
        });
        let (tx, _rx) = mpsc::unbounded_channel();
        let run = Arc::new(ParentRun {
            path: ChildPath::root("root"),
            tx,
            buses: Box::new([bus.clone()]),
            tree: Handle::new(front),
            span: tracing::Span::none(),
        });
        (Publisher::new(run), bus)
    }

    /// The next event, if one is there now.
    fn now(events: &mut crate::event::Events) -> Option<Event> {
        use futures_util::FutureExt;
        events.recv().now_or_never().flatten()
    }

    fn emit(p: &Publisher) {
        p.emit(|| ChildPath::root("root"), || EventKind::Running);
    }

    #[tokio::test(start_paused = true)]
    async fn the_events_of_a_wake_up_that_spawned_a_child_wait_for_one_that_spawns_none() {
        let (mut p, bus) = publisher();
        let mut events = bus.subscribe();
        emit(&p);
        p.spawned_child(false);
        p.end_of_wake_up();
        assert!(now(&mut events).is_none(), "held");
        emit(&p);
        p.end_of_wake_up();
        assert!(now(&mut events).is_some());
        assert!(now(&mut events).is_some(), "both, in order");
    }

    #[tokio::test(start_paused = true)]
    async fn held_events_go_out_when_the_flush_timer_fires() {
        let (mut p, bus) = publisher();
        let mut events = bus.subscribe();
        emit(&p);
        p.spawned_child(false);
        p.end_of_wake_up();
        p.flush_due().await;
        p.on_flush_due();
        assert!(now(&mut events).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn spawning_a_nested_manager_publishes_what_was_held_at_once() {
        let (mut p, bus) = publisher();
        let mut events = bus.subscribe();
        emit(&p);
        p.spawned_child(true);
        assert!(now(&mut events).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn with_nobody_listening_no_event_is_made() {
        let (p, _bus) = publisher();
        p.emit(|| panic!("no path is built"), || panic!("no kind is built"));
        assert!(p.held.borrow().is_empty());
    }
}
