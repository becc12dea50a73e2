//! What a child's runs tell their manager.

use crate::error::BoxError;

/// How a child's task ended, as its task reports it.
pub(crate) enum RawExit {
    Completed,
    Failed(BoxError),
    Panicked(String),
    Aborted,
}

/// What children tell their manager, through its run's channel.
pub(crate) enum ChildMsg {
    Exited {
        key: u32,
        generation: u64,
        exit: RawExit,
        /// The run had been asked to stop when it ended (see
        /// [`StopSignal::end_of_run`](super::stop_signal::StopSignal::end_of_run)): its exit
        /// is the end of a stop, not something that happened to it on its own.
        asked: bool,
        /// The run had started, as far as its task can tell (see
        /// [`StartWatch`](super::task::StartWatch)); a runnable that reports its start itself
        /// says so with [`ChildMsg::Started`] or `Ready` instead.
        started: bool,
    },
    /// The run has started: from now on a failure is a crash, not a failed start
    /// ([`Context::started`](crate::Context::started), or the first `Pending` of a run whose
    /// manager waits for its start).
    Started {
        key: u32,
        generation: u64,
    },
    Ready {
        key: u32,
        generation: u64,
    },
    /// The run asks to be stopped for good (a nested manager whose own handle asked it to
    /// shut down): as `Handle::stop`, with nobody waiting for the answer.
    StopForGood {
        key: u32,
        generation: u64,
    },
}
