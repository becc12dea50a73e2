//! Control messages: whole tree, subtree, one child; before start; to a child that exited.

mod common;

use common::{Log, alive_tasks};
use futures_util::FutureExt as _;
use overseer::{
    ChildSpec, ChildState, Control, ControlError, INBOX_CAPACITY, ProcessManager, Restart,
};

/// A child that logs every control message it reads as `<id>:<message>` and reports ready.
fn listener(id: &str, log: &Log) -> ChildSpec {
    let (name, log) = (id.to_string(), log.clone());
    ChildSpec::task(id, move |mut ctx| {
        let (name, log) = (name.clone(), log.clone());
        async move {
            ctx.ready();
            while let Some(msg) = ctx.recv().await {
                let text = match msg {
                    Control::Reload => "reload".to_string(),
                    Control::Shutdown => "shutdown".to_string(),
                    Control::Custom(c) => format!("custom {}", c.downcast_ref::<u32>().unwrap()),
                    _ => "other".to_string(),
                };
                log.push(format!("{name}:{text}"));
            }
            Ok(())
        }
    })
}

/// root{a, sub{b, c}}, running, every child ready.
async fn running_tree(
    log: &Log,
) -> (
    overseer::Handle,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
) {
    let sub = ProcessManager::builder("sub")
        .child(listener("b", log))
        .child(listener("c", log))
        .build()
        .unwrap();
    let tree = ProcessManager::builder("root")
        .child(listener("a", log))
        .child(ChildSpec::new("sub", sub))
        .build()
        .unwrap();
    let (handle, _, run) = common::start_until(
        tree,
        &[("root/sub", common::is_ready), ("root/a", common::is_ready)],
    )
    .await;
    (handle, run)
}

/// Waits until the log holds `n` entries.
async fn entries(log: &Log, n: usize) -> Vec<String> {
    while log.entries().len() < n {
        tokio::task::yield_now().await;
    }
    let mut e = log.entries();
    e.sort();
    e
}

