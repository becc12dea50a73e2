//! One process of a `process-compose.yaml` (`processes.NAME`) read into a [`Process`], with
//! process-compose's defaults where they differ from overseer's. What needs the other
//! processes (dependencies on disabled ones, on a probe or log line they lack) is checked by
//! the caller with what [`Read`] keeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use overseer::Backoff;
use overseer::process::Signal;
use serde_yaml_ng::Value;

use super::super::ConfigError;
use super::super::model::{CheckSpec, CommandLine, LogSpec, ProbeSpec, Process, RestartPolicy};
use super::super::values::{EnvValue, OneOrMany};
use super::keys::{self, AVAILABILITY, DEPENDENCY, EXEC, HTTP_GET, PROBE, PROCESS, SHUTDOWN};
use super::node::{Map, dotted, kind};

/// process-compose counts `max_restarts` over the process's whole life; overseer counts
/// restarts in a sliding window, which this long a window makes the same.
pub(super) const LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// process-compose's grace period for a `shutdown.command` given no `timeout_seconds`.
const SHUTDOWN_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a process waits for, as process-compose names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// `process_started` (and an entry without a condition).
    Started,
    /// `process_healthy`: the dependency's readiness probe passes.
    Healthy,
    /// `process_log_ready`: the dependency printed its `ready_log_line`.
    LogReady,
    /// `process_completed_successfully`.
    CompletedSuccessfully,
    /// `process_completed`: an end, successful or not.
    Completed,
}

/// A process as read: the model's process (its `depends_on` still empty), and what the
/// checks across processes need.
pub(super) struct Read {
    pub process: Process,
    /// `disabled: true`: left out of the stack.
    pub disabled: bool,
    /// Its dependencies, in the file's order.
    pub waits: Vec<(String, Wait)>,
    /// Its key path (`processes.web`).
    pub path: Vec<String>,
}

/// Reads process `name`, written at `map`; `global_env` is the top-level `environment`,
/// which the process's own entries override.
pub(super) fn read(
    name: &str,
    map: &Map,
    global_env: &[(String, String)],
) -> Result<Read, ConfigError> {
    keys::check(map, &PROCESS)?;
    let here = dotted(&map.path);
    let command = match (
        map.string("command")?,
        map.get::<Vec<String>>("entrypoint")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(map.fail(
                "entrypoint",
                format!("`{here}` has both `command` and `entrypoint`: keep one (process-compose would run `command`)"),
            ));
        }
        (Some(line), None) => bash(line),
        (None, Some(words)) if !words.is_empty() => CommandLine::Exec(words),
        _ => {
            return Err(map.fail_here(format!(
                "`{here}` has no `command`: give it one (a shell command line), or an `entrypoint` (a program and its arguments)"
            )));
        }
    };
    let mut out = Process::new(name, command);
    out.cwd = map.string("working_dir")?.map(PathBuf::from);
    out.env = merged(global_env, &env_list(map, "environment")?);
    // process-compose reads a relative env_file in the process's working_dir.
    out.env_files = map
        .get::<OneOrMany<PathBuf>>("env_file")?
        .map(|files| files.0)
        .unwrap_or_default()
        .into_iter()
        .map(|f| match &out.cwd {
            Some(dir) if f.is_relative() => dir.join(f),
            _ => f,
        })
        .collect();
    availability(map, &mut out)?;
    if let Some(line) = map.string("ready_log_line")? {
        // process-compose looks for the text anywhere in a line; the model's field is a regex.
        out.ready_log_line = Some(regex::escape(&line));
    }
    if let Some(probe) = map.map(
        "readiness_probe",
        "a probe (exec or http_get, and its timings)",
    )? {
        out.readiness = Some(self::probe(&probe)?);
    }
    if let Some(probe) = map.map(
        "liveness_probe",
        "a probe (exec or http_get, and its timings)",
    )? {
        out.liveness = Some(self::probe(&probe)?);
    }
    if out.readiness.is_some() && out.ready_log_line.is_some() {
        return Err(map.fail(
            "ready_log_line",
            format!("`{here}` has both a `readiness_probe` and a `ready_log_line`, which process-compose does not allow either: keep one"),
        ));
    }
    shutdown(map, &mut out)?;
    let log_file = map.string("log_location")?;
    if log_file
        .as_deref()
        .is_some_and(|f| f.contains("{PC_REPLICA_NUM}"))
    {
        return Err(map.fail(
            "log_location",
            format!(
                "overseer does not fill in `{{PC_REPLICA_NUM}}` in `{here}.log_location`: write a file name without it"
            ),
        ));
    }
    out.log = LogSpec {
        file: log_file.map(PathBuf::from),
        rotate: None,
    };
    out.replicas = map.get::<usize>("replicas")?.unwrap_or(1);
    if out.replicas == 0 {
        return Err(map.fail(
            "replicas",
            format!("`{here}.replicas` is 0: a process runs at least once (to leave it out, write `disabled: true`)"),
        ));
    }
    if let Some(codes) = map.get::<Vec<i32>>("success_exit_codes")? {
        // 0 is a success whatever the list says, in process-compose; overseer's list is all
        // the codes that are.
        let mut all = vec![0];
        for code in codes {
            if !all.contains(&code) {
                all.push(code);
            }
        }
        out.success_codes = Some(all);
    }
    Ok(Read {
        process: out,
        disabled: map.flag("disabled")?,
        waits: waits(map)?,
        path: map.path.clone(),
    })
}

