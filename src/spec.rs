//! Child specs: what to run and how its manager treats it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::child::Context;
use crate::child::task::DirectRun;
use crate::error::{RunResult, SpecError};
use crate::id::ChildId;
use crate::policy::{Backoff, Intensity};
use crate::runnable::{ChildKind, Runnable, task};

/// When a child is restarted after its run ends (OTP's restart types).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always restarted, whether it completed or failed. The default, as in OTP.
    #[default]
    Permanent,
    /// Restarted only when it fails (an error, a panic); a run that completes is final.
    Transient,
    /// Never restarted. A failure of a temporary child is not absorbed: it is the first error
    /// of a cascade (OTP only logs it; here a failure is never dropped silently). A temporary
    /// child that completes is removed from its manager.
    Temporary,
}

/// How a child is stopped (OTP's shutdown values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Request a graceful stop, then abort after this long (clamped by any deadline above).
    Timeout(Duration),
    /// Abort at once, without asking.
    Brutal,
    /// Request a graceful stop and wait as long as it takes (a deadline above still applies).
    /// The default for nested managers, whose own children carry their timeouts.
    Infinity,
}

impl Shutdown {
    /// The default shutdown for children that are not managers: a 5-second graceful timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
}

/// What a child waits for in a sibling before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// The sibling's run has been started.
    Started,
    /// The sibling has reported readiness with [`Context::ready`] (a nested manager is ready
    /// once all of its children are).
    Ready,
    /// The sibling's run has completed successfully.
    Completed,
    /// The sibling has ended for good, successfully or not (process-compose's
    /// `process_completed`): for a step whose outcome the next one handles itself. A failure
    /// that escalates stops the manager anyway, so this waits in practice on a sibling that
    /// completes, or one whose failure does not escalate
    /// ([`ChildSpec::escalates(false)`](ChildSpec::escalates)).
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub(crate) on: Arc<str>,
    pub(crate) condition: Condition,
}

/// Everything a manager needs to run one child: its id, the [`Runnable`], and the policies.
///
/// Cloning is cheap (the runnable is shared), which makes it easy to add many children that
/// differ only by id ([`with_id`](Self::with_id)). An id of at most 8 bytes is kept inline, in
/// the spec and in its manager, with no allocation of its own; a longer one is one `Arc<str>`,
/// shared by both.
///
/// ```
/// use std::time::Duration;
/// use overseer::{ChildSpec, Condition, Restart, Shutdown};
///
/// let api = ChildSpec::task("api", |ctx| async move {
///     ctx.ready();
///     ctx.shutdown_requested().await;
///     Ok(())
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
/// .after("db", Condition::Ready);
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: ChildId,
    /// Everything but the id: shared by the specs made with [`with_id`](Self::with_id), so a
    /// pool of identical children costs one body, not one per child. Changed copy-on-write.
    pub(crate) body: Arc<SpecBody>,
}

/// A spec without its id.
#[derive(Clone)]
pub(crate) struct SpecBody {
    pub(crate) runnable: Arc<dyn Runnable>,
    /// The same runnable, for a closure child ([`ChildSpec::task`]): its runs are spawned
    /// with their futures in their tasks, not boxed (see [`DirectRun`]).
    pub(crate) direct: Option<Arc<dyn DirectRun>>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) significant: bool,
    pub(crate) deps: Box<[Dependency]>,
    /// Set by [`ChildSpec::reads_messages`]; the runnable says otherwise.
    pub(crate) reads_messages: Option<bool>,
    /// This child's own backoff, instead of its manager's.
    pub(crate) backoff: Option<Backoff>,
    /// This child's own restart limit, instead of its manager's.
    pub(crate) intensity: Option<Intensity>,
    /// Whether its failures that no restart absorbs escalate ([`ChildSpec::escalates`]).
    pub(crate) escalates: bool,
    /// Its probes' settings that were refused, checked when the manager is built.
    pub(crate) invalid_probe: Option<(crate::health::ProbeKind, &'static str)>,
    /// A readiness probe decides when it is ready, not `Context::ready`.
    pub(crate) ready_by_probe: bool,
    /// It has a liveness probe.
    pub(crate) liveness_probe: bool,
    /// A [`ChildSpec::watch`] that was refused, reported when the spec is checked.
    #[cfg(feature = "watch")]
    pub(crate) watch_error: Option<crate::watch::WatchError>,
}

