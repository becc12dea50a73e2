use std::path::{Path, PathBuf};
use std::time::Duration;

use overseer::process::Signal;
use overseer::{Backoff, Condition};

use super::parse;
use crate::config::ConfigError;
use crate::config::model::{
    CheckSpec, CommandLine, LogSpec, Member, ProbeSpec, Process, RestartPolicy, Stack,
};

const FILE: &str = "/nowhere/process-compose.yaml";

fn read(text: &str) -> Result<Stack, ConfigError> {
    parse(text, Path::new(FILE))
}

fn stack(text: &str) -> Stack {
    read(text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> ConfigError {
    match read(text) {
        Ok(stack) => panic!("read, as {stack:?}"),
        Err(e) => e,
    }
}

fn names(stack: &Stack) -> Vec<&str> {
    stack.root.members.iter().map(Member::name).collect()
}

fn process<'a>(stack: &'a Stack, name: &str) -> &'a Process {
    stack
        .root
        .process(name)
        .unwrap_or_else(|| panic!("no process {name:?} in {:?}", names(stack)))
}

/// The one process of a file declaring only `web`, with `settings` under it (indented by 4).
fn web(settings: &str) -> Process {
    let text = format!("processes:\n  web:\n    command: serve\n{settings}");
    process(&stack(&text), "web").clone()
}

fn shell(line: &str) -> CommandLine {
    CommandLine::Exec(vec!["bash".into(), "-c".into(), line.to_owned()])
}

