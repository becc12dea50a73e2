//! File watching: real files in a real temp dir, restarts counted exactly. Nothing here waits
//! on a sleep for correctness: a test waits for the child's runs, and proves that something
//! did not happen with a positive control afterwards (a watched change, whose restart must be
//! the very next run).
#![cfg(feature = "watch")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use overseer::watch::{Watch, WatchAction, WatchError};
use overseer::{ChildSpec, Control, ControlError, ProcessManager, SpecError};
use tokio::sync::watch;

/// Long enough that each test's writes all land inside one window even on a loaded machine.
const WINDOW: Duration = Duration::from_millis(400);
/// How long a test may take before it is called hung (a failure report, not a timing).
const PATIENCE: Duration = Duration::from_secs(30);

/// What each run of the child saw when it began: whether the control file was there (read
/// by opening it: a read is not a change).
type Runs = watch::Sender<Vec<bool>>;

fn recorder(dir: &Path, runs: &Runs) -> ChildSpec {
    let (control, runs) = (dir.join("control"), runs.clone());
    ChildSpec::task("c", move |ctx| {
        let seen = std::fs::read_to_string(&control).is_ok();
        runs.send_modify(|r| r.push(seen));
        async move {
            ctx.shutdown_requested().await;
            Ok(())
        }
    })
}

struct Running {
    handle: overseer::Handle,
    run: tokio::task::JoinHandle<Result<(), overseer::TreeError>>,
    runs: watch::Receiver<Vec<bool>>,
}

fn start(child: ChildSpec, runs: &Runs) -> Running {
    let tree = ProcessManager::builder("root")
        .child(child)
        .build()
        .unwrap();
    let handle = tree.handle();
    Running {
        handle,
        run: tokio::spawn(async move { tree.run().await }),
        runs: runs.subscribe(),
    }
}

impl Running {
    /// Waits until the child has begun `n` runs.
    async fn runs(&mut self, n: usize) {
        let mut runs = self.runs.clone();
        if tokio::time::timeout(PATIENCE, runs.wait_for(|r| r.len() >= n))
            .await
            .is_err()
        {
            panic!("no run {n}: {:?}", *self.runs.borrow());
        }
    }

    /// Writes the control file, waits for the run that sees it, and returns every run so far.
    async fn control(&mut self, dir: &Path) -> Vec<bool> {
        std::fs::write(dir.join("control"), "control").unwrap();
        let mut runs = self.runs.clone();
        if tokio::time::timeout(PATIENCE, runs.wait_for(|r| r.iter().any(|&c| c)))
            .await
            .is_err()
        {
            panic!("no control run: {:?}", *self.runs.borrow());
        }
        self.runs.borrow().clone()
    }

    async fn stop(self) {
        self.handle.shutdown().unwrap();
        self.run.await.unwrap().unwrap();
    }
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    (tmp, dir)
}