impl SpecBody {
    pub(crate) fn runnable(&self) -> &dyn Runnable {
        &*self.runnable
    }

    /// Whether it has a readiness probe, and a liveness probe.
    pub(crate) fn probes(&self) -> (bool, bool) {
        (self.ready_by_probe, self.liveness_probe)
    }

    /// Whether the child reads control messages, defaults resolved.
    pub(crate) fn reads_messages(&self) -> bool {
        self.reads_messages
            .unwrap_or_else(|| self.runnable().reads_messages())
    }

    /// Whether a manager given `other` in place of this spec would run the child the same:
    /// the same runnable (the very same value, shared, or one that says it is the same:
    /// [`Runnable::same_as`]) under the same policies. A
    /// reconfiguration keeps a child whose spec is the same running, untouched.
    pub(crate) fn same_as(&self, other: &SpecBody) -> bool {
        (std::ptr::addr_eq(Arc::as_ptr(&self.runnable), Arc::as_ptr(&other.runnable))
            || self.runnable.same_as(other.runnable()))
            && self.same_policies(other)
    }

    /// Whether the policies (everything but the runnable) are the same.
    pub(crate) fn same_policies(&self, other: &SpecBody) -> bool {
        self.restart == other.restart
            && self.shutdown == other.shutdown
            && self.significant == other.significant
            && self.deps == other.deps
            && self.reads_messages == other.reads_messages
            && self.backoff == other.backoff
            && self.intensity == other.intensity
            && self.escalates == other.escalates
            && self.ready_by_probe == other.ready_by_probe
            && self.liveness_probe == other.liveness_probe
    }

    /// The shutdown policy in effect, defaults resolved.
    pub(crate) fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
            .unwrap_or_else(|| self.runnable().default_shutdown())
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind())
            .field("restart", &self.body.restart)
            .field("shutdown", &self.shutdown_policy())
            .field("significant", &self.body.significant)
            .field("deps", &self.body.deps)
            .finish()
    }
}

impl ChildSpec {
    /// A spec for any [`Runnable`], including a nested [`ProcessManager`](crate::ProcessManager),
    /// whose id must then be the manager's own name (a node has one name; the manager's
    /// [`into_spec`](crate::ProcessManager::into_spec) says it for you): another is refused with
    /// [`SpecError::ManagerNameMismatch`] when the spec is checked.
    pub fn new(id: impl Into<Arc<str>>, runnable: impl Runnable) -> Self {
        Self::from_arc(id, Arc::new(runnable))
    }

    /// A spec for a runnable that is already shared.
    pub fn from_arc(id: impl Into<Arc<str>>, runnable: Arc<dyn Runnable>) -> Self {
        Self::with_runnable(ChildId::from_arc(id.into()), runnable, None)
    }

    fn with_runnable(
        id: ChildId,
        runnable: Arc<dyn Runnable>,
        direct: Option<Arc<dyn DirectRun>>,
    ) -> Self {
        ChildSpec {
            id,
            body: Arc::new(SpecBody {
                runnable,
                direct,
                restart: Restart::default(),
                shutdown: None,
                significant: false,
                deps: Box::new([]),
                reads_messages: None,
                backoff: None,
                intensity: None,
                escalates: true,
                invalid_probe: None,
                ready_by_probe: false,
                liveness_probe: false,
                #[cfg(feature = "watch")]
                watch_error: None,
            }),
        }
    }