fn probe(check: CheckSpec) -> ProbeSpec {
    ProbeSpec {
        check,
        initial_delay: None,
        period: None,
        timeout: None,
        success_threshold: None,
        failure_threshold: None,
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const SECOND: Duration = Duration::from_secs(1);

const REALISTIC: &str = r#"version: "0.5"
name: shop
log_location: ./logs/pc.log
log_level: debug
environment:
  - "RUST_LOG=info"
  - "REGION=eu"

x-restart: &restart
  restart: on_failure
  backoff_seconds: 2

processes:
  web:
    command: ./bin/web --port 8080
    description: the shop's front end
    working_dir: ./web
    environment:
      - "RUST_LOG=debug"
      - "PORT=8080"
    env_file: .env.web
    depends_on:
      migrate:
        condition: process_completed_successfully
      cache:
        condition: process_log_ready
    availability:
      <<: *restart
      max_restarts: 5
    readiness_probe:
      http_get:
        host: 127.0.0.1
        port: 8080
        path: /healthz
      period_seconds: 2
      failure_threshold: 5
    liveness_probe:
      exec:
        command: pgrep -f bin/web
      initial_delay_seconds: 10
    shutdown:
      signal: 2
      timeout_seconds: 20
    log_location: ./logs/web.log
    replicas: 2

  migrate:
    command: ./bin/migrate
    depends_on:
      db:
        condition: process_healthy
    success_exit_codes: [3]

  db:
    command: postgres -D ./data
    readiness_probe:
      exec:
        command: pg_isready
    availability:
      restart: always
    shutdown:
      command: pg_ctl stop -m fast

  cache:
    entrypoint: ["redis-server", "--port", "6380"]
    ready_log_line: "Ready to accept connections (v7.2)"

  docs:
    command: mkdocs serve
    disabled: true
"#;

#[test]
fn a_realistic_file_maps_onto_the_model() {
    let stack = stack(REALISTIC);
    assert_eq!(stack.file, PathBuf::from(FILE));
    assert_eq!(stack.root.name, "shop");
    assert_eq!(stack.log_dir, Some(PathBuf::from("./logs")));
    assert_eq!(stack.shutdown_timeout, None);
    // Each after what it waits for, otherwise in the file's order; `docs` is disabled.
    assert_eq!(names(&stack), ["db", "migrate", "cache", "web"]);

    let mut web = Process::new("web", shell("./bin/web --port 8080"));
    web.cwd = Some(PathBuf::from("./web"));
    web.env = env(&[("RUST_LOG", "debug"), ("REGION", "eu"), ("PORT", "8080")]);
    web.env_files = vec![PathBuf::from("./web/.env.web")];
    web.restart = RestartPolicy::OnFailure;
    web.backoff = Some(Backoff::fixed(2 * SECOND));
    web.max_restarts = Some((5, super::process::LIFETIME));
    web.depends_on = vec![
        ("migrate".into(), Condition::Completed),
        ("cache".into(), Condition::Ready),
    ];
    web.readiness = Some(ProbeSpec {
        period: Some(2 * SECOND),
        failure_threshold: Some(5),
        ..probe(CheckSpec::Http("http://127.0.0.1:8080/healthz".into()))
    });
    web.liveness = Some(ProbeSpec {
        initial_delay: Some(10 * SECOND),
        ..probe(CheckSpec::Exec(shell("pgrep -f bin/web")))
    });
    web.stop_signal = Some(Signal::INT);
    web.stop_timeout = Some(20 * SECOND);
    web.log = LogSpec {
        file: Some(PathBuf::from("./logs/web.log")),
        rotate: None,
    };
    web.replicas = 2;
    assert_eq!(process(&stack, "web"), &web);

    let mut migrate = Process::new("migrate", shell("./bin/migrate"));
    migrate.env = env(&[("RUST_LOG", "info"), ("REGION", "eu")]);
    migrate.restart = RestartPolicy::Never;
    migrate.backoff = Some(Backoff::fixed(SECOND));
    migrate.depends_on = vec![("db".into(), Condition::Ready)];
    migrate.success_codes = Some(vec![0, 3]);
    assert_eq!(process(&stack, "migrate"), &migrate);

    let db = process(&stack, "db");
    assert_eq!(db.restart, RestartPolicy::Always);
    assert_eq!(
        db.readiness,
        Some(probe(CheckSpec::Exec(shell("pg_isready"))))
    );
    assert_eq!(db.stop_command, Some(shell("pg_ctl stop -m fast")));
    // process-compose's grace period for a shutdown command given none.
    assert_eq!(db.stop_timeout, Some(10 * SECOND));

    let cache = process(&stack, "cache");
    assert_eq!(
        cache.command,
        CommandLine::Exec(vec!["redis-server".into(), "--port".into(), "6380".into()])
    );
    assert_eq!(
        cache.ready_log_line.as_deref(),
        Some(r"Ready to accept connections \(v7\.2\)")
    );
}

#[test]
fn each_depends_on_condition_maps_onto_a_condition_of_the_library() {
    let stack = stack(
        "processes:
  a:
    command: a
  b:
    command: b
    readiness_probe:
      exec:
        command: check b
  c:
    command: c
    ready_log_line: listening
  d:
    command: d
  web:
    command: serve
    depends_on:
      a:
        condition: process_started
      b:
        condition: process_healthy
      c:
        condition: process_log_ready
      d:
        condition: process_completed_successfully
",
    );
    assert_eq!(
        process(&stack, "web").depends_on,
        [
            ("a".to_owned(), Condition::Started),
            ("b".to_owned(), Condition::Ready),
            ("c".to_owned(), Condition::Ready),
            ("d".to_owned(), Condition::Completed),
        ]
    );
}

#[test]
fn a_dependency_without_a_condition_waits_for_the_start_as_process_compose_documents() {
    for deps in ["      db:\n", "      db: {}\n"] {
        let stack = stack(&format!(
            "processes:\n  db:\n    command: db\n  web:\n    command: serve\n    depends_on:\n{deps}"
        ));
        assert_eq!(
            process(&stack, "web").depends_on,
            [("db".to_owned(), Condition::Started)]
        );
    }
}

#[test]
fn process_completed_waits_for_an_end_successful_or_not() {
    let stack = stack(
        "processes:
  setup:
    command: setup
  web:
    command: serve
    depends_on:
      setup:
        condition: process_completed
",
    );
    assert_eq!(
        process(&stack, "web").depends_on,
        [("setup".to_owned(), Condition::Ended)]
    );
}

#[test]
fn an_unknown_condition_is_an_error_listing_the_conditions() {
    let e = error(
        "processes:\n  db:\n    command: db\n  web:\n    command: serve\n    depends_on:\n      db:\n        condition: process_ready\n",
    );
    assert_eq!(e.at, Some((8, 9)));
    assert!(e.message.contains("\"process_ready\""), "{}", e.message);
    assert!(
        e.message.contains("process_started, process_healthy"),
        "{}",
        e.message
    );
}

#[test]
fn process_healthy_on_a_process_without_a_readiness_probe_is_refused_naming_both() {
    let e = error(
        "processes:
  db:
    command: db
    liveness_probe:
      exec:
        command: pg_isready
  web:
    command: serve
    depends_on:
      db:
        condition: process_healthy
",
    );
    assert_eq!(e.at, Some((10, 7)));
    assert_eq!(
        e.message,
        "\"web\" waits for \"db\" to be healthy (process_healthy), but \"db\" has only a liveness_probe, and overseer's readiness comes from a readiness_probe: give \"db\" a readiness_probe"
    );
    let e = error(
        "processes:\n  db:\n    command: db\n    ready_log_line: up\n  web:\n    command: serve\n    depends_on:\n      db:\n        condition: process_healthy\n",
    );
    assert!(
        e.message.contains("\"db\" has no readiness_probe"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("condition: process_log_ready"),
        "{}",
        e.message
    );
}

#[test]
fn process_log_ready_on_a_process_without_a_ready_log_line_is_refused_naming_both() {
    let e = error(
        "processes:\n  db:\n    command: db\n  web:\n    command: serve\n    depends_on:\n      db:\n        condition: process_log_ready\n",
    );
    assert_eq!(e.at, Some((7, 7)));
    assert!(
        e.message.starts_with("\"web\" waits for \"db\" to print its ready_log_line (process_log_ready), but \"db\" has none"),
        "{}",
        e.message
    );
}

#[test]
fn each_restart_value_maps_onto_a_restart_policy_and_the_default_is_no() {
    for (written, policy) in [
        ("always", RestartPolicy::Always),
        ("on_failure", RestartPolicy::OnFailure),
        ("exit_on_failure", RestartPolicy::ExitOnFailure),
        ("no", RestartPolicy::Never),
    ] {
        let p = web(&format!("    availability:\n      restart: {written}\n"));
        assert_eq!(p.restart, policy, "{written}");
    }
    let p = web("");
    assert_eq!(p.restart, RestartPolicy::Never);
    assert_eq!(p.backoff, Some(Backoff::fixed(SECOND)));
    assert_eq!(p.max_restarts, None);
    assert!(!p.exit_on_end);
}

#[test]
fn an_unknown_restart_value_is_an_error_listing_the_policies() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    availability:\n      restart: sometimes\n",
    );
    assert_eq!(e.at, Some((5, 7)));
    assert_eq!(
        e.message,
        "`processes.web.availability.restart` is \"sometimes\": process-compose's restart policies are always, on_failure, exit_on_failure and no"
    );
}

#[test]
fn backoff_seconds_is_a_fixed_delay_of_at_least_a_second() {
    let p = web("    availability:\n      restart: always\n      backoff_seconds: 7\n");
    assert_eq!(p.backoff, Some(Backoff::fixed(7 * SECOND)));
    let p = web("    availability:\n      restart: always\n      backoff_seconds: 0\n");
    assert_eq!(p.backoff, Some(Backoff::fixed(SECOND)));
}

#[test]
fn max_restarts_counts_over_the_whole_life_and_zero_is_no_limit() {
    let p = web("    availability:\n      restart: on_failure\n      max_restarts: 3\n");
    let (n, period) = p.max_restarts.expect("a limit");
    assert_eq!(n, 3);
    assert!(
        period >= Duration::from_secs(100 * 365 * 24 * 3600),
        "{period:?}"
    );
    let p = web("    availability:\n      restart: on_failure\n      max_restarts: 0\n");
    assert_eq!(p.max_restarts, None);
}

#[test]
fn exit_on_end_is_read_and_with_restart_always_is_an_error() {
    let p = web("    availability:\n      restart: on_failure\n      exit_on_end: true\n");
    assert!(p.exit_on_end);
    let e = error(
        "processes:\n  web:\n    command: serve\n    availability:\n      restart: always\n      exit_on_end: true\n",
    );
    assert_eq!(e.at, Some((6, 7)));
    assert!(
        e.message.starts_with(
            "`processes.web.availability.exit_on_end` needs a process that can end for good"
        ),
        "{}",
        e.message
    );
}

#[test]
fn an_exec_probe_runs_its_command_with_the_shell_and_keeps_its_timings() {
    let p = web("    readiness_probe:
      exec:
        command: curl -fsS localhost:8080
      initial_delay_seconds: 1
      period_seconds: 2
      timeout_seconds: 3
      success_threshold: 4
      failure_threshold: 5
");
    assert_eq!(
        p.readiness,
        Some(ProbeSpec {
            check: CheckSpec::Exec(shell("curl -fsS localhost:8080")),
            initial_delay: Some(SECOND),
            period: Some(2 * SECOND),
            timeout: Some(3 * SECOND),
            success_threshold: Some(4),
            failure_threshold: Some(5),
        })
    );
}

#[test]
fn an_http_get_probe_is_a_url_with_process_composes_defaults() {
    let url = |settings: &str| {
        let p = web(&format!("    liveness_probe:\n      http_get:\n{settings}"));
        match p.liveness.map(|probe| probe.check) {
            Some(CheckSpec::Http(url)) => url,
            other => panic!("{other:?}"),
        }
    };
    // Host 127.0.0.1, scheme http, path /, and no port: the scheme's.
    assert_eq!(url("        port: 8080\n"), "http://127.0.0.1:8080/");
    assert_eq!(url("        path: /up\n"), "http://127.0.0.1/up");
    assert_eq!(
        url(
            "        host: api.local\n        scheme: HTTP\n        path: health\n        port: \"9000\"\n"
        ),
        "http://api.local:9000/health"
    );
    assert_eq!(
        url("        host: \"::1\"\n        port: 80\n"),
        "http://[::1]:80/"
    );
    assert_eq!(
        url("        port: 80\n        status_code: 200\n"),
        "http://127.0.0.1:80/"
    );
}

#[test]
fn an_https_probe_is_refused() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    readiness_probe:\n      http_get:\n        scheme: https\n        port: 443\n",
    );
    assert_eq!(e.at, Some((6, 9)));
    assert!(
        e.message.starts_with("`processes.web.readiness_probe.http_get.scheme` is https, and overseer's HTTP probe speaks plain HTTP only"),
        "{}",
        e.message
    );
}

