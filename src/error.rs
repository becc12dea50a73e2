//! Typed errors: how a child failed, how a tree failed, and why a spec or a command was refused.
//!
//! A child's own error comes back behind a [`TreeError`], a [`Failure`], a [`Cause`] or an
//! [`ExitStatus`]; each has a `downcast_ref::<E>()` that finds it as the user's type `E`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::path::ChildPath;

/// The error type a [`Runnable`](crate::Runnable) returns: any error that is `Send + Sync`.
///
/// `?` converts every `std::error::Error + Send + Sync` (and `anyhow::Error`) into it.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What a [`Runnable`](crate::Runnable) returns from one run.
pub type RunResult = Result<(), BoxError>;

/// A shared, cloneable error as kept in events, snapshots and failures.
pub type SharedError = Arc<dyn StdError + Send + Sync + 'static>;

/// How one run of a child ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ExitStatus {
    /// The run returned `Ok(())`.
    Completed,
    /// The run returned an error.
    Failed(SharedError),
    /// The run panicked; the panic message is kept.
    Panicked(Arc<str>),
    /// The run was aborted by its manager: it did not stop within its shutdown timeout, its
    /// shutdown policy is `Brutal`, or an immediate shutdown was requested.
    Aborted,
}

impl ExitStatus {
    /// Whether the run ended with `Ok(())`.
    pub fn is_success(&self) -> bool {
        matches!(self, ExitStatus::Completed)
    }

    /// The error the run failed with, as an `E`: the error itself if it is an `E`, else the
    /// first `E` in its chain of [`source`](StdError::source)s. `None` for a run that
    /// completed, panicked or was aborted, or whose error holds no `E`.
    ///
    /// ```
    /// use overseer::ExitStatus;
    ///
    /// let status = ExitStatus::Failed(std::sync::Arc::new(std::fmt::Error));
    /// assert!(status.downcast_ref::<std::fmt::Error>().is_some());
    /// assert!(status.downcast_ref::<std::io::Error>().is_none());
    /// assert!(ExitStatus::Completed.downcast_ref::<std::fmt::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            ExitStatus::Failed(e) => find_in_chain(&**e),
            _ => None,
        }
    }
}

/// `error` as an `E`, or the first `E` among its sources.
fn find_in_chain<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Completed => f.write_str("completed"),
            ExitStatus::Failed(e) => write!(f, "failed: {e}"),
            ExitStatus::Panicked(m) => write!(f, "panicked: {m}"),
            ExitStatus::Aborted => f.write_str("aborted"),
        }
    }
}

/// Why a node failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Cause {
    /// The child returned this error.
    Error(SharedError),
    /// The child panicked with this message.
    Panic(Arc<str>),
    /// The child did not stop within its shutdown timeout and was aborted.
    StopTimeout {
        /// The timeout it was given (its own, or what was left of a deadline above it).
        timeout: Duration,
    },
    /// The manager at this path exceeded its restart intensity and gave up.
    GaveUp {
        /// At most this many restarts were allowed ...
        max_restarts: u32,
        /// ... within this sliding period.
        period: Duration,
        /// The child whose exit would have needed one restart too many.
        last_child: ChildPath,
        /// How that child's run ended.
        last_exit: ExitStatus,
    },
    /// The child's task was cancelled from outside its manager (the runtime shutting down).
    Aborted,
    /// The manager was asked to run while it was already running.
    AlreadyRunning,
    /// A second shutdown signal forced the tree to stop at once, aborting what was still
    /// stopping (see `builtin::Signals`, feature `signal`); the path is the signal child's.
    Interrupted {
        /// The signal's number.
        signal: i32,
    },
    /// The child's first run ended with this failure before it had started (see the crate
    /// docs, *Starting*): a child declared with its manager that cannot start fails the
    /// manager's start at once, without the restarts that could not help.
    FailedToStart {
        /// Why its run ended.
        cause: Box<Cause>,
    },
}

