//! A child that serves `/healthz`, `/readyz` and Prometheus `/metrics` over HTTP/1.1.

mod metrics;
mod watch;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use self::watch::{Exits, Lifecycle};
use crate::child::Context;
use crate::error::{ControlError, RunResult};
use crate::handle::Handle;
use crate::runnable::Runnable;
use crate::snapshot::Snapshot;

/// How long a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections may take to finish their request once this child is asked to stop.
const DRAIN: Duration = Duration::from_secs(2);
/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 256;

/// Serves the tree's probes and metrics over HTTP/1.1, for orchestrators (Kubernetes'
/// probes, a Prometheus scraper). Feature `metrics`.
///
/// ```no_run
/// use overseer::{builtin::HttpEndpoints, ChildSpec, ProcessManager};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoints = HttpEndpoints::bind("127.0.0.1:9090")?;
/// println!("probes and metrics on http://{}", endpoints.local_addr());
/// let tree = ProcessManager::builder("root")
///     .child(ChildSpec::new("http", endpoints))
///     .task("app", |ctx| async move { ctx.ready(); ctx.shutdown_requested().await; Ok(()) })
///     .build()?;
/// tree.run().await?;
/// # Ok(())
/// # }
/// ```
///
/// # What it answers
///
/// Each answer is a `GET`; any other method is answered 405 (with `Allow: GET`), any other
/// path 404. The query string is ignored.
///
/// - **`/readyz`**: 503 until the tree is ready, 200 from then on, and 503 again from the
///   moment the root manager begins its shutdown, while the children are still stopping, so
///   that an orchestrator stops routing before they stop. (Precisely: from the root's
///   [`EventKind::ShuttingDown`](crate::EventKind::ShuttingDown), published at the end of
///   the manager's wake-up that began the shutdown and asked the first children to stop.)
///   "Ready" is the root's
///   [`EventKind::Ready`](crate::EventKind::Ready): every child of the tree reported ready
///   (as dependents see it), once per run; a child that restarts later does not make the
///   tree unready. Answered from an atomic, without asking the manager anything.
/// - **`/healthz`**: 200 while the tree runs; 503 once the root manager has exceeded its
///   restart intensity ([`EventKind::GaveUp`](crate::EventKind::GaveUp) at the root) and
///   winds down. A nested manager that gives up is not the tree giving up: its parent
///   restarts it or gives up in turn. Answered from an atomic as well.
/// - **`/metrics`**: Prometheus' text format (version 0.0.4, `prometheus-client`'s
///   encoder). Every series about a node is labelled with its `path` (`root/db/primary`);
///   every node of the tree counts, the root and nested managers included:
///
///   | metric | type | what |
///   | --- | --- | --- |
///   | `overseer_tree_ready` | gauge | 1 while `/readyz` answers 200 |
///   | `overseer_tree_gave_up` | gauge | 1 once `/healthz` answers 503 |
///   | `overseer_events_missed_total` | counter | events this child missed by falling behind |
///   | `overseer_child_info{path, kind}` | gauge | 1 per node; `kind` is `task`, `process` or `manager` |
///   | `overseer_child_state{path, state}` | gauge | 1 for the current state, 0 for the six others |
///   | `overseer_child_restarts_total` | counter | restarts by its manager |
///   | `overseer_child_uptime_seconds` | gauge | length of the current run; absent between runs |
///   | `overseer_child_healthy` | gauge | 1 healthy, 0 unhealthy; absent while unknown (no probe, or none decided) |
///   | `overseer_child_exits_total{path, cause}` | counter | ended runs by `cause`: `completed`, `failed`, `panicked`, `aborted` |
///   | `overseer_process_resident_memory_bytes` | gauge | an OS process child's group, while it runs |
///   | `overseer_process_cpu_percent` | gauge | the same, since the previous reading, in % of one core; absent at a run's first reading |
///   | `overseer_process_count` | gauge | processes in that group |
///   | `overseer_manager_intensity_used` | gauge | restarts counted in a running manager's window now |
///   | `overseer_manager_intensity_max` | gauge | restarts it allows within its period |
///   | `overseer_manager_intensity_period_seconds` | gauge | the period |
///
///   States, restarts, uptimes, health, resources and intensities are read from a
///   [`Handle::snapshot`] taken at the scrape. About 14 series per task node (more with
///   probes, for processes and managers): for 1,000 children an answer of about 800 KB, made
///   in 0.9–1.4 ms of server time (median) on the project's 2-core machine, of which the
///   snapshot is about 0.1 ms (`BENCHMARKS.md`).
///
///   Exits are counted from the event stream, from the moment this child has subscribed to
///   it, which is before it reports ready: the exit of a child that starts beside it may come
///   earlier and be missed; a child started [after](crate::ChildSpec::after) it is
///   [ready](crate::Condition::Ready) has every exit counted. A restart of this child keeps
///   the counts. The counts of nodes that have left the tree are forgotten when this child
///   next reads a snapshot of its own (at its start, after a lag, or once it holds counts for
///   more than max(1,024, twice the tree's) paths), so churn does not grow them.
///
/// # Costs and guarantees
///
/// - **No polling.** It subscribes to the tree's events (which makes every manager build
///   events while the subscription lives: work done only when something changes) and takes a
///   snapshot only at a scrape, at its own start and when its subscription lagged (to read
///   the readiness it may have missed), and to prune its exit counts (see above). While
///   nothing changes and nobody asks, it costs the managers nothing (measured: no CPU over
///   5 s idle beside the runtime's own, `BENCHMARKS.md`).
/// - **Ready** once its listener accepts connections (the port is bound by
///   [`bind`](Self::bind), before the tree runs: a port in use is an error there, not a
///   failed start).
/// - **It [stops last](Runnable::stops_last)**, so `/readyz` keeps answering 503 (and
///   `/metrics` keeps answering) while the others stop. Put it in the **root** manager:
///   wherever it is, it watches the whole tree ([`Context::handle`] is the root's), but only
///   in the root does stopping last mean after every other child. Once asked to stop it
///   accepts nothing more and gives open connections up to 2 s to finish their request.
/// - **Bounded.** At most 256 connections are served at once; a request head must arrive
///   within 10 s. Connections are served inside this child's run, not in tasks of their
///   own: when the run ends or is aborted, nothing of it is left behind.
/// - If its subscription falls behind (more than the root's
///   [`event_capacity`](crate::ProcessManagerBuilder::event_capacity) events at once), the events
///   it skipped are counted in `overseer_events_missed_total`, readiness is read again from
///   a snapshot, and exit counts may be low.
/// - A restart of this child (after a failure) keeps its port: the listener is bound once
///   and held by this value.
///
/// Every answer carries `Server-Timing: app;dur=<ms>`: the time this child took to make it.
///
/// It does not [read messages](Runnable::reads_messages).
#[derive(Clone, Debug)]
pub struct HttpEndpoints {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    listener: StdListener,
    addr: SocketAddr,
    exits: Arc<Exits>,
    /// The length of the last `/metrics` answer, to size the next one.
    last_len: AtomicUsize,
}

