//! overseer's own format, `overseer.toml`: every option of the library's process child and
//! of its managers. Unknown keys are errors. See `docs/config.md` for the reference.

use std::path::{Path, PathBuf};
use std::time::Duration;

use overseer::process::Signal;
use overseer::{Backoff, Condition, Strategy};
use serde::Deserialize;

use super::model::{
    CheckSpec, Group, LogSpec, Member, ProbeSpec, Process, RestartPolicy, Stack, WatchSpec,
};
use super::values::{CommandValue, Dur, EnvValue, OneOrMany, Ordered, Size};
use super::{ConfigError, locate, order};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    shutdown_timeout: Option<Dur>,
    log_dir: Option<PathBuf>,
    // The root group's keys (serde's `flatten` does not go with `deny_unknown_fields`).
    strategy: Option<StrategyToml>,
    intensity: Option<IntensityToml>,
    #[serde(default)]
    processes: Ordered<ProcessToml>,
    #[serde(default)]
    groups: Ordered<GroupToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupToml {
    strategy: Option<StrategyToml>,
    intensity: Option<IntensityToml>,
    #[serde(default)]
    depends_on: Ordered<ConditionToml>,
    #[serde(default)]
    processes: Ordered<ProcessToml>,
    #[serde(default)]
    groups: Ordered<GroupToml>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum StrategyToml {
    OneForOne,
    OneForAll,
    RestForOne,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntensityToml {
    max_restarts: u32,
    period: Dur,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ConditionToml {
    Started,
    Ready,
    Completed,
    Ended,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RestartToml {
    Always,
    OnFailure,
    Never,
    ExitOnFailure,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessToml {
    command: CommandValue,
    cwd: Option<PathBuf>,
    #[serde(default)]
    env: Ordered<EnvValue>,
    #[serde(default)]
    env_file: OneOrMany<PathBuf>,
    restart: Option<RestartToml>,
    backoff: Option<BackoffToml>,
    max_restarts: Option<IntensityToml>,
    stop_signal: Option<SignalToml>,
    stop_timeout: Option<Dur>,
    stop_command: Option<CommandValue>,
    reload_signal: Option<SignalToml>,
    success_codes: Option<Vec<i32>>,
    #[serde(default)]
    depends_on: Ordered<ConditionToml>,
    readiness: Option<ProbeToml>,
    liveness: Option<ProbeToml>,
    ready_log_line: Option<String>,
    watch: Option<WatchToml>,
    memory_limit: Option<Size>,
    #[serde(default)]
    pre_start: Vec<CommandValue>,
    replicas: Option<usize>,
    log: Option<LogToml>,
    #[serde(default)]
    exit_on_end: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackoffToml {
    initial: Option<Dur>,
    max: Option<Dur>,
    fixed: Option<Dur>,
    jitter: Option<f64>,
    reset_after: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct SignalToml(Signal);

impl TryFrom<String> for SignalToml {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse().map(SignalToml).map_err(|e| e.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeToml {
    exec: Option<CommandValue>,
    http: Option<String>,
    tcp: Option<String>,
    initial_delay: Option<Dur>,
    period: Option<Dur>,
    timeout: Option<Dur>,
    success_threshold: Option<u32>,
    failure_threshold: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchToml {
    #[serde(default)]
    paths: OneOrMany<PathBuf>,
    #[serde(default)]
    globs: OneOrMany<String>,
    #[serde(default)]
    ignore: OneOrMany<String>,
    gitignore: Option<bool>,
    debounce: Option<Dur>,
    action: Option<WatchActionToml>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum WatchActionToml {
    Restart,
    Reload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogToml {
    file: Option<PathBuf>,
    rotate_size: Option<Size>,
    keep: Option<usize>,
}

/// Reads `text`, the contents of `file`.
pub fn parse(text: &str, file: &Path) -> Result<Stack, ConfigError> {
    let parsed: File = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|span| line_and_column(text, span.start));
        ConfigError::new(file, at, e.message().trim_end().to_owned())
    })?;
    let at = |table: &str, key: Option<&str>| locate::toml(text, table, key);
    let name = parsed.name.clone().unwrap_or_else(|| default_name(file));
    let top = GroupToml {
        strategy: parsed.strategy,
        intensity: parsed.intensity,
        depends_on: Ordered::default(),
        processes: parsed.processes,
        groups: parsed.groups,
    };
    let mut root = group(name, top, "", &|table, key, message| {
        ConfigError::new(file, at(table, key), message)
    })?;
    order::check(&mut root).map_err(|problem| {
        let mut table = String::new();
        for g in &problem.groups {
            table.push_str(&format!("groups.{g}."));
        }
        let kind = if problem.is_group {
            "groups"
        } else {
            "processes"
        };
        table.push_str(&format!("{kind}.{}", problem.member));
        ConfigError::new(file, at(&table, problem.key), problem.message)
    })?;
    Ok(Stack {
        file: file.to_owned(),
        root,
        shutdown_timeout: parsed.shutdown_timeout.map(|d| d.0),
        log_dir: parsed.log_dir,
    })
}

/// The stack's name when the file gives none: its directory's name.
pub fn default_name(file: &Path) -> String {
    std::fs::canonicalize(file)
        .ok()
        .and_then(|f| f.parent()?.file_name()?.to_str().map(str::to_owned))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .unwrap_or_else(|| "stack".to_owned())
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

type Fail<'a> = dyn Fn(&str, Option<&str>, String) -> ConfigError + 'a;

fn group(name: String, g: GroupToml, prefix: &str, fail: &Fail) -> Result<Group, ConfigError> {
    let mut members = Vec::new();
    for (pname, p) in g.processes.0 {
        let table = format!("{prefix}processes.{pname}");
        members.push(Member::Process(Box::new(process(pname, p, &table, fail)?)));
    }
    for (gname, inner) in g.groups.0 {
        let inner_prefix = format!("{prefix}groups.{gname}.");
        members.push(Member::Group(group(gname, inner, &inner_prefix, fail)?));
    }
    Ok(Group {
        name,
        strategy: match g.strategy {
            None | Some(StrategyToml::OneForOne) => Strategy::OneForOne,
            Some(StrategyToml::OneForAll) => Strategy::OneForAll,
            Some(StrategyToml::RestForOne) => Strategy::RestForOne,
        },
        intensity: g.intensity.map(|i| (i.max_restarts, i.period.0)),
        depends_on: conditions(g.depends_on),
        members,
    })
}

fn conditions(depends_on: Ordered<ConditionToml>) -> Vec<(String, Condition)> {
    depends_on
        .0
        .into_iter()
        .map(|(name, c)| {
            let c = match c {
                ConditionToml::Started => Condition::Started,
                ConditionToml::Ready => Condition::Ready,
                ConditionToml::Completed => Condition::Completed,
                ConditionToml::Ended => Condition::Ended,
            };
            (name, c)
        })
        .collect()
}

fn process(name: String, p: ProcessToml, table: &str, fail: &Fail) -> Result<Process, ConfigError> {
    let mut out = Process::new(name, p.command.0);
    out.cwd = p.cwd;
    out.env = p.env.0.into_iter().map(|(k, v)| (k, v.0)).collect();
    out.env_files = p.env_file.0;
    out.restart = match p.restart {
        None | Some(RestartToml::Always) => RestartPolicy::Always,
        Some(RestartToml::OnFailure) => RestartPolicy::OnFailure,
        Some(RestartToml::Never) => RestartPolicy::Never,
        Some(RestartToml::ExitOnFailure) => RestartPolicy::ExitOnFailure,
    };
    if let Some(b) = p.backoff {
        out.backoff = Some(backoff(b).map_err(|m| fail(table, Some("backoff"), m))?);
    }
    out.max_restarts = p.max_restarts.map(|i| (i.max_restarts, i.period.0));
    out.stop_signal = p.stop_signal.map(|s| s.0);
    out.stop_timeout = p.stop_timeout.map(|d| d.0);
    out.stop_command = p.stop_command.map(|c| c.0);
    out.reload_signal = p.reload_signal.map(|s| s.0);
    out.success_codes = p.success_codes;
    out.depends_on = conditions(p.depends_on);
    if let Some(probe) = p.readiness {
        out.readiness = Some(self::probe(probe).map_err(|m| fail(table, Some("readiness"), m))?);
    }
    if let Some(probe) = p.liveness {
        out.liveness = Some(self::probe(probe).map_err(|m| fail(table, Some("liveness"), m))?);
    }
    out.ready_log_line = p.ready_log_line;
    out.watch = p.watch.map(|w| WatchSpec {
        paths: w.paths.0,
        globs: w.globs.0,
        ignore: w.ignore.0,
        gitignore: w.gitignore,
        debounce: w.debounce.map(|d| d.0),
        reload: matches!(w.action, Some(WatchActionToml::Reload)),
    });
    out.memory_limit = p.memory_limit.map(|s| s.0);
    out.pre_start = p.pre_start.into_iter().map(|c| c.0).collect();
    out.replicas = p.replicas.unwrap_or(1);
    if out.replicas == 0 {
        return Err(fail(
            table,
            Some("replicas"),
            "replicas must be at least 1".into(),
        ));
    }
    if let Some(log) = p.log {
        if log.keep.is_some() && log.rotate_size.is_none() {
            return Err(fail(
                table,
                Some("log"),
                "log.keep needs log.rotate_size".into(),
            ));
        }
        out.log = LogSpec {
            file: log.file,
            rotate: log.rotate_size.map(|s| (s.0, log.keep.unwrap_or(3))),
        };
    }
    out.exit_on_end = p.exit_on_end;
    if out.exit_on_end && out.restart == RestartPolicy::Always {
        return Err(fail(
            table,
            Some("exit_on_end"),
            "exit_on_end needs a process that can end for good: set restart to \"on-failure\", \"never\" or \"exit-on-failure\"".into(),
        ));
    }
    Ok(out)
}

fn backoff(b: BackoffToml) -> Result<Backoff, String> {
    let mut out = match (b.fixed, b.initial, b.max) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err("backoff takes either fixed, or initial and max".into());
        }
        (Some(d), None, None) => Backoff::fixed(d.0),
        (None, initial, max) => {
            // The library's default: from 100 ms, doubling up to 15 s.
            let initial = initial.map_or(Duration::from_millis(100), |d| d.0);
            let max = max.map_or(Duration::from_secs(15), |d| d.0);
            Backoff::exponential(initial, max)
        }
    };
    if let Some(j) = b.jitter {
        if !(0.0..=1.0).contains(&j) {
            return Err(format!("backoff.jitter is a fraction from 0 to 1, not {j}"));
        }
        out = out.jitter(j);
    }
    if let Some(r) = b.reset_after {
        out = out.reset_after(r.0);
    }
    Ok(out)
}

fn probe(p: ProbeToml) -> Result<ProbeSpec, String> {
    let check = match (p.exec, p.http, p.tcp) {
        (Some(c), None, None) => CheckSpec::Exec(c.0),
        (None, Some(url), None) => CheckSpec::Http(url),
        (None, None, Some(addr)) => CheckSpec::Tcp(addr),
        (None, None, None) => return Err("a probe needs one of exec, http or tcp".into()),
        _ => return Err("a probe takes only one of exec, http or tcp".into()),
    };
    Ok(ProbeSpec {
        check,
        initial_delay: p.initial_delay.map(|d| d.0),
        period: p.period.map(|d| d.0),
        timeout: p.timeout.map(|d| d.0),
        success_threshold: p.success_threshold,
        failure_threshold: p.failure_threshold,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use overseer::process::Signal;
    use overseer::{Condition, Strategy};

    use super::*;
    use crate::config::model::CommandLine;

    fn read(text: &str) -> Result<Stack, ConfigError> {
        parse(text, Path::new("/stacks/demo/overseer.toml"))
    }

    fn process<'a>(stack: &'a Stack, name: &str) -> &'a Process {
        stack.root.process(name).expect("declared")
    }

    #[test]
    fn every_option_of_a_process_is_read_into_the_model() {
        let stack = read(
            r#"
name = "demo"
shutdown_timeout = "20s"
log_dir = "logs"
strategy = "rest_for_one"
intensity = { max_restarts = 3, period = "1m" }

[processes.db]
command = ["postgres", "-D", "data"]
readiness = { tcp = "127.0.0.1:5432", period = "500ms", failure_threshold = 5 }

[processes.web]
command = "python3 -m http.server 8000"
cwd = "site"
env = { PORT = 8000, DEBUG = true }
env_file = [".env", "web.env"]
restart = "on-failure"
backoff = { initial = "1s", max = "30s", jitter = 0.2, reset_after = "5m" }
max_restarts = { max_restarts = 10, period = "1h" }
stop_signal = "INT"
stop_timeout = "3s"
stop_command = "kill -INT $OVERSEER_PID"
reload_signal = "SIGHUP"
success_codes = [0, 3]
depends_on = { db = "ready" }
readiness = { http = "http://127.0.0.1:8000/", initial_delay = "1s", timeout = "2s", success_threshold = 2 }
liveness = { exec = "curl -f localhost:8000", period = 10 }
ready_log_line = "Serving HTTP"
watch = { paths = ["site"], globs = "*.html", ignore = ["*.tmp"], gitignore = false, debounce = "200ms", action = "reload" }
memory_limit = "512MiB"
pre_start = ["make assets", ["touch", "ready"]]
replicas = 2
log = { file = "web.log", rotate_size = "1MB", keep = 5 }
"#,
        )
        .unwrap();
        assert_eq!(stack.root.name, "demo");
        assert_eq!(stack.shutdown_timeout, Some(Duration::from_secs(20)));
        assert_eq!(stack.log_dir, Some(PathBuf::from("logs")));
        assert_eq!(stack.root.strategy, Strategy::RestForOne);
        assert_eq!(stack.root.intensity, Some((3, Duration::from_secs(60))));
        let db = process(&stack, "db");
        assert_eq!(
            db.command,
            CommandLine::Exec(vec!["postgres".into(), "-D".into(), "data".into()])
        );
        let ready = db.readiness.as_ref().unwrap();
        assert_eq!(ready.check, CheckSpec::Tcp("127.0.0.1:5432".into()));
        assert_eq!(ready.period, Some(Duration::from_millis(500)));
        assert_eq!(ready.failure_threshold, Some(5));

        let web = process(&stack, "web");
        assert_eq!(
            web.command,
            CommandLine::Shell("python3 -m http.server 8000".into())
        );
        assert_eq!(web.cwd, Some(PathBuf::from("site")));
        assert_eq!(
            web.env,
            [
                ("PORT".to_owned(), "8000".to_owned()),
                ("DEBUG".to_owned(), "true".to_owned())
            ]
        );
        assert_eq!(
            web.env_files,
            [PathBuf::from(".env"), PathBuf::from("web.env")]
        );
        assert_eq!(web.restart, RestartPolicy::OnFailure);
        assert_eq!(
            web.backoff,
            Some(
                Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30))
                    .jitter(0.2)
                    .reset_after(Duration::from_secs(300))
            )
        );
        assert_eq!(web.max_restarts, Some((10, Duration::from_secs(3600))));
        assert_eq!(web.stop_signal, Some(Signal::INT));
        assert_eq!(web.stop_timeout, Some(Duration::from_secs(3)));
        assert_eq!(
            web.stop_command,
            Some(CommandLine::Shell("kill -INT $OVERSEER_PID".into()))
        );
        assert_eq!(web.reload_signal, Some(Signal::HUP));
        assert_eq!(web.success_codes, Some(vec![0, 3]));
        assert_eq!(web.depends_on, [("db".to_owned(), Condition::Ready)]);
        let ready = web.readiness.as_ref().unwrap();
        assert_eq!(
            ready.check,
            CheckSpec::Http("http://127.0.0.1:8000/".into())
        );
        assert_eq!(ready.initial_delay, Some(Duration::from_secs(1)));
        assert_eq!(ready.timeout, Some(Duration::from_secs(2)));
        assert_eq!(ready.success_threshold, Some(2));
        let live = web.liveness.as_ref().unwrap();
        assert_eq!(
            live.check,
            CheckSpec::Exec(CommandLine::Shell("curl -f localhost:8000".into()))
        );
        assert_eq!(live.period, Some(Duration::from_secs(10)));
        assert_eq!(web.ready_log_line.as_deref(), Some("Serving HTTP"));
        assert_eq!(
            web.watch,
            Some(WatchSpec {
                paths: vec![PathBuf::from("site")],
                globs: vec!["*.html".into()],
                ignore: vec!["*.tmp".into()],
                gitignore: Some(false),
                debounce: Some(Duration::from_millis(200)),
                reload: true,
            })
        );
        assert_eq!(web.memory_limit, Some(512 * 1024 * 1024));
        assert_eq!(
            web.pre_start,
            [
                CommandLine::Shell("make assets".into()),
                CommandLine::Exec(vec!["touch".into(), "ready".into()])
            ]
        );
        assert_eq!(web.replicas, 2);
        assert_eq!(
            web.log,
            LogSpec {
                file: Some(PathBuf::from("web.log")),
                rotate: Some((1_000_000, 5)),
            }
        );
    }

    #[test]
    fn a_group_is_a_nested_manager_with_its_own_strategy_and_processes() {
        let stack = read(
            r#"
[processes.api]
command = "api"

[groups.workers]
strategy = "one_for_all"
depends_on = { api = "started" }
[groups.workers.processes.w]
command = "work"
replicas = 3
"#,
        )
        .unwrap();
        let Member::Group(workers) = &stack.root.members[1] else {
            panic!("a group second: {:?}", stack.root.members);
        };
        assert_eq!(workers.name, "workers");
        assert_eq!(workers.strategy, Strategy::OneForAll);
        assert_eq!(workers.depends_on, [("api".to_owned(), Condition::Started)]);
        assert_eq!(workers.members.len(), 1);
    }

    #[test]
    fn the_stack_is_named_after_its_directory_when_the_file_names_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("overseer.toml");
        std::fs::write(&file, "[processes.a]\ncommand = \"true\"\n").unwrap();
        let stack = crate::config::load(&file).unwrap();
        let expected = dir.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(stack.root.name, expected);
    }

    #[test]
    fn an_unknown_key_is_an_error_with_its_line_and_column_and_the_keys_known() {
        let e = read("[processes.web]\ncommand = \"x\"\n  restrat = \"never\"\n").unwrap_err();
        assert_eq!(e.at, Some((3, 3)));
        assert!(
            e.message
                .starts_with("unknown field `restrat`, expected one of `command`"),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("/stacks/demo/overseer.toml:3:3: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_value_is_an_error_that_says_how_to_write_it() {
        let e = read("[processes.web]\ncommand = \"x\"\nstop_timeout = \"soon\"\n").unwrap_err();
        assert_eq!(e.at, Some((3, 16)));
        assert!(e.message.contains("\"soon\" is not a duration"), "{e}");
        let e =
            read("[processes.web]\ncommand = \"x\"\nstop_signal = \"TERMINATE\"\n").unwrap_err();
        assert!(
            e.message.contains("\"TERMINATE\" is not a signal name"),
            "{e}"
        );
        let e = read("[processes.web]\ncommand = \"x\"\nrestart = \"sometimes\"\n").unwrap_err();
        assert!(e.message.contains("unknown variant `sometimes`"), "{e}");
        let e = read("[processes.web]\ncommand = \"\"\n").unwrap_err();
        assert!(e.message.contains("the command is empty"), "{e}");
    }

    #[test]
    fn a_missing_command_is_an_error_naming_the_process_table() {
        let e = read("[processes.web]\ncwd = \"x\"\n").unwrap_err();
        assert!(e.message.contains("missing field `command`"), "{e}");
        assert_eq!(e.at.map(|(line, _)| line), Some(1));
    }

    #[test]
    fn a_toml_syntax_error_names_its_line_and_column() {
        let e = read("[processes.web\ncommand = \"x\"\n").unwrap_err();
        assert_eq!(e.at.map(|(line, _)| line), Some(1));
    }

    #[test]
    fn a_dependency_problem_points_at_the_depends_on_line() {
        let e = read(
            "[processes.a]\ncommand = \"x\"\ndepends_on = { b = \"ready\" }\n\n[processes.b]\ncommand = \"y\"\ndepends_on = { a = \"ready\" }\n",
        )
        .unwrap_err();
        assert_eq!(e.message, "the dependencies form a cycle: a → b → a");
        assert_eq!(e.at, Some((3, 1)));
        let e =
            read("[groups.g.processes.w]\ncommand = \"x\"\ndepends_on = { nope = \"started\" }\n")
                .unwrap_err();
        assert!(e.message.contains("not declared in group \"g\""), "{e}");
        assert_eq!(e.at, Some((3, 1)));
    }

    #[test]
    fn contradictory_options_are_errors_that_say_what_to_change() {
        let e = read("[processes.a]\ncommand = \"x\"\nexit_on_end = true\n").unwrap_err();
        assert!(
            e.message
                .contains("exit_on_end needs a process that can end for good"),
            "{e}"
        );
        assert_eq!(e.at, Some((3, 1)));
        let e = read("[processes.a]\ncommand = \"x\"\nreplicas = 0\n").unwrap_err();
        assert_eq!(e.message, "replicas must be at least 1");
        let e =
            read("[processes.a]\ncommand = \"x\"\nreadiness = { period = \"1s\" }\n").unwrap_err();
        assert_eq!(e.message, "a probe needs one of exec, http or tcp");
        let e =
            read("[processes.a]\ncommand = \"x\"\nbackoff = { fixed = \"1s\", max = \"2s\" }\n")
                .unwrap_err();
        assert_eq!(e.message, "backoff takes either fixed, or initial and max");
    }
}