#[test]
fn a_probe_port_that_is_not_a_port_is_an_error() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    readiness_probe:\n      http_get:\n        port: 70000\n",
    );
    assert_eq!(e.at, Some((6, 9)));
    assert_eq!(
        e.message,
        "`processes.web.readiness_probe.http_get.port` is 70000, which is not a port (1 to 65535)"
    );
}

#[test]
fn a_readiness_probe_and_a_ready_log_line_together_are_refused() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    ready_log_line: up\n    readiness_probe:\n      exec:\n        command: check\n",
    );
    assert_eq!(e.at, Some((4, 5)));
    assert!(
        e.message
            .contains("both a `readiness_probe` and a `ready_log_line`"),
        "{}",
        e.message
    );
}

#[test]
fn shutdown_maps_onto_the_stop_command_signal_and_timeout() {
    let p = web(
        "    shutdown:\n      command: ./stop.sh\n      signal: 15\n      timeout_seconds: 30\n",
    );
    assert_eq!(p.stop_command, Some(shell("./stop.sh")));
    assert_eq!(p.stop_signal, Some(Signal::TERM));
    assert_eq!(p.stop_timeout, Some(30 * SECOND));
    let p = web("    shutdown:\n      signal: 3\n");
    assert_eq!(
        (p.stop_command, p.stop_signal, p.stop_timeout),
        (None, Some(Signal::QUIT), None)
    );
}

