//! Health probes: readiness decides when dependents start and may go down and up; liveness
//! restarts, once per failure episode; bad settings are refused when the tree is built.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::{alive_tasks, counted_ready, event_of, is_running, start};
use overseer::health::{Health, Probe, ProbeKind, Unhealthy};
use overseer::{AutoShutdown, ChildSpec, Condition, EventKind, ProcessManager, Restart, SpecError};

/// A closure probe that passes while `flag` is set.
fn flag_probe(flag: &Arc<AtomicBool>) -> Probe {
    let flag = flag.clone();
    Probe::check("flag", move || {
        let up = flag.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err("flag is down".into())
            }
        }
    })
    .period(Duration::from_millis(100))
}

fn is_healthy(k: &EventKind) -> bool {
    matches!(k, EventKind::Healthy { .. })
}

fn is_unhealthy(k: &EventKind) -> bool {
    matches!(k, EventKind::Unhealthy { .. })
}

fn health_of(snap: &overseer::Snapshot, path: &str) -> Health {
    snap.find(path).unwrap().health.clone()
}

/// `root{server, worker}`: the server says it is ready at once but has a readiness probe that
/// passes while `up` is set; the worker waits for the server to be ready.
fn server_and_worker(
    up: &Arc<AtomicBool>,
    server_runs: &Arc<AtomicU32>,
    worker_runs: &Arc<AtomicU32>,
) -> ProcessManager {
    ProcessManager::builder("root")
        .child(counted_ready("server", server_runs).readiness(flag_probe(up)))
        .child(counted_ready("worker", worker_runs).after("server", Condition::Ready))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_readiness_probe_decides_when_dependents_start_not_the_childs_own_ready() {
    let baseline = alive_tasks();
    let up = Arc::new(AtomicBool::new(false));
    let (server_runs, worker_runs): (Arc<AtomicU32>, Arc<AtomicU32>) =
        (Arc::default(), Arc::default());
    let tree = server_and_worker(&up, &server_runs, &worker_runs);
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/server", is_running).await;
    // Ten failed checks: the server said it is ready, but its probe says otherwise.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(worker_runs.load(Ordering::SeqCst), 0, "the worker waits");
    let snap = handle.snapshot().await.unwrap();
    assert!(
        matches!(health_of(&snap, "root/server"), Health::Unhealthy { probe: ProbeKind::Readiness, ref error } if &**error == "flag is down"),
        "{:?}",
        health_of(&snap, "root/server")
    );

    up.store(true, Ordering::SeqCst);
    let mut order = Vec::new();
    while order.len() < 2 {
        let event = events.recv().await.unwrap();
        match (event.path.as_str(), &event.kind) {
            ("root/server", EventKind::Healthy { probe }) => {
                assert_eq!(*probe, ProbeKind::Readiness);
                order.push("server healthy");
            }
            ("root/worker", EventKind::Running) => order.push("worker running"),
            _ => {}
        }
    }
    assert_eq!(order, ["server healthy", "worker running"]);
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(health_of(&snap, "root/server"), Health::Healthy);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn readiness_that_goes_down_and_up_again_shows_in_snapshots_and_events_and_dependents_keep_running()
 {
    let up = Arc::new(AtomicBool::new(true));
    let (server_runs, worker_runs): (Arc<AtomicU32>, Arc<AtomicU32>) =
        (Arc::default(), Arc::default());
    let tree = server_and_worker(&up, &server_runs, &worker_runs);
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/worker", is_running).await;

    up.store(false, Ordering::SeqCst);
    let event = event_of(&mut events, "root/server", is_unhealthy).await;
    assert!(
        matches!(&event.kind, EventKind::Unhealthy { probe: ProbeKind::Readiness, error } if &**error == "flag is down"),
        "{event:?}"
    );
    let snap = handle.snapshot().await.unwrap();
    assert!(matches!(
        health_of(&snap, "root/server"),
        Health::Unhealthy { .. }
    ));
    assert_eq!(
        snap.find("root/worker").unwrap().state,
        overseer::ChildState::Ready,
        "the dependent keeps running"
    );

    up.store(true, Ordering::SeqCst);
    event_of(&mut events, "root/server", is_healthy).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(health_of(&snap, "root/server"), Health::Healthy);
    assert_eq!(
        server_runs.load(Ordering::SeqCst),
        1,
        "readiness never restarts"
    );
    assert_eq!(worker_runs.load(Ordering::SeqCst), 1);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_liveness_probe_restarts_the_child_exactly_once_per_failure_episode() {
    let alive = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicU32::new(0));
    let (counter, flag) = (runs.clone(), alive.clone());
    // Each run comes up healthy: its start sets the flag again.
    let child = ChildSpec::task("svc", move |ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        flag.store(true, Ordering::SeqCst);
        async move {
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
    .liveness(flag_probe(&alive).failure_threshold(3));
    let tree = ProcessManager::builder("root")
        .intensity(10, Duration::from_secs(60))
        .child(child)
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/svc", is_healthy).await;

    alive.store(false, Ordering::SeqCst);
    let exit = event_of(&mut events, "root/svc", common::is_exited).await;
    let EventKind::Exited { status } = &exit.kind else {
        unreachable!()
    };
    let unhealthy = status
        .downcast_ref::<Unhealthy>()
        .expect("an Unhealthy failure");
    assert_eq!(unhealthy.probe, "flag");
    assert_eq!(unhealthy.last_error, "flag is down");
    event_of(&mut events, "root/svc", is_running).await;
    event_of(&mut events, "root/svc", is_healthy).await;
    // Healthy again for a while: no second restart.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "one restart for one episode"
    );
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/svc").unwrap().restarts, 1);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_liveness_failure_that_ends_the_tree_is_a_typed_unhealthy_failure() {
    let alive = Arc::new(AtomicBool::new(false));
    let runs = Arc::default();
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            counted_ready("svc", &runs)
                .restart(Restart::Temporary)
                .significant(true)
                .liveness(flag_probe(&alive).failure_threshold(2)),
        )
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.path(), &"root/svc");
    assert_eq!(
        err.downcast_ref::<Unhealthy>(),
        Some(&Unhealthy {
            probe: "flag".into(),
            last_error: "flag is down".into()
        })
    );
    assert_eq!(
        err.to_string(),
        "root/svc: unhealthy: flag failed: flag is down"
    );
}

#[test]
fn probe_settings_that_cannot_work_are_refused_when_the_tree_is_built() {
    let runs = Arc::default();
    let probe = || Probe::check("p", || async { Ok(()) });
    for (bad, reason) in [
        (
            probe().period(Duration::ZERO),
            "the period must be longer than zero",
        ),
        (
            probe().timeout(Duration::ZERO),
            "the timeout must be longer than zero",
        ),
        (
            probe().failure_threshold(0),
            "the success and failure thresholds must be at least 1",
        ),
    ] {
        let err = ProcessManager::builder("root")
            .child(counted_ready("svc", &runs).liveness(bad))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            SpecError::InvalidProbe {
                id: "svc".into(),
                probe: ProbeKind::Liveness,
                reason
            }
        );
    }
}