/// Makes `change` once the child runs, and checks that it is exactly one restart: the next
/// run begins, and the control write after it is the one after that.
async fn one_restart_for(watch: Watch, dir: &Path, change: impl FnOnce()) {
    let (runs, _) = watch::channel(Vec::new());
    let mut tree = start(recorder(dir, &runs).watch(watch), &runs);
    tree.runs(1).await;
    change();
    tree.runs(2).await;
    assert_eq!(tree.control(dir).await, [false, false, true]);
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_writes_inside_the_debounce_window_restarts_the_child_exactly_once() {
    let (_tmp, dir) = temp();
    let watch = Watch::new().path(&dir).debounce(WINDOW);
    one_restart_for(watch, &dir, || {
        for i in 0..1000 {
            std::fs::write(dir.join(format!("f{}", i % 10)), i.to_string()).unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn renaming_a_watched_file_restarts_the_child_once() {
    let (_tmp, dir) = temp();
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    let watch = Watch::new()
        .glob(format!("{}/*.txt", dir.display()))
        .glob(format!("{}/control", dir.display()))
        .debounce(WINDOW);
    one_restart_for(watch, &dir, || {
        std::fs::rename(dir.join("a.txt"), dir.join("b.txt")).unwrap();
    })
    .await;
}

#[tokio::test]
async fn deleting_a_watched_file_restarts_the_child_once() {
    let (_tmp, dir) = temp();
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    let watch = Watch::new().path(&dir).debounce(WINDOW);
    one_restart_for(watch, &dir, || {
        std::fs::remove_file(dir.join("a.txt")).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_watched_file_replaced_by_renaming_another_over_it_restarts_the_child_once() {
    let (_tmp, dir) = temp();
    std::fs::write(dir.join("config.toml"), "a = 1").unwrap();
    // The file itself and the control file: a file is watched through its directory.
    let watch = Watch::new()
        .path(dir.join("config.toml"))
        .glob(format!("{}/control", dir.display()))
        .debounce(WINDOW);
    one_restart_for(watch, &dir, || {
        std::fs::write(dir.join(".config.toml.new"), "a = 2").unwrap();
        std::fs::rename(dir.join(".config.toml.new"), dir.join("config.toml")).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_change_in_a_directory_created_after_the_watch_began_restarts_the_child_once() {
    let (_tmp, dir) = temp();
    let watch = Watch::new().path(&dir).debounce(WINDOW);
    let (runs, _) = watch::channel(Vec::new());
    let mut tree = start(recorder(&dir, &runs).watch(watch), &runs);
    tree.runs(1).await;
    std::fs::create_dir(dir.join("new")).unwrap();
    tree.runs(2).await;
    // The new directory is watched by the second run's watch, set up after it existed.
    std::fs::write(dir.join("new/file"), "x").unwrap();
    tree.runs(3).await;
    assert_eq!(tree.control(&dir).await, [false, false, false, true]);
    tree.stop().await;
}

/// A second child that watches only `dir/tick`, with a window twice as long as the
/// recorder's, and says when it is sent a reload: a clock made of file events.
fn ticker(dir: &Path, reloads: &watch::Sender<usize>) -> ChildSpec {
    let reloads = reloads.clone();
    ChildSpec::task("ticker", move |mut ctx| {
        let reloads = reloads.clone();
        async move {
            while let Some(msg) = ctx.recv().await {
                if matches!(msg, Control::Reload) {
                    reloads.send_modify(|n| *n += 1);
                }
            }
            Ok(())
        }
    })
    .watch(
        Watch::new()
            .glob(format!("{}/tick", dir.display()))
            .action(WatchAction::Reload)
            .debounce(WINDOW * 2),
    )
}

/// Makes `change` once the child runs, and checks that it restarts nothing. The proof is a
/// positive control that cannot merge with it: after `change`, the ticker's window (opened by
/// a write of `dir/tick`, later, and twice as long) must close, by which time a window the
/// change would have opened has closed and acted; then the control write must be the very
/// next run.
async fn no_restart_for(watch: Watch, dir: &Path, change: impl FnOnce()) {
    let (runs, _) = watch::channel(Vec::new());
    let (ticks, mut ticked) = watch::channel(0usize);
    let tree = ProcessManager::builder("root")
        .child(recorder(dir, &runs).watch(watch.ignore("tick")))
        .child(ticker(dir, &ticks))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let mut tree = Running {
        handle,
        run: tokio::spawn(async move { tree.run().await }),
        runs: runs.subscribe(),
    };
    running(&mut events, "root/ticker").await;
    tree.runs(1).await;
    change();
    std::fs::write(dir.join("tick"), "tick").unwrap();
    tokio::time::timeout(PATIENCE, ticked.wait_for(|n| *n == 1))
        .await
        .expect("the ticker never ticked")
        .unwrap();
    assert_eq!(
        *tree.runs.borrow(),
        [false],
        "a restart for an ignored change"
    );
    assert_eq!(tree.control(dir).await, [false, true]);
    tree.stop().await;
}

#[tokio::test]
async fn writes_to_ignored_paths_do_not_restart_the_child() {
    let (_tmp, dir) = temp();
    std::fs::create_dir(dir.join("target")).unwrap();
    let watch = Watch::new()
        .path(&dir)
        .ignore("*.log")
        .ignore("target")
        .debounce(WINDOW);
    no_restart_for(watch, &dir, || {
        for i in 0..100 {
            std::fs::write(dir.join("app.log"), i.to_string()).unwrap();
            std::fs::write(dir.join("target/out.bin"), i.to_string()).unwrap();
        }
        std::fs::create_dir(dir.join("target/debug")).unwrap();
    })
    .await;
}

#[tokio::test]
async fn paths_that_gitignore_rules_ignore_do_not_restart_the_child() {
    let (_tmp, dir) = temp();
    std::fs::create_dir_all(dir.join(".git/info")).unwrap();
    std::fs::write(dir.join(".gitignore"), "/dist/\n*.o\n!keep.o\n").unwrap();
    std::fs::write(dir.join(".git/info/exclude"), "secret.txt\n").unwrap();
    std::fs::create_dir(dir.join("dist")).unwrap();
    std::fs::create_dir(dir.join("src")).unwrap();
    let watch = Watch::new().path(&dir).gitignore(true).debounce(WINDOW);
    no_restart_for(watch, &dir, || {
        std::fs::write(dir.join("dist/bundle.js"), "x").unwrap();
        std::fs::write(dir.join("src/main.o"), "x").unwrap();
        std::fs::write(dir.join("secret.txt"), "x").unwrap();
        std::fs::write(dir.join(".git/index"), "x").unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_file_that_a_negated_gitignore_rule_keeps_restarts_the_child_once() {
    let (_tmp, dir) = temp();
    std::fs::create_dir(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".gitignore"), "*.o\n!keep.o\n").unwrap();
    let watch = Watch::new().path(&dir).gitignore(true).debounce(WINDOW);
    one_restart_for(watch, &dir, || {
        std::fs::write(dir.join("keep.o"), "x").unwrap();
    })
    .await;
}

#[tokio::test]
async fn reading_a_watched_file_does_not_restart_the_child() {
    let (_tmp, dir) = temp();
    std::fs::write(dir.join("config"), "x").unwrap();
    let watch = Watch::new().path(&dir).debounce(WINDOW);
    no_restart_for(watch, &dir, || {
        for _ in 0..10 {
            std::fs::read_to_string(dir.join("config")).unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_reload_action_sends_reload_to_the_child_and_never_restarts_it() {
    let (_tmp, dir) = temp();
    let starts = Arc::new(AtomicUsize::new(0));
    let (reloads, mut reloaded) = watch::channel(0usize);
    let child = {
        let (starts, reloads) = (starts.clone(), reloads.clone());
        ChildSpec::task("c", move |mut ctx| {
            starts.fetch_add(1, Ordering::SeqCst);
            let reloads = reloads.clone();
            async move {
                while let Some(msg) = ctx.recv().await {
                    if matches!(msg, Control::Reload) {
                        reloads.send_modify(|n| *n += 1);
                    }
                }
                Ok(())
            }
        })
    };
    let watch = Watch::new()
        .path(&dir)
        .action(WatchAction::Reload)
        .debounce(WINDOW);
    let tree = ProcessManager::builder("root")
        .child(child.watch(watch))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let mut events = handle.events();
    running(&mut events, "root/c").await;
    for round in 1..=2 {
        for i in 0..50 {
            std::fs::write(dir.join(format!("f{i}")), round.to_string()).unwrap();
        }
        tokio::time::timeout(PATIENCE, reloaded.wait_for(|n| *n >= round))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(*reloaded.borrow(), 2);
    assert_eq!(
        starts.load(Ordering::SeqCst),
        1,
        "reloaded, never restarted"
    );
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}

async fn running(events: &mut overseer::Events, path: &str) {
    loop {
        let ev = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap()
            .expect("event stream ended");
        if ev.path == path && matches!(ev.kind, overseer::EventKind::Running) {
            return;
        }
    }
}

/// Builds a tree whose one child has `watch` and says whether the child ever started.
fn refused(watch: Watch) -> (SpecError, usize) {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let child = ChildSpec::task("c", move |_ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
    .watch(watch);
    let err = ProcessManager::builder("root")
        .child(child)
        .build()
        .expect_err("a bad watch must be refused");
    (err, started.load(Ordering::SeqCst))
}

fn watch_error(err: &SpecError) -> &WatchError {
    match err {
        SpecError::Watch { id, error } => {
            assert_eq!(id, "c");
            error
        }
        other => panic!("not a watch error: {other:?}"),
    }
}

#[test]
fn an_invalid_glob_is_refused_when_the_tree_is_built_and_nothing_starts() {
    let (_tmp, dir) = temp();
    for bad in [
        Watch::new().glob(format!("{}/src/**/*.{{rs", dir.display())),
        Watch::new().path(&dir).ignore("[z-a"),
    ] {
        let (err, started) = refused(bad);
        assert!(
            matches!(watch_error(&err), WatchError::InvalidGlob { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("invalid glob"), "{err}");
        assert_eq!(started, 0);
    }
}

#[test]
fn a_watched_path_that_does_not_exist_is_refused_when_the_tree_is_built_and_nothing_starts() {
    let (_tmp, dir) = temp();
    let missing = dir.join("missing");
    for bad in [
        Watch::new().path(&missing),
        Watch::new().glob(format!("{}/**/*.rs", missing.display())),
    ] {
        let (err, started) = refused(bad);
        match watch_error(&err) {
            WatchError::PathNotFound { path, .. } => assert_eq!(path, &missing),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert_eq!(started, 0);
    }
}

#[test]
fn a_zero_debounce_a_zero_threshold_and_an_empty_watch_are_refused_when_the_tree_is_built() {
    let (_tmp, dir) = temp();
    let (err, started) = refused(Watch::new().path(&dir).debounce(Duration::ZERO));
    assert_eq!(watch_error(&err), &WatchError::ZeroDebounce);
    assert_eq!(started, 0);
    let (err, _) = refused(Watch::new().path(&dir).threshold(0));
    assert_eq!(watch_error(&err), &WatchError::ZeroThreshold);
    let (err, _) = refused(Watch::new());
    assert_eq!(watch_error(&err), &WatchError::NothingToWatch);
    assert_eq!(
        Watch::new().path(&dir).debounce(Duration::ZERO).check(),
        Err(WatchError::ZeroDebounce)
    );
}

#[tokio::test]
async fn a_child_with_a_bad_watch_added_at_runtime_is_refused_and_nothing_changes() {
    let (_tmp, dir) = temp();
    let tree = ProcessManager::builder("root").build().unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let child =
        ChildSpec::task("c", |_ctx| async { Ok(()) }).watch(Watch::new().path(dir.join("missing")));
    let err = handle.add(child).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ControlError::Spec(SpecError::Watch {
                error: WatchError::PathNotFound { .. },
                ..
            })
        ),
        "{err}"
    );
    let snap = handle.snapshot().await.unwrap();
    assert!(snap.find("root/c").is_none());
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();
}