/// Why an [`HttpEndpoints`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointsError {
    /// The address does not resolve.
    #[error("cannot resolve the address to listen on: {source}")]
    Resolve {
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// No address could be bound (in use, not allowed, not this host's).
    #[error("cannot listen on {addrs:?}: {source}")]
    Bind {
        /// The addresses tried.
        addrs: Vec<SocketAddr>,
        /// The error of the last one.
        #[source]
        source: std::io::Error,
    },
    /// The listener given cannot be used (it cannot be made non-blocking, or has no local
    /// address).
    #[error("cannot use the listener: {source}")]
    Listener {
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl HttpEndpoints {
    /// Binds `addr` now (`"127.0.0.1:9090"`, `"0.0.0.0:9090"`, a [`SocketAddr`]; port 0
    /// picks a free port, see [`local_addr`](Self::local_addr)).
    ///
    /// # Errors
    /// [`EndpointsError::Resolve`] or [`EndpointsError::Bind`].
    pub fn bind(addr: impl ToSocketAddrs) -> Result<Self, EndpointsError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| EndpointsError::Resolve { source })?
            .collect();
        let listener = StdListener::bind(&addrs[..])
            .map_err(|source| EndpointsError::Bind { addrs, source })?;
        Self::from_listener(listener)
    }

    /// Serves on a listener bound by the caller (a Tokio listener converts with
    /// `into_std()`).
    ///
    /// # Errors
    /// [`EndpointsError::Listener`] when it cannot be made non-blocking or has no local
    /// address.
    pub fn from_listener(listener: StdListener) -> Result<Self, EndpointsError> {
        let err = |source| EndpointsError::Listener { source };
        listener.set_nonblocking(true).map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        Ok(HttpEndpoints {
            shared: Arc::new(Shared {
                listener,
                addr,
                exits: Arc::new(Exits::default()),
                last_len: AtomicUsize::new(0),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }
}

/// What a connection's requests need.
struct Serve {
    tree: Handle,
    lifecycle: Arc<Lifecycle>,
    shared: Arc<Shared>,
}

type Snapshotting = Pin<Box<dyn Future<Output = Result<Snapshot, ControlError>> + Send>>;

/// A snapshot asked for outside a scrape (at the start, after a lag, to prune exit counts),
/// with the exit sequence number at which it was asked.
fn resync(tree: &Handle, exits: &Exits) -> (Snapshotting, u64) {
    let tree = tree.clone();
    (Box::pin(async move { tree.snapshot().await }), exits.seq())
}

impl HttpEndpoints {
    /// Serves the tree of `tree` (a handle to its root manager) from outside it, as the
    /// child does from inside, until the tree's run has ended (its last child stopped): for
    /// a program that runs a tree it does not build itself (the `overseer` command serves
    /// its stack this way). Start it before or as the tree starts.
    ///
    /// # Errors
    /// An I/O error when the listener cannot be used.
    pub async fn serve(&self, tree: Handle) -> std::io::Result<()> {
        self.serve_until(tree, || {}, std::future::pending(), true)
            .await
    }

    /// The server's loop: `ready` once it accepts connections; until `stop` completes, or,
    /// with `with_tree`, until the tree's events end.
    async fn serve_until(
        &self,
        tree: Handle,
        ready: impl FnOnce(),
        stop: impl Future<Output = ()>,
        with_tree: bool,
    ) -> std::io::Result<()> {
        tokio::pin!(stop);
        let listener = tokio::net::TcpListener::from_std(self.shared.listener.try_clone()?)?;
        let mut events = tree.events();
        let lifecycle = Arc::new(Lifecycle::new(tree.path()));
        let exits = self.shared.exits.clone();
        let serve = Arc::new(Serve {
            tree: tree.clone(),
            lifecycle: lifecycle.clone(),
            shared: self.shared.clone(),
        });
        // Subscribed first: what the snapshot misses, the stream has.
        let mut resyncing = Some(resync(&tree, &exits));
        let mut missed = 0;
        let mut events_open = true;
        let closing = CancellationToken::new();
        let mut connections = FuturesUnordered::new();
        ready();
        tracing::info!(addr = %self.shared.addr, "serving /healthz, /readyz and /metrics");
        loop {
            tokio::select! {
                // Events first: an answer never lags behind an event already published.
                biased;
                () = &mut stop => break,
                event = events.recv(), if events_open => match event {
                    Some(event) => {
                        lifecycle.on_event(&event);
                        let full = exits.on_event(&event);
                        let lagged = events.missed() > missed;
                        if lagged {
                            exits.add_missed(events.missed() - missed);
                            missed = events.missed();
                            tracing::warn!(missed, "fell behind the tree's events; reading its state again");
                        }
                        if (full || lagged) && resyncing.is_none() {
                            resyncing = Some(resync(&tree, &exits));
                        }
                    }
                    None => {
                        events_open = false;
                        lifecycle.on_end();
                        if with_tree {
                            break;
                        }
                    }
                },
                snapshot = async {
                    match resyncing.as_mut() {
                        Some((snapshotting, _)) => snapshotting.as_mut().await,
                        None => std::future::pending().await,
                    }
                }, if resyncing.is_some() => {
                    let seq = resyncing.take().map_or(0, |(_, seq)| seq);
                    if let Ok(snapshot) = snapshot {
                        lifecycle.on_root_state(snapshot.state);
                        prune(&exits, seq, &snapshot);
                    }
                }
                accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                    Ok((stream, _)) => {
                        connections.push(connection(stream, serve.clone(), closing.clone()));
                    }
                    Err(error) => {
                        // Out of descriptors, say: served connections go on; try again later.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(50)) => {}
                            () = &mut stop => break,
                        }
                    }
                },
                Some(()) = connections.next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        closing.cancel();
        let drain = async { while connections.next().await.is_some() {} };
        if tokio::time::timeout(DRAIN, drain).await.is_err() {
            tracing::debug!("connections still open after the drain were closed");
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Runnable for HttpEndpoints {
    async fn run(&self, ctx: Context) -> RunResult {
        self.serve_until(
            ctx.handle(),
            || ctx.ready(),
            ctx.shutdown_requested(),
            false,
        )
        .await?;
        Ok(())
    }

    fn stops_last(&self) -> bool {
        true
    }

    fn reads_messages(&self) -> bool {
        false
    }
}

/// Forgets the exit counts of nodes that `snapshot` no longer shows.
fn prune(exits: &Exits, seq: u64, snapshot: &Snapshot) {
    let present: std::collections::HashSet<&str> =
        snapshot.iter().map(|n| n.path.as_str()).collect();
    exits.prune(seq, |path| present.contains(path.as_str()));
}

/// Serves one connection until the client closes it, or, once `closing` is cancelled, until
/// the request in progress is answered.
fn connection(
    stream: tokio::net::TcpStream,
    serve: Arc<Serve>,
    closing: CancellationToken,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let service = service_fn(move |request: Request<Incoming>| {
            let serve = serve.clone();
            async move { Ok::<_, Infallible>(serve.answer(request).await) }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = closing.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "an HTTP connection ended with an error");
        }
    })
}

impl Serve {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let began = Instant::now();
        let mut response = match (request.method(), request.uri().path()) {
            (&Method::GET, "/readyz") => {
                if self.lifecycle.ready() {
                    text(StatusCode::OK, "ready\n")
                } else if self.lifecycle.shutting_down() {
                    text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }
            (&Method::GET, "/healthz") => {
                if self.lifecycle.gave_up() {
                    text(StatusCode::SERVICE_UNAVAILABLE, "gave up\n")
                } else {
                    text(StatusCode::OK, "ok\n")
                }
            }
            (&Method::GET, "/metrics") => self.metrics().await,
            (_, "/readyz" | "/healthz" | "/metrics") => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET"));
                response
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        server_timing(&mut response, began);
        response
    }

    async fn metrics(&self) -> Response<Full<Bytes>> {
        let snapshot = match self.tree.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("no snapshot of the tree: {error}\n"),
                );
            }
        };
        let shared = &self.shared;
        let capacity = shared.last_len.load(Ordering::Relaxed) + 1024;
        match metrics::encode(
            snapshot,
            self.lifecycle.clone(),
            shared.exits.clone(),
            capacity,
        ) {
            Ok(body) => {
                shared.last_len.store(body.len(), Ordering::Relaxed);
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(metrics::CONTENT_TYPE),
                );
                response
            }
            Err(fmt::Error) => {
                tracing::warn!("cannot encode the metrics");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot encode the metrics\n",
                )
            }
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Adds `Server-Timing: app;dur=<ms>`: the time from the request's head to the answer's
/// body, as browsers' tools and the benchmark read it.
fn server_timing(response: &mut Response<Full<Bytes>>, began: Instant) {
    let micros = began.elapsed().as_micros();
    let value = format!("app;dur={}.{:03}", micros / 1000, micros % 1000);
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert("server-timing", value);
    }
}
