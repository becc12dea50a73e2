//! Probes against real servers and real commands: HTTP GET against `python3 -m http.server`
//! on 127.0.0.1, exec probes, and a process child whose readiness its probe decides.
#![cfg(all(feature = "health-http", feature = "process", target_os = "linux"))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{event_of, is_running, start};
use overseer::health::{HttpProbeError, Probe};
use overseer::process::Command;
use overseer::{ChildSpec, Condition, EventKind, ProcessManager};

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `python3 -m http.server` serving `dir` on 127.0.0.1:`port`, as a child of ours.
fn http_server(dir: &std::path::Path, port: u16) -> Command {
    Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(dir)
        .stdout(overseer::process::Output::Null)
        .stderr(overseer::process::Output::Null)
}

fn is_healthy(k: &EventKind) -> bool {
    matches!(k, EventKind::Healthy { .. })
}

#[tokio::test]
async fn a_process_with_an_http_readiness_probe_is_ready_when_it_answers_not_when_it_is_spawned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("healthz"), "ok: serving\n").unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let answered = Arc::new(AtomicU32::new(0));
    let seen = answered.clone();
    // The dependent checks, when it starts, that the server takes connections already.
    let worker = ChildSpec::task("worker", move |ctx| {
        let seen = seen.clone();
        async move {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
    .after("server", Condition::Ready);
    let server = http_server(dir.path(), port).into_spec("server").readiness(
        Probe::http_expecting(&url, 200..=200, Some("serving"))
            .unwrap()
            .period(Duration::from_millis(50)),
    );
    let tree = ProcessManager::builder("root")
        .child(server)
        .child(worker)
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    let mut order = Vec::new();
    while order.len() < 3 {
        let event = events.recv().await.unwrap();
        match (event.path.as_str(), &event.kind) {
            ("root/server", EventKind::Running) => order.push("server spawned"),
            ("root/server", EventKind::Healthy { .. }) => order.push("server answers"),
            ("root/worker", EventKind::Running) => order.push("worker running"),
            _ => {}
        }
    }
    assert_eq!(
        order,
        ["server spawned", "server answers", "worker running"]
    );
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.find("root/server").unwrap().health,
        overseer::health::Health::Healthy
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "the server answered the worker"
    );
}

#[tokio::test]
async fn an_http_probe_fails_on_an_unexpected_status_or_body_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page"), "hello\n").unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let probes = [
        (
            "missing",
            Probe::http(&format!("{base}/missing")).unwrap(),
            "status 404, expected 200-399",
        ),
        (
            "wrong-body",
            Probe::http_expecting(&format!("{base}/page"), 200..=299, Some("goodbye")).unwrap(),
            "the body does not contain \"goodbye\"",
        ),
    ];
    let mut builder = ProcessManager::builder("root").child(
        http_server(dir.path(), port).into_spec("server").readiness(
            Probe::http(&format!("{base}/page"))
                .unwrap()
                .period(Duration::from_millis(50)),
        ),
    );
    for (id, probe, _) in &probes {
        builder = builder.child(
            common::ready_waiter(id)
                .after("server", Condition::Ready)
                .readiness(
                    probe
                        .clone()
                        .period(Duration::from_millis(50))
                        .failure_threshold(1),
                ),
        );
    }
    let (handle, mut events, run) = start(builder.build().unwrap());
    // The two probes fail in either order (the server's own probe fails too, while it
    // starts): each probed child's first `Unhealthy`.
    let mut errors = std::collections::HashMap::new();
    while errors.len() < probes.len() {
        let event = events.recv().await.unwrap();
        let probed = probes
            .iter()
            .any(|(id, ..)| event.path == format!("root/{id}").as_str());
        if let EventKind::Unhealthy { error, .. } = &event.kind
            && probed
        {
            errors
                .entry(event.path.to_string())
                .or_insert(error.clone());
        }
    }
    for (id, _, expected) in &probes {
        assert_eq!(&*errors[&format!("root/{id}")], *expected);
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[test]
fn an_http_probe_with_a_url_it_cannot_use_is_refused_with_a_clear_error() {
    assert!(matches!(
        Probe::http("not a url"),
        Err(HttpProbeError::InvalidUrl { .. })
    ));
    let err = Probe::http("https://example.com/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported URL \"https://example.com/\": HTTPS is not supported"
    );
    assert!(matches!(
        Probe::http("/healthz"),
        Err(HttpProbeError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn an_exec_probe_passes_on_exit_0_and_fails_with_the_status_and_last_output() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("up");
    let script = format!(
        "echo checking; test -e {} || {{ echo 'not up yet' >&2; exit 3; }}",
        flag.display()
    );
    let probe = Probe::exec(Command::shell(script))
        .period(Duration::from_millis(50))
        .failure_threshold(1);
    assert!(
        probe.describe().starts_with("exec /bin/sh -c"),
        "{}",
        probe.describe()
    );
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("svc").readiness(probe))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/svc", is_running).await;
    let event = event_of(&mut events, "root/svc", |k| {
        matches!(k, EventKind::Unhealthy { .. })
    })
    .await;
    let EventKind::Unhealthy { error, .. } = &event.kind else {
        unreachable!()
    };
    assert!(error.contains("exited with code 3"), "{error}");
    assert!(error.contains("\n  not up yet"), "{error}");
    std::fs::write(&flag, "").unwrap();
    event_of(&mut events, "root/svc", is_healthy).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_process_is_ready_once_a_line_of_its_output_matches_and_not_before() {
    use overseer::process::output::OutputConfig;
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "echo booting; while ! test -e {}; do sleep 0.01; done; echo 'listening on port 8080'; exec sleep 30",
        go.display()
    );
    let sink = OutputConfig::new().build().unwrap();
    let mut lines = sink.subscribe();
    let server = Command::shell(script)
        .capture(sink.clone())
        .into_spec("server")
        .ready_on_output(sink, r"listening on port \d+")
        .unwrap();
    let worker_runs = Arc::new(AtomicU32::new(0));
    let runs = worker_runs.clone();
    let worker = ChildSpec::task("worker", move |ctx| {
        runs.fetch_add(1, Ordering::SeqCst);
        async move {
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
    .after("server", Condition::Ready);
    let tree = ProcessManager::builder("root")
        .child(server)
        .child(worker)
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    // The process waits for `go` after `booting`: nothing it says can make it ready yet.
    while lines.recv().await.unwrap().text() != "booting" {}
    assert_eq!(
        worker_runs.load(Ordering::SeqCst),
        0,
        "`booting` is not the line"
    );
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.find("root/worker").unwrap().state,
        overseer::ChildState::Waiting
    );
    std::fs::write(&go, "").unwrap();
    let mut order = Vec::new();
    while order.len() < 2 {
        let event = events.recv().await.unwrap();
        match (event.path.as_str(), &event.kind) {
            ("root/server", EventKind::Ready) => order.push("server ready"),
            ("root/worker", EventKind::Running) => order.push("worker running"),
            _ => {}
        }
    }
    assert_eq!(order, ["server ready", "worker running"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[test]
fn a_ready_line_pattern_that_is_not_a_regex_is_refused() {
    let sink = overseer::process::output::OutputConfig::new()
        .build()
        .unwrap();
    let err = Command::new("true")
        .into_spec("p")
        .ready_on_output(sink, "listening (")
        .unwrap_err();
    assert!(err.to_string().contains("unclosed group"), "{err}");
}