impl Cause {
    /// The user's error behind this cause, as an `E`: for [`Cause::Error`], the error itself
    /// if it is an `E`, else the first `E` in its chain of [`source`](StdError::source)s; for
    /// [`Cause::GaveUp`], the same in the error of the last exit, the one that needed a
    /// restart too many. `None` for a panic, a stop timeout or an abort, and when the error
    /// holds no `E`.
    ///
    /// With the `process` feature, an OS process child's failures downcast to
    /// `process::ProcessError`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            Cause::Error(e) => find_in_chain(&**e),
            Cause::GaveUp { last_exit, .. } => last_exit.downcast_ref(),
            Cause::FailedToStart { cause } => cause.downcast_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Error(e) => write!(f, "{e}"),
            Cause::Panic(m) => write!(f, "panicked: {m}"),
            Cause::StopTimeout { timeout } => {
                write!(f, "did not stop within {timeout:?} and was aborted")
            }
            Cause::GaveUp {
                max_restarts,
                period,
                last_child,
                last_exit,
            } => write!(
                f,
                "gave up: one more restart would exceed {max_restarts} within {period:?} \
                 (last: {last_child} {last_exit})"
            ),
            Cause::Aborted => f.write_str("aborted from outside its manager"),
            Cause::AlreadyRunning => f.write_str("the manager is already running"),
            Cause::Interrupted { signal } => write!(
                f,
                "a second {} shut the tree down at once, aborting what was still stopping",
                signal_name(*signal)
            ),
            Cause::FailedToStart { cause } => write!(f, "failed to start: {cause}"),
        }
    }
}

/// `SIGINT` for a known signal, `signal N` otherwise.
fn signal_name(signal: i32) -> String {
    #[cfg(all(feature = "signal", unix))]
    if let Some(name) = signal_hook::low_level::signal_name(signal) {
        return name.to_string();
    }
    format!("signal {signal}")
}

/// One failure in the tree: where, and why.
///
/// Two failures are equal when they name the same node and say the same thing (their causes'
/// messages are equal): errors themselves cannot be compared.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The path of the node that failed (for nested managers, the deepest child that failed).
    pub path: ChildPath,
    /// Why it failed.
    pub cause: Cause,
}

impl Failure {
    /// The user's error behind this failure, as an `E`: see [`Cause::downcast_ref`].
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.cause.downcast_ref()
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.cause.to_string() == other.cause.to_string()
    }
}

impl Eq for Failure {}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.cause)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        cause_source(&self.cause)
    }
}

/// The error behind a cause, if there is one.
fn cause_source(cause: &Cause) -> Option<&(dyn StdError + 'static)> {
    match cause {
        Cause::Error(e) => Some(&**e),
        Cause::GaveUp {
            last_exit: ExitStatus::Failed(e),
            ..
        } => Some(&**e),
        Cause::FailedToStart { cause } => cause_source(cause),
        _ => None,
    }
}

/// The error a manager's run ends with: the first failure that was not absorbed by a restart,
/// and every failure after it, in the order the manager saw them.
///
/// Failures of nested managers are flattened: the first failure of the whole tree keeps the
/// path of the deepest child that caused it.
///
/// Its `Debug` is written for a person, as `fn main() -> Result<(), TreeError>` prints it:
/// the first failure, the chain of errors behind it, then the later failures, one per line
/// (`{:#?}` shows the structure instead):
///
/// ```text
/// root/db: connection refused
///
/// Caused by:
///     0: tls handshake failed
///
/// Later failures (1):
///     root/api: did not stop within 5s and was aborted
/// ```
#[derive(Clone)]
pub struct TreeError {
    failures: Vec<Failure>,
}

impl fmt::Debug for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return f
                .debug_struct("TreeError")
                .field("failures", &self.failures)
                .finish();
        }
        let first = self.first();
        let headline = first.to_string();
        write!(f, "{headline}")?;
        // The errors behind the first failure's cause; one whose text is already said (a
        // cause repeating its source, as many do) is left out.
        let mut said = vec![first.cause.to_string()];
        let mut chain = Vec::new();
        let mut next = StdError::source(first).and_then(StdError::source);
        while let Some(e) = next {
            let text = e.to_string();
            if !said.iter().any(|s| s.contains(&text)) {
                chain.push(text.clone());
            }
            said.push(text);
            next = e.source();
        }
        if !chain.is_empty() {
            f.write_str("\n\nCaused by:")?;
            for (i, text) in chain.iter().enumerate() {
                write!(f, "\n    {i}: {text}")?;
            }
        }
        if !self.later().is_empty() {
            write!(f, "\n\nLater failures ({}):", self.later().len())?;
            for failure in self.later() {
                write!(f, "\n    {failure}")?;
            }
        }
        Ok(())
    }
}

impl TreeError {
    pub(crate) fn new(failures: Vec<Failure>) -> Self {
        debug_assert!(!failures.is_empty());
        TreeError { failures }
    }

    /// The first failure: the one that stopped the tree.
    pub fn first(&self) -> &Failure {
        &self.failures[0]
    }

