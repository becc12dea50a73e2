//! What a child's runs share with their manager: the child's record, and the manager's run as
//! its children see it.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::report::ChildMsg;
use super::stop_signal::StopSignal;
use crate::event::{Event, EventBus};
use crate::handle::Handle;
use crate::id::ChildId;
use crate::path::ChildPath;

/// One run of a manager, as its children see it: where they are, where they report, whom
/// their events reach, and the tree they belong to. One per run of a manager, shared by every
/// child's record.
pub(crate) struct ParentRun {
    /// The manager's path.
    pub(crate) path: ChildPath,
    /// Children report exits and readiness here.
    pub(crate) tx: mpsc::UnboundedSender<ChildMsg>,
    /// This manager's event bus followed by every ancestor's.
    pub(crate) buses: Box<[Arc<EventBus>]>,
    /// The root manager's handle.
    pub(crate) tree: Handle,
    /// The span the tree's root runs in (the caller's, often none): the parent of every
    /// child's span, whatever its depth, so that an event inside a nested child shows the
    /// child's path once, not the path of each manager above it as well.
    pub(crate) span: tracing::Span,
}

impl ParentRun {
    pub(crate) fn wants_events(&self) -> bool {
        self.buses.iter().any(|b| b.has_subscribers())
    }

    /// Publishes `event` on the buses that have subscribers (the manager makes and holds the
    /// events of its run, see `manager::events`).
    pub(crate) fn publish(&self, event: Event) {
        for bus in self.buses.iter().filter(|b| b.has_subscribers()) {
            bus.publish(event.clone());
        }
    }
}

/// One child slot's identity, shared with the contexts and tasks of its runs. Lives as long as
/// the slot.
///
/// Kept at 104 bytes (120 with the `Arc`'s counts): what only the manager reads (the spec)
/// lives in the manager's slot, and the rarely used parts of the stop signal (a token, the
/// control inbox) share one box made on first use. Besides the memory, the size matters to how
/// fast a tree starts once an earlier one has stopped: glibc's allocator keeps freed chunks of
/// up to 128 bytes in fast bins and hands them out again as they are, while larger ones merge
/// with their freed neighbours (the children's Tokio tasks) and must be split again
/// (BENCHMARKS.md has the measurement).
pub(crate) struct ChildRecord {
    pub(crate) id: ChildId,
    /// The child's key in its manager's slots.
    pub(crate) key: u32,
    pub(crate) parent: Arc<ParentRun>,
    /// Asks the current run to stop; holds the inbox.
    pub(crate) stop: StopSignal,
}

impl ChildRecord {
    pub(crate) fn path(&self) -> ChildPath {
        self.parent.path.join(&self.id)
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    #[test]
    fn a_childs_record_is_a_fast_bin_allocation() {
        // 104 bytes plus the `Arc`'s two counts: 120, the largest request glibc's allocator
        // keeps in a fast bin (chunks of up to 128 bytes) by default.
        assert!(std::mem::size_of::<super::ChildRecord>() <= 104);
    }
}