#[cfg(feature = "health")]
#[tokio::test]
async fn a_tcp_readiness_probe_passes_once_a_real_listener_accepts_on_127_0_0_1() {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let opened = Arc::new(tokio::sync::Notify::new());
    let open = opened.clone();
    let server = ChildSpec::task("server", move |ctx| {
        let open = open.clone();
        async move {
            // Listens only when told to: until then the probe's connects are refused.
            open.notified().await;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            loop {
                tokio::select! {
                    () = ctx.shutdown_requested() => return Ok(()),
                    accepted = listener.accept() => drop(accepted?),
                }
            }
        }
    })
    .readiness(Probe::tcp(addr.to_string()).period(Duration::from_millis(20)));
    let worker_runs = Arc::new(AtomicU32::new(0));
    let tree = ProcessManager::builder("root")
        .child(server)
        .child(counted_ready("worker", &worker_runs).after("server", Condition::Ready))
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    let refused = event_of(&mut events, "root/server", is_unhealthy).await;
    assert!(
        matches!(&refused.kind, EventKind::Unhealthy { error, .. } if error.contains("cannot connect to")),
        "{refused:?}"
    );
    assert_eq!(worker_runs.load(Ordering::SeqCst), 0);
    opened.notify_one();
    event_of(&mut events, "root/server", is_healthy).await;
    event_of(&mut events, "root/worker", is_running).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(health_of(&snap, "root/server"), Health::Healthy);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_liveness_probe_that_fails_while_the_child_stops_does_not_cut_its_stop_short() {
    let alive = Arc::new(AtomicBool::new(true));
    let flag = alive.clone();
    let stopped_cleanly = Arc::new(AtomicBool::new(false));
    let done = stopped_cleanly.clone();
    let child = ChildSpec::task("server", move |ctx| {
        let (flag, done) = (flag.clone(), done.clone());
        async move {
            ctx.shutdown_requested().await;
            // Draining: no longer answers its probe, for longer than the failure threshold.
            flag.store(false, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(2)).await;
            done.store(true, Ordering::SeqCst);
            Ok(())
        }
    })
    .shutdown(overseer::Shutdown::Timeout(Duration::from_secs(5)))
    .liveness(flag_probe(&alive).failure_threshold(2));
    let tree = ProcessManager::builder("root")
        .child(child)
        .build()
        .unwrap();
    let (handle, mut events, run) = start(tree);
    event_of(&mut events, "root/server", is_healthy).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert!(
        stopped_cleanly.load(Ordering::SeqCst),
        "the drain ran to its end"
    );
}