    /// A spec for a closure `|ctx| async move { .. }`; each run calls it again.
    ///
    /// Each run's future is kept in its Tokio task, with no allocation of its own: a closure
    /// child made this way costs one allocation (about 128 bytes for a small future) less per
    /// run than the same closure passed as `ChildSpec::new(id, task(f))`, whose runs go
    /// through [`Runnable::run`] and its boxed future. They behave the same.
    pub fn task<F, Fut>(id: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RunResult> + Send + 'static,
    {
        let task = Arc::new(task(f));
        Self::with_runnable(ChildId::from_arc(id.into()), task.clone(), Some(task))
    }

    /// Gives this child a readiness probe (see [`health`](crate::health)): it counts as ready
    /// — siblings waiting with [`Condition::Ready`] start — once the probe passes its success
    /// threshold, not when its run calls [`Context::ready`](crate::Context::ready) (nor, for an
    /// OS process, once it is spawned). Readiness that goes down later is shown in snapshots
    /// and events; dependents that run already are not stopped.
    pub fn readiness(self, probe: crate::health::Probe) -> Self {
        let mut spec = self.probed(crate::health::ProbeKind::Readiness, probe);
        spec.body_mut().ready_by_probe = true;
        spec
    }

    /// Gives this child a liveness probe (see [`health`](crate::health)): after the probe
    /// fails its failure threshold the run ends with the failure
    /// [`Unhealthy`](crate::health::Unhealthy), and the child's restart policy applies.
    pub fn liveness(self, probe: crate::health::Probe) -> Self {
        let mut spec = self.probed(crate::health::ProbeKind::Liveness, probe);
        spec.body_mut().liveness_probe = true;
        spec
    }

    /// Makes this child ready once a line of its output matches `pattern` (a regex), as
    /// process-compose's `ready_log_line`: for a program that says when it is up ("listening
    /// on"). `sink` is the one its [`Command`](crate::process::Command) captures into. As with a
    /// readiness probe, neither [`Context::ready`](crate::Context::ready) nor a process's spawn
    /// make it ready; each run looks at its own lines, from its start. Subscribing costs one
    /// allocation per output line until the line is seen. Features `health` and `process`.
    ///
    /// # Errors
    /// The pattern's error when it is not a valid regex.
    #[cfg(all(feature = "health", feature = "process", unix))]
    pub fn ready_on_output(
        self,
        sink: Arc<crate::process::output::OutputSink>,
        pattern: &str,
    ) -> Result<Self, regex::Error> {
        let pattern = regex::Regex::new(pattern)?;
        let mut spec = self.with_companion(Arc::new(crate::health::output_line::OutputReadiness {
            sink,
            pattern,
        }));
        spec.body_mut().ready_by_probe = true;
        Ok(spec)
    }

    fn probed(mut self, kind: crate::health::ProbeKind, probe: crate::health::Probe) -> Self {
        if let Some(reason) = probe.invalid() {
            self.body_mut().invalid_probe = Some((kind, reason));
        }
        self.with_companion(Arc::new(crate::health::ProbeRunner { kind, probe }))
    }

    /// Puts `companion` beside each run of this child (see `child::companion`). The runnable
    /// is wrapped, so closure children lose their unboxed fast path.
    pub(crate) fn with_companion(
        mut self,
        companion: Arc<dyn crate::child::companion::Companion>,
    ) -> Self {
        let body = self.body_mut();
        body.runnable = Arc::new(crate::child::companion::Accompanied {
            inner: body.runnable.clone(),
            companion,
        });
        body.direct = None;
        self
    }

    pub(crate) fn body_mut(&mut self) -> &mut SpecBody {
        Arc::make_mut(&mut self.body)
    }

    /// Sets the restart policy (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.body_mut().restart = restart;
        self
    }

