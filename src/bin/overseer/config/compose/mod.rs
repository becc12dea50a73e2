//! A `process-compose.yaml`, the file of [process-compose](https://github.com/F1bonacc1/process-compose),
//! read into the [model](super::model) as process-compose reads it. Every key written is
//! read, or accepted and ignored for a reason stated below, or refused with an error that
//! names its path (`processes.web.namespace`) and its line; none is dropped in silence. Keys
//! starting with `x-` are accepted anywhere and ignored (process-compose's extensions, for
//! YAML anchors), and `<<: *anchor` merges are applied.
//!
//! # Read
//!
//! - top level: `version` (any), `name` (the stack's; default the directory's name),
//!   `processes` (started in the file's order wherever the dependencies allow),
//!   `environment` (`KEY=VALUE` entries for every process; each process's own override
//!   them), `log_location`: process-compose's one combined log file; overseer writes a file
//!   per process, so the stack's log dir is that file's directory.
//! - a process: `command` (run with `bash -c`, as process-compose does), `entrypoint` (a program and its arguments;
//!   not with `command`), `working_dir`, `environment`, `env_file` (one or a list; a
//!   relative one is in `working_dir`, as process-compose reads it), `depends_on`
//!   (`condition`: `process_started`, the default; `process_healthy`, for a dependency with
//!   a `readiness_probe`; `process_log_ready`, for one with a `ready_log_line`;
//!   `process_completed_successfully`; `process_completed`, an end successful or not),
//!   `availability`, `readiness_probe`, `liveness_probe`,
//!   `ready_log_line` (text found anywhere in a line), `shutdown`, `log_location` (the
//!   process's log file), `disabled` (left out of the stack; nothing may depend on it),
//!   `replicas` (at least 1), `success_exit_codes` (with 0, which always is one).
//! - `availability`: `restart` (`no`, the default, `always`, `on_failure`,
//!   `exit_on_failure`), `backoff_seconds` (a fixed delay, at least 1 s, the default),
//!   `max_restarts` (over the process's whole life; 0 is no limit), `exit_on_end` (not with
//!   `restart: always`).
//! - a probe: `exec.command` (run with `bash -c`), `http_get` (`host` 127.0.0.1, `scheme`
//!   http, `path` /, `port` by default; https is refused: overseer's probe speaks plain
//!   HTTP), `initial_delay_seconds`, `period_seconds`, `timeout_seconds`,
//!   `success_threshold`, `failure_threshold` (0 or absent: the shared defaults).
//! - `shutdown`: `command`, `signal` (a number), `timeout_seconds` (10 s for a command when
//!   absent, as process-compose has it).
//!
//! # Accepted and ignored
//!
//! Only keys that change nothing overseer would do: `log_level` (process-compose's own log),
//! `log_length`, `is_tui_disabled`, a process's `description`, `disable_ansi_colors`,
//! `monitor_for` and `monitor_silence_threshold` (its terminal UI), `log_format` (unused by
//! process-compose), `is_strict` (overseer is always strict), a process's `name` (replaced
//! by its key), `launch_timeout_seconds` (for `is_daemon` processes, refused). And keys that
//! ask for what overseer does anyway, with that value only: `ordered_shutdown: true`,
//! `disable_env_expansion: true`, `is_dotenv_disabled: true`, `is_template_disabled: true`,
//! and `false` for `is_daemon`, `is_foreground`, `is_tty`, `is_interactive`,
//! `is_elevated`, `truncate_log`, `availability.exit_on_skipped`, `shutdown.parent_only`.
//!
//! # Refused
//!
//! Everything else, each with what to do instead: at the top `log_configuration`, `shell`,
//! `vars`, `extends`, `env_cmds`, `mcp_server`; in a process `namespace`, `extends`,
//! `log_configuration`, `vars`, `is_disabled`, `schedule`, `watch`, `mcp`;
//! `shutdown.send_keys`, a probe's `exec.working_dir`, `http_get.headers`, a
//! `http_get.status_code` other than 200; keys process-compose fills in itself (`executable`,
//! `args`, `replica_num`, …); and any key process-compose does not have (a typo is matched
//! to the key it is closest to).
//!
//! # Differences that remain
//!
//! - process-compose substitutes `$VAR` and `${VAR}` in the whole file when it loads it
//!   (from its environment and `.env`; `$$` for `$`); overseer does not: a command's
//!   variables are expanded by the shell when it runs, with the process's environment.
//! - process-compose runs commands with `$COMPOSE_SHELL -c` when that is set; overseer
//!   always with `bash -c` (its default).
//! - process-compose loads `.env` into every process; overseer only the files named in
//!   `env_file`, and the top-level `environment` overrides them, where process-compose lets
//!   an `env_file` override it.
//! - without `shutdown.timeout_seconds` process-compose waits for a signalled process as
//!   long as it takes; overseer kills it after its default stop timeout.
//! - an HTTP probe passes on a status from 200 to 399, where process-compose wants 200.
//! - process-compose sets `PC_PROC_NAME` and `PC_REPLICA_NUM` in each process's
//!   environment; overseer does not (and a `log_location` with `{PC_REPLICA_NUM}` is
//!   refused).

