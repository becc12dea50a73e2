//! `overseer jobs`: detached jobs from the command line, each subcommand a thin layer over
//! `overseer::jobs::Store` (the library's store, shared with every program that uses it).

use std::ffi::OsString;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use overseer::jobs::{Filter, FollowOptions, Job, JobError, JobSpec, Status, Store};
use overseer::process::output::Stream;

use crate::client::table;

/// `overseer jobs …`: its store and its subcommand.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// The job store (default: $OVERSEER_JOBS_DIR, else ~/.cache/overseer/jobs).
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: JobsCommand,
}

/// The subcommands of `overseer jobs`.
#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Start COMMAND as a detached job and print its id.
    ///
    /// The job runs in a session of its own and goes on after this command (and the shell)
    /// exits; its output goes to stdout.log and stderr.log in its directory, its exit code
    /// into its state, whoever is alive when it ends.
    Start {
        /// A label, for `ls --label` (repeatable).
        #[arg(short, long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
        labels: Vec<(String, String)>,
        /// An environment variable for the job (repeatable).
        #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
        env: Vec<(String, String)>,
        /// The job's working directory (default: the current one).
        #[arg(short = 'C', long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// Print the started job as JSON instead of its id.
        #[arg(long)]
        json: bool,
        /// The program and its arguments (after `--` if they start with `-`).
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// List the jobs, oldest first: id, status, pid, exit, age, command.
    Ls {
        /// Only jobs with this status (repeatable): pending, running, completed, failed,
        /// cancelled, orphaned.
        #[arg(short, long, value_parser = status)]
        status: Vec<Status>,
        /// Only jobs with this label (repeatable: all must match).
        #[arg(short, long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
        labels: Vec<(String, String)>,
        /// Print the jobs as JSON (an array of their states).
        #[arg(long)]
        json: bool,
    },
    /// Show one job.
    Show {
        /// The job's id.
        id: String,
        /// Print its state as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a job's output: its stdout here on stdout, its stderr on stderr.
    Logs {
        /// The job's id.
        id: String,
        /// Go on printing new lines until the job has ended.
        #[arg(short, long)]
        follow: bool,
    },
    /// Wait until a job has ended; exit with its exit code (128 + N for signal N).
    Wait {
        /// The job's id.
        id: String,
        /// Print its final state as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel jobs: SIGTERM to each job's process group, SIGKILL after the timeout.
    Cancel {
        /// The jobs' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// How long a job has to end after SIGTERM.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Remove finished jobs: their directories, state and logs.
    Rm {
        /// The jobs' ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Remove every finished job that ended more than DURATION ago.
    Prune {
        /// How long ago (e.g. 7d, 12h, 0s).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

/// Runs `overseer jobs …`. Exit codes: 0, or 1 when a job operation failed (the error on
/// stderr); `wait` exits with the job's code.
pub fn run(args: JobsArgs) -> ExitCode {
    let store = match Store::locate(args.store.as_deref()).and_then(Store::open) {
        Ok(store) => store,
        Err(e) => return failed(e),
    };
    let mut out = std::io::stdout().lock();
    let result = match args.command {
        JobsCommand::Start {
            labels,
            env,
            cwd,
            json,
            command,
        } => {
            let mut words = command.into_iter();
            let mut spec = JobSpec::new(words.next().unwrap_or_default()).args(words);
            for (key, value) in labels {
                spec = spec.label(key, value);
            }
            for (key, value) in env {
                spec = spec.env(key, value);
            }
            if let Some(dir) = cwd {
                spec = spec.cwd(dir);
            }
            store.start(spec).map(|job| match json {
                true => print_json(&mut out, &job),
                false => {
                    let _ = writeln!(out, "{}", job.id);
                }
            })
        }
        JobsCommand::Ls {
            status,
            labels,
            json,
        } => {
            let mut filter = Filter::new();
            for s in status {
                filter = filter.status(s);
            }
            for (key, value) in labels {
                filter = filter.label(key, value);
            }
            store.list(&filter).map(|listing| {
                match json {
                    true => print_json(&mut out, &listing.jobs),
                    false => {
                        let rows: Vec<_> = listing.jobs.iter().map(row).collect();
                        let header = ["ID", "STATUS", "PID", "EXIT", "AGE", "COMMAND"];
                        let _ = out.write_all(table::render(header, &rows).as_bytes());
                    }
                }
                for error in listing.errors {
                    eprintln!("overseer: {error}");
                }
            })
        }
        JobsCommand::Show { id, json } => store.get(&id).map(|job| match json {
            true => print_json(&mut out, &job),
            false => {
                let _ = out.write_all(details(&store, &job).as_bytes());
            }
        }),
        JobsCommand::Logs { id, follow } => logs(&store, &id, follow),
        JobsCommand::Wait { id, json } => {
            return match store.wait(&id, None) {
                Ok(job) => {
                    if json {
                        print_json(&mut out, &job);
                    }
                    ExitCode::from(exit_code(&job))
                }
                Err(e) => failed(e),
            };
        }
        JobsCommand::Cancel { ids, timeout } => each(ids, |id| {
            let job = store.cancel(id, timeout)?;
            let _ = writeln!(out, "{id}: {}", job.status);
            Ok(())
        }),
        JobsCommand::Rm { ids } => each(ids, |id| store.remove(id)),
        JobsCommand::Prune { older_than } => store.cleanup(older_than).map(|removed| {
            for id in removed {
                let _ = writeln!(out, "{id}");
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

/// Runs `op` on every id, going on after a failure; the first error is returned (every one
/// is printed).
fn each(
    ids: Vec<String>,
    mut op: impl FnMut(&str) -> Result<(), JobError>,
) -> Result<(), JobError> {
    let mut first = None;
    for id in ids {
        if let Err(e) = op(&id) {
            if first.is_some() {
                eprintln!("overseer: {e}");
            } else {
                first = Some(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

fn failed(error: JobError) -> ExitCode {
    eprintln!("overseer: {error}");
    ExitCode::FAILURE
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(out, "{text}");
}

/// `logs`: what the logs hold now, or (`follow`) until the job has ended.
fn logs(store: &Store, id: &str, follow: bool) -> Result<(), JobError> {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut print = |stream: Stream, bytes: &[u8]| {
        let out: &mut dyn Write = match stream {
            Stream::Stderr => &mut stderr,
            _ => &mut stdout,
        };
        let ok = out.write_all(bytes).and_then(|()| out.write_all(b"\n"));
        // A closed pipe (`| head`) ends the command.
        let ok = ok.and_then(|()| if follow { out.flush() } else { Ok(()) });
        match ok {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    };
    if follow {
        store.follow(id, &FollowOptions::new(), |line| {
            print(line.stream, line.bytes)
        })?;
        return Ok(());
    }
    store.get(id)?;
    for stream in [Stream::Stdout, Stream::Stderr] {
        let path = store.log_path(id, stream)?;
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(JobError::Io {
                    what: "cannot read",
                    path,
                    source,
                });
            }
        };
        let body = text.strip_suffix(b"\n").unwrap_or(&text);
        if !text.is_empty() {
            for line in body.split(|&b| b == b'\n') {
                if print(stream, line).is_break() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The exit code `wait` ends with: the job's code, 128 + N for a signal, 1 when no exit was
/// recorded (orphaned).
fn exit_code(job: &Job) -> u8 {
    match job.exit {
        Some(exit) => match (exit.code, exit.signal) {
            (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
            (None, Some(signal)) => u8::try_from((128 + signal) & 0xff).unwrap_or(1),
            (None, None) => 1,
        },
        None => 1,
    }
}

fn row(job: &Job) -> [String; 6] {
    let dash = || "-".to_owned();
    let age = std::time::SystemTime::now()
        .duration_since(job.created_at())
        .unwrap_or_default();
    [
        job.id.clone(),
        job.status.to_string(),
        job.pid.map_or_else(dash, |p| p.to_string()),
        job.exit
            .map_or_else(dash, |exit| match (exit.code, exit.signal) {
                (Some(code), _) => code.to_string(),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => dash(),
            }),
        table::duration(u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
        job.command.join(" "),
    ]
}

fn details(store: &Store, job: &Job) -> String {
    let mut out = String::new();
    let mut field = |key: &str, value: String| {
        out.push_str(&format!("{key:<10} {value}\n"));
    };
    let ago = |ms: u64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        format!("{} ago", table::duration(now.saturating_sub(ms)))
    };
    field("id:", job.id.clone());
    field("status:", job.status.to_string());
    field("command:", job.command.join(" "));
    field("cwd:", job.cwd.display().to_string());
    if !job.labels.is_empty() {
        let labels: Vec<String> = job.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        field("labels:", labels.join(" "));
    }
    if let Some(pid) = job.pid {
        field("pid:", pid.to_string());
    }
    field("created:", ago(job.created_at_ms));
    if let Some(ms) = job.ended_at_ms {
        field("ended:", ago(ms));
    }
    if let Some(exit) = job.exit {
        field("exit:", exit.to_string());
    }
    if let Some(error) = &job.error {
        field("error:", error.clone());
    }
    for stream in [Stream::Stdout, Stream::Stderr] {
        if let Ok(path) = store.log_path(&job.id, stream) {
            let key = match stream {
                Stream::Stderr => "stderr:",
                _ => "stdout:",
            };
            field(key, path.display().to_string());
        }
    }
    out
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

fn status(text: &str) -> Result<Status, String> {
    const ALL: [Status; 6] = [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
        Status::Orphaned,
    ];
    ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|s| s.as_str()).collect();
        format!("{text:?} is not a status ({})", names.join(", "))
    })
}
