//! `overseer up -d`, its control API and the client commands, end to end: the real binary
//! against real processes. Each test has a temporary directory of its own (config, state,
//! runtime directory and socket), so tests run in parallel; each brings its daemon down,
//! also when it fails (the [`Stack`] guard runs `down`, then kills what is left).
//!
//! Nothing waits by sleeping and hoping: every wait polls a condition (a `ps`, a file, a
//! line of output) until a deadline.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod cli_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cli_common::alive;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_overseer");
/// Generous: the machine may be loaded.
const DEADLINE: Duration = Duration::from_secs(30);

/// A stack in a temporary directory, and the daemon that runs it once [`up`](Stack::up) is
/// called. Dropped, it stops the daemon: `down`, then `SIGKILL` to the daemon and to every
/// process seen in its `ps` if anything is left.
struct Stack {
    dir: tempfile::TempDir,
    /// Pids to kill if they are still there at the end.
    seen: std::cell::RefCell<Vec<u32>>,
}

impl Stack {
    /// A stack named `t` whose config is `processes` (TOML after `name = "t"`).
    fn new(processes: &str) -> Stack {
        let dir = tempfile::Builder::new()
            .prefix("ovd")
            .tempdir()
            .expect("a temporary directory");
        let stack = Stack {
            dir,
            seen: std::cell::RefCell::new(Vec::new()),
        };
        stack.write_config(processes);
        stack
    }

    fn write_config(&self, processes: &str) {
        std::fs::write(self.config(), format!("name = \"t\"\n{processes}"))
            .expect("config written");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("overseer.toml")
    }

    fn socket(&self) -> PathBuf {
        self.path("run").join("overseer.sock")
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.path("state").join("t").join("daemon.log")).unwrap_or_default()
    }

    /// `overseer ARGS` in this stack's directory and environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("OVERSEER_STATE_DIR", self.path("state"))
            .env("OVERSEER_RUNTIME_DIR", self.path("run"))
            .env_remove("OVERSEER_SOCKET")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    /// Runs `overseer ARGS` to its end (within the deadline).
    fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("overseer runs");
        finish(child, args)
    }

    /// Runs `overseer ARGS`, which must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "overseer {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `overseer ARGS`, which must fail with exit code 1; its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "overseer {args:?} should fail with 1:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `overseer up -d`, then waits until every process runs.
    fn up(&self) -> u32 {
        let out = self.ok(&["up", "-d"]);
        assert!(out.contains("runs in the background"), "up -d said: {out}");
        let pid = self
            .daemon_pid()
            .expect("the lock file holds the daemon's pid");
        self.wait_all_running();
        pid
    }

    /// The pid in the socket's lock file.
    fn daemon_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.path("run").join("overseer.sock.lock")).ok()?;
        text.trim().parse().ok()
    }

    /// `ps --json`, parsed; remembers the pids it shows.
    fn tree(&self) -> Value {
        let out = self.ok(&["ps", "--json"]);
        let tree: Value = serde_json::from_str(&out).expect("ps --json is JSON");
        let mut seen = self.seen.borrow_mut();
        for node in nodes(&tree) {
            if let Some(pid) = node["pid"].as_u64() {
                seen.push(pid as u32);
            }
        }
        tree
    }

    /// Waits until every process of the tree is running or ready with a pid.
    fn wait_all_running(&self) -> Value {
        let mut last = Value::Null;
        wait_for("every process running", || {
            last = self.tree();
            processes(&last)
                .iter()
                .all(|p| running(p) && p["pid"].is_u64())
        });
        last
    }

    /// The pid of each process, by name below the root.
    fn pids(&self) -> Vec<(String, u64)> {
        processes(&self.tree())
            .iter()
            .map(|p| (name(p), p["pid"].as_u64().unwrap_or(0)))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let daemon = self.daemon_pid().filter(|pid| alive(*pid));
        if let Some(pid) = daemon {
            if let Ok(child) = self
                .command(&["down"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                let _ = cli_common::wait_output(child, Duration::from_secs(20));
            }
            if alive(pid) {
                kill(pid, libc::SIGKILL);
            }
        }
        for pid in self.seen.borrow().iter() {
            if alive(*pid) && is_ours(*pid, self.dir.path()) {
                kill(*pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether process `pid` was started for this test: its working directory is the test's
/// directory, as every process of a test stack's is (pids are reused; this keeps the guard
/// from killing a stranger).
fn is_ours(pid: u32, dir: &Path) -> bool {
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
    cwd.starts_with(dir)
}

/// Waits for `child` to end within the deadline (killed otherwise), with its output.
fn finish(child: Child, args: &[&str]) -> Output {
    match cli_common::wait_output(child, DEADLINE) {
        Some(out) => out,
        None => panic!("overseer {args:?} did not end within {DEADLINE:?}"),
    }
}

/// Polls `condition` until it holds, failing the test at the deadline.
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill touches no memory.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Every node of a snapshot, depth first.
fn nodes(tree: &Value) -> Vec<&Value> {
    let mut out = vec![tree];
    if let Some(children) = tree["children"].as_array() {
        for child in children {
            out.extend(nodes(child));
        }
    }
    out
}

/// The process nodes of a snapshot.
fn processes(tree: &Value) -> Vec<&Value> {
    nodes(tree)
        .into_iter()
        .filter(|n| n["kind"] == "process")
        .collect()
}

fn running(node: &Value) -> bool {
    node["state"] == "running" || node["state"] == "ready"
}

/// A node's name: its path below the root `t/`.
fn name(node: &Value) -> String {
    let path = node["path"].as_str().unwrap_or_default();
    path.strip_prefix("t/").unwrap_or(path).to_owned()
}

fn find<'a>(tree: &'a Value, name: &str) -> &'a Value {
    let path = format!("t/{name}");
    nodes(tree)
        .into_iter()
        .find(|n| n["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no {name} in {tree}"))
}

/// One HTTP/1.1 request on the socket, by hand: the status and the body.
fn http(socket: &Path, method: &str, path: &str) -> (u16, String) {
    let stream = UnixStream::connect(socket).expect("the socket accepts");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    exchange(
        stream,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: overseer\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ),
    )
}

/// Sends `request` on `stream` and reads the answer to its end: its status and body.
fn exchange(mut stream: impl Read + Write, request: &str) -> (u16, String) {
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("an answer");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Lines of a child's standard output, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `text`, returning the lines seen up to it.
fn wait_line(rx: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(text);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {text:?} within {DEADLINE:?}; saw {seen:?}"),
        }
    }
}

const SLEEP: &str = r#"command = ["sleep", "1000"]"#;

fn sleepers(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("[processes.{n}]\n{SLEEP}\n"))
        .collect()
}

