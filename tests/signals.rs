//! The signal child, with real signals sent to this test process.
#![cfg(all(unix, feature = "signal"))]

mod common;

use tokio::sync::Mutex;

use common::{Live, Log, alive_tasks};
use overseer::{ChildSpec, Control, ProcessManager, Shutdown, StopOrder, builtin::Signals};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
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
    let (signals, app) = (ChildSpec::new("signals", Signals), app(log, live, stubborn));
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
    run.await.unwrap().unwrap();
    assert_eq!(live.count(), 0);
    assert_eq!(alive_tasks(), baseline);
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
        tokio::time::timeout(std::time::Duration::from_secs(30), run)
            .await
            .unwrap_or_else(|_| panic!("{order:?}, signals last {signals_last}: still running"))
            .unwrap()
            .unwrap();
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
