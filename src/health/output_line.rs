//! Readiness on an output line, as process-compose's `ready_log_line`:
//! [`ChildSpec::ready_on_output`](crate::ChildSpec::ready_on_output).

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::health_state::ProbeKind;
use crate::child::companion::{BoxFuture, Companion, RunView};
use crate::child::report::ChildMsg;
use crate::error::RunResult;
use crate::process::output::OutputSink;

/// Watches a run's output for a line that matches, then steps aside.
pub(crate) struct OutputReadiness {
    pub(crate) sink: Arc<OutputSink>,
    pub(crate) pattern: regex::Regex,
}

impl Companion for OutputReadiness {
    fn same_as(&self, other: &dyn Companion) -> bool {
        crate::child::companion::downcast::<OutputReadiness>(other).is_some_and(|other| {
            Arc::ptr_eq(&self.sink, &other.sink) && self.pattern.as_str() == other.pattern.as_str()
        })
    }

    fn beside(&self, run: RunView) -> BoxFuture<'_, RunResult> {
        // Subscribed now, before the run is first polled: no line of this run is missed.
        let mut lines = self.sink.subscribe();
        Box::pin(async move {
            loop {
                match lines.recv().await {
                    Ok(line) if self.pattern.is_match(&line.text()) => {
                        tracing::debug!(path = %run.path(), line = %line.text(), "ready line seen");
                        run.report(|key, generation| ChildMsg::Health {
                            key,
                            generation,
                            probe: ProbeKind::Readiness,
                            error: None,
                        });
                        // Done: dropping the subscription ends its cost per line.
                        return Ok(());
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        })
    }
}
