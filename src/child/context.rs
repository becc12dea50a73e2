//! The context a child's run gets from its manager.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use tokio_util::sync::CancellationToken;

use super::env::TaskEnv;
use super::record::ChildRecord;
use super::report::ChildMsg;
use super::stop_signal::{OneRun, StopSignal};
use crate::control::Control;
use crate::handle::Handle;
use crate::mailbox::ExpectedRun;
use crate::path::ChildPath;

/// What a child's run gets from its manager: its path, a shutdown signal, an inbox of control
/// messages, a way to report readiness, and a handle to the whole tree.
///
/// One `Context` per run; a restart gets a fresh one. It is deliberately not `Clone`: hand out
/// [`shutdown_token`](Self::shutdown_token) or [`handle`](Self::handle) to helpers instead, so
/// that a helper outliving the run cannot keep the run's identity alive.
pub struct Context {
    pub(crate) child: Arc<ChildRecord>,
    pub(crate) generation: u64,
    pub(crate) restarts: u32,
    /// Set only for the run of a nested manager (see [`NestedRun`]).
    pub(crate) nested: Option<Box<NestedRun>>,
    shutdown_delivered: bool,
}

/// What the parent of a nested manager hands to its run, beside the context.
pub(crate) struct NestedRun {
    /// Ties the nested manager's tasks' lifetime to the managers above, and carries the stop
    /// deadline its parent gives it.
    pub(crate) env: Arc<TaskEnv>,
    /// Commands sent to the nested manager queue for this run until it opens its mailbox; if
    /// the run is dropped before that, they are refused.
    pub(crate) expected: ExpectedRun,
}

impl Context {
    pub(crate) fn new(
        child: Arc<ChildRecord>,
        generation: u64,
        restarts: u32,
        nested: Option<Box<NestedRun>>,
    ) -> Self {
        Context {
            child,
            generation,
            restarts,
            nested,
            shutdown_delivered: false,
        }
    }

    /// This child's path in the tree (allocates the joined string).
    pub fn path(&self) -> ChildPath {
        self.child.parent.path.join(&self.child.id)
    }

    /// This child's id among its siblings.
    pub fn id(&self) -> &str {
        &self.child.id
    }

    /// How many times this child has been restarted before this run.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Completes when this run is asked to stop (its manager stops it, restarts it, or shuts
    /// down). After that the run has until its shutdown timeout to return.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future loses nothing, and a new call completes at once if the
    /// request was made meanwhile. It can be awaited any number of times, in a `select!` loop
    /// too; once the request is made, every call completes at once.
    pub fn shutdown_requested(&self) -> impl Future<Output = ()> + Send + '_ {
        StopSignal::requested(self)
    }

    /// Whether this run has been asked to stop.
    pub fn is_shutdown_requested(&self) -> bool {
        self.child.stop.is_requested(self.generation)
    }

    /// Says that this run's outcome was settled on its own, before any stop was asked of it,
    /// though the run goes on for a while (a process child whose leader has exited, while the
    /// rest of its group gets its grace period): a stop asked after this does not make its end
    /// a stop, so that during a shutdown its exit is judged as one nobody asked for.
    ///
    /// Returns `false`, and settles nothing, when a stop was asked first: the run's end is
    /// then a stop.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn ended_on_its_own(&self) -> bool {
        self.child.stop.ended_on_its_own(self.generation)
    }

    /// A token that is cancelled when this run is asked to stop; clone it into helpers.
    ///
    /// Made on the first call of a run (one allocation), the same token after that; a run
    /// that only awaits [`shutdown_requested`](Self::shutdown_requested) never pays for one.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.child.stop.token(self.generation)
    }

    /// The next control message: `Reload` and `Custom` messages in the order they were sent,
    /// and `Shutdown` once when this run is asked to stop, after which it returns `None`.
    ///
    /// ```
    /// # use overseer::{Context, Control, RunResult};
    /// async fn serve(mut ctx: Context) -> RunResult {
    ///     while let Some(msg) = ctx.recv().await {
    ///         match msg {
    ///             Control::Reload => { /* re-read configuration */ }
    ///             Control::Shutdown => break,
    ///             _ => {}
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe: a message is taken out of the inbox only in the poll that returns it, so
    /// dropping the future (in a `select!` whose other branch won) loses no message, and
    /// `Shutdown` is still delivered by a later call.
    pub async fn recv(&mut self) -> Option<Control> {
        if self.shutdown_delivered {
            return None;
        }
        let msg = {
            let cancelled = self.shutdown_requested();
            tokio::pin!(cancelled);
            let stop = &self.child.stop;
            poll_fn(|cx| {
                if cancelled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Control::Shutdown);
                }
                stop.with_inbox(|inbox| inbox.poll_recv(cx))
            })
            .await
        };
        if matches!(msg, Control::Shutdown) {
            self.shutdown_delivered = true;
        }
        Some(msg)
    }

    /// Reports that this run has started: from now on its failure is a crash (restarted as
    /// its policy says), not a failed start (which fails a tree's first start at once, and
    /// refuses a [`Handle::add`]). Calling it again in the same run does nothing more.
    ///
    /// Only runnables that [report their start](crate::Runnable::reports_start) need it; for
    /// the others a run has started once it reports [`ready`](Self::ready) or once its future
    /// has waited for anything. [`ready`](Self::ready) implies it.
    pub fn started(&self) {
        let _ = self.child.parent.tx.send(ChildMsg::Started {
            key: self.child.key,
            generation: self.generation,
        });
    }

    /// Reports that this child is ready: siblings waiting for it with
    /// [`Condition::Ready`](crate::Condition::Ready) may start, and the event stream shows
    /// [`EventKind::Ready`](crate::EventKind::Ready). Calling it again in the same run does
    /// nothing.
    pub fn ready(&self) {
        let _ = self.child.parent.tx.send(ChildMsg::Ready {
            key: self.child.key,
            generation: self.generation,
        });
    }

    /// Asks this child's manager to stop it for good, as [`Handle::stop`] would, without
    /// waiting (a nested manager told to shut down through its own handle). `false` when the
    /// manager's run is over.
    pub(crate) fn stop_for_good(&self) -> bool {
        self.child
            .parent
            .tx
            .send(ChildMsg::StopForGood {
                key: self.child.key,
                generation: self.generation,
            })
            .is_ok()
    }

    /// A handle to the whole tree (its root manager), to send messages or add children.
    pub fn handle(&self) -> Handle {
        self.child.parent.tree.clone()
    }
}

impl OneRun for Context {
    fn stop_signal(&self) -> &StopSignal {
        &self.child.stop
    }

    fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path())
            .field("restarts", &self.restarts)
            .field("shutdown_requested", &self.is_shutdown_requested())
            .finish()
    }
}