    /// Sets the shutdown policy (default: `Timeout(5s)`, or `Infinity` for a nested manager).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.body_mut().shutdown = Some(shutdown);
        self
    }

    /// Marks the child significant: its final exit can shut its manager down, as the
    /// manager's [`AutoShutdown`](crate::AutoShutdown) says. Significant children must be
    /// `Transient` or `Temporary`.
    pub fn significant(mut self, significant: bool) -> Self {
        self.body_mut().significant = significant;
        self
    }

    /// Says whether the child reads control messages ([`Context::recv`]); by default it does
    /// unless its runnable says otherwise ([`Runnable::reads_messages`]). A child that does not
    /// is skipped by messages sent to its subtree ([`Handle::broadcast`](crate::Handle::broadcast),
    /// a reload on SIGHUP), and a message sent to it by path is refused with
    /// [`ControlError::NotListening`](crate::ControlError::NotListening), instead of piling up
    /// unread in its inbox.
    pub fn reads_messages(mut self, reads: bool) -> Self {
        self.body_mut().reads_messages = Some(reads);
        self
    }

    /// Gives this child its own [`Backoff`] instead of its manager's.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.body_mut().backoff = Some(backoff);
        self
    }

    /// Gives this child its own restart limit: at most `max_restarts` of its restarts in any
    /// sliding `period`, counted on their own and not in its manager's
    /// [intensity](crate::ProcessManagerBuilder::intensity). One restart too many is the same
    /// as for the manager's limit: the manager gives up ([`Cause::GaveUp`](crate::Cause)), as
    /// a nested manager with this intensity around the child would.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.body_mut().intensity = Some(Intensity::new(max_restarts, period));
        self
    }

    /// Whether a failure of this child that no restart absorbs escalates: the failure of a
    /// [`Temporary`](Restart::Temporary) child, or one restart more than the child's own
    /// [`intensity`](Self::intensity) allows. By default (`true`) it does: the manager stops
    /// and fails with it, or gives up. With `false` the child ends for good, failed — its
    /// snapshot and events say so — and its manager carries on, as OTP does for a temporary
    /// child; siblings that wait for it to be ready or complete fail to start, as for any
    /// child that ended for good. A restart limit of the manager (not the child's own) still
    /// makes the manager give up. For a service whose optional parts may fail without taking
    /// the rest down (process-compose's `restart: no`).
    pub fn escalates(mut self, escalates: bool) -> Self {
        self.body_mut().escalates = escalates;
        self
    }

    /// Waits, before each start, until sibling `id` (declared earlier) meets `condition`.
    /// May be called several times; the child starts when every condition holds.
    pub fn after(mut self, id: impl Into<Arc<str>>, condition: Condition) -> Self {
        let body = self.body_mut();
        let mut deps = std::mem::take(&mut body.deps).into_vec();
        deps.push(Dependency {
            on: id.into(),
            condition,
        });
        body.deps = deps.into_boxed_slice();
        self
    }

    /// The same spec under another id; shares everything else with this one (no copy).
    pub fn with_id(&self, id: impl Into<Arc<str>>) -> Self {
        ChildSpec {
            id: ChildId::from_arc(id.into()),
            body: self.body.clone(),
        }
    }

    /// `n` copies of this spec for a pool of identical workers, named `{id}-0` to
    /// `{id}-{n-1}`. Like [`with_id`](Self::with_id), the copies share everything but their
    /// ids. Each id is written into one reused buffer without the formatting machinery; one of
    /// at most 8 bytes (`worker-7`, `c-12345`) is then kept inline and costs no allocation, a
    /// longer one costs one: about half of what `with_id(format!(..))` costs.
    ///
    /// ```
    /// use overseer::{ChildSpec, ProcessManager};
    ///
    /// let worker = ChildSpec::task("worker", |ctx| async move {
    ///     ctx.shutdown_requested().await;
    ///     Ok(())
    /// });
    /// let ids: Vec<String> = worker.replicas(3).map(|s| s.id().to_owned()).collect();
    /// assert_eq!(ids, ["worker-0", "worker-1", "worker-2"]);
    ///
    /// let pool = ProcessManager::builder("pool")
    ///     .children(worker.replicas(100))
    ///     .build()?;
    /// # Ok::<(), overseer::SpecError>(())
    /// ```
    pub fn replicas(&self, n: usize) -> impl ExactSizeIterator<Item = ChildSpec> + use<> {
        let body = self.body.clone();
        let prefix = format!("{}-", &*self.id);
        let mut digits = itoa::Buffer::new();
        (0..n).map(move |i| ChildSpec {
            id: ChildId::concat(&prefix, digits.format(i)),
            body: body.clone(),
        })
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What kind of node the runnable is.
    pub fn kind(&self) -> ChildKind {
        self.body.runnable().kind()
    }

    /// The shutdown policy in effect, defaults resolved.
    pub fn shutdown_policy(&self) -> Shutdown {
        self.body.shutdown_policy()
    }

    /// Checks what can be checked without the manager: the id and the significance rule.
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        validate_id(&self.id)?;
        if self.body.significant && self.body.restart == Restart::Permanent {
            return Err(SpecError::SignificantPermanent {
                id: self.id.to_string(),
            });
        }
        if let Some(manager) = self.body.runnable().as_manager()
            && manager.name() != &*self.id
        {
            return Err(SpecError::ManagerNameMismatch {
                id: self.id.to_string(),
                name: manager.name().to_string(),
            });
        }
        if let Some(backoff) = &self.body.backoff {
            backoff.validate()?;
        }
        if let Some(intensity) = &self.body.intensity {
            intensity.validate()?;
        }
        if let Some((probe, reason)) = self.body.invalid_probe {
            return Err(SpecError::InvalidProbe {
                id: self.id.to_string(),
                probe,
                reason,
            });
        }
        #[cfg(feature = "watch")]
        if let Some(error) = &self.body.watch_error {
            return Err(SpecError::Watch {
                id: self.id.to_string(),
                error: error.clone(),
            });
        }
        Ok(())
    }
}