#[test]
fn a_shutdown_signal_overseer_cannot_send_is_an_error() {
    let e = error("processes:\n  web:\n    command: serve\n    shutdown:\n      signal: 99\n");
    assert_eq!(e.at, Some((5, 7)));
    assert!(
        e.message.starts_with(
            "`processes.web.shutdown.signal` is 99, which is not a signal overseer can send"
        ),
        "{}",
        e.message
    );
}

#[test]
fn a_disabled_process_is_left_out_of_the_stack() {
    let stack = stack(
        "processes:\n  web:\n    command: serve\n  docs:\n    command: docs\n    disabled: true\n  api:\n    command: api\n    disabled: false\n",
    );
    assert_eq!(names(&stack), ["web", "api"]);
}

#[test]
fn depending_on_a_disabled_process_is_an_error_naming_both() {
    let e = error(
        "processes:\n  db:\n    command: db\n    disabled: true\n  web:\n    command: serve\n    depends_on:\n      db:\n        condition: process_started\n",
    );
    assert_eq!(e.at, Some((8, 7)));
    assert_eq!(
        e.message,
        "\"web\" depends on \"db\", which is disabled: enable \"db\" or remove the dependency"
    );
    // A disabled process may depend on another disabled one.
    let stack = stack(
        "processes:\n  db:\n    command: db\n    disabled: true\n  web:\n    command: serve\n    disabled: true\n    depends_on:\n      db:\n  api:\n    command: api\n",
    );
    assert_eq!(names(&stack), ["api"]);
}

