//! State shared between a manager's run and its children's tasks and contexts.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::stop_signal::StopSignal;
use crate::error::BoxError;
use crate::event::{Event, EventBus};
use crate::handle::Handle;
use crate::id::ChildId;
use crate::path::ChildPath;

/// Shared by one run of a manager with its children's contexts.
pub(crate) struct RunShared {
    /// The manager's path.
    pub(crate) path: ChildPath,
    /// Children report exits and readiness here.
    pub(crate) tx: mpsc::UnboundedSender<ChildMsg>,
    /// This manager's event bus followed by every ancestor's.
    pub(crate) buses: Box<[Arc<EventBus>]>,
    /// The root manager's handle.
    pub(crate) tree: Handle,
}

impl RunShared {
    pub(crate) fn wants_events(&self) -> bool {
        self.buses.iter().any(|b| b.has_subscribers())
    }

    /// Publishes `event` on the buses that have subscribers (see `Run::emit`, which makes
    /// and holds the events of a run).
    pub(crate) fn publish(&self, event: Event) {
        for bus in self.buses.iter().filter(|b| b.has_subscribers()) {
            bus.publish(event.clone());
        }
    }
}

/// One child slot's identity, shared with the contexts of its runs. Lives as long as the slot.
///
/// Kept at 104 bytes (120 with the `Arc`'s counts): what only the manager reads (the spec)
/// lives in the slot, and the rarely used parts of the stop signal (a token, the control
/// inbox) share one box made on first use. Besides the memory, the size matters to how fast
/// a tree starts once an earlier one has stopped: glibc's allocator keeps freed chunks of up
/// to 128 bytes in fast bins and hands them out again as they are, while larger ones merge
/// with their freed neighbours (the children's Tokio tasks) and must be split again. Measured
/// at 100 000 trivial children, a start after a stop (BENCHMARKS.md): overseer 152 → 120
/// bytes, 69.6 → 64.4 ms (medians of 6 runs); the raw benchmark with a record of 152 bytes
/// per child added, 66–69 ms, of 120 bytes, 55–57 ms.
pub(crate) struct ChildShared {
    pub(crate) id: ChildId,
    pub(crate) key: u32,
    pub(crate) run: Arc<RunShared>,
    /// Asks the current run to stop.
    pub(crate) stop: StopSignal,
}

impl ChildShared {
    pub(crate) fn path(&self) -> ChildPath {
        self.run.path.join(&self.id)
    }
}

/// Keeps managers waiting for tasks: each holds a token of one manager's
/// [`TaskTracker`](tokio_util::task::TaskTracker), and the `TaskEnv` of that manager's own run
/// (`None` at the root), so a tracker only empties once every task below its manager, at any
/// depth, has been dropped: even when a nested manager is aborted, its parent still waits for
/// the grandchildren the abort left behind.
///
/// A manager's run makes one for all of its children's tasks (each task holds a clone: 8 bytes,
/// where a task tracked on its own would hold a tracker token and its manager's environment)
/// and one per run of a nested manager, its link, which also carries the stop deadline.
pub(crate) struct TaskEnv {
    _parent: Option<Arc<TaskEnv>>,
    _token: TaskTrackerToken,
    /// When a nested manager must be done stopping (set by its parent as it stops it).
    pub(crate) stop_deadline: Mutex<Option<Instant>>,
}

impl TaskEnv {
    pub(crate) fn new(parent: Option<Arc<TaskEnv>>, token: TaskTrackerToken) -> Arc<Self> {
        Arc::new(TaskEnv {
            _parent: parent,
            _token: token,
            stop_deadline: Mutex::new(None),
        })
    }
}

/// How a child's task ended, as its task reports it.
pub(crate) enum RawExit {
    Completed,
    Failed(BoxError),
    Panicked(String),
    Aborted,
}

/// What children tell their manager.
pub(crate) enum ChildMsg {
    Exited {
        key: u32,
        generation: u64,
        exit: RawExit,
        /// The run had been asked to stop when it ended (see [`StopSignal::end_of_run`]): its exit
        /// is the end of a stop, not something that happened to it on its own.
        asked: bool,
    },
    Ready {
        key: u32,
        generation: u64,
    },
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    #[test]
    fn a_childs_shared_record_is_a_fast_bin_allocation() {
        // 104 bytes plus the `Arc`'s two counts: 120, the largest request glibc's allocator
        // keeps in a fast bin (chunks of up to 128 bytes) by default.
        assert!(std::mem::size_of::<super::ChildShared>() <= 104);
    }
}
