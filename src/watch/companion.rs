//! The watch beside each run of a child: set up at the run's start, dropped at its end.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::Notify;

use super::WatchAction;
use super::error::WatchError;
use super::matcher::Matcher;
use crate::Control;
use crate::child::companion::{BoxFuture, Companion, RunView};
use crate::error::RunResult;
use crate::lock::lock;

/// At most this many changed paths are kept for one window; more still count as changes up
/// to here (the count saturates), so a burst costs bounded memory.
const MAX_PENDING: usize = 4096;

/// A compiled [`Watch`](super::Watch), the companion of every run of its child.
pub(super) struct WatchCompanion {
    /// The watch as given, to compare (see `same_as`).
    pub(super) spec: super::Watch,
    pub(super) matcher: Arc<Matcher>,
    pub(super) debounce: Duration,
    pub(super) threshold: u32,
    pub(super) action: WatchAction,
}

/// What notify's thread hands to the run's future: the changed paths of the current window,
/// and a wake-up.
#[derive(Default)]
struct Changes {
    paths: Mutex<foldhash::HashSet<PathBuf>>,
    wake: Notify,
}

impl Changes {
    /// On notify's thread: keeps the paths of `event` that count, and wakes the run's future.
    fn on_event(&self, matcher: &Matcher, child: &str, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(path = child, %error, "file watch error");
                return;
            }
        };
        // Reads (an open, a close without a write) are not changes: a child that reads its
        // own watched files must not restart itself.
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let mut counted = false;
        if event.need_rescan() {
            // The kernel's queue overflowed: changes were lost, so count one.
            tracing::warn!(path = child, "file watch lost events (queue overflow)");
            let mut paths = lock(&self.paths);
            if paths.len() < MAX_PENDING {
                paths.insert(PathBuf::new());
            }
            counted = true;
        }
        for path in &event.paths {
            if matcher.counts(path) {
                tracing::trace!(path = child, file = %path.display(), kind = ?event.kind, "watched file changed");
                let mut paths = lock(&self.paths);
                if paths.len() < MAX_PENDING {
                    paths.insert(path.clone());
                }
                counted = true;
            }
        }
        if counted {
            self.wake.notify_one();
        }
    }

    /// The window's changes: how many paths, and one of them.
    fn take(&self) -> (usize, Option<PathBuf>) {
        let paths = std::mem::take(&mut *lock(&self.paths));
        let sample = paths.iter().find(|p| !p.as_os_str().is_empty()).cloned();
        (paths.len(), sample)
    }
}

/// Runs `f`, which blocks, without holding up the other tasks of a multi-threaded runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl WatchCompanion {
    /// Sets the watch up: one notify watcher, a kernel watch per directory.
    fn set_up(&self, child: &str) -> Result<(RecommendedWatcher, Arc<Changes>), WatchError> {
        let changes = Arc::new(Changes::default());
        let setup_error = |path: &Path, e: notify::Error| WatchError::Setup {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let first = self.matcher.dirs.first().map_or(Path::new(""), |d| &d.0);
        let mut watcher = {
            let matcher = self.matcher.clone();
            let changes = changes.clone();
            let child: Arc<str> = child.into();
            // Symbolic links below a watched directory are not followed: the tree watched
            // is the one named, and its walk at set-up need not stat every file twice.
            let config = notify::Config::default().with_follow_symlinks(false);
            RecommendedWatcher::new(
                move |event| changes.on_event(&matcher, &child, event),
                config,
            )
            .map_err(|e| setup_error(first, e))?
        };
        for (dir, recursive) in &self.matcher.dirs {
            let mode = if *recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            watcher.watch(dir, mode).map_err(|e| setup_error(dir, e))?;
        }
        Ok((watcher, changes))
    }

    async fn watching(
        &self,
        run: RunView,
        watcher: RecommendedWatcher,
        changes: Arc<Changes>,
    ) -> RunResult {
        let _watcher = watcher;
        let path = run.path();
        let stop = run.shutdown_token().clone();
        let mut seen = 0usize;
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                () = changes.wake.notified() => {}
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.debounce) => {}
            }
            let (count, sample) = changes.take();
            if count == 0 {
                continue;
            }
            seen = seen.saturating_add(count);
            if seen < self.threshold as usize {
                tracing::debug!(
                    path = %path, changes = count, seen, threshold = self.threshold,
                    "watched files changed; below the threshold"
                );
                continue;
            }
            seen = 0;
            let file = sample.as_deref().map(Path::display);
            match self.action {
                WatchAction::Restart => {
                    tracing::info!(path = %path, changes = count, file = ?file, "watched files changed: restarting");
                    if let Err(error) = run.handle().restart(path.as_str()).await {
                        tracing::warn!(path = %path, %error, "restart on file change refused");
                    }
                }
                WatchAction::Reload => {
                    tracing::info!(path = %path, changes = count, file = ?file, "watched files changed: reloading");
                    if let Err(error) = run.handle().send(path.as_str(), Control::Reload).await {
                        tracing::warn!(path = %path, %error, "reload on file change refused");
                    }
                }
            }
        }
    }
}

impl Companion for WatchCompanion {
    fn same_as(&self, other: &dyn Companion) -> bool {
        crate::child::companion::downcast::<WatchCompanion>(other)
            .is_some_and(|other| self.spec == other.spec)
    }

    fn beside(&self, run: RunView) -> BoxFuture<'_, RunResult> {
        let child = run.path();
        match blocking(|| self.set_up(child.as_str())) {
            Ok((watcher, changes)) => {
                tracing::debug!(path = %child, dirs = self.matcher.dirs.len(), "file watch set up");
                Box::pin(self.watching(run, watcher, changes))
            }
            Err(error) => {
                tracing::warn!(path = %child, %error, "file watch could not be set up");
                Box::pin(async move { Err(error.into()) })
            }
        }
    }
}
