//! `overseer up` in the foreground and `overseer check`: the real binary on real processes.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod cli_common;

use std::process::Stdio;
use std::time::Duration;

use cli_common::{Dir, Live, alive, line_of, run, wait};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn up_prints_each_line_behind_its_aligned_name_and_ends_with_0_once_every_process_has_ended() {
    let d = Dir::new();
    d.write(
        "overseer.toml",
        r#"
[processes.setup]
command = "echo one; echo two"
restart = "never"

[processes.long-name]
command = "echo three"
restart = "on-failure"
depends_on = { setup = "completed" }
"#,
    );
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert!(lines.contains(&"setup     | one"), "{lines:#?}");
    assert!(lines.contains(&"setup     | two"), "{lines:#?}");
    assert!(lines.contains(&"long-name | three"), "{lines:#?}");
    let one = lines.iter().position(|l| *l == "setup     | one").unwrap();
    let three = lines
        .iter()
        .position(|l| *l == "long-name | three")
        .unwrap();
    assert!(
        one < three,
        "long-name waited for setup to complete: {lines:#?}"
    );
    assert!(!ran.stdout.contains('\x1b'), "no colour into a pipe");
}

#[test]
fn up_exits_with_the_exit_code_of_the_process_whose_failure_ended_the_stack() {
    let d = Dir::new();
    d.write(
        "overseer.toml",
        r#"
[processes.server]
command = "sleep 60"

[processes.migrate]
command = "echo migrating; exit 7"
restart = "exit-on-failure"
"#,
    );
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert_eq!(ran.code(), Some(7), "{ran:?}");
    assert!(ran.stderr.contains("migrate"), "{}", ran.stderr);
    assert!(ran.stderr.contains("exited with code 7"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("migrating"),
        "the last output is shown: {}",
        ran.stderr
    );
}

#[test]
fn a_failure_that_ends_only_its_process_gives_its_exit_code_once_the_stack_has_ended() {
    let d = Dir::new();
    d.write(
        "overseer.toml",
        r#"
[processes.optional]
command = "exit 5"
restart = "never"

[processes.job]
command = "echo done"
restart = "on-failure"
"#,
    );
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert_eq!(ran.code(), Some(5), "{ran:?}");
    assert!(
        ran.stdout.contains("job      | done"),
        "the rest ran on: {}",
        ran.stdout
    );
}

#[test]
fn ctrl_c_stops_the_stack_gracefully_and_up_exits_with_0() {
    let d = Dir::new();
    let pidfile = d.join("pid");
    d.write(
        "overseer.toml",
        &format!(
            "[processes.server]\ncommand = \"echo $$ > {}; exec sleep 60\"\n",
            pidfile.display()
        ),
    );
    let child = d
        .overseer(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid: u32 = line_of(&pidfile, LIMIT).parse().unwrap();
    assert!(alive(pid));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let ran = wait(child, LIMIT);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
    assert!(ran.stdout.contains("stopping"), "{}", ran.stdout);
    assert!(!alive(pid), "the server was stopped");
}

#[test]
fn a_second_ctrl_c_stops_the_stack_at_once() {
    let d = Dir::new();
    let pidfile = d.join("pid");
    d.write(
        "overseer.toml",
        &format!(
            "[processes.stubborn]\ncommand = \"trap '' TERM; echo $$ > {}; sleep 60\"\nstop_timeout = \"60s\"\n",
            pidfile.display()
        ),
    );
    let mut up = Live::spawn(&mut d.overseer(&["up"]));
    let pid: u32 = line_of(&pidfile, LIMIT).parse().unwrap();
    up.signal(rustix::process::Signal::INT);
    // The graceful stop has begun, and the stubborn process ignores it.
    up.expect_line("stopping (again to stop at once)", LIMIT);
    assert!(alive(pid));
    up.signal(rustix::process::Signal::INT);
    // Well before the 60 s stop timeout.
    let ran = up.finish(Duration::from_secs(20));
    assert!(ran.stdout.contains("stopping at once"), "{}", ran.stdout);
    assert!(!alive(pid), "the stubborn process was killed");
}

#[test]
fn up_without_a_file_finds_overseer_toml_then_procfile_then_process_compose_yaml() {
    let d = Dir::new();
    d.write("Procfile", "from-procfile: echo procfile\n");
    let ran = run(&mut d.overseer(&["check"]), LIMIT);
    assert!(ran.stdout.contains("Procfile"), "{ran:?}");
    d.write(
        "overseer.toml",
        "[processes.from-toml]\ncommand = \"echo toml\"\nrestart = \"never\"\n",
    );
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
    assert!(ran.stdout.contains("from-toml | toml"), "{}", ran.stdout);
}

#[test]
fn up_without_a_file_and_with_no_config_here_says_what_it_looked_for() {
    let d = Dir::new();
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert_eq!(ran.code(), Some(2));
    assert!(
        ran.stderr.contains("no config in the current directory: looked for overseer.toml, Procfile, process-compose.yaml"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_bad_config_is_an_error_naming_its_file_line_and_column_and_nothing_runs() {
    let d = Dir::new();
    let marker = d.join("ran");
    let file = d.write(
        "stack.toml",
        &format!(
            "[processes.a]\ncommand = \"touch {}\"\n\n[processes.b]\ncommand = \"true\"\ndepends_on = {{ c = \"ready\" }}\n",
            marker.display()
        ),
    );
    let ran = run(&mut d.overseer(&["up", file.to_str().unwrap()]), LIMIT);
    assert_eq!(ran.code(), Some(2), "{ran:?}");
    assert_eq!(
        ran.stderr.trim(),
        format!(
            "overseer: {}:6:1: \"b\" depends on \"c\", which is not declared (declared: a, b)",
            file.display()
        )
    );
    assert!(!marker.exists(), "nothing ran");
}

#[test]
fn names_are_coloured_when_asked_and_never_into_a_pipe_by_default() {
    let d = Dir::new();
    d.write("Procfile", "p: echo hi; exit 0\n");
    let stack = "[processes.p]\ncommand = \"echo hi\"\nrestart = \"never\"\n";
    d.write("overseer.toml", stack);
    let ran = run(&mut d.overseer(&["up", "--color", "always"]), LIMIT);
    assert!(
        ran.stdout.contains("\x1b[36mp        |\x1b[0m hi"),
        "{:?}",
        ran.stdout
    );
    let ran = run(&mut d.overseer(&["up"]), LIMIT);
    assert!(!ran.stdout.contains('\x1b'), "{:?}", ran.stdout);
}

#[test]
fn check_prints_the_stack_in_start_order() {
    let d = Dir::new();
    let file = d.write(
        "overseer.toml",
        "name = \"demo\"\n[processes.web]\ncommand = \"serve\"\ndepends_on = { db = \"ready\" }\n[processes.db]\ncommand = [\"db\", \"--fast\"]\nreplicas = 2\n",
    );
    let ran = run(&mut d.overseer(&["check", file.to_str().unwrap()]), LIMIT);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
    let expected = format!(
        "{}: stack \"demo\", in start order:\n  db ×2: db --fast\n  web: serve\n",
        file.display()
    );
    assert_eq!(ran.stdout, expected);
}

#[test]
fn the_three_config_formats_run_the_same_stack() {
    let stacks = [
        (
            "overseer.toml",
            "[processes.db]\ncommand = \"echo db up; exec sleep 60\"\n\n[processes.web]\ncommand = \"echo web up; exec sleep 60\"\n",
        ),
        (
            "Procfile",
            "db: echo db up; exec sleep 60\nweb: echo web up; exec sleep 60\n",
        ),
        (
            "process-compose.yaml",
            "version: \"0.5\"\nprocesses:\n  db:\n    command: echo db up; exec sleep 60\n  web:\n    command: echo web up; exec sleep 60\n    depends_on:\n      db:\n        condition: process_started\n",
        ),
    ];
    for (name, text) in stacks {
        let d = Dir::new();
        d.write(name, text);
        // A bare file name: the processes run in the current directory.
        let mut up = Live::spawn(&mut d.overseer(&["up", name]));
        up.expect_line("db       | db up", LIMIT);
        up.expect_line("web      | web up", LIMIT);
        up.signal(rustix::process::Signal::INT);
        let ran = up.finish(LIMIT);
        assert_eq!(ran.code(), Some(0), "{name}: {ran:?}");
    }
}

#[test]
fn a_process_compose_key_overseer_does_not_support_is_named_with_its_line() {
    let d = Dir::new();
    let file = d.write(
        "process-compose.yaml",
        "processes:\n  web:\n    command: serve\n    namespace: frontend\n",
    );
    let ran = run(&mut d.overseer(&["up", file.to_str().unwrap()]), LIMIT);
    assert_eq!(ran.code(), Some(2), "{ran:?}");
    let expected = format!(
        "overseer: {}:4:5: overseer does not support `processes.web.namespace`",
        file.display()
    );
    assert!(ran.stderr.starts_with(&expected), "{}", ran.stderr);
}
