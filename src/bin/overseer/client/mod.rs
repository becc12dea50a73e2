//! The commands that drive a running daemon (`overseer up -d`): each connects to the socket,
//! sends one request of the control API (`docs/api.md`; `logs` of several names one per
//! name), and prints the answer — for scripts, with `--json`, the API's JSON as it is.
//!
//! Exit codes: 0 when done; 1 when the daemon refused (an unknown name, a config that does
//! not check, a process not running) or when no daemon runs on the socket, each with a
//! message on standard error that says what to do.

mod logs;
pub mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use crate::api::{self, PREFIX};
use crate::printer::ColourChoice;

/// The commands that talk to a daemon, and the hidden one that is the daemon.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List the daemon's processes and groups: state, pid, restarts, uptime, health, CPU, memory.
    Ps {
        /// Print the tree's snapshot as JSON (the API's `GET /v1/tree`).
        #[arg(long)]
        json: bool,
    },
    /// Show one process or group.
    Status {
        /// Its name: its path below the stack (`web`, `workers/w-0`, `workers`).
        name: String,
        /// Print its snapshot as JSON (the API's `GET /v1/processes/NAME`).
        #[arg(long)]
        json: bool,
    },
    /// Print the last lines of processes' output, prefixed with their names; with -f, go on
    /// printing new lines.
    ///
    /// A group's name stands for every process in it; no name, for every process.
    Logs {
        /// Processes or groups (default: all).
        names: Vec<String>,
        /// Go on printing new lines until the processes are removed or the daemon stops.
        #[arg(short, long)]
        follow: bool,
        /// How many of the last lines to print first (at most 1000 are kept).
        #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
        lines: usize,
        /// Print the API's JSON lines as they are.
        #[arg(long)]
        json: bool,
        /// Colour the names: auto (on a terminal, unless NO_COLOR is set), always, never.
        #[arg(long, value_enum, default_value_t)]
        color: ColourChoice,
    },
    /// Start stopped processes: a process, or a group's stopped members.
    Start {
        /// Processes or groups.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop processes or groups (they stay stopped until started).
    Stop {
        /// Processes or groups.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop and start processes or groups again.
    Restart {
        /// Processes or groups.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Reload processes or groups: their reload signal, or a graceful restart.
    Reload {
        /// Processes or groups.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop the stack and the daemon; returns once the daemon has exited.
    Down,
    /// Apply the config again (or FILE) to the running stack.
    ///
    /// Added processes start, removed ones stop, changed ones restart, the others are not
    /// touched. The config is checked first: an invalid one changes nothing, and the error
    /// says where it is wrong.
    Apply {
        /// The config file (default: the one the daemon runs).
        file: Option<PathBuf>,
    },
    /// Run the daemon in the foreground, for a service manager: the control API on the
    /// socket as `up -d` serves it, the log on standard error. Under systemd, use
    /// `Type=notify`: it reports readiness (every process ready), status lines, reloads
    /// (`apply`, SIGHUP), its stop, and watchdog pings when `WatchdogSec=` is set
    /// (examples/deploy/overseer.service).
    Daemon {
        /// The config file.
        #[arg(long)]
        file: PathBuf,
        /// The descriptor to report readiness on (as `up -d` starts it).
        #[arg(long, hide = true)]
        ready_fd: Option<i32>,
        /// Also serve the API over TCP here, with a bearer token.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Serve /healthz, /readyz and /metrics at ADDR, as `up --http`.
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Reap orphans, as `up --reap` (always on as PID 1).
        #[arg(long)]
        reap: bool,
    },
}

/// Runs a client command against the daemon on `socket` (default: the per-user one).
pub fn run(command: ClientCommand, socket: Option<&Path>) -> ExitCode {
    if let ClientCommand::Daemon {
        file,
        ready_fd,
        listen,
        http,
        reap,
    } = &command
    {
        if let Err(e) = crate::cli::become_init(*reap) {
            return fail(e);
        }
        return crate::daemon::run(file, socket, *ready_fd, *listen, *http);
    }
    let client = Client {
        socket: api::socket_path(socket),
        given: socket.is_some(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(dispatch(&client, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("overseer: {message}");
    ExitCode::from(1)
}

async fn dispatch(client: &Client, command: ClientCommand) -> Result<(), String> {
    match command {
        ClientCommand::Ps { json } => {
            let body = client.get(&format!("{PREFIX}/tree")).await?;
            if json {
                return print_raw(&body);
            }
            let root: table::Node = parse(&body)?;
            print!("{}", table::ps(&root, &root));
            Ok(())
        }
        ClientCommand::Status { name, json } => {
            let body = client.get(&process_uri(&name)).await?;
            if json {
                return print_raw(&body);
            }
            let node: table::Node = parse(&body)?;
            print!("{}", table::status(&node, root_of(&node.path)));
            Ok(())
        }
        ClientCommand::Logs {
            names,
            follow,
            lines,
            json,
            color,
        } => {
            let options = logs::Options {
                follow,
                lines,
                json,
                colour: crate::printer::use_colour(color),
            };
            logs::run(client, &names, &options).await
        }
        ClientCommand::Start { names } => act(client, &names, "start").await,
        ClientCommand::Stop { names } => act(client, &names, "stop").await,
        ClientCommand::Restart { names } => act(client, &names, "restart").await,
        ClientCommand::Reload { names } => act(client, &names, "reload").await,
        ClientCommand::Down => down(client).await,
        ClientCommand::Apply { file } => apply(client, file.as_deref()).await,
        ClientCommand::Daemon { .. } => Err("the daemon runs from `overseer up -d`".to_owned()),
    }
}

/// `start|stop|restart|reload NAME…`: one request per name, in order; every name is tried,
/// and any failure makes the command fail.
async fn act(client: &Client, names: &[String], action: &str) -> Result<(), String> {
    let mut failed = Vec::new();
    for name in names {
        let uri = format!("{}/{action}", process_uri(name));
        match client.post(&uri, Vec::new()).await {
            Ok(body) => {
                let node: table::Node = parse(&body)?;
                println!("{name}: {}", node.state);
            }
            Err(e) => {
                if names.len() == 1 {
                    return Err(e);
                }
                eprintln!("overseer: {name}: {e}");
                failed.push(name.as_str());
            }
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(format!("{action} failed for {}", failed.join(", "))),
    }
}

/// `down`: asks the daemon to stop, then waits until its process has ended (its lock is
/// free), so that nothing of the stack is left when this returns.
async fn down(client: &Client) -> Result<(), String> {
    client.post(&format!("{PREFIX}/down"), Vec::new()).await?;
    let socket = client.socket.clone();
    tokio::task::spawn_blocking(move || crate::daemon::lock::wait_released(&socket))
        .await
        .map_err(|e| format!("cannot wait for the daemon: {e}"))?
        .map_err(|e| format!("cannot wait for the daemon to exit: {e}"))?;
    println!("overseer: stopped");
    Ok(())
}

/// `apply [FILE]`: prints what changed.
async fn apply(client: &Client, file: Option<&Path>) -> Result<(), String> {
    let body = match file {
        Some(file) => {
            let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
            serde_json::to_vec(&serde_json::json!({ "file": file })).map_err(|e| e.to_string())?
        }
        None => Vec::new(),
    };
    let answer = client.post(&format!("{PREFIX}/apply"), body).await?;
    #[derive(Deserialize)]
    struct Report {
        #[serde(default)]
        added: Vec<String>,
        #[serde(default)]
        removed: Vec<String>,
        #[serde(default)]
        restarted: Vec<String>,
        #[serde(default)]
        reconfigured: Vec<String>,
        #[serde(default)]
        unchanged: Vec<String>,
    }
    let report: Report = parse(&answer)?;
    let below = |paths: &[String]| -> String {
        paths
            .iter()
            .map(|p| p.split_once('/').map_or(p.as_str(), |(_, name)| name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut any = false;
    for (what, paths) in [
        ("added", &report.added),
        ("removed", &report.removed),
        ("restarted", &report.restarted),
    ] {
        if !paths.is_empty() {
            any = true;
            println!("{what}: {}", below(paths));
        }
    }
    if !any {
        println!("no process added, removed or restarted at the top level");
    }
    if !report.reconfigured.is_empty() {
        // The library reports a group's own changes only as the group being reconfigured.
        println!(
            "groups: {} (members compared one by one: the changed ones restart)",
            below(&report.reconfigured)
        );
    }
    if !report.unchanged.is_empty() {
        println!("unchanged: {}", report.unchanged.len());
    }
    Ok(())
}

/// The path of the root in a full path (`stack` in `stack/web`).
fn root_of(path: &str) -> &str {
    path.split_once('/').map_or(path, |(root, _)| root)
}

fn process_uri(name: &str) -> String {
    format!(
        "{PREFIX}/processes/{}",
        api::percent_encode(name.trim_end_matches('/'))
    )
}

fn print_raw(body: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(body)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("the daemon's answer is not as expected: {e}"))
}

/// A connection to the daemon's socket, one request at a time.
pub struct Client {
    socket: PathBuf,
    /// Whether the socket was named (`--socket`, `OVERSEER_SOCKET`).
    given: bool,
}

impl Client {
    /// `GET uri`, the body of a successful answer.
    async fn get(&self, uri: &str) -> Result<Bytes, String> {
        let response = self.send(Method::GET, uri, Vec::new()).await?;
        body(response).await
    }

    /// `POST uri` with `body` (JSON when not empty), the body of a successful answer.
    async fn post(&self, uri: &str, body_bytes: Vec<u8>) -> Result<Bytes, String> {
        let response = self.send(Method::POST, uri, body_bytes).await?;
        body(response).await
    }

    /// Sends one request; an answer that is an API error becomes its message.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        body_bytes: Vec<u8>,
    ) -> Result<Response<Incoming>, String> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| self.connect_error(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.lost(&e))?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "overseer");
        if !body_bytes.is_empty() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body_bytes)))
            .map_err(|e| format!("cannot make the request {uri}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.lost(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        #[derive(Deserialize)]
        struct ApiError {
            error: String,
        }
        Err(match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(e) => e.error,
            Err(_) => format!("the daemon answered {status}"),
        })
    }

    fn connect_error(&self, e: &std::io::Error) -> String {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => {
                let option = match self.given {
                    true => format!(" --socket {}", self.socket.display()),
                    false => String::new(),
                };
                format!(
                    "no overseer daemon is running on {}; start one with `overseer{option} up -d [FILE]`",
                    self.socket.display()
                )
            }
            _ => format!("cannot connect to {}: {e}", self.socket.display()),
        }
    }

    fn lost(&self, e: &hyper::Error) -> String {
        format!(
            "the daemon on {} closed the connection without answering ({e}); it answers only its own user",
            self.socket.display()
        )
    }
}

/// The whole body of `response`.
async fn body(response: Response<Incoming>) -> Result<Bytes, String> {
    response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("the daemon's answer was cut: {e}"))
}
