//! Building a [`ProcessManager`], with every spec checked before anything runs.

use crate::id::IdKey;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::decide::Policy;
use super::{ManagerInner, ProcessManager};
use crate::child::Context;
use crate::error::{RunResult, SpecError};
use crate::event::EventBus;
use crate::handle::Front;
use crate::mailbox::Mailbox;
use crate::path::ChildPath;
use crate::policy::{AutoShutdown, Backoff, Intensity, Lifetime, StopOrder, Strategy};
use crate::spec::{ChildSpec, validate_id};

/// Builds a [`ProcessManager`]; see [`ProcessManager::builder`].
#[must_use]
pub struct ProcessManagerBuilder {
    name: Arc<str>,
    policy: Policy,
    shutdown_timeout: Option<Duration>,
    stop_order: StopOrder,
    stop_chain: bool,
    lifetime: Lifetime,
    event_capacity: usize,
    children: Vec<ChildSpec>,
}

impl ProcessManagerBuilder {
    pub(super) fn new(name: Arc<str>) -> Self {
        ProcessManagerBuilder {
            name,
            policy: Policy {
                strategy: Strategy::default(),
                intensity: Intensity::default(),
                backoff: Backoff::default(),
                auto_shutdown: AutoShutdown::default(),
            },
            shutdown_timeout: None,
            stop_order: StopOrder::default(),
            stop_chain: true,
            lifetime: Lifetime::default(),
            event_capacity: 1024,
            children: Vec::new(),
        }
    }

    /// Which children restart together (default [`Strategy::OneForOne`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.policy.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `period` (default 1 in 5 s, as in OTP).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.policy.intensity = Intensity {
            max_restarts,
            period,
        };
        self
    }

    /// The delay before restarts (default none).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy.backoff = backoff;
        self
    }

    /// Whether significant children shut the manager down (default [`AutoShutdown::Never`]).
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.policy.auto_shutdown = auto_shutdown;
        self
    }

    /// A deadline for this manager's whole shutdown: children still running when it passes
    /// are aborted, whatever their own timeouts. A deadline from a parent also applies.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Whether children stop one at a time in reverse order (the default) or all at once;
    /// see [`StopOrder`].
    pub fn stop_order(mut self, order: StopOrder) -> Self {
        self.stop_order = order;
        self
    }

    /// How long the manager runs when nothing asks it to stop (default
    /// [`Lifetime::UntilShutdown`]): until it is shut down, or also until none of its
    /// children is left to run ([`Lifetime::UntilDone`]).
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Whether a one-at-a-time stop ([`StopOrder::Reverse`]) passes the stop from child to
    /// child without waiting for the manager in between (default `true`): each child's task,
    /// as its run ends, asks the next one to stop, and the manager follows behind with the
    /// bookkeeping. It changes no order, timeout or result, only how fast a long reverse
    /// stop goes (see BENCHMARKS.md); it is a switch so that this can be tested and measured.
    pub fn stop_chain(mut self, enabled: bool) -> Self {
        self.stop_chain = enabled;
        self
    }

    /// How many events a slow subscriber may lag behind before it skips some (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Adds a child, started after those added before it.
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    /// Adds children, in order.
    pub fn children(mut self, specs: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(specs);
        self
    }

    /// Adds a closure child with default policies: `ChildSpec::task(id, f)`.
    pub fn task<F, Fut>(self, id: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RunResult> + Send + 'static,
    {
        self.child(ChildSpec::task(id, f))
    }

    /// Checks everything and builds the manager.
    ///
    /// # Errors
    /// A [`SpecError`] for an invalid name, policy or child spec, a duplicate id, a significant
    /// child without auto-shutdown, or a dependency on a sibling not declared before.
    pub fn build(self) -> Result<ProcessManager, SpecError> {
        validate_id(&self.name).map_err(|_| SpecError::InvalidName {
            name: self.name.to_string(),
        })?;
        self.policy.intensity.validate()?;
        self.policy.backoff.validate()?;
        // foldhash rather than SipHash: ids come from the program, and this check is a fair
        // part of building a manager of many children.
        // Keyed by `IdKey`: an inline id hashes and compares as one `u64`.
        let mut seen: foldhash::HashSet<IdKey<'_>> =
            foldhash::HashSet::with_capacity_and_hasher(self.children.len(), Default::default());
        for spec in &self.children {
            spec.validate()?;
            if spec.body.significant && self.policy.auto_shutdown == AutoShutdown::Never {
                return Err(SpecError::SignificantWithoutAutoShutdown {
                    id: spec.id.to_string(),
                });
            }
            if let Some(dep) = spec
                .body
                .deps
                .iter()
                .find(|d| !seen.contains(&IdKey::of(&d.on)))
            {
                return Err(SpecError::UnknownDependency {
                    id: spec.id.to_string(),
                    on: dep.on.to_string(),
                });
            }
            if !seen.insert(spec.id.key()) {
                return Err(SpecError::DuplicateId {
                    parent: self.name.to_string(),
                    id: spec.id.to_string(),
                });
            }
        }
        drop(seen);
        Ok(ProcessManager {
            inner: Arc::new(ManagerInner {
                front: Arc::new(Front {
                    path: Mutex::new(ChildPath::root(&self.name)),
                    mailbox: Arc::new(Mailbox::new()),
                    bus: EventBus::new(self.event_capacity),
                }),
                name: self.name,
                policy: self.policy,
                shutdown_timeout: self.shutdown_timeout,
                stop_order: self.stop_order,
                stop_chain: self.stop_chain,
                lifetime: self.lifetime,
                specs: self.children,
            }),
        })
    }
}