#[tokio::test]
async fn reload_reaches_every_child_of_the_tree_through_nested_managers() {
    let log = Log::default();
    let baseline = alive_tasks();
    let (handle, run) = running_tree(&log).await;
    handle.broadcast(Control::Reload).await.unwrap();
    assert_eq!(entries(&log, 3).await, ["a:reload", "b:reload", "c:reload"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(alive_tasks(), baseline);
}

#[tokio::test]
async fn a_message_to_a_subtree_reaches_only_that_subtree() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    handle.send("root/sub", Control::Reload).await.unwrap();
    assert_eq!(entries(&log, 2).await, ["b:reload", "c:reload"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert!(log.with_prefix("a:reload").is_empty());
}

#[tokio::test]
async fn a_custom_message_reaches_one_child_by_path_through_a_nested_manager() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    handle
        .send("root/sub/c", Control::custom(7u32))
        .await
        .unwrap();
    assert_eq!(entries(&log, 1).await, ["c:custom 7"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(log.with_prefix("c:custom"), ["c:custom 7"]);
    assert!(log.with_prefix("b:custom").is_empty());
}

#[tokio::test]
async fn shutdown_sent_to_one_child_stops_it_for_good() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    let mut events = handle.events();
    handle.send("root/sub/b", Control::Shutdown).await.unwrap();
    common::event_of(&mut events, "root/sub/b", common::is_stopped).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/sub/b").unwrap().state, ChildState::Stopped);
    assert_eq!(
        snap.find("root/sub/b").unwrap().restarts,
        0,
        "a permanent child stopped on request is not restarted"
    );
    assert_eq!(snap.find("root/sub/c").unwrap().state, ChildState::Ready);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_sent_to_a_nested_manager_stops_its_subtree_for_good() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    let mut events = handle.events();
    handle.send("root/sub", Control::Shutdown).await.unwrap();
    common::event_of(&mut events, "root/sub", common::is_stopped).await;
    assert_eq!(entries(&log, 2).await, ["b:shutdown", "c:shutdown"]);
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/sub").unwrap().state, ChildState::Stopped);
    assert_eq!(snap.find("root/a").unwrap().state, ChildState::Ready);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_nested_managers_own_handle_shutdown_stops_it_for_good() {
    let log = Log::default();
    let sub = ProcessManager::builder("sub")
        .child(listener("b", &log))
        .build()
        .unwrap();
    let sub_handle = sub.handle();
    let tree = ProcessManager::builder("root")
        .child(listener("a", &log))
        .child(ChildSpec::new("sub", sub))
        .build()
        .unwrap();
    let (handle, mut events, run) = common::start(tree);
    common::event_of(&mut events, "root/sub", common::is_ready).await;
    assert_eq!(sub_handle.path(), "root/sub");
    sub_handle.shutdown().unwrap();
    common::event_of(&mut events, "root/sub", common::is_stopped).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.find("root/sub").unwrap().state, ChildState::Stopped);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_message_sent_before_start_is_delivered_once_the_tree_starts() {
    let log = Log::default();
    let tree = ProcessManager::builder("root")
        .child(listener("a", &log))
        .build()
        .unwrap();
    let handle = tree.handle();
    let sender = {
        let handle = handle.clone();
        tokio::spawn(async move { handle.send("root/a", Control::custom(1u32)).await })
    };
    tokio::task::yield_now().await;
    let run = tokio::spawn(async move { tree.run().await });
    sender.await.unwrap().unwrap();
    assert_eq!(entries(&log, 1).await, ["a:custom 1"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_shutdown_requested_before_start_starts_no_child() {
    let log = Log::default();
    let tree = ProcessManager::builder("root")
        .child(listener("a", &log))
        .build()
        .unwrap();
    let handle = tree.handle();
    let events = handle.events();
    handle.shutdown().unwrap();
    let baseline = alive_tasks();
    tree.run().await.unwrap();
    assert!(log.entries().is_empty());
    assert_eq!(alive_tasks(), baseline);
    // Nothing ran: no event other than the tree's own was published.
    drop(handle);
    drop(events);
}

#[tokio::test]
async fn a_message_to_a_child_that_has_exited_is_refused_not_lost() {
    let log = Log::default();
    let tree = ProcessManager::builder("root")
        .child(listener("a", &log))
        .child(ChildSpec::task("done", |_| async { Ok(()) }).restart(Restart::Transient))
        .build()
        .unwrap();
    let (handle, _events, run) =
        common::start_until(tree, &[("root/done", common::is_stopped)]).await;
    let err = handle.send("root/done", Control::Reload).await.unwrap_err();
    assert_eq!(
        err,
        ControlError::NotRunning {
            path: "root/done".into()
        }
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_message_to_an_unknown_path_is_refused() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    for path in ["root/nope", "root/sub/nope", "elsewhere/a", "root/a/deeper"] {
        let err = handle.send(path, Control::Reload).await.unwrap_err();
        assert!(
            matches!(err, ControlError::NotFound { .. }),
            "{path}: {err}"
        );
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert!(log.with_prefix("a:reload").is_empty());
}

#[tokio::test]
async fn a_child_that_never_reads_gets_a_full_inbox_not_a_growing_one() {
    let tree = ProcessManager::builder("root")
        .child(common::ready_waiter("deaf"))
        .build()
        .unwrap();
    let (handle, _events, run) =
        common::start_until(tree, &[("root/deaf", common::is_ready)]).await;
    for i in 0..INBOX_CAPACITY {
        handle.send("root/deaf", Control::custom(i)).await.unwrap();
    }
    let err = handle
        .send("root/deaf", Control::custom(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::InboxFull {
                capacity: INBOX_CAPACITY,
                ..
            }
        ),
        "{err}"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn commands_after_the_tree_stopped_are_refused_at_once() {
    let tree = ProcessManager::builder("root")
        .lifetime(overseer::Lifetime::UntilDone)
        .build()
        .unwrap();
    let handle = tree.handle();
    tree.run().await.unwrap();
    let err = handle.send("root", Control::Reload).await.unwrap_err();
    assert_eq!(
        err,
        ControlError::NotRunning {
            path: "root".into()
        }
    );
    assert!(handle.shutdown().is_err());
    assert!(handle.snapshot().await.is_err());
}

/// A tree whose child `deaf` reports ready and never reads its inbox, and `reader`, which reads
/// and logs like [`listener`]; `deaf` says it reads messages unless `declared_deaf`.
async fn with_a_deaf_child(
    log: &Log,
    declared_deaf: bool,
) -> (
    overseer::Handle,
    tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
) {
    let deaf = ChildSpec::task("deaf", |ctx| async move {
        ctx.ready();
        ctx.shutdown_requested().await;
        Ok(())
    });
    let deaf = if declared_deaf {
        deaf.reads_messages(false)
    } else {
        deaf
    };
    let tree = ProcessManager::builder("root")
        .child(deaf)
        .child(listener("reader", log))
        .child(ChildSpec::new("idle", overseer::builtin::Idle))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    common::all_of(
        &mut events,
        &[
            ("root/deaf", common::is_ready),
            ("root/reader", common::is_ready),
        ],
    )
    .await;
    (handle, run)
}

#[tokio::test]
async fn repeated_reloads_to_a_child_that_does_not_read_them_coalesce_into_one() {
    let log = Log::default();
    let (handle, run) = with_a_deaf_child(&log, false).await;
    for _ in 0..10 * INBOX_CAPACITY {
        handle.send("root/deaf", Control::Reload).await.unwrap();
        handle.broadcast(Control::Reload).await.unwrap();
    }
    // One reload waits in the inbox: room is left for exactly `INBOX_CAPACITY - 1` others.
    for i in 1..INBOX_CAPACITY as u32 {
        handle.send("root/deaf", Control::custom(i)).await.unwrap();
    }
    let err = handle.send("root/deaf", Control::custom(0_u32)).await;
    assert!(
        matches!(err, Err(ControlError::InboxFull { .. })),
        "{err:?}"
    );
    assert!(!log.entries().is_empty(), "the reader got the reloads");
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

// Cancel safety: a command leaves on the first poll of its future; dropping the future then
// loses only the answer. `now_or_never` polls once and drops the future: on this
// current-thread runtime no manager can answer during that poll.

#[tokio::test]
async fn a_message_whose_future_is_dropped_after_its_first_poll_is_still_delivered() {
    let log = Log::default();
    let (handle, run) = running_tree(&log).await;
    let send = handle.send("root/sub/c", Control::custom(7u32));
    assert!(send.now_or_never().is_none(), "no answer within one poll");
    assert_eq!(entries(&log, 1).await, ["c:custom 7"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        log.with_prefix("c:custom"),
        ["c:custom 7"],
        "delivered once"
    );
}

#[tokio::test]
async fn a_stop_whose_future_is_dropped_after_its_first_poll_still_stops_the_child() {
    let (handle, mut events, run) = common::pool_tree().await;
    handle
        .add_child("root/pool", common::ready_waiter("w"))
        .await
        .unwrap();
    common::event_of(&mut events, "root/pool/w", common::is_ready).await;
    assert!(handle.stop("root/pool/w").now_or_never().is_none());
    common::event_of(&mut events, "root/pool/w", common::is_stopped).await;
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        common::state_of(&snap, "root/pool/w"),
        Some(ChildState::Stopped)
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_child_whose_add_future_is_dropped_after_its_first_poll_is_still_added() {
    let (handle, mut events, run) = common::pool_tree().await;
    let add = handle.add_child("root/pool", common::ready_waiter("w"));
    assert!(add.now_or_never().is_none());
    common::event_of(&mut events, "root/pool/w", common::is_ready).await;
    let again = handle
        .add_child("root/pool", common::ready_waiter("w"))
        .await;
    assert!(
        matches!(again, Err(ControlError::AlreadyStarted { .. })),
        "{again:?}"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_child_that_does_not_read_messages_is_skipped_by_a_broadcast_and_refuses_one_sent_to_it()
{
    let log = Log::default();
    let (handle, run) = with_a_deaf_child(&log, true).await;
    // The deaf child and `Idle` are skipped: their inboxes never fill.
    for i in 0..2 * INBOX_CAPACITY as u32 {
        handle.broadcast(Control::custom(i)).await.unwrap();
    }
    assert_eq!(
        entries(&log, 2 * INBOX_CAPACITY).await.len(),
        2 * INBOX_CAPACITY
    );
    for path in ["root/deaf", "root/idle"] {
        let err = handle.send(path, Control::Reload).await.unwrap_err();
        assert_eq!(err, ControlError::NotListening { path: path.into() });
    }
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_broadcast_that_could_not_reach_a_child_says_which_instead_of_succeeding() {
    let log = Log::default();
    let (handle, run) = with_a_deaf_child(&log, false).await;
    for i in 0..INBOX_CAPACITY as u32 {
        handle.send("root/deaf", Control::custom(i)).await.unwrap();
    }
    let err = handle.broadcast(Control::custom(0_u32)).await.unwrap_err();
    let ControlError::NotDelivered { undelivered } = err else {
        panic!("not a NotDelivered error: {err}");
    };
    assert_eq!(
        undelivered,
        [ControlError::InboxFull {
            path: "root/deaf".into(),
            capacity: INBOX_CAPACITY
        }]
    );
    // The others got it.
    assert_eq!(entries(&log, 1).await, ["reader:custom 0"]);
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_command_whose_future_is_dropped_before_its_first_poll_is_never_sent() {
    let (handle, _, run) = common::pool_tree().await;
    drop(handle.add(common::ready_waiter("w")));
    drop(handle.stop("root/idle"));
    // The mailbox is first in, first out: a command sent earlier would be carried out first.
    let snap = handle.snapshot().await.unwrap();
    assert!(snap.find("root/w").is_none(), "nothing was added");
    assert_eq!(
        common::state_of(&snap, "root/idle"),
        Some(ChildState::Running)
    );
    handle.add(common::ready_waiter("w")).await.unwrap();
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
