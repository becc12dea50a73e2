//! A probe at work beside a child's run: the [`Companion`] that checks, counts and reports.

use std::sync::Arc;

use tokio::time::{Instant, MissedTickBehavior};

use super::health_state::{ProbeKind, Unhealthy};
use super::probe::Probe;
use super::tally::{Standing, Tally};
use crate::child::companion::{BoxFuture, Companion, RunView};
use crate::child::report::ChildMsg;
use crate::error::RunResult;

/// Runs `probe` beside each run of a child: its first check after the initial delay, then
/// one per period; transitions go to the manager. A liveness probe that turns unhealthy ends
/// the run with [`Unhealthy`].
pub(crate) struct ProbeRunner {
    pub(crate) kind: ProbeKind,
    pub(crate) probe: Probe,
}

impl Companion for ProbeRunner {
    fn beside(&self, run: RunView) -> BoxFuture<'_, RunResult> {
        Box::pin(self.probe_run(run))
    }

    fn same_as(&self, other: &dyn Companion) -> bool {
        crate::child::companion::downcast::<ProbeRunner>(other)
            .is_some_and(|other| self.kind == other.kind && self.probe.same_as(&other.probe))
    }
}

impl ProbeRunner {
    async fn probe_run(&self, run: RunView) -> RunResult {
        let probe = &self.probe;
        let mut tally = Tally::new(probe.success_threshold, probe.failure_threshold);
        let mut ticks =
            tokio::time::interval_at(Instant::now() + probe.initial_delay, probe.period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let error = match tokio::time::timeout(probe.timeout, probe.check.check()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("no answer within {:?}", probe.timeout)),
            };
            let Some(standing) = tally.record(error.is_none()) else {
                continue;
            };
            let error: Option<Arc<str>> = error.map(Arc::from);
            tracing::debug!(
                path = %run.path(),
                probe = %self.kind,
                check = probe.check.describe(),
                healthy = standing == Standing::Healthy,
                error = error.as_deref(),
                "probe changed"
            );
            let kind = self.kind;
            let reported = run.report(|key, generation| ChildMsg::Health {
                key,
                generation,
                probe: kind,
                error: error.clone(),
            });
            if !reported {
                return Ok(());
            }
            if standing == Standing::Unhealthy && kind == ProbeKind::Liveness {
                return Err(Unhealthy {
                    probe: probe.check.describe(),
                    last_error: error.as_deref().unwrap_or_default().to_string(),
                }
                .into());
            }
        }
    }
}