    /// The path of the first failure.
    pub fn path(&self) -> &ChildPath {
        &self.first().path
    }

    /// The cause of the first failure.
    pub fn cause(&self) -> &Cause {
        &self.first().cause
    }

    /// Every failure after the first, in order.
    pub fn later(&self) -> &[Failure] {
        &self.failures[1..]
    }

    /// All failures, the first one first.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The user's error behind the **first** failure, the one that stopped the tree, as an
    /// `E` (see [`Cause::downcast_ref`]): a child's error comes back through every nested
    /// manager to the caller of the root, and this finds it without matching on the cause.
    /// Later failures are not searched: a failure while stopping is not why the tree stopped.
    /// To look at every failure, `err.failures().iter().find_map(|f| f.downcast_ref::<E>())`.
    ///
    /// ```
    /// use std::fmt;
    /// use overseer::{ChildSpec, ProcessManager, Restart};
    ///
    /// #[derive(Debug)]
    /// struct QuotaExceeded {
    ///     used: u64,
    /// }
    ///
    /// impl fmt::Display for QuotaExceeded {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    ///         write!(f, "quota exceeded: {} bytes used", self.used)
    ///     }
    /// }
    ///
    /// impl std::error::Error for QuotaExceeded {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let upload = ChildSpec::task("upload", |_ctx| async {
    ///     Err(QuotaExceeded { used: 7 }.into())
    /// });
    /// let jobs = ProcessManager::builder("jobs")
    ///     .child(upload.restart(Restart::Temporary))
    ///     .build()
    ///     .unwrap();
    /// let tree = ProcessManager::builder("root")
    ///     .child(ChildSpec::new("jobs", jobs).restart(Restart::Temporary))
    ///     .build()
    ///     .unwrap();
    /// let err = tree.run().await.unwrap_err();
    /// assert_eq!(err.path(), &"root/jobs/upload");
    /// assert_eq!(err.downcast_ref::<QuotaExceeded>().map(|q| q.used), Some(7));
    /// # }
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.first().downcast_ref()
    }

    pub(crate) fn into_failures(self) -> Vec<Failure> {
        self.failures
    }
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first())?;
        match self.failures.len() {
            1 => Ok(()),
            2 => f.write_str(" (and 1 later failure)"),
            n => write!(f, " (and {} later failures)", n - 1),
        }
    }
}

impl StdError for TreeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.first())
    }
}

/// Why a child never started: a sibling it waits for ended for good without meeting the
/// condition (see [`ChildSpec::after`](crate::ChildSpec::after)). The child fails to start
/// with it ([`Cause::FailedToStart`]) instead of waiting forever.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{child} waits for {on} ({condition:?}), which ended for good without it: {ended}")]
pub struct UnmetDependency {
    /// The waiting child's path.
    pub child: String,
    /// The sibling's path.
    pub on: String,
    /// What it waited for.
    pub condition: crate::Condition,
    /// How the sibling ended.
    pub ended: String,
}

/// Why a child spec or a manager configuration was refused. Nothing is changed when one is
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// An id must not be empty.
    #[error("a child id must not be empty")]
    EmptyId,
    /// An id must not contain `/`, which separates path segments.
    #[error("child id {id:?} must not contain '/'")]
    IdContainsSlash {
        /// The offending id.
        id: String,
    },
    /// Two siblings share an id.
    #[error("duplicate child id {id:?} under {parent}")]
    DuplicateId {
        /// The manager's path.
        parent: String,
        /// The duplicated id.
        id: String,
    },
    /// A significant child must be `Transient` or `Temporary` (as in OTP).
    #[error(
        "child {id:?} is significant, so its restart policy must be Transient or Temporary, not Permanent"
    )]
    SignificantPermanent {
        /// The child's id.
        id: String,
    },
    /// Significant children need an auto-shutdown mode other than `Never` (as in OTP).
    #[error(
        "child {id:?} is significant but the manager's auto_shutdown is Never; set AnySignificant or AllSignificant"
    )]
    SignificantWithoutAutoShutdown {
        /// The child's id.
        id: String,
    },
    /// A child waits for a sibling that is not declared before it.
    #[error("child {id:?} waits for {on:?}, which is not a sibling declared before it")]
    UnknownDependency {
        /// The waiting child.
        id: String,
        /// The sibling it names.
        on: String,
    },
    /// The restart-intensity period must be longer than zero.
    #[error("the restart intensity period must be longer than zero")]
    ZeroPeriod,
    /// A backoff parameter is out of range.
    #[error("invalid backoff: {reason}")]
    InvalidBackoff {
        /// What is wrong.
        reason: &'static str,
    },
    /// A nested manager is given an id other than its own name: a node has one name, the
    /// manager's (use [`ProcessManager::into_spec`](crate::ProcessManager::into_spec)).
    #[error(
        "a nested manager is named {name:?} but given the id {id:?}; a node has one name: use the manager's"
    )]
    ManagerNameMismatch {
        /// The id given.
        id: String,
        /// The manager's own name.
        name: String,
    },
    /// A health probe's settings are refused (see [`Probe`](crate::health::Probe)).
    #[error("child {id:?}: invalid {probe} probe: {reason}")]
    InvalidProbe {
        /// The child's id.
        id: String,
        /// Which probe.
        probe: crate::health::ProbeKind,
        /// What is wrong.
        reason: &'static str,
    },
    /// A manager name is empty or contains `/`.
    #[error("manager name {name:?} must be non-empty and must not contain '/'")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// A child's file watch ([`ChildSpec::watch`](crate::ChildSpec::watch)) was refused.
    #[cfg(feature = "watch")]
    #[error("the file watch of child {id:?} is invalid: {error}")]
    Watch {
        /// The child's id.
        id: String,
        /// What is wrong with the watch.
        #[source]
        error: crate::watch::WatchError,
    },
}

