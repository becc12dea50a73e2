//! The signal child, with real signals sent to this test process.
#![cfg(all(unix, feature = "signal"))]

mod common;

use tokio::sync::Mutex;

use common::{Live, Log, alive_tasks};
use overseer::{
    Cause, ChildSpec, Control, ProcessManager, Shutdown, StopOrder, builtin::Signals,
    builtin::SignalsError,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;

/// Signals reach the whole process: tests in this file take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn app(log: &Log, live: &Live, stubborn: bool) -> ChildSpec {
    let (log, live) = (log.clone(), live.clone());
    ChildSpec::task("app", move |mut ctx| {
        let (log, live) = (log.clone(), live.clone());
        async move {
            let _alive = live.enter();
            ctx.ready();
            while let Some(msg) = ctx.recv().await {
                match msg {
                    Control::Reload => log.push("reload"),
                    Control::Shutdown => {
                        log.push("asked to stop");
                        if !stubborn {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    })
    .shutdown(Shutdown::Infinity)
}

type Started = (
    overseer::Handle,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
);

async fn start(log: &Log, live: &Live, stubborn: bool) -> Started {
    start_with(log, live, stubborn, StopOrder::Reverse, false).await
}

/// `signals_last`: `Signals` is declared after the app, not before it.
async fn start_with(
    log: &Log,
    live: &Live,
    stubborn: bool,
    order: StopOrder,
    signals_last: bool,
) -> Started {
    start_with_signals(log, live, stubborn, order, signals_last, Signals::new()).await
}

async fn start_with_signals(
    log: &Log,
    live: &Live,
    stubborn: bool,
    order: StopOrder,
    signals_last: bool,
    signals: Signals,
) -> Started {
    let (signals, app) = (ChildSpec::new("signals", signals), app(log, live, stubborn));
    let children = if signals_last {
        [app, signals]
    } else {
        [signals, app]
    };
    let tree = ProcessManager::builder("root")
        .stop_order(order)
        .children(children)
        .build()
        .unwrap();
    let (handle, _, run) = common::start_until(
        tree,
        &[
            ("root/signals", common::is_ready),
            ("root/app", common::is_ready),
        ],
    )
    .await;
    (handle, run)
}

#[tokio::test]
async fn sigint_sigterm_and_sigquit_shut_the_tree_down_gracefully_with_success() {
    let _turn = ONE_AT_A_TIME.lock().await;
    for signal in [SIGINT, SIGTERM, SIGQUIT] {
        let (log, live) = (Log::default(), Live::default());
        let baseline = alive_tasks();
        let (_handle, run) = start(&log, &live, false).await;
        raise(signal).unwrap();
        run.await.unwrap().unwrap();
        assert_eq!(log.entries(), ["asked to stop"], "signal {signal}");
        assert_eq!(live.count(), 0);
        assert_eq!(alive_tasks(), baseline);
    }
}

#[tokio::test]
async fn a_second_signal_shuts_the_tree_down_at_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (log, live) = (Log::default(), Live::default());
    let baseline = alive_tasks();
    let (_handle, run) = start(&log, &live, true).await;
    raise(SIGINT).unwrap();
    while log.entries().is_empty() {
        tokio::task::yield_now().await;
    }
    assert_eq!(log.entries(), ["asked to stop"]);
    raise(SIGINT).unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert_interrupted(&err, SIGINT);
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
}

/// `err` says that a second `signal` forced the shutdown.
fn assert_interrupted(err: &overseer::TreeError, signal: i32) {
    let interrupted = err
        .failures()
        .iter()
        .find(|f| matches!(f.cause, Cause::Interrupted { .. }))
        .unwrap_or_else(|| panic!("not an interrupted shutdown: {err}"));
    assert_eq!(interrupted.path, "root/signals");
    assert!(matches!(interrupted.cause, Cause::Interrupted { signal: s } if s == signal));
    assert_eq!(
        interrupted.to_string(),
        "root/signals: a second SIGINT shut the tree down at once, aborting what was still stopping"
    );
}

#[tokio::test]
async fn a_second_signal_shuts_the_tree_down_at_once_also_with_the_concurrent_order_or_signals_declared_last()
 {
    let _turn = ONE_AT_A_TIME.lock().await;
    for (order, signals_last) in [
        (StopOrder::Concurrent, false),
        (StopOrder::Concurrent, true),
        (StopOrder::Reverse, true),
    ] {
        let (log, live) = (Log::default(), Live::default());
        let baseline = alive_tasks();
        let (_handle, run) = start_with(&log, &live, true, order, signals_last).await;
        raise(SIGINT).unwrap();
        while log.entries().is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(log.entries(), ["asked to stop"]);
        raise(SIGINT).unwrap();
        // A guard, not a wait: an ignored second signal leaves the stubborn app running.
        let err = tokio::time::timeout(std::time::Duration::from_secs(30), run)
            .await
            .unwrap_or_else(|_| panic!("{order:?}, signals last {signals_last}: still running"))
            .unwrap()
            .unwrap_err();
        assert_interrupted(&err, SIGINT);
        assert_eq!(live.count(), 0, "{order:?}, signals last: {signals_last}");
        assert_eq!(alive_tasks(), baseline);
    }
}

#[tokio::test]
async fn sighup_reloads_every_child() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (log, live) = (Log::default(), Live::default());
    let (handle, run) = start(&log, &live, false).await;
    raise(SIGHUP).unwrap();
    while log.entries().is_empty() {
        tokio::task::yield_now().await;
    }
    assert_eq!(log.entries(), ["reload"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_signals_of_each_meaning_can_be_chosen() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (log, live) = (Log::default(), Live::default());
    let signals = Signals::new()
        .shutdown_on([SIGUSR2])
        .reload_on([SIGUSR1])
        .ignore([SIGHUP]);
    let (_handle, run) =
        start_with_signals(&log, &live, false, StopOrder::Reverse, false, signals).await;
    // Ignored: nothing happens (and the process does not die of it).
    raise(SIGHUP).unwrap();
    raise(SIGUSR1).unwrap();
    while log.entries().is_empty() {
        tokio::task::yield_now().await;
    }
    assert_eq!(log.entries(), ["reload"]);
    raise(SIGUSR2).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(log.entries(), ["reload", "asked to stop"]);
}

#[tokio::test]
async fn a_signal_that_cannot_be_handled_fails_the_signal_child_with_a_clear_error() {
    let tree = ProcessManager::builder("root")
        .child(
            ChildSpec::new("signals", Signals::new().ignore([SIGKILL]))
                .restart(overseer::Restart::Temporary),
        )
        .build()
        .unwrap();
    let err = tree.run().await.unwrap_err();
    // It fails before it could start: at once, without restarts.
    assert!(matches!(err.cause(), Cause::FailedToStart { .. }), "{err}");
    assert_eq!(
        err.downcast_ref::<SignalsError>(),
        Some(&SignalsError::CannotHandle { signal: SIGKILL })
    );
}

/// Set for the copy of this test binary that runs [`signals_then_sigterm`].
const HELPER: &str = "OVERSEER_TEST_SIGNALS_HELPER";

/// Not a test: runs a tree with `Signals`, shuts it down through its handle, then raises
/// SIGTERM in its own process; exits with 0 only if it survived that.
#[test]
#[ignore = "helper: run by once_the_tree_has_stopped_the_signals_have_their_default_effect_again"]
fn signals_then_sigterm() {
    if std::env::var(HELPER).is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (log, live) = (Log::default(), Live::default());
        let (handle, run) = start(&log, &live, false).await;
        handle.shutdown().unwrap();
        run.await.unwrap().unwrap();
    });
    raise(SIGTERM).unwrap();
    std::process::exit(0);
}

#[test]
fn once_the_tree_has_stopped_the_signals_have_their_default_effect_again() {
    use std::os::unix::process::ExitStatusExt;
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "signals_then_sigterm",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}");
}