pub(crate) fn validate_id(id: &str) -> Result<(), SpecError> {
    if id.is_empty() {
        return Err(SpecError::EmptyId);
    }
    if id.contains('/') {
        return Err(SpecError::IdContainsSlash { id: id.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> ChildSpec {
        ChildSpec::task("x", |_ctx| async { Ok(()) })
    }

    #[test]
    fn an_empty_id_is_refused() {
        assert_eq!(noop().with_id("").validate(), Err(SpecError::EmptyId));
    }

    #[test]
    fn an_id_with_a_slash_is_refused() {
        assert!(matches!(
            noop().with_id("a/b").validate(),
            Err(SpecError::IdContainsSlash { .. })
        ));
    }

    #[test]
    fn a_permanent_significant_child_is_refused() {
        assert!(matches!(
            noop().significant(true).validate(),
            Err(SpecError::SignificantPermanent { .. })
        ));
        assert!(
            noop()
                .significant(true)
                .restart(Restart::Transient)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn replicas_are_named_after_the_spec_with_their_index_and_share_its_body() {
        let spec = noop().restart(Restart::Transient);
        let replicas: Vec<ChildSpec> = spec.replicas(12).collect();
        let ids: Vec<&str> = replicas.iter().map(ChildSpec::id).collect();
        let expected: Vec<String> = (0..12).map(|i| format!("x-{i}")).collect();
        assert_eq!(ids, expected);
        assert!(replicas.iter().all(|r| Arc::ptr_eq(&r.body, &spec.body)));
        assert_eq!(spec.replicas(12).len(), 12);
        assert_eq!(spec.replicas(0).count(), 0);
    }

    #[test]
    fn the_default_shutdown_is_a_five_second_timeout() {
        assert_eq!(
            noop().shutdown_policy(),
            Shutdown::Timeout(Duration::from_secs(5))
        );
    }
}
