//! `overseer up -d`: the stack's tree in a daemon of its own, driven through a control API
//! (HTTP/1.1 and JSON over a Unix socket; `docs/api.md`).
//!
//! [`start`] (in the command the user runs) re-executes this binary as the hidden
//! `overseer daemon` in a new session, its standard input on `/dev/null`, and waits on a
//! pipe until the daemon says it is ready (it answers on its socket) or why it failed.
//! [`run`] is the daemon: it reads the config, takes the socket's lock ([`lock`]), moves its
//! standard streams to its log ([`logfile`]), builds and runs the tree, serves the socket
//! ([`server`], [`routes`]) and, on `down`, `SIGTERM` or `SIGINT`, stops the tree, removes
//! the socket and exits 0. `SIGHUP` applies its config file again.
//!
//! Guarantees: one daemon per socket; the socket is 0600 in a directory created 0700, and
//! only the daemon's own user is served (`SO_PEERCRED`); the socket is removed once the tree
//! has stopped, while the lock is still held, so that a new daemon never loses its socket to
//! an old one.

mod follow;
pub mod lock;
mod logfile;
mod routes;
mod server;
mod tcp;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use overseer::{Handle, Lifetime, Reconfigured, Snapshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::config;
use crate::tree::{self, Options, Output};
use routes::{ApiError, control_error};

/// How long `up -d` waits for the daemon to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing daemon lets its connections finish the request in progress.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The descriptor the daemon's readiness pipe is given as.
const READY_FD: i32 = 3;

/// The state the routes share.
pub struct Daemon {
    /// The root manager's handle.
    pub handle: Handle,
    /// The root's path (the stack's name).
    root: String,
    /// The socket served.
    socket: PathBuf,
    /// When the daemon started.
    started: Instant,
    /// The config file the daemon runs; locked for the whole of an apply, so applies are
    /// carried out one at a time.
    file: tokio::sync::Mutex<PathBuf>,
    /// Every process's output, by name (replaced as a whole by an apply).
    outputs: Mutex<Vec<Output>>,
    /// How the tree is built.
    options: Options,
    /// How many clients follow output now.
    followers: Arc<AtomicUsize>,
    /// Cancelled when the daemon closes: followers end, connections finish.
    closing: CancellationToken,
}

impl Daemon {
    fn outputs(&self) -> MutexGuard<'_, Vec<Output>> {
        self.outputs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The full path of `name`, a path below the root.
    fn full_path(&self, name: &str) -> String {
        format!("{}/{name}", self.root)
    }

    /// A snapshot of the whole tree.
    async fn snapshot(&self) -> Result<Snapshot, ApiError> {
        self.handle.snapshot().await.map_err(control_error)
    }

    /// The full path and snapshot of the process or group `name`.
    async fn find(&self, name: &str) -> Result<(String, Snapshot), ApiError> {
        let full = self.full_path(name);
        let snapshot = self.snapshot().await?;
        match snapshot.find(&full) {
            Some(node) => Ok((full, node.clone())),
            None => Err(ApiError::not_found(format!(
                "no process or group named {name:?} (`overseer ps` lists them)"
            ))),
        }
    }

    /// The outputs of `name` (a process), of every process below it (a group), or of every
    /// process (`""`), in start order.
    fn outputs_of(&self, name: &str) -> Vec<Output> {
        self.outputs()
            .iter()
            .filter(|o| {
                name.is_empty()
                    || o.name == name
                    || o.name
                        .strip_prefix(name)
                        .is_some_and(|r| r.starts_with('/'))
            })
            .cloned()
            .collect()
    }

    /// Reads `file` (else the file the daemon runs) again, checks it, and gives the running
    /// tree the new specification: added processes start, removed ones stop, changed ones
    /// restart, unchanged ones are not touched (they keep their output sinks, so followers
    /// go on). Nothing changes when the config is invalid or the tree refuses it. The file
    /// applied becomes the daemon's file.
    async fn apply(&self, file: Option<PathBuf>) -> Result<Reconfigured, ApiError> {
        let mut current = self.file.lock().await;
        let file = match file {
            Some(file) if file.is_relative() => current
                .parent()
                .map_or_else(|| file.clone(), |dir| dir.join(&file)),
            Some(file) => file,
            None => current.clone(),
        };
        let stack = config::load(&file).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if stack.root.name != self.root {
            return Err(ApiError::bad_request(format!(
                "{}: the stack is named {:?}, and this daemon runs {:?}; a running stack cannot be renamed (`overseer down`, then `overseer up -d`)",
                file.display(),
                stack.root.name,
                self.root
            )));
        }
        let previous = self.outputs().clone();
        let built = tree::build(&stack, &self.options, &previous)
            .map_err(|e| ApiError::bad_request(format!("{}: {e}", file.display())))?;
        let report = self
            .handle
            .reconfigure(&self.root, built.manager)
            .await
            .map_err(control_error)?;
        *self.outputs() = built.outputs;
        tracing::info!(
            file = %file.display(),
            added = report.added.len(),
            removed = report.removed.len(),
            restarted = report.restarted.len(),
            unchanged = report.unchanged.len(),
            "applied the config"
        );
        *current = file;
        Ok(report)
    }