/// The `KEY=VALUE` entries of the list at `key` (`environment`), in order.
pub(super) fn env_list(map: &Map, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(value) = map.value(key) else {
        return Ok(Vec::new());
    };
    let name = map.name_of(key);
    let Value::Sequence(items) = value else {
        return Err(map.fail(
            key,
            format!(
                "`{name}` must be a list of \"KEY=VALUE\" strings (`- KEY=VALUE`), not {}",
                kind(value)
            ),
        ));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let text = serde_yaml_ng::from_value::<EnvValue>(item.clone())
            .map_err(|_| {
                map.fail(
                    key,
                    format!(
                        "`{name}` has an entry that is {}: write \"KEY=VALUE\"",
                        kind(item)
                    ),
                )
            })?
            .0;
        let Some((k, v)) = text.split_once('=') else {
            return Err(map.fail(
                key,
                format!("`{name}` has the entry {text:?}, which has no `=`: write it as \"{text}=value\""),
            ));
        };
        if k.trim().is_empty() {
            return Err(map.fail(
                key,
                format!("`{name}` has the entry {text:?}, which names no variable before its `=`"),
            ));
        }
        entries.push((k.to_owned(), v.to_owned()));
    }
    Ok(entries)
}

/// `base` with `over` applied: a key set again takes its new value in its first place.
fn merged(base: &[(String, String)], over: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::with_capacity(base.len() + over.len());
    for (key, value) in base.iter().chain(over) {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

/// `availability`: restart policy, backoff, restart limit, `exit_on_end`. process-compose's
/// defaults when it is absent: no restart, and 1 s between restarts.
fn availability(map: &Map, out: &mut Process) -> Result<(), ConfigError> {
    out.restart = RestartPolicy::Never;
    out.backoff = Some(Backoff::fixed(Duration::from_secs(1)));
    let Some(a) = map.map(
        "availability",
        "a mapping (restart, backoff_seconds, max_restarts, exit_on_end)",
    )?
    else {
        return Ok(());
    };
    keys::check(&a, &AVAILABILITY)?;
    if let Some(restart) = a.get::<String>("restart")? {
        out.restart = match restart.as_str() {
            "always" => RestartPolicy::Always,
            "on_failure" => RestartPolicy::OnFailure,
            "exit_on_failure" => RestartPolicy::ExitOnFailure,
            "no" => RestartPolicy::Never,
            other => {
                return Err(a.fail(
                    "restart",
                    format!(
                        "`{}` is {other:?}: process-compose's restart policies are always, on_failure, exit_on_failure and no",
                        a.name_of("restart")
                    ),
                ));
            }
        };
    }
    // process-compose waits at least a second before each restart.
    let backoff = a.get::<u64>("backoff_seconds")?.unwrap_or(1).max(1);
    out.backoff = Some(Backoff::fixed(Duration::from_secs(backoff)));
    // 0 is no limit, in process-compose.
    out.max_restarts = a
        .get::<u32>("max_restarts")?
        .filter(|&n| n > 0)
        .map(|n| (n, LIFETIME));
    out.exit_on_end = a.flag("exit_on_end")?;
    if out.exit_on_end && out.restart == RestartPolicy::Always {
        return Err(a.fail(
            "exit_on_end",
            format!(
                "`{}` needs a process that can end for good, and `restart: always` restarts it: set `restart` to on_failure, exit_on_failure or no",
                a.name_of("exit_on_end")
            ),
        ));
    }
    Ok(())
}

/// `shutdown`: a stop command, a stop signal (by number), a grace period.
fn shutdown(map: &Map, out: &mut Process) -> Result<(), ConfigError> {
    let Some(s) = map.map("shutdown", "a mapping (command, signal, timeout_seconds)")? else {
        return Ok(());
    };
    keys::check(&s, &SHUTDOWN)?;
    out.stop_command = s.string("command")?.map(bash);
    // 0 is process-compose's default, SIGTERM, which is overseer's too.
    if let Some(number) = s.get::<i64>("signal")?.filter(|&n| n != 0) {
        let signal = i32::try_from(number).ok().and_then(Signal::from_raw).ok_or_else(|| {
            s.fail(
                "signal",
                format!(
                    "`{}` is {number}, which is not a signal overseer can send: write a named signal's number, such as 15 (SIGTERM), 2 (SIGINT) or 3 (SIGQUIT)",
                    s.name_of("signal")
                ),
            )
        })?;
        out.stop_signal = Some(signal);
    }
    out.stop_timeout = s.seconds("timeout_seconds")?.map(Duration::from_secs);
    if out.stop_timeout.is_none() && out.stop_command.is_some() {
        out.stop_timeout = Some(SHUTDOWN_COMMAND_TIMEOUT);
    }
    Ok(())
}

/// A `readiness_probe` or `liveness_probe`. A timing left out, or 0, is process-compose's
/// default, which is overseer's too (no initial delay, every 10 s, 1 s timeout, 1 success,
/// 3 failures): it is left unset.
fn probe(p: &Map) -> Result<ProbeSpec, ConfigError> {
    keys::check(p, &PROBE)?;
    let here = dotted(&p.path);
    let exec = p.map("exec", "a mapping with a `command`")?;
    let http = p.map("http_get", "a mapping (host, scheme, path, port)")?;
    let check = match (exec, http) {
        (Some(exec), None) => exec_check(&exec)?,
        (None, Some(http)) => http_check(&http)?,
        (Some(_), Some(_)) => {
            return Err(p.fail(
                "http_get",
                format!("`{here}` has both `exec` and `http_get`: keep one"),
            ));
        }
        (None, None) => {
            return Err(p.fail_here(format!(
                "`{here}` needs an `exec` (a command) or an `http_get` (a URL to get)"
            )));
        }
    };
    let count = |key: &str| -> Result<Option<u32>, ConfigError> {
        Ok(p.get::<u32>(key)?.filter(|&n| n > 0))
    };
    Ok(ProbeSpec {
        check,
        initial_delay: p.seconds("initial_delay_seconds")?.map(Duration::from_secs),
        period: p.seconds("period_seconds")?.map(Duration::from_secs),
        timeout: p.seconds("timeout_seconds")?.map(Duration::from_secs),
        success_threshold: count("success_threshold")?,
        failure_threshold: count("failure_threshold")?,
    })
}

/// `exec: {command: …}`, run with the shell.
fn exec_check(e: &Map) -> Result<CheckSpec, ConfigError> {
    keys::check(e, &EXEC)?;
    let command = e
        .string("command")?
        .ok_or_else(|| e.fail_here(format!("`{}` needs a `command`", dotted(&e.path))))?;
    Ok(CheckSpec::Exec(bash(command)))
}

/// `http_get: {host, scheme, path, port}` as the URL process-compose builds from them:
/// `{scheme}://{host}:{port}{path}`, host 127.0.0.1, scheme http and path `/` by default, and
/// no port (the scheme's) when there is none.
fn http_check(h: &Map) -> Result<CheckSpec, ConfigError> {
    keys::check(h, &HTTP_GET)?;
    let scheme = h
        .string("scheme")?
        .unwrap_or_else(|| "http".to_owned())
        .to_ascii_lowercase();
    match scheme.as_str() {
        "http" => {}
        "https" => {
            return Err(h.fail(
                "scheme",
                format!(
                    "`{}` is https, and overseer's HTTP probe speaks plain HTTP only: probe a plain HTTP port, or use an `exec` probe (such as `curl -fsS https://…`)",
                    h.name_of("scheme")
                ),
            ));
        }
        other => {
            return Err(h.fail(
                "scheme",
                format!(
                    "`{}` is {other:?}: the probe speaks http",
                    h.name_of("scheme")
                ),
            ));
        }
    }
    let mut host = h.string("host")?.unwrap_or_else(|| "127.0.0.1".to_owned());
    if host.contains(':') && !host.starts_with('[') {
        host = format!("[{host}]");
    }
    let port = match h.value("port") {
        None => String::new(),
        Some(value) => format!(":{}", port(h, value)?),
    };
    let mut path = h.string("path")?.unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    // process-compose takes a status outside 1..400 for its default, 200.
    if let Some(code) = h.get::<u16>("status_code")?
        && (1..400).contains(&code)
        && code != 200
    {
        return Err(h.fail(
            "status_code",
            format!(
                "overseer does not support `{}: {code}`: its HTTP probe passes on any status from 200 to 399 and cannot require one",
                h.name_of("status_code")
            ),
        ));
    }
    Ok(CheckSpec::Http(format!("{scheme}://{host}{port}{path}")))
}

/// A port: a number, or a string of one (process-compose's `port` is a string), 1 to 65535.
fn port(h: &Map, value: &Value) -> Result<u16, ConfigError> {
    let written = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        other => kind(other).to_owned(),
    };
    written
        .parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            h.fail(
                "port",
                format!(
                    "`{}` is {written}, which is not a port (1 to 65535)",
                    h.name_of("port")
                ),
            )
        })
}

