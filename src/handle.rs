//! [`Handle`]: commands to a running tree, by path.

use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, join_all};
use tokio::sync::oneshot;

use crate::control::Control;
use crate::error::{ControlError, Failure};
use crate::event::{EventBus, Events};
use crate::lock::lock;
use crate::mailbox::{Command, LevelSnapshot, Mailbox, SendReply};
use crate::path::ChildPath;
use crate::reconfigured::Reconfigured;
use crate::runnable::ChildKind;
use crate::snapshot::Snapshot;
use crate::spec::ChildSpec;

/// Sends commands to a manager and the tree below it, subscribes to its events, and takes
/// snapshots. Cheap to clone; obtained from [`ProcessManager::handle`](crate::ProcessManager::handle) or
/// [`Context::handle`](crate::Context::handle).
///
/// Paths are full paths from the root (`root/workers/w-1`); a command for a node below a
/// nested manager is passed down level by level.
///
/// Before the manager's first run, commands wait in its mailbox and are carried out as it
/// starts (a queued shutdown means no child starts at all); the `async` methods then complete
/// only once it runs. Between runs and after the last one, commands fail at once with
/// [`ControlError::NotRunning`].
///
/// # Cancel safety
///
/// An `async` method hands its command to the manager when its future is **first polled**
/// (not when it is called) and from then on only waits for the answer. Dropping the future
/// after that first poll — a `select!` branch that lost, a timeout — does not take the
/// command back: the manager carries it out all the same, and only the answer is lost.
/// Dropping it before its first poll (a `select!` branch never polled because another one
/// was ready first) sends nothing. So calling a method again after its future was dropped may
/// do the thing twice: a message delivered twice, a second `add` refused as a duplicate.
/// [`snapshot`](Self::snapshot) changes nothing and may be retried freely; the event stream
/// is cancel safe ([`Events::recv`]).
#[derive(Clone)]
pub struct Handle {
    front: Arc<Front>,
}

/// What a manager's handles reach: its mailbox, its event bus and its path. Shared by the
/// manager and every handle to it.
pub(crate) struct Front {
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) bus: Arc<EventBus>,
    /// The path of the current (or last) run.
    pub(crate) path: Mutex<ChildPath>,
}

impl Handle {
    pub(crate) fn new(front: Arc<Front>) -> Self {
        Handle { front }
    }

    pub(crate) fn send_command(&self, cmd: Command) -> Result<(), Command> {
        self.front.mailbox.send(cmd)
    }

