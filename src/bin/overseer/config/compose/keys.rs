//! Which keys of each level of a `process-compose.yaml` overseer reads, accepts and ignores,
//! or refuses (the list in the [module docs](super) follows these tables), and the check
//! that every key written is one of them: a key overseer would otherwise drop is an error
//! naming its path and line, never ignored in silence.

use serde_yaml_ng::Value;

use super::super::ConfigError;
use super::node::{Map, kind};

/// What a key of a level is to overseer.
pub(super) enum Key {
    /// Read and translated into the model.
    Read(&'static str),
    /// Accepted whatever its value, and ignored: it changes nothing overseer does (the
    /// tables say why).
    Ignored(&'static str),
    /// Accepted when it is this boolean, which asks for what overseer does anyway; any other
    /// value is refused, for this reason.
    OnlyIf(&'static str, bool, &'static str),
    /// A process-compose key overseer does not support: why, and what to do instead.
    Refused(&'static str, &'static str),
}

impl Key {
    fn name(&self) -> &'static str {
        match self {
            Key::Read(name)
            | Key::Ignored(name)
            | Key::OnlyIf(name, _, _)
            | Key::Refused(name, _) => name,
        }
    }
}

/// The keys of one level of the file.
pub(super) struct Level {
    /// What the level is, in an error (`a process`).
    pub what: &'static str,
    pub keys: &'static [Key],
}

const FILLED_IN: &str = "process-compose fills it in itself; it is not written in a file";
const TEMPLATES: &str = "overseer does not render templates: write the values into the commands";
const LOG_CONFIGURATION: &str = "overseer writes each process's output as it comes, with no JSON, fields or timestamps of its own; remove it (overseer.toml's `log` sets rotation)";
const MCP: &str = "overseer has no MCP server";

/// The top level.
pub(super) const TOP: Level = Level {
    what: "the top level",
    keys: &[
        Key::Read("version"),
        Key::Read("name"),
        Key::Read("processes"),
        Key::Read("environment"),
        Key::Read("log_location"),
        // It sets the verbosity of process-compose's own log.
        Key::Ignored("log_level"),
        // It sizes the scrollback of process-compose's terminal UI.
        Key::Ignored("log_length"),
        // process-compose itself does not use it.
        Key::Ignored("log_format"),
        // overseer has no terminal UI.
        Key::Ignored("is_tui_disabled"),
        // overseer always checks a config strictly.
        Key::Ignored("is_strict"),
        Key::OnlyIf(
            "disable_env_expansion",
            true,
            "overseer does not substitute `$VAR` in the file (it reads it as process-compose does with `disable_env_expansion: true`): write the values out, or let the shell expand them when the command runs",
        ),
        Key::OnlyIf(
            "ordered_shutdown",
            true,
            "overseer always stops processes in reverse dependency order, as process-compose does with `ordered_shutdown: true`",
        ),
        Key::Refused("log_configuration", LOG_CONFIGURATION),
        Key::Refused(
            "shell",
            "overseer runs every `command` with `bash -c`, as process-compose does by default: remove it, or give a process an `entrypoint` (a program and its arguments)",
        ),
        Key::Refused("vars", TEMPLATES),
        Key::Refused("extends", "overseer reads one file: merge the two into it"),
        Key::Refused(
            "env_cmds",
            "overseer does not run commands to fill in variables: set them in `environment`",
        ),
        Key::Refused("mcp_server", MCP),
        Key::Refused("file_names", FILLED_IN),
        Key::Refused("env_file_names", FILLED_IN),
        Key::Refused("dot_env_vars", FILLED_IN),
    ],
};

/// A process (`processes.NAME`).
pub(super) const PROCESS: Level = Level {
    what: "a process",
    keys: &[
        Key::Read("command"),
        Key::Read("entrypoint"),
        Key::Read("working_dir"),
        Key::Read("environment"),
        Key::Read("env_file"),
        Key::Read("availability"),
        Key::Read("depends_on"),
        Key::Read("readiness_probe"),
        Key::Read("liveness_probe"),
        Key::Read("ready_log_line"),
        Key::Read("shutdown"),
        Key::Read("log_location"),
        Key::Read("disabled"),
        Key::Read("replicas"),
        Key::Read("success_exit_codes"),
        // process-compose shows it in its terminal UI only.
        Key::Ignored("description"),
        // It changes only how process-compose's terminal UI shows the output.
        Key::Ignored("disable_ansi_colors"),
        // It sets a notification of process-compose's terminal UI.
        Key::Ignored("monitor_for"),
        // It sets a notification of process-compose's terminal UI.
        Key::Ignored("monitor_silence_threshold"),
        // process-compose replaces it with the process's key.
        Key::Ignored("name"),
        // It applies only to `is_daemon` processes, which overseer does not run.
        Key::Ignored("launch_timeout_seconds"),
        Key::OnlyIf(
            "is_daemon",
            false,
            "overseer supervises processes that stay in the foreground: run the daemon in the foreground (most have a flag for it)",
        ),
        Key::OnlyIf(
            "is_foreground",
            false,
            "overseer has no terminal to hand over to a process",
        ),
        Key::OnlyIf(
            "is_tty",
            false,
            "overseer does not run processes in a terminal",
        ),
        Key::OnlyIf(
            "is_interactive",
            false,
            "overseer does not give processes a terminal to type in",
        ),
        Key::OnlyIf(
            "is_elevated",
            false,
            "overseer does not run commands with sudo: run overseer itself with the rights the process needs",
        ),
        Key::OnlyIf(
            "truncate_log",
            false,
            "overseer has no option to empty a log file when the process starts",
        ),
        Key::OnlyIf(
            "is_dotenv_disabled",
            true,
            "overseer does not load `.env` into the processes' environment (it reads the file as process-compose does with `is_dotenv_disabled: true`): name the file in `env_file`",
        ),
        Key::OnlyIf(
            "is_template_disabled",
            true,
            "overseer does not render templates in commands (it runs them as process-compose does with `is_template_disabled: true`)",
        ),
        Key::Refused(
            "namespace",
            "overseer has no namespaces (process-compose starts and stops the processes of one together): remove it",
        ),
        Key::Refused(
            "extends",
            "overseer does not copy one process's settings into another: a YAML anchor and merge (`<<: *name`) does it",
        ),
        Key::Refused("log_configuration", LOG_CONFIGURATION),
        Key::Refused("vars", TEMPLATES),
        Key::Refused(
            "is_disabled",
            "overseer does not evaluate templates: use `disabled: true` or `false`",
        ),
        Key::Refused("schedule", "overseer does not run processes on a schedule"),
        Key::Refused(
            "watch",
            "process-compose's watch is not translated: overseer.toml's `watch` restarts a process when its files change",
        ),
        Key::Refused("mcp", MCP),
        Key::Refused("original_config", FILLED_IN),
        Key::Refused("replica_num", FILLED_IN),
        Key::Refused("replica_name", FILLED_IN),
        Key::Refused("executable", FILLED_IN),
        Key::Refused("args", FILLED_IN),
    ],
};

/// `processes.NAME.availability`.
pub(super) const AVAILABILITY: Level = Level {
    what: "`availability`",
    keys: &[
        Key::Read("restart"),
        Key::Read("backoff_seconds"),
        Key::Read("max_restarts"),
        Key::Read("exit_on_end"),
        Key::OnlyIf(
            "exit_on_skipped",
            false,
            "overseer cannot stop the stack when a process is skipped (a process whose dependency failed is reported as failed to start)",
        ),
    ],
};

/// `processes.NAME.shutdown`.
pub(super) const SHUTDOWN: Level = Level {
    what: "`shutdown`",
    keys: &[
        Key::Read("command"),
        Key::Read("timeout_seconds"),
        Key::Read("signal"),
        Key::OnlyIf(
            "parent_only",
            false,
            "overseer sends the stop signal to the process's whole process group",
        ),
        Key::Refused(
            "send_keys",
            "overseer does not type into processes: use `shutdown.command` or `shutdown.signal`",
        ),
    ],
};

/// `processes.NAME.readiness_probe` and `liveness_probe`.
pub(super) const PROBE: Level = Level {
    what: "a probe",
    keys: &[
        Key::Read("exec"),
        Key::Read("http_get"),
        Key::Read("initial_delay_seconds"),
        Key::Read("period_seconds"),
        Key::Read("timeout_seconds"),
        Key::Read("success_threshold"),
        Key::Read("failure_threshold"),
    ],
};

/// A probe's `exec`.
pub(super) const EXEC: Level = Level {
    what: "`exec`",
    keys: &[
        Key::Read("command"),
        Key::Refused(
            "working_dir",
            "overseer's probe commands have no working directory of their own: write `cd DIR && …` in the command",
        ),
    ],
};

/// A probe's `http_get`.
pub(super) const HTTP_GET: Level = Level {
    what: "`http_get`",
    keys: &[
        Key::Read("host"),
        Key::Read("path"),
        Key::Read("scheme"),
        Key::Read("port"),
        Key::Read("status_code"),
        Key::Refused(
            "headers",
            "overseer's HTTP probe sends no headers of its own",
        ),
        Key::Refused(
            "num_port",
            "process-compose fills it in from `port`: write `port`",
        ),
    ],
};

/// An entry of `depends_on`.
pub(super) const DEPENDENCY: Level = Level {
    what: "a dependency",
    keys: &[Key::Read("condition")],
};

/// Checks that every key of `map` is one of `level`'s (or an `x-` extension, which
/// process-compose, like docker compose, leaves to YAML anchors); the first one that is not,
/// in the file's order, is an error naming its path, at its line.
pub(super) fn check(map: &Map, level: &Level) -> Result<(), ConfigError> {
    for (key, value) in &map.entries {
        if key.starts_with("x-") {
            continue;
        }
        let path = map.name_of(key);
        match level.keys.iter().find(|k| k.name() == key) {
            Some(Key::Read(_) | Key::Ignored(_)) => {}
            Some(Key::OnlyIf(_, accepted, why)) => match value {
                Value::Null => {}
                Value::Bool(b) if b == accepted => {}
                Value::Bool(b) => {
                    return Err(map.fail(
                        key,
                        format!("overseer does not support `{path}: {b}`: {why}"),
                    ));
                }
                other => {
                    return Err(map.fail(
                        key,
                        format!("`{path}` must be true or false, not {}", kind(other)),
                    ));
                }
            },
            Some(Key::Refused(_, why)) => {
                return Err(map.fail(key, format!("overseer does not support `{path}`: {why}")));
            }
            None => {
                let hint = match closest(key, level) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => {
                        let read: Vec<&str> = level
                            .keys
                            .iter()
                            .filter_map(|k| match k {
                                Key::Read(name) => Some(*name),
                                _ => None,
                            })
                            .collect();
                        format!("overseer reads {}", read.join(", "))
                    }
                };
                return Err(map.fail(
                    key,
                    format!(
                        "overseer does not support `{path}`: process-compose has no such key in {} either ({hint})",
                        level.what
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The key of `level` closest to `written`, if one is close enough to be a typo of it.
fn closest(written: &str, level: &Level) -> Option<&'static str> {
    level
        .keys
        .iter()
        .map(|k| (k.name(), distance(written, k.name())))
        .filter(|&(name, d)| d <= (name.chars().count() / 3).max(1))
        .min_by_key(|&(_, d)| d)
        .map(|(name, _)| name)
}

/// Levenshtein distance (edits of one character).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_listed_twice_in_a_level() {
        for level in [
            &TOP,
            &PROCESS,
            &AVAILABILITY,
            &SHUTDOWN,
            &PROBE,
            &EXEC,
            &HTTP_GET,
            &DEPENDENCY,
        ] {
            for (i, key) in level.keys.iter().enumerate() {
                assert!(
                    level.keys[..i].iter().all(|k| k.name() != key.name()),
                    "{} is listed twice in {}",
                    key.name(),
                    level.what
                );
            }
        }
    }

    #[test]
    fn a_typo_of_a_key_is_matched_to_the_key() {
        assert_eq!(closest("comand", &PROCESS), Some("command"));
        assert_eq!(closest("envirnoment", &PROCESS), Some("environment"));
        assert_eq!(closest("restrat", &AVAILABILITY), Some("restart"));
        assert_eq!(closest("colour", &PROCESS), None);
    }
}
