//! A run's failures: the first one that no restart absorbed, and every later one.

use crate::error::{Cause, ExitStatus, Failure, TreeError};
use crate::path::ChildPath;
use crate::policy::Intensity;

/// What a manager's run will return: `Ok` while empty, otherwise a [`TreeError`] with these
/// failures in the order they were recorded. A nested manager's failures are flattened into
/// its parent's, so the first failure keeps the path of the deepest child that failed.
#[derive(Default)]
pub(crate) struct Failures(Vec<Failure>);

impl Failures {
    /// The failures `status` (the exit of the child at `path`) stands for: none for a success
    /// or an abort asked for, a nested manager's own failures for a nested manager.
    pub(crate) fn exit(&mut self, path: &ChildPath, status: &ExitStatus) {
        let cause = match status {
            ExitStatus::Completed => return,
            ExitStatus::Failed(e) => {
                if let Some(tree) = e.downcast_ref::<TreeError>() {
                    self.0.extend(tree.clone().into_failures());
                    return;
                }
                Cause::Error(e.clone())
            }
            ExitStatus::Panicked(m) => Cause::Panic(m.clone()),
            ExitStatus::Aborted => Cause::Aborted,
        };
        self.push(path.clone(), cause);
    }

    /// The manager at `manager` gives up: one more restart, for `last_child`'s exit `status`,
    /// would exceed `intensity`. A nested manager's own failures (when `last_child` is one)
    /// happened first: they lead. Returns the give-up failure, for the event.
    pub(crate) fn give_up(
        &mut self,
        manager: &ChildPath,
        intensity: &Intensity,
        last_child: ChildPath,
        status: &ExitStatus,
    ) -> Failure {
        if let ExitStatus::Failed(e) = status
            && let Some(nested) = e.downcast_ref::<TreeError>()
        {
            self.0.extend(nested.clone().into_failures());
        }
        let failure = Failure {
            path: manager.clone(),
            cause: Cause::GaveUp {
                max_restarts: intensity.max_restarts,
                period: intensity.period,
                last_child,
                last_exit: status.clone(),
            },
        };
        self.0.push(failure.clone());
        failure
    }

    pub(crate) fn push(&mut self, path: ChildPath, cause: Cause) {
        self.0.push(Failure { path, cause });
    }

    pub(crate) fn record(&mut self, failure: Failure) {
        self.0.push(failure);
    }

    pub(crate) fn extend(&mut self, failures: impl IntoIterator<Item = Failure>) {
        self.0.extend(failures);
    }

    /// The run's result, emptying the list.
    pub(crate) fn take_result(&mut self) -> Result<(), TreeError> {
        let failures = std::mem::take(&mut self.0);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(TreeError::new(failures))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn path(p: &str) -> ChildPath {
        ChildPath::root(p)
    }

    fn nested_error() -> ExitStatus {
        let tree = TreeError::new(vec![Failure {
            path: path("root/sub/deep"),
            cause: Cause::Panic(Arc::from("boom")),
        }]);
        ExitStatus::Failed(Arc::new(tree))
    }

    #[test]
    fn a_success_adds_nothing_and_a_nested_managers_failures_keep_their_deep_paths() {
        let mut f = Failures::default();
        f.exit(&path("root/a"), &ExitStatus::Completed);
        assert!(f.take_result().is_ok());
        f.exit(&path("root/sub"), &nested_error());
        f.exit(&path("root/b"), &ExitStatus::Aborted);
        let err = f.take_result().unwrap_err();
        assert_eq!(err.path(), "root/sub/deep");
        assert_eq!(err.later()[0].path, "root/b");
        assert!(matches!(err.later()[0].cause, Cause::Aborted));
    }

    #[test]
    fn giving_up_on_a_nested_manager_puts_its_own_failures_first() {
        let mut f = Failures::default();
        let intensity = Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        };
        let failure = f.give_up(&path("root"), &intensity, path("root/sub"), &nested_error());
        assert!(matches!(
            failure.cause,
            Cause::GaveUp {
                max_restarts: 1,
                ..
            }
        ));
        let err = f.take_result().unwrap_err();
        assert_eq!(err.path(), "root/sub/deep");
        assert_eq!(err.later()[0].path, "root");
    }
}