fn not_delivered(undelivered: &[ControlError]) -> String {
    match undelivered {
        [] => "the message was not delivered".to_string(),
        [one] => format!("the message was not delivered: {one}"),
        [first, rest @ ..] => format!(
            "the message was not delivered to {} children: {first} (and {} more)",
            rest.len() + 1,
            rest.len()
        ),
    }
}

/// Why a [`Handle`](crate::Handle) command was refused. A refused command changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No node has this path (OTP's `not_found`).
    #[error("no child at path {path:?}")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// A child with this id is already declared and running, waiting to start or waiting to
    /// restart (OTP's `already_started`): added twice.
    #[error("{path} is already started")]
    AlreadyStarted {
        /// The path of the child already there.
        path: String,
    },
    /// A child with this id is already declared, but stopped or ended for good (OTP's
    /// `already_present`): restart it, or remove it before adding another.
    #[error("{path} is already present (stopped); restart it, or remove it first")]
    AlreadyPresent {
        /// The path of the child already there.
        path: String,
    },
    /// The node exists but is not running (stopped, exited, waiting, or between restarts), so
    /// the message could not be delivered.
    #[error("{path} is not running")]
    NotRunning {
        /// The path asked for.
        path: String,
    },
    /// Children can only be added under a manager.
    #[error("{path} is not a manager")]
    NotAManager {
        /// The path asked for.
        path: String,
    },
    /// The manager is shutting down and takes no new work.
    #[error("{path} is shutting down")]
    ShuttingDown {
        /// The manager's path.
        path: String,
    },
    /// The child's control inbox is full: it is not reading its messages.
    #[error("the control inbox of {path} is full ({capacity} messages unread)")]
    InboxFull {
        /// The child's path.
        path: String,
        /// The inbox capacity.
        capacity: usize,
    },
    /// The child does not read control messages (see
    /// [`ChildSpec::reads_messages`](crate::ChildSpec::reads_messages)), so a message to it
    /// would be lost.
    #[error("{path} does not read control messages")]
    NotListening {
        /// The child's path.
        path: String,
    },
    /// A message sent to a subtree did not reach some of its running children (their inboxes
    /// were full); the others got it. Children that were not running, or do not read
    /// messages, are not counted: a message to a subtree is for the children that run and
    /// listen.
    #[error("{}", not_delivered(undelivered))]
    NotDelivered {
        /// Why each child that should have got it did not, in the order the managers found
        /// them.
        undelivered: Vec<ControlError>,
    },
    /// The child was added, but its first run ended with a failure before it had started: it
    /// is removed again, and the manager's children are as they were (see the crate docs,
    /// *Starting*). The failure's path is the child's.
    #[error("{0}")]
    FailedToStart(Failure),
    /// The spec was refused.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The manager stopped before it answered.
    #[error("the manager stopped before answering")]
    ManagerGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error("quota exceeded: {used} bytes")]
    struct Quota {
        used: u64,
    }

    /// A user's wrapper that keeps the error it wraps as its source.
    #[derive(Debug, thiserror::Error)]
    #[error("upload failed")]
    struct Upload(#[source] Quota);

    fn failure(cause: Cause) -> Failure {
        Failure {
            path: ChildPath::root("root").join("upload"),
            cause,
        }
    }

    fn failed(error: impl StdError + Send + Sync + 'static) -> Cause {
        Cause::Error(Arc::new(error))
    }

    #[test]
    fn a_failure_s_cause_downcasts_to_the_user_error_type() {
        let cause = failed(Quota { used: 7 });
        assert_eq!(cause.downcast_ref::<Quota>(), Some(&Quota { used: 7 }));
        assert_eq!(
            failure(cause).downcast_ref::<Quota>().map(|q| q.used),
            Some(7)
        );
    }

    #[test]
    fn a_downcast_finds_the_user_error_among_the_sources_of_a_wrapper() {
        let cause = failed(Upload(Quota { used: 3 }));
        assert!(
            cause.downcast_ref::<Upload>().is_some(),
            "the error itself first"
        );
        assert_eq!(cause.downcast_ref::<Quota>().map(|q| q.used), Some(3));
        assert!(cause.downcast_ref::<std::io::Error>().is_none());
    }

    #[test]
    fn a_manager_that_gave_up_downcasts_to_the_error_of_the_last_exit() {
        let gave_up = |last_exit| Cause::GaveUp {
            max_restarts: 1,
            period: Duration::from_secs(5),
            last_child: ChildPath::root("root").join("upload"),
            last_exit,
        };
        let cause = gave_up(ExitStatus::Failed(Arc::new(Quota { used: 9 })));
        assert_eq!(cause.downcast_ref::<Quota>().map(|q| q.used), Some(9));
        assert!(
            gave_up(ExitStatus::Panicked("boom".into()))
                .downcast_ref::<Quota>()
                .is_none()
        );
    }

    #[test]
    fn panics_timeouts_and_aborts_downcast_to_nothing() {
        for cause in [
            Cause::Panic("boom".into()),
            Cause::StopTimeout {
                timeout: Duration::from_secs(1),
            },
            Cause::Aborted,
            Cause::AlreadyRunning,
        ] {
            assert!(cause.downcast_ref::<Quota>().is_none(), "{cause}");
        }
        for status in [
            ExitStatus::Completed,
            ExitStatus::Panicked("boom".into()),
            ExitStatus::Aborted,
        ] {
            assert!(status.downcast_ref::<Quota>().is_none(), "{status}");
        }
    }

    #[test]
    fn a_tree_error_downcasts_its_first_failure_and_not_the_later_ones() {
        let err = TreeError::new(vec![
            failure(Cause::Panic("boom".into())),
            failure(failed(Quota { used: 1 })),
        ]);
        assert!(
            err.downcast_ref::<Quota>().is_none(),
            "the first failure is a panic"
        );
        let later = err
            .failures()
            .iter()
            .find_map(|f| f.downcast_ref::<Quota>());
        assert_eq!(later.map(|q| q.used), Some(1));
        let err = TreeError::new(vec![failure(failed(Quota { used: 2 }))]);
        assert_eq!(err.downcast_ref::<Quota>().map(|q| q.used), Some(2));
    }

    #[test]
    fn a_nested_tree_error_kept_as_an_exit_downcasts_through_its_first_failure() {
        let nested = TreeError::new(vec![failure(failed(Quota { used: 5 }))]);
        let status = ExitStatus::Failed(Arc::new(nested));
        assert!(status.downcast_ref::<TreeError>().is_some());
        assert_eq!(status.downcast_ref::<Quota>().map(|q| q.used), Some(5));
    }

    #[test]
    fn a_tree_errors_debug_reads_as_the_failure_its_causes_and_the_later_failures() {
        let err = TreeError::new(vec![
            failure(failed(Upload(Quota { used: 7 }))),
            Failure {
                path: ChildPath::root("root").join("api"),
                cause: Cause::StopTimeout {
                    timeout: std::time::Duration::from_secs(5),
                },
            },
        ]);
        assert_eq!(
            format!("{err:?}"),
            "root/upload: upload failed\n\nCaused by:\n    0: quota exceeded: 7 bytes\n\n\
             Later failures (1):\n    root/api: did not stop within 5s and was aborted"
        );
        assert!(format!("{err:#?}").starts_with("TreeError {"));
    }

    #[test]
    fn a_cause_that_repeats_its_source_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("upload failed: {0}")]
        struct Repeating(#[source] Quota);
        let err = TreeError::new(vec![failure(failed(Repeating(Quota { used: 1 })))]);
        assert_eq!(
            format!("{err:?}"),
            "root/upload: upload failed: quota exceeded: 1 bytes"
        );
    }
}
