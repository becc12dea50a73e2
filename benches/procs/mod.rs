//! The adapters of the OS-process benches, shared by `benches/processes.rs` (criterion) and
//! `benches/bin/process_figures/` (interleaved rounds), so both measure exactly the same code.
//! Every function expects a multi-thread Tokio runtime and returns only the timed part.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use overseer::process::{Command, Output};
use overseer::{Backoff, Cause, EventKind, Handle, ProcessManager, StopOrder, TreeError};
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::task::JoinHandle;

pub const STOP_N: usize = 100;

pub fn pid_of(child: &tokio::process::Child) -> Pid {
    child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
        .expect("a running child has a pid")
}

// ----- restart gap --------------------------------------------------------------------------

/// `k` spawn+wait rounds of `/bin/false`, as the SPEC's raw loop; the time of each round.
pub async fn raw_restart_gaps(k: u64) -> Vec<Duration> {
    let mut gaps = Vec::with_capacity(k as usize);
    for _ in 0..k {
        let t0 = Instant::now();
        let status = tokio::process::Command::new("/bin/false")
            .spawn()
            .expect("spawn /bin/false")
            .wait()
            .await
            .expect("wait");
        gaps.push(t0.elapsed());
        assert_eq!(status.code(), Some(1));
    }
    gaps
}

/// Runs `k` restarts through `run` (which gets the subscriber's sender and returns the exit
/// status of one `/bin/false`) while a subscriber task receives every message; the time of
/// each run. Checks that the subscriber got one message per run.
async fn observed_gaps<F, Fut>(k: u64, mut run: F) -> Vec<Duration>
where
    F: FnMut(tokio::sync::broadcast::Sender<Instant>) -> Fut,
    Fut: std::future::Future<Output = std::process::ExitStatus>,
{
    let (tx, mut rx) = tokio::sync::broadcast::channel::<Instant>(1024);
    let observer = tokio::spawn(async move {
        let mut seen = 0u64;
        while rx.recv().await.is_ok() {
            seen += 1;
        }
        seen
    });
    let mut gaps = Vec::with_capacity(k as usize);
    for _ in 0..k {
        let t0 = Instant::now();
        let status = run(tx.clone()).await;
        gaps.push(t0.elapsed());
        assert_eq!(status.code(), Some(1));
    }
    drop(tx);
    let seen = observer.await.expect("observer");
    assert_eq!(seen, k, "the observer missed a message");
    gaps
}

/// The raw loop watched by a subscriber: after each spawn, the loop publishes one message on
/// a Tokio `broadcast` channel, which a task of its own receives. The lower bound for a
/// restart that someone watches (overseer's subscribed figure gets five events per restart,
/// in two bursts); the gap is timed as in `raw_restart_gaps`.
pub async fn raw_observed_restart_gaps(k: u64) -> Vec<Duration> {
    observed_gaps(k, |tx| async move {
        let mut child = tokio::process::Command::new("/bin/false")
            .spawn()
            .expect("spawn /bin/false");
        let _ = tx.send(Instant::now());
        child.wait().await.expect("wait")
    })
    .await
}

/// `raw_observed` with each run in a Tokio task of its own, as a supervisor runs its children:
/// the loop publishes the message, then spawns the task that spawns and waits for the
/// process, and waits for that task. The subscriber and the run are then runnable at once.
pub async fn raw_task_observed_restart_gaps(k: u64) -> Vec<Duration> {
    observed_gaps(k, |tx| async move {
        let _ = tx.send(Instant::now());
        tokio::spawn(async {
            tokio::process::Command::new("/bin/false")
                .spawn()
                .expect("spawn /bin/false")
                .wait()
                .await
                .expect("wait")
        })
        .await
        .expect("run task")
    })
    .await
}

/// The raw loop with overseer's spawn options (see `Command::prepare` and `Group`).
pub async fn raw_group_restart_gaps(k: u64) -> Vec<Duration> {
    use std::process::Stdio;
    let mut gaps = Vec::with_capacity(k as usize);
    for _ in 0..k {
        let t0 = Instant::now();
        let mut child = tokio::process::Command::new("/bin/false")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn /bin/false");
        let pgid = pid_of(&child);
        let status = child.wait().await.expect("wait");
        // Nobody is left in the group: ESRCH, as in overseer's `Group::wait`.
        let _ = kill_process_group(pgid, Signal::KILL);
        gaps.push(t0.elapsed());
        assert_eq!(status.code(), Some(1));
    }
    gaps
}

/// One manager with one crashing `Command` child: the `k` gaps between the `at` timestamps
/// of `k + 1` consecutive `Running` events.
pub async fn overseer_restart_gaps(k: u64) -> Vec<Duration> {
    let crash = Command::new("/bin/false")
        .stdout(Output::Null)
        .stderr(Output::Null)
        .into_spec("crash");
    let tree = ProcessManager::builder("root")
        .child(crash)
        .intensity(u32::MAX, Duration::from_secs(1))
        .backoff(Backoff::none())
        .build()
        .expect("valid tree");
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let mut gaps = Vec::with_capacity(k as usize);
    let mut last = None;
    while let Some(ev) = events.recv().await {
        if !matches!(ev.kind, EventKind::Running) || !ev.path.as_str().ends_with("/crash") {
            continue;
        }
        if let Some(prev) = last.replace(ev.at) {
            gaps.push(ev.at.duration_since(prev));
            if gaps.len() as u64 == k {
                break;
            }
        }
    }
    assert_eq!(gaps.len() as u64, k, "event stream ended early");
    assert_eq!(events.missed(), 0, "the event subscriber fell behind");
    drop(events);
    handle.shutdown().expect("shutdown");
    // The shutdown may land while the crashing child's last exit is being handled: that exit
    // is then not restarted but reported, and `run` returns it as the tree's error. Anything
    // else is a bench failure.
    if let Err(e) = run.await.expect("run task") {
        assert!(
            e.failures().iter().all(|f| f.path.as_str() == "root/crash"),
            "overseer: shutdown returned {e:?}"
        );
    }
    gaps
}

