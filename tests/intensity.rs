//! Restart intensity and backoff, on paused time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::alive_tasks;
use overseer::{Backoff, Cause, ChildSpec, ExitStatus, ProcessManager, Restart, Strategy};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

const S: Duration = Duration::from_secs(1);

/// Records the instant of every start (and tells `started`); each run lasts `runs_for`, then
/// fails; a run asked to stop returns at once.
fn crasher(id: &str, starts: &Arc<Mutex<Vec<Instant>>>, runs_for: Duration) -> ChildSpec {
    crasher_telling(id, starts, runs_for, None)
}

fn crasher_telling(
    id: &str,
    starts: &Arc<Mutex<Vec<Instant>>>,
    runs_for: Duration,
    started: Option<mpsc::UnboundedSender<()>>,
) -> ChildSpec {
    let starts = starts.clone();
    ChildSpec::task(id, move |ctx| {
        let (starts, started) = (starts.clone(), started.clone());
        async move {
            // Up and running: its failures are crashes, restarted, not failed starts.
            ctx.started();
            starts.lock().unwrap().push(Instant::now());
            if let Some(tx) = started {
                let _ = tx.send(());
            }
            tokio::select! {
                biased;
                _ = ctx.shutdown_requested() => Ok(()),
                _ = sleep(runs_for) => Err("crash".into()),
            }
        }
    })
}

