//! The HTTP child (`builtin::HttpEndpoints`): `/readyz`, `/healthz` and `/metrics` of a real
//! tree, on 127.0.0.1, through a real HTTP client (hyper's), the metrics read back with a
//! Prometheus text parser (`prometheus-parse`).
#![cfg(feature = "metrics")]

mod common;
#[cfg(all(feature = "process", target_os = "linux"))]
mod process_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{alive_tasks, event_of, is_ready, is_running, start};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use overseer::builtin::{EndpointsError, HttpEndpoints};
use overseer::{Backoff, ChildSpec, Condition, EventKind, ProcessManager, Restart, Shutdown};
use prometheus_parse::{Sample, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

// ----- A client --------------------------------------------------------------------------------

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// One request on a connection of its own, driven in this task (no task is left behind).
async fn request(addr: SocketAddr, method: Method, path: &str) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let exchange = async move {
        let response = sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).expect("UTF-8"),
        }
        // `sender` is dropped here: the connection ends.
    };
    let (answer, _) = tokio::join!(exchange, connection);
    answer
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, Method::GET, path).await
}

/// `/metrics`, parsed.
async fn scrape(addr: SocketAddr) -> Scrape {
    let answer = get(addr, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.headers[hyper::header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Scrape::parse(answer.body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// The samples of `metric` whose labels include every pair of `labels`.
fn samples<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The value of the one sample of `metric` with `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = samples(scrape, metric, labels);
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
    match found[0].value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{metric} is not a number: {other:?}"),
    }
}

/// Whether a sample of `metric` with `labels` is there.
fn has(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> bool {
    !samples(scrape, metric, labels).is_empty()
}

// ----- Children ------------------------------------------------------------------------------------

/// The HTTP child on a free port of 127.0.0.1, and its address.
fn endpoints() -> (ChildSpec, SocketAddr) {
    let http = HttpEndpoints::bind("127.0.0.1:0").expect("bind");
    let addr = http.local_addr();
    (ChildSpec::new("http", http), addr)
}

/// A child that reports ready only once `go` is notified.
fn ready_when(id: &str, go: &Arc<Notify>) -> ChildSpec {
    let go = go.clone();
    ChildSpec::task(id, move |ctx| {
        let go = go.clone();
        async move {
            tokio::select! {
                () = go.notified() => ctx.ready(),
                () = ctx.shutdown_requested() => return Ok(()),
            }
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
}

/// A ready child that, asked to stop, says so on `stopping` and returns only once `release`
/// is notified: a shutdown in progress that the test holds open.
fn slow_to_stop(
    id: &str,
    stopping: &mpsc::UnboundedSender<()>,
    release: &Arc<Notify>,
) -> ChildSpec {
    let (stopping, release) = (stopping.clone(), release.clone());
    ChildSpec::task(id, move |ctx| {
        let (stopping, release) = (stopping.clone(), release.clone());
        async move {
            ctx.ready();
            ctx.shutdown_requested().await;
            let _ = stopping.send(());
            release.notified().await;
            Ok(())
        }
    })
    .shutdown(Shutdown::Infinity)
}

/// A child that reports ready, fails each time `fail` is notified, and stops cleanly when
/// asked.
fn fails_on(id: &str, fail: &Arc<Notify>) -> ChildSpec {
    let fail = fail.clone();
    ChildSpec::task(id, move |ctx| {
        let fail = fail.clone();
        async move {
            ctx.ready();
            tokio::select! {
                () = fail.notified() => Err("broke".into()),
                () = ctx.shutdown_requested() => Ok(()),
            }
        }
    })
}

fn is_root_ready(e: &overseer::Event) -> bool {
    e.path == "root" && matches!(e.kind, EventKind::Ready)
}

// ----- Probes --------------------------------------------------------------------------------------

#[tokio::test]
async fn readyz_answers_503_until_the_tree_is_ready_and_200_after() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let go = Arc::new(Notify::new());
    let tree = ProcessManager::builder("root")
        .child(http)
        .child(ready_when("late", &go))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::all_of(
        &mut events,
        &[("root/http", is_ready), ("root/late", is_running)],
    )
    .await;
    let answer = get(addr, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "not ready\n");
    assert_eq!(
        get(addr, "/healthz").await.status,
        StatusCode::OK,
        "up, not ready"
    );

    go.notify_one();
    common::next_event(&mut events, is_root_ready).await;
    let answer = get(addr, "/readyz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ready\n");
    assert!(answer.headers.contains_key("server-timing"));

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is released with the tree"
    );
}

#[tokio::test]
async fn readyz_answers_503_as_soon_as_shutdown_begins_while_children_still_stop() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let (stopping_tx, mut stopping) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    // Declared before the app: without `stops_last` it would be stopped after it in reverse
    // order anyway, so the app is declared first to show that it stops last on its own.
    let tree = ProcessManager::builder("root")
        .child(slow_to_stop("app", &stopping_tx, &release))
        .child(http)
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;
    assert_eq!(get(addr, "/readyz").await.status, StatusCode::OK);

    handle.shutdown().unwrap();
    event_of(&mut events, "root", |k| {
        matches!(k, EventKind::ShuttingDown)
    })
    .await;
    stopping.recv().await.expect("the app is asked to stop");
    let answer = get(addr, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "shutting down\n");
    // The app is still stopping, and the endpoint still answers about it.
    let scrape = scrape(addr).await;
    assert_eq!(value(&scrape, "overseer_tree_ready", &[]), 0.0);
    let app_stopping = [("path", "root/app"), ("state", "stopping")];
    assert_eq!(value(&scrape, "overseer_child_state", &app_stopping), 1.0);
    assert_eq!(
        value(
            &scrape,
            "overseer_child_state",
            &[("path", "root/http"), ("state", "ready")]
        ),
        1.0,
        "it stops last: still serving"
    );
    assert_eq!(
        get(addr, "/healthz").await.status,
        StatusCode::OK,
        "a shutdown is not a failure"
    );

    release.notify_one();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[tokio::test]
async fn healthz_answers_503_once_the_tree_has_given_up() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let fail = Arc::new(Notify::new());
    let (stopping_tx, mut stopping) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let tree = ProcessManager::builder("root")
        .intensity(1, Duration::from_secs(3600))
        .backoff(Backoff::none())
        .child(http)
        .child(slow_to_stop("holder", &stopping_tx, &release))
        .child(fails_on("flaky", &fail))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;
    assert_eq!(get(addr, "/healthz").await.status, StatusCode::OK);

    fail.notify_one();
    event_of(&mut events, "root/flaky", |k| {
        matches!(k, EventKind::Restarting { .. })
    })
    .await;
    event_of(&mut events, "root/flaky", is_running).await;
    assert_eq!(
        get(addr, "/healthz").await.status,
        StatusCode::OK,
        "one restart is allowed"
    );
    let scrape_1 = scrape(addr).await;
    assert_eq!(
        value(
            &scrape_1,
            "overseer_manager_intensity_used",
            &[("path", "root")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape_1,
            "overseer_manager_intensity_max",
            &[("path", "root")]
        ),
        1.0
    );

    fail.notify_one();
    event_of(&mut events, "root", |k| {
        matches!(k, EventKind::GaveUp { .. })
    })
    .await;
    stopping.recv().await.expect("the holder is asked to stop");
    let answer = get(addr, "/healthz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "gave up\n");
    assert_eq!(
        get(addr, "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        value(&scrape(addr).await, "overseer_tree_gave_up", &[]),
        1.0
    );

    release.notify_one();
    assert!(run.await.unwrap().is_err(), "the tree gave up");
    drop(handle);
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[tokio::test]
async fn an_unknown_path_is_404_and_a_post_is_405() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let tree = ProcessManager::builder("root").child(http).build().unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;

    assert_eq!(get(addr, "/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(addr, "/readyz/extra").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, "/readyz?verbose=1").await.status,
        StatusCode::OK,
        "query ignored"
    );
    for (method, path) in [
        (Method::POST, "/metrics"),
        (Method::PUT, "/readyz"),
        (Method::DELETE, "/healthz"),
        (Method::HEAD, "/readyz"),
    ] {
        let answer = request(addr, method.clone(), path).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(answer.headers[hyper::header::ALLOW], "GET");
    }

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[tokio::test]
async fn garbage_on_the_socket_is_refused_and_the_endpoint_goes_on_answering() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let tree = ProcessManager::builder("root").child(http).build().unwrap();
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/http", is_ready).await;

    let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let inputs: [&[u8]; 5] = [
        b"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /readyz HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        long_path.as_bytes(),
    ];
    for input in inputs {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // The server may close before reading everything: a failed write is an answer too.
        let _ = stream.write_all(input).await;
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        assert!(
            reply.is_empty() || !reply.starts_with(b"HTTP/1.1 200"),
            "{:?} was answered {:?}",
            String::from_utf8_lossy(&input[..input.len().min(40)]),
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(get(addr, "/healthz").await.status, StatusCode::OK);

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[test]
fn a_port_in_use_is_a_typed_error_when_binding() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    match HttpEndpoints::bind(addr) {
        Err(EndpointsError::Bind { addrs, source }) => {
            assert_eq!(addrs, vec![addr]);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    let given = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = given.local_addr().unwrap();
    let http = HttpEndpoints::from_listener(given).expect("a bound listener is taken as is");
    assert_eq!(http.local_addr(), addr);
}

// ----- Metrics -------------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_parse_with_a_prometheus_text_parser_and_carry_each_childs_path() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let fail = Arc::new(Notify::new());
    let sub = ProcessManager::builder("sub")
        .intensity(4, Duration::from_secs(60))
        .backoff(Backoff::none())
        .child(fails_on("w", &fail))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(http)
        .child(common::ready_waiter("a"))
        .child(sub.into_spec())
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;
    fail.notify_one();
    event_of(&mut events, "root/sub/w", |k| {
        matches!(k, EventKind::Restarting { .. })
    })
    .await;
    event_of(&mut events, "root/sub/w", is_running).await;

    let scrape = scrape(addr).await;
    let mut paths: Vec<&str> = samples(&scrape, "overseer_child_info", &[])
        .iter()
        .map(|s| s.labels.get("path").expect("a path label"))
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["root", "root/a", "root/http", "root/sub", "root/sub/w"]
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_child_info",
            &[("path", "root/sub"), ("kind", "manager")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_child_info",
            &[("path", "root/a"), ("kind", "task")]
        ),
        1.0
    );

    // One state of seven is 1.
    let a_states = samples(&scrape, "overseer_child_state", &[("path", "root/a")]);
    assert_eq!(a_states.len(), 7);
    assert_eq!(
        value(
            &scrape,
            "overseer_child_state",
            &[("path", "root/a"), ("state", "ready")]
        ),
        1.0
    );
    let sum: f64 = a_states
        .iter()
        .map(|s| match s.value {
            Value::Gauge(v) => v,
            ref other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(sum, 1.0);
    assert_eq!(
        value(
            &scrape,
            "overseer_child_state",
            &[("path", "root"), ("state", "ready")]
        ),
        1.0
    );

    assert!(matches!(
        samples(&scrape, "overseer_child_restarts_total", &[("path", "root/sub/w")])[0].value,
        Value::Counter(v) if v == 1.0
    ));
    assert_eq!(
        value(
            &scrape,
            "overseer_child_restarts_total",
            &[("path", "root/a")]
        ),
        0.0
    );
    assert!(
        value(
            &scrape,
            "overseer_child_uptime_seconds",
            &[("path", "root/a")]
        ) >= 0.0
    );
    assert!(
        !has(&scrape, "overseer_child_healthy", &[("path", "root/a")]),
        "no probe: unknown, absent"
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_manager_intensity_used",
            &[("path", "root/sub")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_manager_intensity_max",
            &[("path", "root/sub")]
        ),
        4.0
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_manager_intensity_period_seconds",
            &[("path", "root/sub")]
        ),
        60.0
    );
    assert_eq!(
        value(
            &scrape,
            "overseer_manager_intensity_used",
            &[("path", "root")]
        ),
        0.0
    );
    assert!(
        !has(
            &scrape,
            "overseer_manager_intensity_used",
            &[("path", "root/a")]
        ),
        "not a manager"
    );
    let w_failed = [("path", "root/sub/w"), ("cause", "failed")];
    assert_eq!(
        value(&scrape, "overseer_child_exits_total", &w_failed),
        1.0,
        "a nested child's exit, under its full path"
    );
    assert_eq!(value(&scrape, "overseer_tree_ready", &[]), 1.0);
    assert_eq!(value(&scrape, "overseer_events_missed_total", &[]), 0.0);
    assert!(
        scrape.docs.contains_key("overseer_child_exits_total"),
        "HELP lines are there"
    );

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[tokio::test]
async fn exits_are_counted_by_cause() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    let fail = Arc::new(Notify::new());
    let panics = Arc::new(AtomicU32::new(0));
    let panicker = {
        let panics = panics.clone();
        ChildSpec::task("panics", move |ctx| {
            let panics = panics.clone();
            async move {
                // Started first: a panic before that would be a failed start, which fails
                // the tree's first start.
                ctx.started();
                if panics.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("the first run panics");
                }
                ctx.shutdown_requested().await;
                Ok(())
            }
        })
    };
    let tree = ProcessManager::builder("root")
        .backoff(Backoff::none())
        .child(http)
        .child(common::ready_waiter("brutal").shutdown(Shutdown::Brutal))
        .child(fails_on("fails", &fail))
        // Both end at once: they wait for the endpoint to be ready, i.e. subscribed, as the
        // exits counted are those it hears of.
        .child(panicker.after("http", Condition::Ready))
        // Transient: it ends once, and stays in the tree as exited.
        .child(
            ChildSpec::task("completes", |_ctx| async { Ok(()) })
                .restart(Restart::Transient)
                .after("http", Condition::Ready),
        )
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::all_of(
        &mut events,
        &[
            ("root/completes", common::is_exited),
            ("root/panics", common::is_exited),
        ],
    )
    .await;
    fail.notify_one();
    event_of(&mut events, "root/fails", common::is_exited).await;
    handle.restart("root/brutal").await.unwrap();
    event_of(&mut events, "root/brutal", common::is_exited).await;

    let scrape = scrape(addr).await;
    let exits = |path: &str, cause: &str| {
        value(
            &scrape,
            "overseer_child_exits_total",
            &[("path", path), ("cause", cause)],
        )
    };
    let causes = ["completed", "failed", "panicked", "aborted"];
    let row = |path: &str| causes.map(|c| exits(path, c));
    assert_eq!(row("root/completes"), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(row("root/fails"), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(row("root/panics"), [0.0, 0.0, 1.0, 0.0]);
    assert_eq!(row("root/brutal"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(row("root/http"), [0.0; 4], "every node has its four series");
    assert!(matches!(
        samples(
            &scrape,
            "overseer_child_exits_total",
            &[("path", "root/fails")]
        )[0]
        .value,
        Value::Counter(_)
    ));

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[cfg(all(feature = "process", target_os = "linux"))]
#[tokio::test]
async fn process_children_report_memory_and_cpu() {
    use overseer::process::Command;

    let (http, addr) = endpoints();
    let tree = ProcessManager::builder("root")
        .child(http)
        .child(ChildSpec::new("sleeper", Command::new("sleep").arg("1000")))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;

    let path = [("path", "root/sleeper")];
    let first = scrape(addr).await;
    assert!(has(&first, "overseer_process_resident_memory_bytes", &path));
    assert_eq!(value(&first, "overseer_process_count", &path), 1.0);
    assert_eq!(
        value(
            &first,
            "overseer_child_info",
            &[("path", "root/sleeper"), ("kind", "process")]
        ),
        1.0
    );
    assert!(
        !has(
            &first,
            "overseer_process_resident_memory_bytes",
            &[("path", "root/http")]
        ),
        "only processes have memory figures"
    );
    // Both are the kernel's readings, which lag a process's start: RSS can read 0 just after
    // its exec (the kernel syncs per-thread RSS counts in batches), and CPU is a rate between
    // two readings of /proc, which are shared for 100 ms, so the first scrape has none.
    let deadline = tokio::time::Instant::now() + process_common::PATIENCE;
    let (memory, cpu) = loop {
        let scrape = scrape(addr).await;
        let memory = value(&scrape, "overseer_process_resident_memory_bytes", &path);
        if memory > 0.0 && has(&scrape, "overseer_process_cpu_percent", &path) {
            break (
                memory,
                value(&scrape, "overseer_process_cpu_percent", &path),
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no memory or CPU figure within {:?}",
            process_common::PATIENCE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        memory > 100_000.0,
        "`sleep` holds at least some pages: {memory}"
    );
    assert!((0.0..=100.0).contains(&cpu), "a sleeping process: {cpu}");

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    process_common::assert_clean(&[]).await;
}

#[tokio::test]
async fn an_endpoint_added_to_a_tree_already_ready_reads_its_readiness_from_a_snapshot() {
    let baseline = alive_tasks();
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("app"))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;
    // The root's Ready event has come and gone: the endpoint subscribes too late for it.
    let (http, addr) = endpoints();
    handle.add(http).await.unwrap();
    // The endpoint's snapshot was asked before this scrape's (the manager answers in order),
    // and is read before the scrape's answer is made.
    assert_eq!(value(&scrape(addr).await, "overseer_tree_ready", &[]), 1.0);
    assert_eq!(get(addr, "/readyz").await.status, StatusCode::OK);

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}

#[tokio::test]
async fn falling_behind_the_events_is_counted_in_events_missed_total() {
    let baseline = alive_tasks();
    let (http, addr) = endpoints();
    // Room for two events: the start of 20 children is published in one burst of about 60,
    // while the endpoint waits for its turn to run (on this test's current-thread runtime;
    // on a multi-thread one the endpoint may keep up).
    let tree = ProcessManager::builder("root")
        .event_capacity(2)
        .child(http)
        .children((0..20).map(|i| common::ready_waiter(&format!("c{i}"))))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    common::next_event(&mut events, is_root_ready).await;
    let scrape = scrape(addr).await;
    assert!(value(&scrape, "overseer_events_missed_total", &[]) > 0.0);
    assert_eq!(value(&scrape, "overseer_tree_ready", &[]), 1.0);
    assert_eq!(get(addr, "/readyz").await.status, StatusCode::OK);

    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline, "a task was left behind");
}
