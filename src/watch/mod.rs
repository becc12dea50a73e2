//! File watching: restart or reload a child when files change ([`Watch`],
//! [`ChildSpec::watch`]). Behind the `watch` feature.

mod companion;
mod error;
mod matcher;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::WatchError;

use crate::spec::ChildSpec;
use companion::WatchCompanion;
use matcher::Matcher;

/// What a [`Watch`] does once enough files have changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchAction {
    /// Restart the child, as [`Handle::restart`](crate::Handle::restart) does: whatever its
    /// restart policy, and without counting towards its manager's restart intensity. The
    /// default.
    #[default]
    Restart,
    /// Send it [`Control::Reload`](crate::Control::Reload) and let it go on running: for a
    /// child that reloads by itself (a process child that forwards `SIGHUP`, a closure child
    /// that rereads its configuration). A child that does not read control messages refuses
    /// it; the refusal is logged (`tracing`, at `WARN`).
    Reload,
}

/// Files to watch beside each run of a child, and what to do when they change; attached
/// with [`ChildSpec::watch`].
///
/// ```no_run
/// use std::time::Duration;
/// use overseer::{ChildSpec, Control, ProcessManager};
/// use overseer::watch::{Watch, WatchAction};
///
/// let api = ChildSpec::task("api", |ctx| async move {
///     ctx.shutdown_requested().await;
///     Ok(())
/// })
/// .watch(
///     Watch::new()
///         .glob("src/**/*.rs")
///         .path("config.toml")
///         .ignore("*.swp")
///         .gitignore(true)
///         .debounce(Duration::from_millis(200)),
/// );
/// let config = ChildSpec::task("config", |mut ctx| async move {
///     while let Some(msg) = ctx.recv().await {
///         if let Control::Reload = msg {
///             // reread the configuration
///         }
///     }
///     Ok(())
/// })
/// .watch(Watch::new().path("conf.d").action(WatchAction::Reload));
/// let tree = ProcessManager::builder("root").child(api).child(config).build()?;
/// # Ok::<(), overseer::SpecError>(())
/// ```
///
/// # What counts as a change
///
/// A path counts when it is under a watched path or matches a watched glob, and no ignore
/// rule matches it or one of its parent directories. Creating, writing, truncating,
/// renaming (either name), deleting a file or directory, and changing its metadata (`touch`,
/// `chmod`) are changes; reading a file (opening, closing it unwritten) is not, so a child may
/// read its own watched files.
///
/// - **Paths** ([`path`](Self::path)): a directory is watched with everything below it,
///   including directories created later; a file is watched through its directory, so an
///   editor that saves by writing a new file and renaming it over the old one is seen.
/// - **Globs** ([`glob`](Self::glob)): `globset` syntax, where `*` and `?` stay within one
///   path component and `**` crosses any number. The part before the first component with
///   glob syntax is the directory watched (`src/**/*.rs` watches `src` recursively;
///   `*.toml` watches the current directory, not its subdirectories). A glob without glob
///   syntax names one file, which need not exist yet (its directory must).
/// - **Ignore globs** ([`ignore`](Self::ignore)): one without `/` matches a name at any depth
///   (`*.tmp`, `target`); one with `/` matches a path relative to the watched directory
///   (`build/*.o`), or an absolute path when it starts with `/`. Ignoring a directory ignores
///   everything below it.
/// - **`.gitignore` rules** ([`gitignore`](Self::gitignore)), as watchexec reads them: those
///   of the watched directory and of its parents up to the top of its repository (the one
///   that holds `.git`), and `.git/info/exclude`; a deeper file wins, and `!` re-includes.
///   Changes inside `.git` itself are then ignored too. `.gitignore` files in subdirectories
///   of the watched directory are not read; they are read once, when the watch is attached.
///
/// Relative paths and globs are resolved against the current directory when the watch is
/// attached, and symbolic links in them are resolved then.
///
/// # Debounce and threshold
///
/// The first change opens a window of [`debounce`](Self::debounce) (default 100 ms); the
/// changes until it closes are gathered, each changed path counted once, and acted on
/// together when it closes: a burst of a thousand writes inside the window is one restart.
/// The action waits at most the window after the first change (a stream of changes that
/// never pauses still acts once per window). With a [`threshold`](Self::threshold) of `n`,
/// the changed paths of successive windows add up, and the action comes at the close of the
/// window that brings the count to `n` or more; the count then starts again from zero. The
/// count belongs to the run: a new run starts it from zero (see below).
///
/// # At each run
///
/// The watch is set up as each run of the child starts, before the run's own future is first
/// polled (so a change made once the run has begun is seen), and dropped when the run ends.
/// Changes made while the child is not running (between a run's end and the next one's
/// start, during a restart's backoff delay, while it is stopped) are not seen, nor counted:
/// the new run starts from the files as they are. A threshold's count starts from zero at
/// each run. A watch whose directory has gone by then, or that the system refuses (the limit
/// of inotify watches, `/proc/sys/fs/inotify/max_user_watches`, is reached), ends that run
/// with [`WatchError::Setup`], a failure like any other, under the child's restart policy.
/// Once the run is asked to stop, the watch stops acting.
///
/// # Cost
///
/// Event-driven, through `notify`: the kernel reports changes (inotify on Linux, FSEvents on
/// macOS), nothing polls, and while nothing changes the watch wakes nothing. Per running
/// watched child: one notify watcher, which is one OS thread blocked on its inotify
/// descriptor and one inotify instance (Linux allows 128 per user by default,
/// `/proc/sys/fs/inotify/max_user_instances`), and one kernel watch per watched directory (a
/// recursive watch of a tree of 10,000 directories is 10,000 inotify watches, of the
/// `max_user_watches` allowed, about 1 KiB of kernel memory each). Symbolic links below a
/// watched directory are not followed. The
/// set-up walks the watched trees, on the thread that starts the run (on a multi-threaded
/// runtime, moved out of the way with `block_in_place`, so other tasks go on): for 10,000
/// directories and 100,000 files, see BENCHMARKS.md. Each change is matched on notify's
/// thread, and only changes that count wake the run's future, once per window.
///
/// # Errors
///
/// Bad input is reported as a [`WatchError`] (inside [`SpecError::Watch`](crate::SpecError))
/// when the spec is checked, before anything starts: a glob that does not parse, a watched
/// path (or a glob's directory) that does not exist, no path at all, a zero debounce window
/// or threshold, an unreadable `.gitignore`. [`check`](Self::check) gives the same answer
/// up front.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Watch {
    paths: Vec<PathBuf>,
    globs: Vec<String>,
    ignores: Vec<String>,
    gitignore: bool,
    debounce: Duration,
    threshold: u32,
    action: WatchAction,
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}