fn gaps(starts: &Arc<Mutex<Vec<Instant>>>) -> Vec<Duration> {
    let s = starts.lock().unwrap();
    s.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn one_restart_too_many_within_the_period_stops_the_manager_with_a_typed_error() {
    let starts = Arc::default();
    let tree = ProcessManager::builder("root")
        .intensity(3, 10 * S)
        .child(crasher("crasher", &starts, Duration::ZERO))
        .build()
        .unwrap();
    let baseline = alive_tasks();
    let err = tree.run().await.unwrap_err();
    assert_eq!(
        starts.lock().unwrap().len(),
        4,
        "the first run and 3 restarts"
    );
    assert_eq!(err.path(), &"root");
    match err.cause() {
        Cause::GaveUp {
            max_restarts,
            period,
            last_child,
            last_exit,
        } => {
            assert_eq!((*max_restarts, *period), (3, 10 * S));
            assert_eq!(last_child, &"root/crasher");
            assert!(matches!(last_exit, ExitStatus::Failed(e) if e.to_string() == "crash"));
        }
        other => panic!("unexpected cause {other:?}"),
    }
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test(start_paused = true)]
async fn a_manager_that_gives_up_escalates_to_its_parent() {
    let starts = Arc::default();
    let mid = ProcessManager::builder("mid")
        .intensity(1, 10 * S)
        .child(crasher("crasher", &starts, Duration::ZERO))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .intensity(0, 10 * S)
        .child(ChildSpec::new("mid", mid))
        .task("bystander", |ctx| async move {
            ctx.shutdown_requested().await;
            Ok(())
        })
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert_eq!(err.failures().len(), 2, "{err}");
    // The nested manager's failure leads, with its path; the root's own give-up follows.
    assert_eq!(err.path(), &"root/mid");
    assert!(matches!(
        err.cause(),
        Cause::GaveUp {
            max_restarts: 1,
            ..
        }
    ));
    assert_eq!(err.later()[0].path, "root");
    assert!(matches!(
        err.later()[0].cause,
        Cause::GaveUp {
            max_restarts: 0,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_group_restart_counts_once_toward_the_intensity() {
    let starts = Arc::default();
    let others: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let tree = ProcessManager::builder("root")
        .strategy(Strategy::OneForAll)
        .intensity(1, 100 * S)
        .child(crasher("a", &others, 3600 * S))
        .child(crasher("crasher", &starts, S))
        .child(crasher("c", &others, 3600 * S))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    // One group restart (3 children) is allowed; the second failure gives up.
    assert_eq!(starts.lock().unwrap().len(), 2);
    assert_eq!(others.lock().unwrap().len(), 4);
    assert!(matches!(err.cause(), Cause::GaveUp { .. }));
}

#[tokio::test(start_paused = true)]
async fn restarts_further_apart_than_the_period_never_give_up() {
    let starts = Arc::default();
    let tree = ProcessManager::builder("root")
        .intensity(1, 5 * S)
        .backoff(Backoff::none())
        .child(crasher("crasher", &starts, 6 * S))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    sleep(6 * 10 * S + S / 2).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(starts.lock().unwrap().len(), 11);
}

async fn restart_gaps(backoff: Backoff, runs: usize, runs_for: Duration) -> Vec<Duration> {
    let starts = Arc::default();
    let (tx, mut started) = mpsc::unbounded_channel();
    let tree = ProcessManager::builder("root")
        .intensity(u32::MAX, S)
        .backoff(backoff)
        .child(crasher_telling("crasher", &starts, runs_for, Some(tx)))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    for _ in 0..runs {
        started.recv().await.unwrap();
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    let mut g = gaps(&starts);
    g.truncate(runs - 1);
    g
}

#[tokio::test(start_paused = true)]
async fn without_backoff_a_child_restarts_at_once() {
    let g = restart_gaps(Backoff::none(), 4, Duration::ZERO).await;
    assert_eq!(g, [Duration::ZERO; 3]);
}

#[tokio::test(start_paused = true)]
async fn fixed_backoff_waits_the_same_delay_before_each_restart() {
    let g = restart_gaps(Backoff::fixed(2 * S), 4, Duration::ZERO).await;
    assert_eq!(g, [2 * S; 3]);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_doubles_up_to_its_cap() {
    let g = restart_gaps(Backoff::exponential(S, 5 * S), 6, Duration::ZERO).await;
    assert_eq!(g, [S, 2 * S, 4 * S, 5 * S, 5 * S]);
}

#[tokio::test(start_paused = true)]
async fn jitter_shortens_each_delay_by_at_most_its_fraction() {
    let g = restart_gaps(
        Backoff::exponential(S, 8 * S).jitter(0.5),
        5,
        Duration::ZERO,
    )
    .await;
    for (n, gap) in g.iter().enumerate() {
        let full = S * 2u32.pow(n as u32);
        assert!(
            *gap <= full && *gap >= full / 2,
            "restart {n}: {gap:?} vs {full:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_resets_after_a_stable_uptime() {
    // Runs of 10 s each: with reset_after(10 s) every delay is the initial one ...
    let g = restart_gaps(
        Backoff::exponential(S, 60 * S).reset_after(10 * S),
        4,
        10 * S,
    )
    .await;
    assert_eq!(g, [11 * S; 3]);
    // ... and with reset_after(20 s) the delays double.
    let g = restart_gaps(
        Backoff::exponential(S, 60 * S).reset_after(20 * S),
        4,
        10 * S,
    )
    .await;
    assert_eq!(g, [11 * S, 12 * S, 14 * S]);
}

#[test]
fn an_invalid_policy_is_refused_when_building() {
    let zero = ProcessManager::builder("root")
        .intensity(1, Duration::ZERO)
        .build();
    assert!(matches!(zero, Err(overseer::SpecError::ZeroPeriod)));
    let jitter = ProcessManager::builder("root")
        .backoff(Backoff::fixed(S).jitter(2.0))
        .build();
    assert!(matches!(
        jitter,
        Err(overseer::SpecError::InvalidBackoff { .. })
    ));
    let name = ProcessManager::builder("a/b").build();
    assert!(matches!(name, Err(overseer::SpecError::InvalidName { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_is_not_counted_as_a_restart() {
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .intensity(0, S)
        .child(ChildSpec::task("t", |_| async { Ok(()) }).restart(Restart::Temporary))
        .build()
        .unwrap();
    tree.run().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_backoff_too_large_for_the_clock_waits_for_ever_without_a_panic() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let tree = ProcessManager::builder("root")
        .backoff(Backoff::fixed(Duration::MAX))
        .child(crasher("c", &starts, S))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    loop {
        let ev = events.recv().await.expect("events");
        if ev.path == "root/c" && matches!(ev.kind, overseer::EventKind::Restarting { .. }) {
            break;
        }
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(starts.lock().unwrap().len(), 1, "never restarted");
    assert_eq!(alive_tasks(), 0);
}

#[derive(Debug)]
struct Unreachable(&'static str);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is unreachable", self.0)
    }
}

impl std::error::Error for Unreachable {}

#[tokio::test(start_paused = true)]
async fn a_manager_that_gave_up_downcasts_to_the_user_error_of_the_last_exit() {
    let tree = ProcessManager::builder("root")
        .intensity(2, 10 * S)
        .task("client", |ctx| async move {
            ctx.started();
            Err(Unreachable("db").into())
        })
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    assert!(matches!(err.cause(), Cause::GaveUp { .. }), "{err}");
    assert_eq!(err.downcast_ref::<Unreachable>().map(|e| e.0), Some("db"));
}

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn by_default_a_failed_child_is_back_about_100_ms_later_and_waits_twice_as_long_each_time() {
    let starts = Arc::default();
    let tree = ProcessManager::builder("root")
        .child(crasher("crasher", &starts, Duration::ZERO))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    let g = gaps(&starts);
    // 100, 200, 400, 800, 1600 ms, each shortened by up to 10 % (jitter).
    assert_eq!(g.len(), 5, "{g:?}");
    for (gap, full) in g
        .iter()
        .zip([100 * MS, 200 * MS, 400 * MS, 800 * MS, 1600 * MS])
    {
        assert!(
            *gap <= full && *gap >= full * 9 / 10,
            "{gap:?} for {full:?}"
        );
    }
    // A child that fails at once every time is given up on after 5 restarts (in ~3 s).
    assert!(
        matches!(
            err.cause(),
            Cause::GaveUp {
                max_restarts: 5,
                period,
                ..
            } if *period == 10 * S
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn by_default_a_child_that_fails_twice_in_a_row_does_not_take_the_tree_down() {
    let starts = Arc::default();
    let (tx, mut started) = mpsc::unbounded_channel();
    let tree = ProcessManager::builder("root")
        .child(crasher_telling("flaky", &starts, Duration::ZERO, Some(tx)))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    // The first run and two restarts after two failures: still up (OTP's default, 1 restart
    // in 5 s, would have given up at the second failure).
    for _ in 0..3 {
        started.recv().await.unwrap();
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_with_its_own_backoff_waits_its_own_delays_and_its_sibling_the_managers() {
    let (own, managers) = (Arc::default(), Arc::default());
    let tree = ProcessManager::builder("root")
        .intensity(u32::MAX, S)
        .backoff(Backoff::fixed(S))
        .child(crasher("own", &own, Duration::ZERO).backoff(Backoff::fixed(3 * S)))
        .child(crasher("managers", &managers, Duration::ZERO))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    sleep(7 * S + S / 2).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(gaps(&own), [3 * S, 3 * S]);
    assert_eq!(gaps(&managers), [S; 7]);
}

#[tokio::test(start_paused = true)]
async fn a_child_with_its_own_restart_limit_is_held_to_it_instead_of_its_managers() {
    let starts = Arc::default();
    let tree = ProcessManager::builder("root")
        .intensity(1, 100 * S)
        .backoff(Backoff::none())
        .child(crasher("crasher", &starts, Duration::ZERO).intensity(3, 100 * S))
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    // Three restarts allowed (the manager's own limit would have allowed one).
    assert_eq!(starts.lock().unwrap().len(), 4);
    assert!(
        matches!(
            err.cause(),
            Cause::GaveUp {
                max_restarts: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_child_with_an_invalid_backoff_or_restart_limit_is_refused() {
    let bad_backoff = crasher("c", &Arc::default(), S).backoff(Backoff::fixed(S).jitter(2.0));
    let err = ProcessManager::builder("root")
        .child(bad_backoff)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, overseer::SpecError::InvalidBackoff { .. }),
        "{err}"
    );
    let bad_limit = crasher("c", &Arc::default(), S).intensity(1, Duration::ZERO);
    let err = ProcessManager::builder("root")
        .child(bad_limit)
        .build()
        .unwrap_err();
    assert_eq!(err, overseer::SpecError::ZeroPeriod);
}

#[test]
fn otps_defaults_are_one_name_away() {
    assert_eq!(overseer::Intensity::OTP, overseer::Intensity::new(1, 5 * S));
    assert_eq!(
        overseer::Intensity::default(),
        overseer::Intensity::new(5, 10 * S)
    );
}

#[tokio::test(start_paused = true)]
async fn a_managers_snapshot_shows_the_restarts_counted_in_its_window_and_forgets_the_old_ones() {
    let fail = Arc::new(tokio::sync::Notify::new());
    let tree = ProcessManager::builder("root")
        .intensity(5, 10 * S)
        .backoff(Backoff::none())
        .child(
            ProcessManager::builder("sub")
                .intensity(3, 20 * S)
                .backoff(Backoff::none())
                .child(common::failing_on("w", &fail))
                .build()
                .unwrap()
                .into_spec(),
        )
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/sub/w", common::is_running).await;
    let used = |snap: &overseer::Snapshot, path: &str| {
        let i = snap
            .find(path)
            .unwrap()
            .intensity
            .expect("a running manager");
        (i.restarts, i.max_restarts, i.period)
    };
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(used(&snap, "root"), (0, 5, 10 * S));
    assert_eq!(used(&snap, "root/sub"), (0, 3, 20 * S));
    assert_eq!(
        snap.find("root/sub/w").unwrap().intensity,
        None,
        "not a manager"
    );
    for _ in 0..2 {
        fail.notify_one();
        common::event_of(&mut events, "root/sub/w", |k| {
            matches!(k, overseer::EventKind::Restarting { .. })
        })
        .await;
        common::event_of(&mut events, "root/sub/w", common::is_running).await;
    }
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(used(&snap, "root/sub"), (2, 3, 20 * S), "sub's own window");
    assert_eq!(
        used(&snap, "root"),
        (0, 5, 10 * S),
        "the root restarted nothing"
    );
    sleep(21 * S).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        used(&snap, "root/sub"),
        (0, 3, 20 * S),
        "both left the window"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