#[test]
fn up_d_then_ps_lists_every_process_running() {
    let stack = Stack::new(&format!(
        "{}[groups.g.processes.w]\n{SLEEP}\nreplicas = 2\n",
        sleepers(&["web", "db"])
    ));
    stack.up();
    let table = stack.ok(&["ps"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("RESTARTS") && lines[0].ends_with("MEM"),
        "{table}"
    );
    let tree = stack.tree();
    for name in ["web", "db", "g/w-0", "g/w-1"] {
        let pid = find(&tree, name)["pid"].as_u64().expect("a pid");
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(matches!(cells[1], "running" | "ready"), "{row}");
        assert_eq!(cells[2], pid.to_string(), "{row}");
        assert!(alive(pid as u32));
    }
    assert!(
        lines.iter().any(|l| l.starts_with("g/ ")),
        "the group has a row:\n{table}"
    );
}

#[test]
fn json_output_parses_with_the_documented_shape() {
    let stack = Stack::new("[processes.talker]\ncommand = \"echo hello; exec sleep 1000\"\n");
    stack.up();
    let tree = stack.tree();
    for key in [
        "path",
        "kind",
        "state",
        "pid",
        "restarts",
        "uptime_ms",
        "last_exit",
        "resources",
        "health",
        "children",
    ] {
        assert!(tree.get(key).is_some(), "the root has no {key:?}: {tree}");
    }
    assert_eq!(tree["path"], "t");
    assert_eq!(tree["kind"], "manager");
    let status: Value = serde_json::from_str(&stack.ok(&["status", "talker", "--json"]))
        .expect("status --json is JSON");
    assert_eq!(status["path"], "t/talker");
    assert_eq!(status["kind"], "process");
    assert!(status["pid"].is_u64());
    assert!(status["health"]["state"].is_string());
    wait_for("resources", || {
        let s: Value =
            serde_json::from_str(&stack.ok(&["status", "talker", "--json"])).unwrap_or_default();
        s["resources"]["memory_bytes"].is_u64() && s["resources"]["processes"].is_u64()
    });
    wait_for("the line in the logs", || {
        stack.ok(&["logs", "--json", "talker"]).contains("hello")
    });
    let logs = stack.ok(&["logs", "--json", "talker"]);
    for line in logs.lines() {
        let record: Value = serde_json::from_str(line).expect("each line of logs --json is JSON");
        assert_eq!(record["name"], "talker");
        assert_eq!(record["stream"], "stdout");
        assert_eq!(record["line"], "hello");
        assert!(
            record["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{record}"
        );
    }
}

#[test]
fn logs_n_2_shows_the_last_lines_prefixed() {
    let stack = Stack::new(
        "[processes.counter]\ncommand = \"for i in 1 2 3 4 5; do echo line-$i; done; exec sleep 1000\"\n",
    );
    stack.up();
    wait_for("the fifth line", || {
        stack.ok(&["logs", "counter"]).contains("line-5")
    });
    let out = stack.ok(&["logs", "-n", "2", "counter"]);
    assert_eq!(out, "counter  | line-4\ncounter  | line-5\n");
}

#[test]
fn logs_f_shows_a_line_written_after_it_started() {
    let stack = Stack::new(
        "[processes.waiter]\ncommand = \"echo before; while [ ! -e go ]; do sleep 0.02; done; echo after-go; exec sleep 1000\"\n",
    );
    stack.up();
    let mut follower = stack
        .command(&["logs", "-f", "-n", "5", "waiter"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("logs -f runs");
    let lines = lines_of(&mut follower);
    // Seen through the follower: its request is answered, so it is subscribed.
    wait_line(&lines, "before");
    std::fs::write(stack.path("go"), "").expect("go written");
    let seen = wait_line(&lines, "after-go");
    assert_eq!(seen.last().map(String::as_str), Some("waiter   | after-go"));
    let _ = follower.kill();
    let _ = follower.wait();
}

#[test]
fn logs_f_ends_when_its_process_is_removed_by_apply() {
    let stack = Stack::new(&format!(
        "{}[processes.leaving]\ncommand = \"echo here; exec sleep 1000\"\n",
        sleepers(&["staying"])
    ));
    stack.up();
    let mut follower = stack
        .command(&["logs", "-f", "leaving"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("logs -f runs");
    let lines = lines_of(&mut follower);
    wait_line(&lines, "here");
    stack.write_config(&sleepers(&["staying"]));
    let out = stack.ok(&["apply"]);
    assert!(out.contains("removed: leaving\n"), "{out}");
    let out = finish(follower, &["logs", "-f", "leaving"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_client_that_disconnects_mid_follow_costs_the_daemon_nothing() {
    let stack = Stack::new("[processes.quiet]\ncommand = \"echo once; exec sleep 1000\"\n");
    stack.up();
    let followers = || {
        let (status, body) = http(&stack.socket(), "GET", "/v1/daemon");
        assert_eq!(status, 200, "{body}");
        let info: Value = serde_json::from_str(&body).expect("JSON");
        info["followers"].as_u64().expect("a follower count")
    };
    assert_eq!(followers(), 0);
    let mut follower = stack
        .command(&["logs", "-f", "quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("logs -f runs");
    let lines = lines_of(&mut follower);
    wait_line(&lines, "once");
    assert_eq!(followers(), 1);
    // Gone without a word, while the process prints nothing.
    let _ = follower.kill();
    let _ = follower.wait();
    wait_for("the follower to be dropped", || followers() == 0);
    // The daemon serves on.
    stack.ok(&["ps"]);
}

#[test]
fn a_crashed_process_is_restarted() {
    let stack = Stack::new(&sleepers(&["fragile"]));
    stack.up();
    let before = find(&stack.tree(), "fragile")["pid"]
        .as_u64()
        .expect("a pid");
    kill(before as u32, libc::SIGKILL);
    wait_for("the restart", || {
        let tree = stack.tree();
        let node = find(&tree, "fragile");
        node["restarts"].as_u64() >= Some(1)
            && running(node)
            && node["pid"].as_u64().is_some_and(|p| p != before)
    });
    let table = stack.ok(&["ps"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("fragile"))
        .expect("a row");
    assert_eq!(
        row.split_whitespace().nth(3),
        Some("1"),
        "RESTARTS:\n{table}"
    );
}

#[test]
fn stop_of_a_group_stops_its_processes_and_start_brings_them_back() {
    let stack = Stack::new(&format!(
        "{}[groups.g.processes.a]\n{SLEEP}\n[groups.g.processes.b]\n{SLEEP}\n",
        sleepers(&["outside"])
    ));
    stack.up();
    let tree = stack.tree();
    let group_pids: Vec<u64> = ["g/a", "g/b"]
        .iter()
        .map(|n| find(&tree, n)["pid"].as_u64().expect("a pid"))
        .collect();
    let outside = find(&tree, "outside")["pid"].as_u64();
    assert_eq!(stack.ok(&["stop", "g"]), "g: stopped\n");
    for pid in &group_pids {
        wait_for("a group member to end", || !alive(*pid as u32));
    }
    let tree = stack.tree();
    assert_eq!(find(&tree, "g")["state"], "stopped");
    assert_eq!(
        find(&tree, "outside")["pid"].as_u64(),
        outside,
        "the rest runs on"
    );
    stack.ok(&["start", "g"]);
    let tree = stack.wait_all_running();
    for (name, old) in ["g/a", "g/b"].iter().zip(&group_pids) {
        let pid = find(&tree, name)["pid"].as_u64().expect("a pid again");
        assert_ne!(pid, *old, "{name} runs again, as a new process");
        assert!(alive(pid as u32));
    }
}

#[test]
fn down_stops_everything_and_leaves_no_process_behind() {
    let stack = Stack::new(&format!(
        "{}[groups.g.processes.w]\n{SLEEP}\nreplicas = 3\n[processes.shell]\ncommand = \"sleep 1000 & sleep 1000; wait\"\n",
        sleepers(&["a", "b"])
    ));
    let daemon = stack.up();
    let pids: Vec<u64> = stack.pids().into_iter().map(|(_, pid)| pid).collect();
    assert_eq!(pids.len(), 6);
    let out = stack.ok(&["down"]);
    assert!(out.contains("stopped"), "{out}");
    // `down` returns once the daemon's lock is free: it is released as its process exits.
    wait_for("the daemon's process to end", || !alive(daemon));
    for pid in pids {
        assert!(!alive(pid as u32), "process {pid} is gone");
    }
    // Nor the shell's background sleep: nothing in the test's directory is left.
    let left: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| alive(*pid) && is_ours(*pid, stack.dir.path()))
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(!stack.socket().exists(), "the socket is removed");
    let err = stack.fails(&["ps"]);
    assert!(err.contains("no overseer daemon is running"), "{err}");
}

#[test]
fn the_socket_is_0600_and_its_dir_0700() {
    let stack = Stack::new(&sleepers(&["a"]));
    stack.up();
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&stack.socket()), 0o600);
    assert_eq!(mode(&stack.path("run")), 0o700);
}

#[test]
fn a_second_daemon_on_the_same_socket_is_refused_with_a_clear_error() {
    let stack = Stack::new(&sleepers(&["a"]));
    let first = stack.up();
    let err = stack.fails(&["up", "-d"]);
    assert!(
        err.contains("already running") && err.contains(&format!("pid {first}")),
        "{err}"
    );
    assert!(alive(first));
    assert_eq!(stack.daemon_pid(), Some(first));
    stack.ok(&["ps"]);
}

#[test]
fn a_stale_socket_after_sigkill_of_the_daemon_does_not_block_a_new_one() {
    let stack = Stack::new(&sleepers(&["a"]));
    let first = stack.up();
    let children: Vec<u64> = stack.pids().into_iter().map(|(_, pid)| pid).collect();
    kill(first, libc::SIGKILL);
    wait_for("the daemon to die", || !alive(first));
    // Its processes die with it (parent-death signal); the guard kills any left anyway.
    for pid in children {
        wait_for("its process to die", || !alive(pid as u32));
    }
    assert!(stack.socket().exists(), "the killed daemon left its socket");
    let err = stack.fails(&["ps"]);
    assert!(err.contains("no overseer daemon is running"), "{err}");
    let second = stack.up();
    assert_ne!(second, first);
    stack.ok(&["ps"]);
    assert!(
        stack.daemon_log().contains("stale socket"),
        "{}",
        stack.daemon_log()
    );
}

#[test]
fn apply_with_one_of_ten_processes_changed_restarts_only_it() {
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let config = sleepers(&names);
    let stack = Stack::new(&config);
    stack.up();
    let before = stack.pids();
    assert_eq!(before.len(), 10);
    stack.write_config(&config.replacen(
        "[processes.p3]\ncommand = [\"sleep\", \"1000\"]",
        "[processes.p3]\ncommand = [\"sleep\", \"1001\"]",
        1,
    ));
    let out = stack.ok(&["apply"]);
    assert!(out.contains("restarted: p3\n"), "{out}");
    assert!(out.contains("unchanged: 9\n"), "{out}");
    let old_p3 = before.iter().find(|(n, _)| n == "p3").map(|(_, p)| *p);
    wait_for("p3 to run again", || {
        let tree = stack.tree();
        let p3 = find(&tree, "p3");
        running(p3) && p3["pid"].as_u64().is_some_and(|p| Some(p) != old_p3)
    });
    let tree = stack.tree();
    for (name, pid) in &before {
        let node = find(&tree, name);
        if name == "p3" {
            assert_eq!(node["restarts"], 1);
        } else {
            assert_eq!(node["pid"].as_u64(), Some(*pid), "{name} was not touched");
            assert_eq!(node["restarts"], 0, "{name} was not restarted");
        }
    }
}

#[test]
fn apply_of_an_invalid_config_changes_nothing_and_prints_the_error_with_file_and_line() {
    let stack = Stack::new(&sleepers(&["a", "b"]));
    stack.up();
    let before = stack.pids();
    // Line 1 is the name, line 4 b's header, line 6 its bad value.
    stack.write_config(&format!(
        "{}[processes.b]\n{SLEEP}\nrestart = \"sometimes\"\n",
        sleepers(&["a"])
    ));
    let err = stack.fails(&["apply"]);
    let config = stack.config();
    assert!(
        err.contains(&format!("{}:6:", config.display())),
        "the error names the file and line: {err}"
    );
    assert!(err.contains("sometimes"), "{err}");
    assert_eq!(stack.pids(), before, "nothing changed");
    // A file that does not exist is as clear.
    let err = stack.fails(&["apply", "missing.toml"]);
    assert!(
        err.contains("missing.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn up_d_with_an_invalid_config_fails_with_the_daemon_s_error() {
    let stack = Stack::new("[processes.a]\ncomand = \"sleep 1\"\n");
    let out = stack.run(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("overseer.toml:3:1") && err.contains("comand"),
        "{err}"
    );
    assert!(!stack.socket().exists());
}

#[test]
fn an_unknown_name_is_a_clear_error() {
    let stack = Stack::new(&sleepers(&["a"]));
    stack.up();
    for args in [
        &["status", "nope"][..],
        &["stop", "nope"],
        &["restart", "nope"],
        &["logs", "nope"],
    ] {
        let err = stack.fails(args);
        assert!(
            err.contains("no process or group named \"nope\""),
            "{args:?}: {err}"
        );
    }
    let (status, body) = http(&stack.socket(), "GET", "/v1/processes/nope");
    assert_eq!(status, 404);
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["kind"], "not_found");
}

#[test]
fn a_client_with_no_daemon_gets_the_how_to_start_message() {
    let stack = Stack::new(&sleepers(&["a"]));
    for args in [&["ps"][..], &["logs", "a"], &["down"], &["stop", "a"]] {
        let err = stack.fails(args);
        assert!(
            err.contains("no overseer daemon is running") && err.contains("overseer up -d"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sighup_applies_the_config_file_again() {
    let stack = Stack::new(&sleepers(&["a", "b"]));
    let daemon = stack.up();
    let before = stack.pids();
    stack.write_config(&format!(
        "{}[processes.b]\ncommand = [\"sleep\", \"1001\"]\n",
        sleepers(&["a"])
    ));
    kill(daemon, libc::SIGHUP);
    let old_b = before[1].1;
    wait_for("b to restart", || {
        let tree = stack.tree();
        let b = find(&tree, "b");
        running(b) && b["pid"].as_u64().is_some_and(|p| p != old_b)
    });
    assert_eq!(find(&stack.tree(), "a")["pid"].as_u64(), Some(before[0].1));
}

/// The peer check needs a second user: run as root, the client is run as `nobody` (65534)
/// against a socket it may open (mode 0666 in a directory it may enter), and the daemon
/// closes the connection unanswered.
#[test]
fn a_client_of_another_user_is_refused() {
    if rustix_uid() != 0 {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    let stack = Stack::new(&sleepers(&["a"]));
    let open = stack.path("open");
    std::fs::create_dir(&open).expect("a directory");
    for dir in [stack.dir.path(), open.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let socket = open.join("s.sock");
    let socket_arg = socket.to_str().expect("a UTF-8 path");
    let out = stack.ok(&["up", "-d", "--socket", socket_arg]);
    assert!(out.contains("runs in the background"), "{out}");
    let daemon: u32 = std::fs::read_to_string(open.join("s.sock.lock"))
        .expect("the lock file")
        .trim()
        .parse()
        .expect("a pid");
    let guard = KillOnDrop(daemon);
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let mut stranger = stack.command(&["ps", "--socket", socket_arg]);
    std::os::unix::process::CommandExt::uid(&mut stranger, 65534);
    std::os::unix::process::CommandExt::gid(&mut stranger, 65534);
    let child = stranger
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stranger's client runs");
    let out = finish(child, &["ps (as nobody)"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("closed the connection"), "{err}");
    assert!(
        stack
            .daemon_log()
            .contains("refused a connection on the control socket from another user"),
        "{}",
        stack.daemon_log()
    );
    // The owner is served.
    stack.ok(&["ps", "--socket", socket_arg]);
    stack.ok(&["down", "--socket", socket_arg]);
    drop(guard);
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            kill(self.0, libc::SIGKILL);
        }
    }
}

fn rustix_uid() -> u32 {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() }
}

/// One HTTP/1.1 request over TCP, with `authorization` as the header's value if given.
fn tcp_http(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    let stream = std::net::TcpStream::connect(addr).expect("the TCP listener accepts");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    exchange(
        stream,
        &format!("GET {path} HTTP/1.1\r\nHost: overseer\r\n{auth}Connection: close\r\n\r\n"),
    )
}

#[test]
fn the_tcp_listener_is_off_unless_asked_for_and_then_answers_only_requests_bearing_its_token() {
    let stack = Stack::new(&sleepers(&["a"]));
    stack.up();
    let token_file = stack.path("run").join("overseer.sock.token");
    assert!(!token_file.exists(), "no token, no listener by default");
    stack.ok(&["down"]);

    let out = stack.ok(&["up", "-d", "--listen", "127.0.0.1:0"]);
    let addr = out
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("up -d names the TCP address: {out}"))
        .to_owned();
    stack.wait_all_running();
    let mode = std::fs::metadata(&token_file)
        .expect("the token file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let token = std::fs::read_to_string(&token_file).expect("the token");
    let token = token.trim();

    let (status, body) = tcp_http(&addr, "/v1/tree", None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"kind\":\"unauthorized\""), "{body}");
    let (status, _) = tcp_http(&addr, "/v1/tree", Some("Bearer wrong"));
    assert_eq!(status, 401);
    let (status, body) = tcp_http(&addr, "/v1/tree", Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{body}");
    let tree: Value = serde_json::from_str(&body).expect("the tree as JSON");
    assert_eq!(processes(&tree).len(), 1);

    stack.ok(&["down"]);
    assert!(!token_file.exists(), "the token is removed with the daemon");
}