#[test]
fn replicas_are_read_and_zero_is_an_error() {
    assert_eq!(web("    replicas: 3\n").replicas, 3);
    assert_eq!(web("").replicas, 1);
    let e = error("processes:\n  web:\n    command: serve\n    replicas: 0\n");
    assert_eq!(e.at, Some((4, 5)));
    assert!(
        e.message.starts_with("`processes.web.replicas` is 0"),
        "{}",
        e.message
    );
}

#[test]
fn the_top_level_environment_applies_to_every_process_and_a_processs_own_entries_override_it() {
    let stack = stack(
        "environment:
  - LEVEL=info
  - REGION=eu
  - EMPTY=
processes:
  web:
    command: serve
    environment:
      - REGION=us
      - URL=http://x/?a=b
  worker:
    command: work
",
    );
    assert_eq!(
        process(&stack, "web").env,
        env(&[
            ("LEVEL", "info"),
            ("REGION", "us"),
            ("EMPTY", ""),
            ("URL", "http://x/?a=b")
        ])
    );
    assert_eq!(
        process(&stack, "worker").env,
        env(&[("LEVEL", "info"), ("REGION", "eu"), ("EMPTY", "")])
    );
}

#[test]
fn an_environment_entry_without_an_equals_sign_is_an_error_naming_it() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    environment:\n      - PORT=1\n      - DEBUG\n",
    );
    assert_eq!(e.at, Some((4, 5)));
    assert_eq!(
        e.message,
        "`processes.web.environment` has the entry \"DEBUG\", which has no `=`: write it as \"DEBUG=value\""
    );
    let e = error("environment:\n  A: 1\nprocesses:\n  web:\n    command: serve\n");
    assert_eq!(e.at, Some((1, 1)));
    assert!(
        e.message
            .contains("must be a list of \"KEY=VALUE\" strings"),
        "{}",
        e.message
    );
}

#[test]
fn env_files_are_one_or_a_list_and_a_relative_one_is_in_the_working_dir() {
    assert_eq!(
        web("    env_file: .env\n").env_files,
        [PathBuf::from(".env")]
    );
    assert_eq!(
        web("    working_dir: /srv/web\n    env_file: [.env, /etc/web.env]\n").env_files,
        [
            PathBuf::from("/srv/web/.env"),
            PathBuf::from("/etc/web.env")
        ]
    );
}

#[test]
fn the_top_level_log_location_gives_the_log_dir_and_a_process_log_location_its_file() {
    let logged = stack(
        "log_location: /var/log/shop/pc.log\nprocesses:\n  web:\n    command: serve\n    log_location: web.log\n",
    );
    assert_eq!(logged.log_dir, Some(PathBuf::from("/var/log/shop")));
    assert_eq!(
        process(&logged, "web").log.file,
        Some(PathBuf::from("web.log"))
    );
    let here = stack("log_location: pc.log\nprocesses:\n  web:\n    command: serve\n");
    assert_eq!(here.log_dir, Some(PathBuf::from(".")));
    let e = error(
        "processes:\n  web:\n    command: serve\n    replicas: 2\n    log_location: web.{PC_REPLICA_NUM}.log\n",
    );
    assert_eq!(e.at, Some((5, 5)));
    assert_eq!(
        e.message,
        "overseer does not fill in `{PC_REPLICA_NUM}` in `processes.web.log_location`: write a file name without it"
    );
}

#[test]
fn success_exit_codes_are_success_codes_with_zero() {
    assert_eq!(
        web("    success_exit_codes: [130, 143, 0]\n").success_codes,
        Some(vec![0, 130, 143])
    );
    assert_eq!(web("").success_codes, None);
}