    /// `GET /v1/daemon`.
    async fn info(&self) -> serde_json::Value {
        serde_json::json!({
            "pid": std::process::id(),
            "version": env!("CARGO_PKG_VERSION"),
            "stack": self.root,
            "file": *self.file.lock().await,
            "socket": self.socket,
            "uptime_ms": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "followers": routes::followers(self),
        })
    }
}

/// What an apply did, as JSON: `{"added", "removed", "restarted", "reconfigured",
/// "unchanged"}`, each a list of full paths.
fn report_json(report: &Reconfigured) -> serde_json::Value {
    serde_json::json!({
        "added": report.added,
        "removed": report.removed,
        "restarted": report.restarted,
        "reconfigured": report.reconfigured,
        "unchanged": report.unchanged,
    })
}

/// `overseer up -d [FILE]`: starts the daemon and returns once it is ready, or prints why
/// it failed (exit code 2 for a config error, 1 otherwise).
pub fn start(
    file: Option<&Path>,
    socket: Option<&Path>,
    listen: Option<std::net::SocketAddr>,
    http: Option<std::net::SocketAddr>,
    reap: bool,
) -> ExitCode {
    let file = match crate::cli::config_file(file) {
        Ok(file) => std::path::absolute(&file).unwrap_or(file),
        Err(e) => return crate::cli::fail(e),
    };
    let socket = api::socket_path(socket);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(
                1,
                format!("cannot find this program to start the daemon: {e}"),
            );
        }
    };
    let (read, write) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(pipe) => pipe,
        Err(e) => return fail(1, format!("cannot create a pipe: {e}")),
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("daemon")
        .arg("--socket")
        .arg(&socket)
        .arg("--file")
        .arg(&file)
        .arg("--ready-fd")
        .arg(READY_FD.to_string())
        .args(listen.map(|addr| format!("--listen={addr}")))
        .args(http.map(|addr| format!("--http={addr}")))
        .args(reap.then_some("--reap"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let write_fd = write.as_raw_fd();
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (setsid, dup2, fcntl) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let moved = if write_fd == READY_FD {
                libc::fcntl(READY_FD, libc::F_SETFD, 0)
            } else {
                libc::dup2(write_fd, READY_FD)
            };
            if moved < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return fail(1, format!("cannot start the daemon: {e}")),
    };
    drop(write);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let result = std::fs::File::from(read)
            .read_to_string(&mut text)
            .map(|_| text);
        let _ = tx.send(result);
    });
    let said = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(said)) => said,
        Ok(Err(e)) => return fail(1, format!("cannot read the daemon's answer: {e}")),
        Err(_) => {
            return fail(
                1,
                format!(
                    "the daemon (pid {}) did not say it was ready within {} s; see its log under {}",
                    child.id(),
                    READY_TIMEOUT.as_secs(),
                    crate::paths::state_dir().display()
                ),
            );
        }
    };
    match Ready::parse(&said) {
        Some(Ready::Ok {
            pid,
            stack,
            log,
            tcp,
        }) => {
            println!(
                "overseer: {stack} runs in the background (daemon pid {pid}, socket {}); `overseer ps` lists it, `overseer down` stops it; daemon log: {log}",
                socket.display()
            );
            if let Some(addr) = tcp {
                println!(
                    "overseer: the API is also served on http://{addr}/ (a bearer token is required: {})",
                    tcp::token_path(&socket).display()
                );
            }
            ExitCode::SUCCESS
        }
        Some(Ready::Failed { code, message }) => {
            let _ = child.wait();
            fail(code, message)
        }
        None => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            fail(
                1,
                format!("the daemon ended before it was ready ({status})"),
            )
        }
    }
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("overseer: {message}");
    ExitCode::from(code)
}

/// What the daemon writes into its readiness pipe, then closes it: `ready PID\nSTACK\nLOG\n`
/// (and `TCP ADDR\n` when it serves TCP too), or `error CODE\nMESSAGE`.
enum Ready {
    Ok {
        pid: u32,
        stack: String,
        log: String,
        tcp: Option<String>,
    },
    Failed {
        code: u8,
        message: String,
    },
}

