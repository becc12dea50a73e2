//! What keeps a manager waiting for the tasks below it.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;

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