#[test]
fn an_entrypoint_is_a_program_and_its_arguments_and_not_with_a_command() {
    let stack = stack(
        "processes:\n  web:\n    entrypoint:\n      - python3\n      - -m\n      - http.server\n",
    );
    assert_eq!(
        process(&stack, "web").command,
        CommandLine::Exec(vec!["python3".into(), "-m".into(), "http.server".into()])
    );
    let e = error("processes:\n  web:\n    command: serve\n    entrypoint: [serve]\n");
    assert_eq!(e.at, Some((4, 5)));
    assert!(
        e.message.contains("has both `command` and `entrypoint`"),
        "{}",
        e.message
    );
    let e = error("processes:\n  web:\n    working_dir: /srv\n");
    assert_eq!(e.at, Some((2, 3)));
    assert!(
        e.message.starts_with("`processes.web` has no `command`"),
        "{}",
        e.message
    );
}

#[test]
fn a_key_overseer_does_not_support_is_an_error_naming_it_with_its_line() {
    let e = error("processes:\n  web:\n    command: serve\n    namespace: shop\n");
    assert_eq!(e.file, PathBuf::from(FILE));
    assert_eq!(e.at, Some((4, 5)));
    assert!(
        e.message.starts_with(
            "overseer does not support `processes.web.namespace`: overseer has no namespaces"
        ),
        "{}",
        e.message
    );
    assert_eq!(
        e.to_string(),
        format!("{FILE}:4:5: {}", e.message),
        "the file, line and column come first"
    );
}

#[test]
fn an_unsupported_key_at_the_top_level_is_an_error_naming_it_with_its_line() {
    let e = error(
        "version: \"0.5\"\nshell:\n  shell_command: zsh\nprocesses:\n  web:\n    command: serve\n",
    );
    assert_eq!(e.at, Some((2, 1)));
    assert!(
        e.message.starts_with(
            "overseer does not support `shell`: overseer runs every `command` with `bash -c`"
        ),
        "{}",
        e.message
    );
}

#[test]
fn an_unsupported_key_inside_a_probe_shutdown_or_availability_is_an_error_naming_its_path() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    readiness_probe:\n      http_get:\n        port: 80\n        headers:\n          X-Token: t\n",
    );
    assert_eq!(e.at, Some((7, 9)));
    assert!(
        e.message.starts_with(
            "overseer does not support `processes.web.readiness_probe.http_get.headers`"
        ),
        "{}",
        e.message
    );
    let e = error("processes:\n  web:\n    command: serve\n    shutdown:\n      send_keys: q\n");
    assert_eq!(e.at, Some((5, 7)));
    assert!(
        e.message
            .starts_with("overseer does not support `processes.web.shutdown.send_keys`"),
        "{}",
        e.message
    );
    let e = error(
        "processes:\n  web:\n    command: serve\n    availability:\n      restart: always\n      jitter: 1\n",
    );
    assert_eq!(e.at, Some((6, 7)));
    assert_eq!(
        e.message,
        "overseer does not support `processes.web.availability.jitter`: process-compose has no such key in `availability` either (overseer reads restart, backoff_seconds, max_restarts, exit_on_end)"
    );
    let e = error(
        "processes:\n  db:\n    command: db\n  web:\n    command: serve\n    depends_on:\n      db:\n        condition: process_started\n        required: true\n",
    );
    assert_eq!(e.at, Some((9, 9)));
    assert!(
        e.message
            .starts_with("overseer does not support `processes.web.depends_on.db.required`"),
        "{}",
        e.message
    );
}

#[test]
fn a_misspelt_key_is_an_error_that_names_the_key_it_is_closest_to() {
    let e = error("processes:\n  web:\n    comand: serve\n");
    assert_eq!(e.at, Some((3, 5)));
    assert_eq!(
        e.message,
        "overseer does not support `processes.web.comand`: process-compose has no such key in a process either (did you mean `command`?)"
    );
}