impl Ready {
    fn parse(text: &str) -> Option<Ready> {
        let (first, rest) = text.split_once('\n')?;
        if let Some(pid) = first.strip_prefix("ready ") {
            let mut lines = rest.lines();
            return Some(Ready::Ok {
                pid: pid.parse().ok()?,
                stack: lines.next()?.to_owned(),
                log: lines.next()?.to_owned(),
                tcp: lines
                    .next()
                    .and_then(|l| l.strip_prefix("TCP "))
                    .map(str::to_owned),
            });
        }
        let code = first.strip_prefix("error ")?.parse().ok()?;
        Some(Ready::Failed {
            code,
            message: rest.trim_end().to_owned(),
        })
    }
}

/// The daemon's end of the readiness pipe (absent when it runs in the foreground).
struct ReadyPipe(Option<std::fs::File>);

impl ReadyPipe {
    /// Takes descriptor `fd`, closed on exec so that no process of the tree inherits it.
    fn adopt(fd: Option<i32>) -> ReadyPipe {
        let file = fd.and_then(|fd| {
            // SAFETY: fcntl on a descriptor number touches no memory; it fails for one that
            // is not open, and then the number is not used.
            let ok = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0;
            // SAFETY: `up -d` passed this descriptor for the daemon to own, and nothing else
            // in this process uses it.
            ok.then(|| std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
        });
        ReadyPipe(file)
    }

    fn detached(&self) -> bool {
        self.0.is_some()
    }

    /// Says the daemon is ready (and where it serves TCP, if it does), and closes the pipe.
    fn ready(&mut self, stack: &str, log: &Path, tcp: Option<std::net::SocketAddr>) {
        if let Some(mut file) = self.0.take() {
            let _ = write!(
                file,
                "ready {}\n{stack}\n{}\n",
                std::process::id(),
                log.display()
            );
            if let Some(addr) = tcp {
                let _ = writeln!(file, "TCP {addr}");
            }
        }
    }

    /// Reports a failure: to `up -d` through the pipe, else on standard error. Returns the
    /// exit code.
    fn fail(&mut self, code: u8, message: impl std::fmt::Display) -> ExitCode {
        match self.0.take() {
            Some(mut file) => {
                tracing::error!("{message}");
                let _ = write!(file, "error {code}\n{message}\n");
            }
            None => eprintln!("overseer: {message}"),
        }
        ExitCode::from(code)
    }
}

/// The hidden `overseer daemon --file FILE [--ready-fd FD]`: the daemon itself. With
/// `--ready-fd` (as `up -d` starts it) it logs to its log file and reports readiness on that
/// descriptor; without, it logs to standard error and runs in the foreground.
pub fn run(
    file: &Path,
    socket: Option<&Path>,
    ready_fd: Option<i32>,
    listen: Option<std::net::SocketAddr>,
    http: Option<std::net::SocketAddr>,
) -> ExitCode {
    let mut ready = ReadyPipe::adopt(ready_fd);
    // Standard error is /dev/null until it is moved to the log, and then the log.
    logfile::init_tracing();
    let socket = api::socket_path(socket);
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let stack = match config::load(&file) {
        Ok(stack) => stack,
        Err(e) => return ready.fail(2, e),
    };
    let name = stack.root.name.clone();
    let lock = match lock::acquire(&socket) {
        Ok(lock) => lock,
        Err(e) => return ready.fail(1, e),
    };
    let log = logfile::path(&name);
    if ready.detached() {
        if let Err(e) = logfile::redirect_to(&log) {
            return ready.fail(
                1,
                format!("cannot open the daemon log {}: {e}", log.display()),
            );
        }
    }
    if lock.removed_stale {
        tracing::warn!(socket = %socket.display(), "removed a stale socket left by a daemon that did not stop cleanly");
    }
    let options = Options {
        default_log_dir: crate::paths::log_dir(&name),
        lifetime: Lifetime::UntilShutdown,
        on_line: None,
    };
    let built = match tree::build(&stack, &options, &[]) {
        Ok(built) => built,
        Err(e) => return ready.fail(2, format!("{}: {e}", file.display())),
    };
    let endpoints = match http.map(crate::up::endpoints).transpose() {
        Ok(endpoints) => endpoints,
        Err(e) => return ready.fail(1, e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return ready.fail(1, format!("cannot start the runtime: {e}")),
    };
    let extras = Extras { listen, endpoints };
    let code = runtime.block_on(serve(
        built, options, file, socket, extras, &log, &mut ready,
    ));
    runtime.shutdown_timeout(DRAIN_TIMEOUT);
    // Held until the process exits (the kernel closes the descriptor then): `down` waits
    // for the lock to be free to know the daemon is gone.
    std::mem::forget(lock);
    code
}

/// What the daemon serves besides its socket, when asked.
struct Extras {
    /// The control API over TCP.
    listen: Option<std::net::SocketAddr>,
    /// `/healthz`, `/readyz` and `/metrics`, bound already.
    endpoints: Option<overseer::builtin::HttpEndpoints>,
}

/// Binds the socket, runs the tree and serves until the tree has stopped.
async fn serve(
    built: tree::Built,
    options: Options,
    file: PathBuf,
    socket: PathBuf,
    Extras { listen, endpoints }: Extras,
    log: &Path,
    ready: &mut ReadyPipe,
) -> ExitCode {
    // The TCP listener first: a port that is taken fails the start before anything runs.
    let tcp = match listen {
        Some(addr) => match tcp::Tcp::bind(addr, &socket).await {
            Ok(tcp) => Some(tcp),
            Err(e) => return ready.fail(1, format!("cannot serve TCP on {addr}: {e}")),
        },
        None => None,
    };
    let listener = match tokio::net::UnixListener::bind(&socket) {
        Ok(listener) => listener,
        Err(e) => return ready.fail(1, format!("cannot listen on {}: {e}", socket.display())),
    };
    if let Err(e) = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)) {
        let _ = std::fs::remove_file(&socket);
        return ready.fail(1, format!("cannot make {} private: {e}", socket.display()));
    }
    let manager = built.manager;
    let handle = manager.handle();
    let root = handle.path().to_string();
    let daemon = Arc::new(Daemon {
        handle: handle.clone(),
        root: root.clone(),
        socket: socket.clone(),
        started: Instant::now(),
        file: tokio::sync::Mutex::new(file.clone()),
        outputs: Mutex::new(built.outputs),
        options,
        followers: Arc::new(AtomicUsize::new(0)),
        closing: CancellationToken::new(),
    });
    let systemd = tokio::spawn(crate::up::report_to_systemd(handle.clone()));
    let http = tokio::spawn(crate::up::serve_endpoints(endpoints, handle.clone()));
    let run = tokio::spawn(async move { manager.run().await });
    // Answered once the manager runs: from then on the API can answer too.
    if let Err(e) = handle.snapshot().await {
        let _ = std::fs::remove_file(&socket);
        return ready.fail(1, format!("the tree did not start: {e}"));
    }
    let tracker = TaskTracker::new();
    let accept = tokio::spawn(server::accept(listener, daemon.clone(), tracker.clone()));
    let tcp_addr = tcp.as_ref().map(tcp::Tcp::local_addr);
    let accept_tcp = tcp.map(|tcp| tokio::spawn(tcp.accept(daemon.clone(), tracker.clone())));
    let signals = tokio::spawn(on_signals(daemon.clone()));
    tracing::info!(
        stack = %root,
        file = %file.display(),
        socket = %socket.display(),
        pid = std::process::id(),
        "the daemon is ready"
    );
    ready.ready(&root, log, tcp_addr);
    let result = run.await;
    signals.abort();
    let _ = systemd.await;
    let _ = http.await;
    accept.abort();
    let _ = accept.await;
    if let Some(accept_tcp) = accept_tcp {
        accept_tcp.abort();
        let _ = accept_tcp.await;
        tcp::remove_token(&socket);
    }
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::warn!(socket = %socket.display(), error = %e, "cannot remove the socket");
    }
    daemon.closing.cancel();
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?} are cut");
    }
    match result {
        Ok(Ok(())) => {
            tracing::info!("the tree has stopped; the daemon exits");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the tree failed; the daemon exits");
            ExitCode::from(1)
        }
        Err(e) => {
            tracing::error!(error = %e, "the tree's task ended abnormally; the daemon exits");
            ExitCode::from(1)
        }
    }
}

/// `SIGTERM` or `SIGINT`: a graceful shutdown, a second one at once. `SIGHUP`: apply the
/// daemon's config file again (an error is logged, and changes nothing).
async fn on_signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot handle signals; SIGHUP, SIGTERM and SIGINT are not handled");
        return;
    };
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: applying the config file again");
                let daemon = daemon.clone();
                tokio::spawn(async move {
                    if let Err(e) = daemon.apply(None).await {
                        tracing::error!(error = %e, "SIGHUP: the config was not applied");
                    }
                });
            }
            _ = int.recv() => stop(&daemon, &mut stopping),
            _ = term.recv() => stop(&daemon, &mut stopping),
        }
    }
}

fn stop(daemon: &Daemon, stopping: &mut bool) {
    if *stopping {
        tracing::info!("stopping at once (second signal)");
        let _ = daemon.handle.shutdown_now();
    } else {
        *stopping = true;
        tracing::info!("stopping the stack (signal)");
        let _ = daemon.handle.shutdown();
    }
}
