//! The command line: subcommands and their options (clap), and the small commands that need
//! no tree.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::config::{self, model};

/// Run and supervise a stack of processes: restarts, dependencies, health probes, logs.
///
/// A stack is described by a config file: overseer's own TOML (`overseer.toml`), a Procfile,
/// or a `process-compose.yaml`. Without FILE, the first of these in the current directory is
/// used.
#[derive(Debug, Parser)]
#[command(name = "overseer", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The daemon's control socket (default: overseer.sock in the per-user runtime directory).
    #[arg(long, global = true, env = "OVERSEER_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stack in the foreground until it ends or Ctrl-C.
    ///
    /// Every line of every process is printed with its name in front. Ctrl-C stops the stack
    /// gracefully, a second Ctrl-C at once. The stack ends by itself once every process has
    /// ended and none will run again; the exit code is 0 when all ended well, otherwise the
    /// exit code of the process whose failure ended it.
    Up {
        /// The config file (default: overseer.toml, Procfile or process-compose.yaml here).
        file: Option<PathBuf>,
        /// Colour the names: auto (on a terminal, unless NO_COLOR is set), always, never.
        #[arg(long, value_enum, default_value_t)]
        color: crate::printer::ColourChoice,
        /// Run the stack in a daemon and return once it answers (`overseer ps`, `logs`,
        /// `down`… drive it).
        #[arg(short = 'd', long)]
        detach: bool,
        /// With -d, also serve the control API over TCP at ADDR (e.g. 127.0.0.1:7070; off
        /// unless given). TCP carries no peer credentials: every request must bear the token
        /// the daemon writes, readable by its user only, next to its socket
        /// (`Authorization: Bearer TOKEN`).
        #[arg(long, value_name = "ADDR", requires = "detach")]
        listen: Option<std::net::SocketAddr>,
        /// Serve /healthz, /readyz and Prometheus /metrics over HTTP at ADDR (e.g.
        /// 0.0.0.0:9090, for Kubernetes' probes and a Prometheus scraper; off unless given).
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Reap orphans: run as a small init above the stack that reaps every process
        /// reparented to it (a daemon a process forked and left) and forwards signals. Always
        /// on when overseer is PID 1 (a container's first process).
        #[arg(long)]
        reap: bool,
    },
    /// Read a config, check it, and print the stack it describes, in start order.
    Check {
        /// The config file (default: overseer.toml, Procfile or process-compose.yaml here).
        file: Option<PathBuf>,
    },
    #[command(flatten)]
    Client(crate::client::ClientCommand),
    /// Detached jobs: start commands that outlive this shell, list, follow, wait for,
    /// cancel and remove them (no daemon needed).
    ///
    /// Each job runs in a session of its own, its output in files, its exit code recorded by
    /// a small parent process whoever else is alive when it ends. The store is a directory
    /// (default ~/.cache/overseer/jobs) that any number of programs can use at once.
    Jobs(crate::jobs::JobsArgs),
    /// Print a completion script for SHELL to standard output.
    ///
    /// For example `overseer completions bash > ~/.local/share/bash-completion/completions/overseer`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// The config file to use: `file`, or the first default one in the current directory.
pub fn config_file(file: Option<&Path>) -> Result<PathBuf, String> {
    match file {
        Some(file) => Ok(file.to_owned()),
        None => config::find(Path::new(".")),
    }
}

/// Prints `message` as an error of the command, and returns the exit code for a usage or
/// config error.
/// As PID 1, or asked to reap: the process becomes a small init above the program (see
/// `overseer::process::init`); the program goes on here.
pub fn become_init(reap: bool) -> Result<(), String> {
    let mode = if reap {
        overseer::process::InitMode::Always
    } else {
        overseer::process::InitMode::WhenPid1
    };
    overseer::process::init(mode).map_err(|e| e.to_string())
}

pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("overseer: {message}");
    ExitCode::from(2)
}

/// `overseer check`.
pub fn check(file: Option<&Path>) -> ExitCode {
    let stack = match config_file(file).and_then(|f| config::load(&f).map_err(|e| e.to_string())) {
        Ok(stack) => stack,
        Err(e) => return fail(e),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}: stack {:?}, in start order:",
        stack.file.display(),
        stack.root.name
    );
    print_group(&mut out, &stack.root, 1);
    ExitCode::SUCCESS
}

fn print_group(out: &mut impl Write, group: &model::Group, depth: usize) {
    let indent = "  ".repeat(depth);
    for member in &group.members {
        match member {
            model::Member::Process(p) => {
                let command = match &p.command {
                    model::CommandLine::Shell(line) => line.clone(),
                    model::CommandLine::Exec(words) => words.join(" "),
                };
                let replicas = if p.replicas > 1 {
                    format!(" ×{}", p.replicas)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "{indent}{}{replicas}: {command}", p.name);
            }
            model::Member::Group(g) => {
                let _ = writeln!(out, "{indent}{}/ (group)", g.name);
                print_group(out, g, depth + 1);
            }
        }
    }
}

/// `overseer completions SHELL`.
pub fn completions(shell: Shell) -> ExitCode {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "overseer",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}