#[test]
fn a_key_that_asks_for_what_overseer_does_anyway_is_accepted_and_any_other_value_refused() {
    let p = web(
        "    is_daemon: false\n    is_tty: false\n    is_dotenv_disabled: true\n    shutdown:\n      parent_only: false\n",
    );
    assert_eq!(p.command, shell("serve"));
    let e = error("processes:\n  web:\n    command: serve\n    is_daemon: true\n");
    assert_eq!(e.at, Some((4, 5)));
    assert!(
        e.message.starts_with("overseer does not support `processes.web.is_daemon: true`: overseer supervises processes that stay in the foreground"),
        "{}",
        e.message
    );
    let e = error("ordered_shutdown: false\nprocesses:\n  web:\n    command: serve\n");
    assert_eq!(e.at, Some((1, 1)));
    assert!(
        e.message
            .starts_with("overseer does not support `ordered_shutdown: false`"),
        "{}",
        e.message
    );
}

#[test]
fn cosmetic_keys_and_x_extensions_are_accepted_and_ignored() {
    let plain = stack("processes:\n  web:\n    command: serve\n");
    let dressed = stack(
        "version: \"0.5\"
log_level: debug
log_length: 3000
is_tui_disabled: true
is_strict: true
x-note: anything
processes:
  web:
    command: serve
    description: the front end
    disable_ansi_colors: true
    monitor_for: activity
    x-owner: team-a
",
    );
    assert_eq!(dressed, plain);
}

#[test]
fn yaml_anchors_and_merges_are_applied() {
    let stack = stack(
        "x-service: &service
  availability:
    restart: always
  environment:
    - MODE=prod
processes:
  a:
    <<: *service
    command: a
  b:
    <<: *service
    command: b
    environment:
      - MODE=dev
",
    );
    assert_eq!(process(&stack, "a").restart, RestartPolicy::Always);
    assert_eq!(process(&stack, "a").env, env(&[("MODE", "prod")]));
    assert_eq!(process(&stack, "b").restart, RestartPolicy::Always);
    assert_eq!(process(&stack, "b").env, env(&[("MODE", "dev")]));
}

#[test]
fn a_yaml_syntax_error_is_reported_with_its_line_and_column() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    environment: [A=1\n  db:\n    command: db\n",
    );
    assert_eq!(e.file, PathBuf::from(FILE));
    let (line, column) = e.at.expect("a position");
    assert!((4..=6).contains(&line), "{e}");
    assert!(
        e.message.starts_with("this is not valid YAML: "),
        "{}",
        e.message
    );
    assert!(
        !e.message
            .contains(&format!("at line {line} column {column}")),
        "the position is not repeated: {e}"
    );

    let e = error("processes:\n  web:\n    command: serve\n     bad: 1\n");
    assert_eq!(e.at, Some((4, 9)), "{e}");
    assert_eq!(
        e.message,
        "this is not valid YAML: mapping values are not allowed in this context"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_naming_its_key_and_line() {
    let e = error("processes:\n  web:\n    command: serve\n    replicas: two\n");
    assert_eq!(e.at, Some((4, 5)));
    assert_eq!(
        e.message,
        "`processes.web.replicas`: invalid type: string \"two\", expected a whole number, 0 or more"
    );
    let e = error("processes:\n  web: serve\n");
    assert_eq!(e.at, Some((2, 3)));
    assert_eq!(
        e.message,
        "`processes.web` must be a mapping of the process's settings, not a string"
    );
}

#[test]
fn a_file_without_processes_is_an_error() {
    assert!(error("").message.contains("the file is empty"));
    let e = error("version: \"0.5\"\nprocesses: {}\n");
    assert_eq!(e.at, Some((2, 1)));
    assert!(e.message.starts_with("no process"), "{}", e.message);
    let e = error("processes:\n  web:\n    command: serve\n    disabled: true\n");
    assert_eq!(e.message, "every process is disabled: nothing would run");
}

#[test]
fn an_unknown_dependency_or_a_cycle_is_an_error_at_its_depends_on() {
    let e = error(
        "processes:\n  web:\n    command: serve\n    depends_on:\n      dbb:\n        condition: process_started\n",
    );
    assert_eq!(e.at, Some((4, 5)));
    assert_eq!(
        e.message,
        "\"web\" depends on \"dbb\", which is not declared (declared: web)"
    );
    let e = error(
        "processes:\n  a:\n    command: a\n    depends_on:\n      b:\n  b:\n    command: b\n    depends_on:\n      a:\n",
    );
    assert_eq!(e.at, Some((4, 5)));
    assert_eq!(e.message, "the dependencies form a cycle: a → b → a");
}
