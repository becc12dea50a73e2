//! `/metrics`: a snapshot of the tree and the exits counted from its events, in Prometheus'
//! text format (0.0.4), encoded by `prometheus-client` through a [`Collector`] made for one
//! scrape.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::watch::{CAUSES, Exits, Lifecycle};
use crate::health::Health;
use crate::snapshot::{ChildState, Snapshot};

/// The `Content-Type` of the answer.
pub(super) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every state a node can be in, as `overseer_child_state`'s `state` label says it.
const STATES: [ChildState; 7] = [
    ChildState::Waiting,
    ChildState::Running,
    ChildState::Ready,
    ChildState::Stopping,
    ChildState::Restarting,
    ChildState::Exited,
    ChildState::Stopped,
];

/// The text of one scrape. `capacity` is a guess at its length (the previous scrape's).
pub(super) fn encode(
    snapshot: Snapshot,
    lifecycle: Arc<Lifecycle>,
    exits: Arc<Exits>,
    capacity: usize,
) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("overseer");
    registry.register_collector(Box::new(Scrape {
        snapshot,
        lifecycle,
        exits,
    }));
    let mut out = String::with_capacity(capacity);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// One scrape's figures.
#[derive(Debug)]
struct Scrape {
    snapshot: Snapshot,
    lifecycle: Arc<Lifecycle>,
    exits: Arc<Exits>,
}

/// Writes one metric family: its descriptor, then `series` for its samples.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    series: impl FnOnce(&mut MetricEncoder<'_>) -> fmt::Result,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    series(&mut metric)
}

/// One gauge sample labelled with `path`.
fn gauge_at(metric: &mut MetricEncoder<'_>, path: &str, v: &impl EncodeGaugeValue) -> fmt::Result {
    metric.encode_family(&[("path", path)])?.encode_gauge(v)
}

fn flag(b: bool) -> u64 {
    u64::from(b)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let e = &mut encoder;
        let nodes = || self.snapshot.iter();
        let gauge = MetricType::Gauge;
        let counter = MetricType::Counter;

        family(
            e,
            "tree_ready",
            "1 while /readyz answers 200: the tree reported ready and has not begun shutting down",
            gauge,
            |m| m.encode_gauge(&flag(self.lifecycle.ready())),
        )?;
        family(
            e,
            "tree_gave_up",
            "1 once the root manager exceeded its restart intensity (/healthz answers 503)",
            gauge,
            |m| m.encode_gauge(&flag(self.lifecycle.gave_up())),
        )?;
        family(
            e,
            "events_missed",
            "Lifecycle events this endpoint missed because it fell behind (exit counts may be low)",
            counter,
            |m| m.encode_counter::<NoLabelSet, _, u64>(&self.exits.missed(), None),
        )?;
        family(
            e,
            "child_info",
            "Every node of the tree (the root included), with its kind",
            gauge,
            |m| {
                for n in nodes() {
                    let kind = n.kind.to_string();
                    m.encode_family(&[("path", n.path.as_str()), ("kind", kind.as_str())])?
                        .encode_gauge(&1u64)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "child_state",
            "1 for the node's current state, 0 for the others",
            gauge,
            |m| {
                for n in nodes() {
                    for state in STATES {
                        m.encode_family(&[
                            ("path", n.path.as_str()),
                            ("state", ChildState::as_str(state)),
                        ])?
                        .encode_gauge(&flag(n.state == state))?;
                    }
                }
                Ok(())
            },
        )?;
        family(
            e,
            "child_restarts",
            "Times the node has been restarted by its manager",
            counter,
            |m| {
                for n in nodes() {
                    m.encode_family(&[("path", n.path.as_str())])?
                        .encode_counter::<NoLabelSet, _, u64>(&u64::from(n.restarts), None)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "child_uptime_seconds",
            "How long the node's current run has lasted (absent between runs)",
            gauge,
            |m| {
                for n in nodes() {
                    if let Some(uptime) = n.uptime {
                        gauge_at(m, n.path.as_str(), &uptime.as_secs_f64())?;
                    }
                }
                Ok(())
            },
        )?;
        family(
            e,
            "child_healthy",
            "1 healthy, 0 unhealthy, as the node's probes last found it (absent while unknown)",
            gauge,
            |m| {
                for n in nodes() {
                    let healthy = match n.health {
                        Health::Healthy => true,
                        Health::Unhealthy { .. } => false,
                        _ => continue,
                    };
                    gauge_at(m, n.path.as_str(), &flag(healthy))?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "child_exits",
            "Runs of the node that ended, by how they ended, as this endpoint heard of them since its start",
            counter,
            |m| {
                self.exits.with(|count| {
                    for n in nodes() {
                        let counts = count(&n.path);
                        for (cause, c) in CAUSES.iter().zip(counts) {
                            m.encode_family(&[("path", n.path.as_str()), ("cause", cause)])?
                                .encode_counter::<NoLabelSet, _, u64>(&c, None)?;
                        }
                    }
                    Ok(())
                })
            },
        )?;
        let resources = || nodes().filter_map(|n| Some((n.path.as_str(), n.resources?)));
        family(
            e,
            "process_resident_memory_bytes",
            "Resident memory of a running OS process child's process group",
            gauge,
            |m| {
                for (path, r) in resources() {
                    gauge_at(m, path, &r.memory_bytes)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "process_cpu_percent",
            "CPU use of a running OS process child's group since the previous reading, in percent of one core",
            gauge,
            |m| {
                for (path, r) in resources() {
                    if let Some(cpu) = r.cpu_percent {
                        gauge_at(m, path, &cpu)?;
                    }
                }
                Ok(())
            },
        )?;
        family(
            e,
            "process_count",
            "OS processes counted in a running OS process child's group",
            gauge,
            |m| {
                for (path, r) in resources() {
                    gauge_at(m, path, &r.processes)?;
                }
                Ok(())
            },
        )?;
        let managers = || nodes().filter_map(|n| Some((n.path.as_str(), n.intensity?)));
        family(
            e,
            "manager_intensity_used",
            "Restarts counted in a running manager's intensity window now",
            gauge,
            |m| {
                for (path, i) in managers() {
                    gauge_at(m, path, &i.restarts)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "manager_intensity_max",
            "Restarts a manager allows within its period; one more and it gives up",
            gauge,
            |m| {
                for (path, i) in managers() {
                    gauge_at(m, path, &i.max_restarts)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "manager_intensity_period_seconds",
            "The length of a manager's sliding intensity window",
            gauge,
            |m| {
                for (path, i) in managers() {
                    gauge_at(m, path, &i.period.as_secs_f64())?;
                }
                Ok(())
            },
        )
    }
}