/// `depends_on`: each dependency's name and condition, in the file's order.
fn waits(map: &Map) -> Result<Vec<(String, Wait)>, ConfigError> {
    let Some(deps) = map.map(
        "depends_on",
        "a mapping of process names, each with a `condition`",
    )?
    else {
        return Ok(Vec::new());
    };
    let mut waits = Vec::with_capacity(deps.entries.len());
    for (name, value) in &deps.entries {
        if value.is_null() {
            // `db:` alone: process-compose's documented default condition.
            waits.push((name.clone(), Wait::Started));
            continue;
        }
        let entry = Map::new(
            deps.doc,
            deps.path_of(name),
            value,
            "a mapping with a `condition`",
        )?;
        keys::check(&entry, &DEPENDENCY)?;
        let wait = match entry.string("condition")?.as_deref() {
            None | Some("process_started") => Wait::Started,
            Some("process_healthy") => Wait::Healthy,
            Some("process_log_ready") => Wait::LogReady,
            Some("process_completed_successfully") => Wait::CompletedSuccessfully,
            Some("process_completed") => Wait::Completed,
            Some(other) => {
                return Err(entry.fail(
                    "condition",
                    format!(
                        "`{}` is {other:?}: the conditions are process_started, process_healthy, process_log_ready, process_completed and process_completed_successfully",
                        entry.name_of("condition")
                    ),
                ));
            }
        };
        waits.push((name.clone(), wait));
    }
    Ok(waits)
}

/// Where a stack whose combined log file is `location` keeps its logs: process-compose
/// writes every process's output into that one file, overseer writes one file per process
/// (`<log_dir>/<name>.log`), so they go in the directory of that file.
pub(super) fn log_dir_of(location: &str) -> PathBuf {
    match Path::new(location).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A command line as process-compose runs it: with `bash -c`.
fn bash(line: String) -> CommandLine {
    CommandLine::Exec(vec!["bash".to_owned(), "-c".to_owned(), line])
}