mod keys;
mod node;
mod process;
#[cfg(test)]
mod tests;

use std::path::Path;

use overseer::{Condition, Strategy};
use serde_yaml_ng::Value;

use self::node::{Doc, Map};
use self::process::{Read, Wait};
use super::model::{Group, Member, Stack};
use super::{ConfigError, native, order};

/// Reads `text`, the contents of `file`.
pub fn parse(text: &str, file: &Path) -> Result<Stack, ConfigError> {
    let doc = Doc { text, file };
    let mut value: Value = serde_yaml_ng::from_str(text).map_err(|e| doc.syntax_error(&e))?;
    value.apply_merge().map_err(|e| {
        ConfigError::new(file, None, format!("a `<<` merge cannot be applied: {e}"))
    })?;
    if value.is_null() {
        return Err(ConfigError::new(
            file,
            None,
            "the file is empty: declare the processes under `processes:`",
        ));
    }
    let top = Map::new(&doc, Vec::new(), &value, "a mapping with `processes`")?;
    keys::check(&top, &keys::TOP)?;
    let name = top
        .string("name")?
        .unwrap_or_else(|| native::default_name(file));
    let env = process::env_list(&top, "environment")?;
    let log_dir = top.string("log_location")?.map(|l| process::log_dir_of(&l));
    let processes = top
        .map("processes", "a mapping of process names to their settings")?
        .filter(|p| !p.entries.is_empty())
        .ok_or_else(|| {
            top.fail(
                "processes",
                "no process: declare them under `processes:`, each with a `command`",
            )
        })?;
    let mut all = Vec::with_capacity(processes.entries.len());
    for (pname, pvalue) in &processes.entries {
        let map = Map::new(
            &doc,
            processes.path_of(pname),
            pvalue,
            "a mapping of the process's settings",
        )?;
        all.push(process::read(pname, &map, &env)?);
    }
    let members = dependencies(&doc, all)?;
    if members.is_empty() {
        return Err(processes.fail_here("every process is disabled: nothing would run"));
    }
    let mut root = Group {
        name,
        strategy: Strategy::OneForOne,
        intensity: None,
        depends_on: Vec::new(),
        members,
    };
    order::check(&mut root).map_err(|problem| {
        let mut path = vec!["processes".to_owned(), problem.member];
        path.extend(problem.key.map(str::to_owned));
        doc.error(&path, problem.message)
    })?;
    Ok(Stack {
        file: file.to_owned(),
        root,
        shutdown_timeout: None,
        log_dir,
    })
}

/// The processes that are not disabled, each with its dependencies as conditions, once
/// checked against what they wait for (see [`check_wait`]).
fn dependencies(doc: &Doc, all: Vec<Read>) -> Result<Vec<Member>, ConfigError> {
    for read in all.iter().filter(|r| !r.disabled) {
        for (on, wait) in &read.waits {
            if let Some(target) = all.iter().find(|r| r.process.name == *on) {
                check_wait(read, target, *wait).map_err(|message| {
                    let mut path = read.path.clone();
                    path.extend(["depends_on".to_owned(), on.clone()]);
                    doc.error(&path, message)
                })?;
            }
        }
    }
    Ok(all
        .into_iter()
        .filter(|read| !read.disabled)
        .map(|read| {
            let mut process = read.process;
            process.depends_on = read
                .waits
                .into_iter()
                .map(|(on, wait)| {
                    let condition = match wait {
                        Wait::Started => Condition::Started,
                        Wait::Healthy | Wait::LogReady => Condition::Ready,
                        Wait::CompletedSuccessfully => Condition::Completed,
                        Wait::Completed => Condition::Ended,
                    };
                    (on, condition)
                })
                .collect();
            Member::Process(Box::new(process))
        })
        .collect())
}

/// Whether `read` may wait for `target` as `wait` says: not if `target` is disabled, nor
/// `process_healthy` on a process without a readiness probe, nor `process_log_ready` on one
/// without a `ready_log_line`; the message names both. (A dependency on a name not declared
/// is left to [`order::check`].)
fn check_wait(read: &Read, target: &Read, wait: Wait) -> Result<(), String> {
    let (name, on, t) = (&read.process.name, &target.process.name, &target.process);
    if target.disabled {
        return Err(format!(
            "{name:?} depends on {on:?}, which is disabled: enable {on:?} or remove the dependency"
        ));
    }
    if wait == Wait::Healthy && t.readiness.is_none() {
        let why = if t.liveness.is_some() {
            format!(
                "{on:?} has only a liveness_probe, and overseer's readiness comes from a readiness_probe"
            )
        } else {
            format!("{on:?} has no readiness_probe")
        };
        let or = if t.ready_log_line.is_some() {
            ", or wait for its ready_log_line with `condition: process_log_ready`"
        } else {
            ""
        };
        return Err(format!(
            "{name:?} waits for {on:?} to be healthy (process_healthy), but {why}: give {on:?} a readiness_probe{or}"
        ));
    }
    if wait == Wait::LogReady && t.ready_log_line.is_none() {
        return Err(format!(
            "{name:?} waits for {on:?} to print its ready_log_line (process_log_ready), but {on:?} has none: give {on:?} a ready_log_line"
        ));
    }
    Ok(())
}