    fn not_running(&self) -> ControlError {
        ControlError::NotRunning {
            path: self.path().to_string(),
        }
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ControlError>>) -> Command,
    ) -> Result<T, ControlError> {
        let (tx, rx) = oneshot::channel();
        if self.send_command(make(tx)).is_err() {
            return Err(self.not_running());
        }
        rx.await.map_err(|_| ControlError::ManagerGone)?
    }

    /// The path of this handle's manager (its path in the tree once it runs).
    pub fn path(&self) -> ChildPath {
        lock(&self.front.path).clone()
    }

    /// Asks this manager to shut down gracefully: children stop in reverse order under their
    /// shutdown policies. Returns at once; the manager's run returns when it is done. On a
    /// nested manager, this stops it for good (its parent does not restart it).
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] when the manager has already stopped.
    pub fn shutdown(&self) -> Result<(), ControlError> {
        self.send_command(Command::Shutdown { immediate: false })
            .map_err(|_| self.not_running())
    }

    /// Asks this manager to shut down at once: every child is aborted now, at every level.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] when the manager has already stopped.
    pub fn shutdown_now(&self) -> Result<(), ControlError> {
        self.send_command(Command::Shutdown { immediate: true })
            .map_err(|_| self.not_running())
    }

    /// Shuts the manager down at once, as [`shutdown_now`](Self::shutdown_now), and makes its
    /// run fail with `failure` (a second signal).
    #[cfg_attr(not(all(feature = "signal", unix)), allow(dead_code))]
    pub(crate) fn shutdown_interrupted(&self, failure: Failure) -> Result<(), ControlError> {
        self.send_command(Command::Interrupt { failure })
            .map_err(|_| self.not_running())
    }

    /// Sends `msg` to the node at `path`: to one child's inbox, or to every child below a
    /// manager. `Control::Shutdown` stops the node for good (like [`stop`](Self::stop), but
    /// without waiting); sent to this handle's own path it shuts the manager down.
    ///
    /// Completes once the message is delivered (or, for a subtree, handed to its manager).
    ///
    /// # Errors
    /// [`ControlError::NotFound`], [`ControlError::NotRunning`] for a node that is not
    /// running (its message would be lost), [`ControlError::InboxFull`] for a child that does
    /// not read its messages.
    ///
    /// # Cancel safety
    /// The message leaves on the first poll. Dropped after it, the future loses only the
    /// answer: the message is still delivered (or refused), and sending it again may deliver
    /// it twice. See [the handle's notes](Handle#cancel-safety).
    pub async fn send(&self, path: &str, msg: Control) -> Result<(), ControlError> {
        self.request(|reply| Command::Send {
            path: path.into(),
            msg,
            reply: SendReply::One(reply),
        })
        .await
    }

    /// Sends `msg` to every child of this manager and below.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send): dropped after its first poll, the message still reaches every
    /// child; only the answer is lost.
    pub async fn broadcast(&self, msg: Control) -> Result<(), ControlError> {
        let path = self.path();
        self.send(path.as_str(), msg).await
    }

    /// Adds a child under the manager at `parent` and starts it (once its dependencies hold).
    /// Returns the new child's path once its first run has started (see the crate docs,
    /// *Starting*); a child that fails to start is refused with
    /// [`ControlError::FailedToStart`] and removed again.
    ///
    /// # Errors
    /// [`ControlError::Spec`] for an invalid spec, [`ControlError::AlreadyStarted`] for the id
    /// of a child that runs (or waits to start or restart), [`ControlError::AlreadyPresent`]
    /// for the id of one that was stopped or has ended, [`ControlError::NotAManager`],
    /// [`ControlError::NotFound`], [`ControlError::ShuttingDown`]. Nothing changes when an
    /// error is returned.
    ///
    /// # Cancel safety
    /// The spec is handed over on the first poll. Dropped after it, the future loses only the
    /// answer: the child is still added and started (its path is `parent/id`), and adding it
    /// again fails with [`ControlError::AlreadyStarted`]. Dropped before its first poll, nothing is added. See
    /// [the handle's notes](Handle#cancel-safety).
    pub async fn add_child(
        &self,
        parent: &str,
        spec: ChildSpec,
    ) -> Result<ChildPath, ControlError> {
        self.request(|reply| Command::Add {
            parent: parent.into(),
            spec,
            reply,
        })
        .await
    }

    /// Adds a child directly under this handle's manager.
    ///
    /// # Errors
    /// As [`add_child`](Self::add_child).
    ///
    /// # Cancel safety
    /// As [`add_child`](Self::add_child): dropped after its first poll, the child is still
    /// added and started.
    pub async fn add(&self, spec: ChildSpec) -> Result<ChildPath, ControlError> {
        let path = self.path();
        self.add_child(path.as_str(), spec).await
    }

    /// Stops the node at `path` for good under its shutdown policy, and waits until it has
    /// stopped. It stays declared and can be started again with [`restart`](Self::restart).
    ///
    /// # Errors
    /// [`ControlError::NotFound`], [`ControlError::NotRunning`] for a manager on the way.
    ///
    /// # Cancel safety
    /// The stop begins on the first poll, and dropping the future does not cancel it: the
    /// node still stops under its shutdown policy; only the wait for it (and the answer) ends.
    /// See [the handle's notes](Handle#cancel-safety).
    pub async fn stop(&self, path: &str) -> Result<(), ControlError> {
        self.request(|reply| Command::Stop {
            path: path.into(),
            reply,
        })
        .await
    }

    /// Stops the node at `path` (if it runs) and starts it again. Does not count towards the
    /// manager's restart intensity.
    ///
    /// # Errors
    /// As [`stop`](Self::stop), and [`ControlError::ShuttingDown`].
    ///
    /// # Cancel safety
    /// As [`stop`](Self::stop): dropped after its first poll, the node is still stopped and
    /// started again, and its restart is counted; calling again restarts it again.
    pub async fn restart(&self, path: &str) -> Result<(), ControlError> {
        self.request(|reply| Command::Restart {
            path: path.into(),
            reply,
        })
        .await
    }

    /// Stops the node at `path` (if it runs) and removes it from its manager.
    ///
    /// # Errors
    /// As [`stop`](Self::stop).
    ///
    /// # Cancel safety
    /// As [`stop`](Self::stop): dropped after its first poll, the node is still stopped and
    /// removed.
    pub async fn remove(&self, path: &str) -> Result<(), ControlError> {
        self.request(|reply| Command::Remove {
            path: path.into(),
            reply,
        })
        .await
    }

    /// Gives the running manager at `path` the specification of `new` (built, and so checked,
    /// by [`ProcessManagerBuilder::build`](crate::ProcessManagerBuilder::build)), as OTP's
    /// `code_change` or supervisorctl's `update` do: its strategy, intensity, backoff,
    /// auto-shutdown, stop order, shutdown timeout and lifetime from now on, and its children:
    ///
    /// - a child declared again with the same spec is left running, untouched: the same
    ///   policies, and the same runnable — shared (a clone of a `ChildSpec` shares it), or
    ///   one that says it is the same ([`Runnable::same_as`](crate::Runnable::same_as)), as a
    ///   `process::Command` with the same settings does;
    /// - one whose spec changed gets the new one and is started again if it was running;
    /// - a nested manager given another manager of the same name is reconfigured in turn,
    ///   so its own unchanged children keep running;
    /// - new ids are added and started after the children the manager has;
    /// - children the new specification does not declare (also those added at run time) are
    ///   stopped one at a time, last declared first (each as [`Handle::remove`] would), and
    ///   removed.
    ///
    /// Nothing changes if it is refused. The manager's next run (its parent restarting it)
    /// starts from the new specification. Returns once the changes are under way, saying what
    /// was done to each child.
    ///
    /// # Errors
    /// [`SpecError::ManagerNameMismatch`](crate::SpecError) (as [`ControlError::Spec`]) when
    /// `new` has another name; [`ControlError::NotFound`], [`ControlError::NotAManager`],
    /// [`ControlError::NotRunning`], [`ControlError::ShuttingDown`].
    ///
    /// # Cancel safety
    /// As the other commands: sent on the first poll; dropped after it, only the answer is
    /// lost.
    pub async fn reconfigure(
        &self,
        path: &str,
        new: crate::ProcessManager,
    ) -> Result<Reconfigured, ControlError> {
        self.request(|reply| Command::Reconfigure {
            path: path.into(),
            new,
            reply: Some(reply),
        })
        .await
    }

    /// A snapshot of this manager and everything below it. Each manager answers for its own
    /// children; nested managers are asked concurrently.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] when the manager is not running.
    ///
    /// # Cancel safety
    /// Cancel safe: a snapshot changes nothing, so dropping the future loses only the
    /// snapshot (managers already asked answer to nobody), and it may be taken again.
    pub async fn snapshot(&self) -> Result<Snapshot, ControlError> {
        let level = self.request(|reply| Command::Snapshot { reply }).await?;
        let state = level.state;
        let uptime = level.uptime;
        let intensity = level.intensity;
        Ok(Snapshot {
            path: self.path(),
            kind: ChildKind::Manager,
            state,
            pid: None,
            resources: None,
            restarts: 0,
            uptime: Some(uptime),
            last_exit: None,
            health: crate::health::Health::Unknown,
            intensity: Some(intensity),
            children: fill(level).await,
        })
    }

    /// Answers once the loop of this manager and of every running manager below it has
    /// taken a request off its queue: a liveness check for a watchdog (the
    /// [`Systemd`](crate::builtin) child pings the tree this way before each `WATCHDOG=1`).
    /// A manager whose loop is wedged (a blocking call in code it runs, such as a
    /// [`Runnable::resources`](crate::Runnable::resources) that blocks) never answers, so the
    /// ping never completes: bound it with a timeout. Costs one message round trip per
    /// manager; nested managers are asked concurrently; the children are not involved.
    ///
    /// # Errors
    /// [`ControlError::NotRunning`] when this manager is not running. A nested manager that
    /// ends while it is asked is skipped.
    ///
    /// # Cancel safety
    /// Cancel safe: a ping changes nothing.
    pub async fn ping(&self) -> Result<(), ControlError> {
        let nested = self.request(|reply| Command::Ping { reply }).await?;
        ping_all(nested).await;
        Ok(())
    }

    /// Subscribes to lifecycle events of this manager and everything below it.
    pub fn events(&self) -> Events {
        self.front.bus.subscribe()
    }
}

/// Pings `managers` and every running manager below them, concurrently.
fn ping_all(managers: Vec<Handle>) -> BoxFuture<'static, ()> {
    async move {
        join_all(managers.into_iter().map(|handle| async move {
            if let Ok(nested) = handle.request(|reply| Command::Ping { reply }).await {
                ping_all(nested).await;
            }
        }))
        .await;
    }
    .boxed()
}

/// Completes a level's children with the levels of the nested managers below it.
fn fill(level: LevelSnapshot) -> BoxFuture<'static, Vec<Snapshot>> {
    async move {
        let mut children = level.children;
        let below = join_all(level.nested.into_iter().map(|(i, handle)| async move {
            let sub = handle.request(|reply| Command::Snapshot { reply }).await;
            (i, sub)
        }))
        .await;
        for (i, sub) in below {
            if let Ok(sub) = sub {
                children[i].intensity = Some(sub.intensity);
                children[i].children = fill(sub).await;
            }
        }
        children
    }
    .boxed()
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("path", &self.path())
            .finish()
    }
}
