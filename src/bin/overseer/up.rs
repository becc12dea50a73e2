//! `overseer up` in the foreground: the stack's tree runs in this process; every line of
//! every process is printed with its name in front, aligned (coloured on a terminal unless
//! `NO_COLOR` is set); the tree's lifecycle is printed the same way. Ctrl-C (or `SIGTERM`)
//! stops the stack gracefully, a second one at once.
//!
//! It ends by itself once every process has ended and none will run again. The exit code:
//! 0 when every process ended well (or the stack was stopped); otherwise the exit code of the
//! process whose failure ended the stack — or, when none ended it, of the first process whose
//! last run failed — `128 + N` for a process killed by signal `N`, 1 for any other failure.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use overseer::builtin::HttpEndpoints;
use overseer::process::ProcessError;
use overseer::process::output::Line;
use overseer::{EventKind, ExitStatus, Lifetime, TreeError};

use crate::config;
use crate::printer::Printer;
use crate::tree::{self, Options};

/// Runs `overseer up [FILE]` in the foreground; with `http`, also serves `/healthz`,
/// `/readyz` and `/metrics` there.
pub fn run(file: Option<&Path>, colour: bool, http: Option<std::net::SocketAddr>) -> ExitCode {
    let file = match crate::cli::config_file(file) {
        Ok(file) => file,
        Err(e) => return crate::cli::fail(e),
    };
    let stack = match config::load(&file) {
        Ok(stack) => stack,
        Err(e) => return crate::cli::fail(e),
    };
    let processes = tree::processes(&stack);
    let names: Vec<String> = processes.iter().map(|(n, _)| n.clone()).collect();
    // Readiness is news only where something decides it (else a process is ready as it starts).
    let probed: Vec<String> = processes
        .iter()
        .filter(|(_, p)| p.readiness.is_some() || p.ready_log_line.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    let printer = Arc::new(Printer::new(&names, colour));
    let hook = {
        let printer = printer.clone();
        Arc::new(move |name: &str, line: &Line| printer.line(name, line.as_bytes()))
    };
    let options = Options {
        default_log_dir: crate::paths::log_dir(&stack.root.name),
        lifetime: Lifetime::UntilDone,
        on_line: Some(hook),
    };
    let built = match tree::build(&stack, &options, &[]) {
        Ok(built) => built,
        Err(e) => return crate::cli::fail(format!("{}: {e}", file.display())),
    };
    let endpoints = match http.map(endpoints).transpose() {
        Ok(endpoints) => endpoints,
        Err(e) => return crate::cli::fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::cli::fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(foreground(built.manager, printer, probed, endpoints))
}

/// The probe and metrics endpoints, bound now: a port in use fails the start.
pub fn endpoints(addr: std::net::SocketAddr) -> Result<HttpEndpoints, String> {
    HttpEndpoints::bind(addr)
        .map_err(|e| format!("cannot serve /healthz, /readyz and /metrics: {e}"))
}

/// Serves `endpoints` for the tree until its run ends.
pub async fn serve_endpoints(endpoints: Option<HttpEndpoints>, tree: overseer::Handle) {
    if let Some(endpoints) = endpoints
        && let Err(e) = endpoints.serve(tree).await
    {
        tracing::warn!(error = %e, "the probe and metrics endpoints stopped");
    }
}

async fn foreground(
    manager: overseer::ProcessManager,
    printer: Arc<Printer>,
    probed: Vec<String>,
    endpoints: Option<HttpEndpoints>,
) -> ExitCode {
    let handle = manager.handle();
    let root = handle.path().to_string();
    let mut events = handle.events();
    // Under systemd (`Type=notify`): readiness, status, reloads, stop, watchdog.
    let systemd = tokio::spawn(report_to_systemd(handle.clone()));
    let http = tokio::spawn(serve_endpoints(endpoints, handle.clone()));
    let run = tokio::spawn(async move { manager.run().await });
    let signals = tokio::spawn(stop_on_signals(handle.clone(), printer.clone()));
    // The last run of each process that failed, cleared when it runs again.
    let mut failed: Vec<(String, ExitStatus)> = Vec::new();
    // The stream ends with the tree's run.
    while let Some(event) = events.recv().await {
        let Some(name) = below(&root, event.path.as_str()) else {
            continue;
        };
        match &event.kind {
            EventKind::Running => {
                failed.retain(|(n, _)| n != name);
                printer.status(name, "started");
            }
            EventKind::Ready if probed.iter().any(|p| p == name) => printer.status(name, "ready"),
            EventKind::Exited { status } => {
                if status.is_success() {
                    printer.status(name, "exited");
                } else {
                    printer.status(name, &format!("failed: {}", describe(status)));
                    failed.retain(|(n, _)| n != name);
                    failed.push((name.to_owned(), status.clone()));
                }
            }
            EventKind::Restarting { delay, restarts } => printer.status(
                name,
                &format!(
                    "restarting in {} (restart {restarts})",
                    humantime::format_duration(*delay)
                ),
            ),
            EventKind::Healthy { probe } => printer.status(name, &format!("{probe} probe passes")),
            EventKind::Unhealthy { probe, error } => {
                printer.status(name, &format!("{probe} probe fails: {error}"));
            }
            EventKind::GaveUp { failure } => {
                printer.status(name, &format!("gave up: {failure}"));
            }
            _ => {}
        }
    }
    signals.abort();
    // Ends with the tree's events.
    let _ = systemd.await;
    let _ = http.await;
    let result = match run.await {
        Ok(result) => result,
        Err(e) => {
            eprintln!("overseer: the tree's task ended abnormally: {e}");
            return ExitCode::from(1);
        }
    };
    match result {
        Ok(()) => match failed.first() {
            None => ExitCode::SUCCESS,
            Some((name, status)) => {
                eprintln!("overseer: {name} {}", describe(status));
                ExitCode::from(code_of_status(status))
            }
        },
        Err(e) => {
            eprintln!("overseer: {}", describe_tree_error(&root, &e));
            ExitCode::from(code_of_tree_error(&e))
        }
    }
}

/// Reports the tree to systemd until its run ends (nothing outside systemd).
pub async fn report_to_systemd(tree: overseer::Handle) {
    if let Err(e) = overseer::builtin::Systemd::new().report(tree).await {
        tracing::warn!(error = %e, "cannot report the tree to systemd");
    }
}

/// The part of `path` below the root `root/`, `None` for the root itself.
fn below<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(root)?.strip_prefix('/')
}

/// First Ctrl-C or SIGTERM: graceful shutdown; the second: at once.
async fn stop_on_signals(handle: overseer::Handle, printer: Arc<Printer>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let next = async |int: &mut tokio::signal::unix::Signal,
                      term: &mut tokio::signal::unix::Signal| {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    next(&mut int, &mut term).await;
    printer.notice("stopping (again to stop at once)");
    let _ = handle.shutdown();
    next(&mut int, &mut term).await;
    printer.notice("stopping at once");
    let _ = handle.shutdown_now();
}

/// `exited with code 3`, `killed by SIGKILL`, or the error.
fn describe(status: &ExitStatus) -> String {
    match status.downcast_ref::<ProcessError>() {
        Some(e) => e.to_string(),
        None => status.to_string(),
    }
}

fn code_of_status(status: &ExitStatus) -> u8 {
    code_of(status.downcast_ref::<ProcessError>())
}

fn code_of(error: Option<&ProcessError>) -> u8 {
    match error {
        Some(e) => match (e.code(), e.signal()) {
            (Some(code), _) => u8::try_from(code).ok().filter(|c| *c != 0).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
            _ => 1,
        },
        None => 1,
    }
}

fn code_of_tree_error(e: &TreeError) -> u8 {
    code_of(e.first().downcast_ref::<ProcessError>())
}

/// The first failure, with the root's path left out (a process's failure says its last
/// lines of output itself).
fn describe_tree_error(root: &str, e: &TreeError) -> String {
    let failure = e.first();
    let path = below(root, failure.path.as_str()).unwrap_or(failure.path.as_str());
    format!("{path}: {}", failure.cause)
}
