//! Publishing a run's lifecycle events: held while the children a wake-up spawned start.
//!
//! A subscriber woken in the wake-up that spawns a child's task is the second task ready to
//! run, so Tokio wakes another worker for it, and it runs while the child starts; an event
//! published after the spawn can wake it once more (perf counted 2.5 more context switches
//! per restart with a subscriber than without). On
//! the project's 2-core machine this made every restart of a crashing process child about
//! 0.1 ms slower: with a subscriber 1.16–1.25× the gap of a raw restart loop, without one
//! 1.03–1.06×. A raw loop whose own subscriber stays busy for 100 µs per restart slows down as
//! much, while one whose subscriber is woken once per restart does not (BENCHMARKS.md).
//!
//! So the events of a wake-up that spawned a child are held, and published at the end of the
//! next wake-up that spawns none (for a process child, the one that hears it is ready, once
//! its process has been spawned), or once the flush timer is due, whichever comes first: at
//! Tokio's next millisecond tick or the one after, about 2 ms at most on an idle runtime.
//! Order and timestamps are those of the moments the events happened; only their delivery
//! lags. A wake-up that spawns a nested manager publishes what is held before the spawn and
//! right after it, so that the nested manager's own events follow the ones that led to it.

use std::cell::RefCell;
use std::time::Duration;

use super::*;
use crate::deadline;
use crate::event::Event;

/// How long held events may wait for a wake-up that spawns nothing: asked of Tokio's timer,
/// which rounds it up to its next millisecond tick.
const HOLD_AT_MOST: Duration = Duration::from_micros(1);

/// The events of a run not yet published, and its flush timer.
pub(super) struct HeldEvents {
    events: RefCell<Vec<Event>>,
    /// A child's task (not a nested manager's) was spawned in this wake-up.
    spawned: bool,
    /// The flush timer is set.
    armed: bool,
    timer: Pin<Box<Sleep>>,
}

impl HeldEvents {
    pub(super) fn new() -> Self {
        HeldEvents {
            events: RefCell::new(Vec::new()),
            spawned: false,
            armed: false,
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }

    /// Completes when the flush timer fires; never while it is not set.
    pub(super) async fn flush_due(&mut self) {
        if self.armed {
            self.timer.as_mut().await;
        } else {
            std::future::pending::<()>().await;
        }
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

impl Run {
    /// Records an event about `path` for the subscribers of this manager and of every one
    /// above it; builds nothing when nobody listens.
    pub(super) fn emit(&self, path: impl FnOnce() -> ChildPath, kind: impl FnOnce() -> EventKind) {
        if !self.shared.wants_events() {
            return;
        }
        let event = Event {
            path: path(),
            kind: kind(),
            at: Instant::now(),
        };
        self.held.events.borrow_mut().push(event);
    }

    /// Notes that this wake-up spawned a child's task; a nested manager's instead publishes
    /// what is held (see the module docs).
    pub(super) fn spawned_child(&mut self, is_manager: bool) {
        if is_manager {
            self.publish_events();
        } else {
            self.held.spawned = true;
        }
    }

    /// Publishes every held event, in order.
    pub(super) fn publish_events(&self) {
        let events = std::mem::take(&mut *self.held.events.borrow_mut());
        for event in events {
            self.shared.publish(event);
        }
    }

    /// At the end of a wake-up: publishes the held events, or, if it spawned a child, keeps
    /// them and sets the flush timer.
    pub(super) fn end_of_wake_up(&mut self) {
        let spawned = std::mem::take(&mut self.held.spawned);
        if self.held.events.borrow().is_empty() {
            return;
        }
        let overdue = self.held.armed && self.held.timer.deadline() <= Instant::now();
        if !spawned || overdue {
            // Overdue: a run whose every wake-up spawns a child (many children restarting at
            // once) would otherwise hold its events for as long as that lasts, since its
            // loop takes child reports before the flush timer.
            self.publish_events();
            self.held.disarm();
        } else if !self.held.armed {
            let at = Instant::now() + HOLD_AT_MOST;
            self.held.timer.as_mut().reset(at);
            self.held.armed = true;
        }
    }

    /// The flush timer fired.
    pub(super) fn on_flush_due(&mut self) {
        self.held.armed = false;
        self.publish_events();
    }
}