impl Watch {
    /// The default debounce window.
    pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

    /// A watch of nothing yet: add paths or globs. Debounce 100 ms, threshold 1, action
    /// [`WatchAction::Restart`], no ignore rules.
    pub fn new() -> Self {
        Watch {
            paths: Vec::new(),
            globs: Vec::new(),
            ignores: Vec::new(),
            gitignore: false,
            debounce: Self::DEFAULT_DEBOUNCE,
            threshold: 1,
            action: WatchAction::Restart,
        }
    }

    /// Watches a file, or a directory and everything below it. It must exist when the watch
    /// is attached.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Watches the paths matching a glob (`src/**/*.rs`); the directory it starts from must
    /// exist when the watch is attached, the files need not.
    pub fn glob(mut self, glob: impl Into<String>) -> Self {
        self.globs.push(glob.into());
        self
    }

    /// Ignores the changes of paths matching a glob, or below a directory matching it.
    pub fn ignore(mut self, glob: impl Into<String>) -> Self {
        self.ignores.push(glob.into());
        self
    }

    /// Also ignores what the `.gitignore` rules of the watched directories ignore (default
    /// `false`).
    pub fn gitignore(mut self, enabled: bool) -> Self {
        self.gitignore = enabled;
        self
    }

    /// How long changes are gathered, from the first one, before acting (default 100 ms;
    /// must be longer than zero).
    pub fn debounce(mut self, window: Duration) -> Self {
        self.debounce = window;
        self
    }

    /// Acts only once this many paths have changed (default 1; must be at least 1).
    pub fn threshold(mut self, changes: u32) -> Self {
        self.threshold = changes;
        self
    }

    /// What to do (default [`WatchAction::Restart`]).
    pub fn action(mut self, action: WatchAction) -> Self {
        self.action = action;
        self
    }

    /// Checks the watch as attaching it would: globs, paths, windows, ignore files.
    ///
    /// # Errors
    /// The [`WatchError`] that [`ChildSpec::watch`] would report.
    pub fn check(&self) -> Result<(), WatchError> {
        Matcher::compile(self).map(drop)
    }
}

impl ChildSpec {
    /// Watches files beside each run of this child, and restarts or reloads it when they
    /// change; see [`Watch`] for what counts, when it acts, and what it costs.
    ///
    /// The watch is checked now (its globs compiled, its paths resolved); a bad one is
    /// reported when the spec is checked ([`ProcessManagerBuilder::build`](crate::ProcessManagerBuilder::build),
    /// [`Handle::add`](crate::Handle::add)) as [`SpecError::Watch`](crate::SpecError::Watch),
    /// and nothing starts. A closure child loses its unboxed fast path
    /// ([`ChildSpec::task`]): its runs are boxed like those of any other runnable.
    pub fn watch(mut self, watch: Watch) -> Self {
        match Matcher::compile(&watch) {
            Ok(matcher) => self.with_companion(Arc::new(WatchCompanion {
                matcher: Arc::new(matcher),
                debounce: watch.debounce,
                threshold: watch.threshold,
                action: watch.action,
                spec: watch,
            })),
            Err(error) => {
                self.body_mut().watch_error = Some(error);
                self
            }
        }
    }
}