/// The same manager and child, without an event subscriber: intensity `runs - 1` restarts
/// in an hour, so the manager gives up at the `runs`-th crash and `run()` returns. The time
/// from spawning `run()` to its return: `runs` spawn+wait cycles plus one start and one
/// give-up of the manager.
pub async fn overseer_runs_until_give_up(runs: u64) -> Duration {
    assert!(runs >= 1);
    let max_restarts = u32::try_from(runs - 1).expect("runs fits u32");
    let crash = Command::new("/bin/false")
        .stdout(Output::Null)
        .stderr(Output::Null)
        .into_spec("crash");
    let tree = ProcessManager::builder("root")
        .child(crash)
        .intensity(max_restarts, Duration::from_secs(3600))
        .backoff(Backoff::none())
        .build()
        .expect("valid tree");
    let t0 = Instant::now();
    let res = tokio::spawn(async move { tree.run().await })
        .await
        .expect("run task");
    let took = t0.elapsed();
    let err = res.expect_err("the manager gives up");
    assert!(
        matches!(err.cause(), Cause::GaveUp { max_restarts: m, .. } if *m == max_restarts),
        "overseer: expected GaveUp, got {err:?}"
    );
    took
}

/// Totals of the above, for criterion's `iter_custom`.
pub async fn raw_restarts(k: u64) -> Duration {
    raw_restart_gaps(k).await.into_iter().sum()
}

pub async fn raw_group_restarts(k: u64) -> Duration {
    raw_group_restart_gaps(k).await.into_iter().sum()
}

pub async fn overseer_restarts(k: u64) -> Duration {
    overseer_restart_gaps(k).await.into_iter().sum()
}

// ----- stop 100 -----------------------------------------------------------------------------

/// `n` `sleep 1000` processes held as Tokio `Child`ren (killed if dropped).
fn spawn_sleepers(n: usize) -> Vec<tokio::process::Child> {
    (0..n)
        .map(|_| {
            tokio::process::Command::new("sleep")
                .arg("1000")
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn sleep")
        })
        .collect()
}

/// 100 `sleep 1000` children held as Tokio `Child`ren; SIGTERM to each, then every wait.
pub async fn raw_stop(n: usize) -> Duration {
    let mut children = spawn_sleepers(n);
    let t0 = Instant::now();
    for child in &children {
        kill_process(pid_of(child), Signal::TERM).expect("SIGTERM");
    }
    let statuses = join_all(children.iter_mut().map(|c| c.wait())).await;
    let took = t0.elapsed();
    for status in statuses {
        assert_eq!(status.expect("wait").code(), None, "killed by SIGTERM");
    }
    took
}

/// The same children stopped one at a time, last first: SIGTERM to one, await its `wait()`,
/// then the next. The raw lower bound of a reverse-order stop (`StopOrder::Reverse`).
pub async fn raw_stop_one_by_one(n: usize) -> Duration {
    let mut children = spawn_sleepers(n);
    let t0 = Instant::now();
    let mut statuses = Vec::with_capacity(n);
    for child in children.iter_mut().rev() {
        kill_process(pid_of(child), Signal::TERM).expect("SIGTERM");
        statuses.push(child.wait().await);
    }
    let took = t0.elapsed();
    for status in statuses {
        assert_eq!(status.expect("wait").code(), None, "killed by SIGTERM");
    }
    took
}

/// A manager with `n` `sleep 1000` children, every one of them spawned (all `Ready`).
pub async fn overseer_start(
    n: usize,
    order: StopOrder,
) -> (Handle, JoinHandle<Result<(), TreeError>>) {
    // One `Command` cloned per child, so each has its own pid slot.
    let sleep = Command::new("sleep")
        .arg("1000")
        .stdout(Output::Null)
        .stop_timeout(Duration::from_secs(5));
    let tree = ProcessManager::builder("root")
        .children((0..n).map(|i| sleep.clone().into_spec(format!("s{i}"))))
        .stop_order(order)
        .build()
        .expect("valid tree");
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    let mut ready = 0;
    while ready < n {
        let ev = events
            .recv()
            .await
            .expect("tree ended before all children ran");
        if matches!(ev.kind, EventKind::Ready) {
            ready += 1;
        }
    }
    assert_eq!(events.missed(), 0);
    (handle, run)
}

pub async fn overseer_stop(n: usize, order: StopOrder) -> Duration {
    let (handle, run) = overseer_start(n, order).await;
    let t0 = Instant::now();
    handle.shutdown().expect("shutdown");
    let res = run.await.expect("run task");
    let took = t0.elapsed();
    assert!(res.is_ok(), "overseer: shutdown returned {res:?}");
    took
}

pub async fn overseer_stop_reverse(n: usize) -> Duration {
    overseer_stop(n, StopOrder::Reverse).await
}

pub async fn overseer_stop_concurrent(n: usize) -> Duration {
    overseer_stop(n, StopOrder::Concurrent).await
}
