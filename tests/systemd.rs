//! The systemd child, as systemd sees it: the tree runs in a process of its own (this test
//! binary run again as `service`) whose environment names a real Unix datagram socket as
//! `NOTIFY_SOCKET`, and the tests read the exact notifications, in order. The service takes
//! commands on its stdin (`ready`, `fail`, `reload`, `wedge`, `unwedge`, `stop`) and answers
//! `done <command>` (or `wedged`, `tree ready`) on its stderr.
#![cfg(all(unix, feature = "systemd"))]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use overseer::builtin::Systemd;
use overseer::{Backoff, ChildSpec, Control, EventKind, ProcessManager};

const SCENARIO: &str = "OVERSEER_SYSTEMD_TEST_SERVICE";

// ----- The service ------------------------------------------------------------------------

/// Not a test: the service the tests run in a process of their own (it returns at once
/// unless started by them).
#[test]
#[ignore = "the service the other tests start in a process of its own"]
fn service() {
    if std::env::var_os(SCENARIO).is_none() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(serve());
    // The read of stdin blocks a thread of the runtime's pool: not waited for.
    rt.shutdown_background();
}

async fn serve() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let fail = Arc::new(tokio::sync::Notify::new());
    let (wedge, lever) = common::Wedge::new();
    let tree = ProcessManager::builder("root")
        .intensity(10, Duration::from_secs(60))
        .backoff(Backoff::fixed(Duration::from_millis(300)))
        .child(ChildSpec::new("systemd", Systemd::new()))
        .child(ChildSpec::task("gate", {
            let gate = gate.clone();
            move |ctx| {
                let gate = gate.clone();
                async move {
                    gate.notified().await;
                    ctx.ready();
                    ctx.shutdown_requested().await;
                    Ok(())
                }
            }
        }))
        .child(ChildSpec::task("flaky", {
            let fail = fail.clone();
            move |ctx| {
                let fail = fail.clone();
                async move {
                    ctx.ready();
                    tokio::select! {
                        () = fail.notified() => Err("told to fail".into()),
                        () = ctx.shutdown_requested() => Ok(()),
                    }
                }
            }
        }))
        .child(ChildSpec::new("wedge", wedge))
        .build()
        .unwrap();
    let handle = tree.handle();
    let mut events = handle.events();
    let run = tokio::spawn(async move { tree.run().await });
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if ev.path == "root" && matches!(ev.kind, EventKind::Ready) {
                eprintln!("tree ready");
            }
        }
    });
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    while let Ok(Some(line)) = lines.next_line().await {
        match line.as_str() {
            "ready" => gate.notify_one(),
            "fail" => fail.notify_one(),
            "reload" => handle.broadcast(Control::Reload).await.unwrap(),
            "wedge" => {
                lever.wedge(&handle).await;
                eprintln!("wedged");
            }
            "unwedge" => lever.release(),
            "stop" => {
                handle.shutdown().unwrap();
                break;
            }
            other => panic!("unknown command {other}"),
        }
        eprintln!("done {line}");
    }
    run.await.unwrap().unwrap();
}

// ----- The tests' side ----------------------------------------------------------------------

/// The service, running, and the socket it notifies.
struct Service {
    child: Child,
    stdin: ChildStdin,
    said: mpsc::Receiver<String>,
    socket: UnixDatagram,
    /// Every notification read so far, for failure messages.
    log: std::cell::RefCell<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service; `env` is added to its environment (`NOTIFY_SOCKET` is set unless
    /// `notify` is false, and removed then).
    fn start(notify: bool, env: &[(&str, &str)]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        // An upper bound for a broken run, not a synchronisation: every wait is for a message.
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["service", "--exact", "--ignored", "--nocapture", "--quiet"])
            .env(SCENARIO, "1")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if notify {
            cmd.env("NOTIFY_SOCKET", &path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, said) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Service {
            child,
            stdin,
            said,
            socket,
            log: Default::default(),
            _dir: dir,
        }
    }

    fn tell(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
    }

    /// Waits until the service says `what` on its stderr.
    fn hear(&self, what: &str) {
        loop {
            let line = self
                .said
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the service never said {what:?}"));
            if line == what {
                return;
            }
        }
    }

    /// The next notification (one datagram).
    fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).expect("a notification");
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        self.log.borrow_mut().push(msg.clone());
        msg
    }

    /// Notifications until one for which `done` holds, that one last.
    fn until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let msg = self.next();
            let last = done(&msg);
            seen.push(msg);
            if last {
                return seen;
            }
        }
    }

    /// Ends the service with `stop` and returns how it exited.
    fn stop(&mut self) -> std::process::ExitStatus {
        self.tell("stop");
        self.child.wait().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_of(msg: &str) -> Option<&str> {
    msg.lines().find_map(|l| l.strip_prefix("STATUS="))
}

#[test]
fn systemd_hears_ready_only_once_every_child_is_ready() {
    let mut service = Service::start(true, &[]);
    let before = service.until(|m| status_of(m) == Some("3/4 ready, 1 starting"));
    assert!(
        !before.iter().any(|m| m.contains("READY=1")),
        "the gate is not ready yet: {before:?}"
    );
    service.tell("ready");
    let after = service.until(|m| m == "READY=1\n");
    assert!(
        after
            .iter()
            .all(|m| status_of(m).is_some() || m == "READY=1\n"),
        "{after:?}"
    );
    assert!(service.stop().success());
}

#[test]
fn a_reload_is_announced_with_reloading_and_its_time_then_ready_and_a_shutdown_with_stopping() {
    let mut service = Service::start(true, &[]);
    service.tell("ready");
    service.until(|m| m == "READY=1\n");
    service.tell("reload");
    let reloading = service.until(|m| m.contains("RELOADING=1"));
    let reloading = reloading.last().unwrap();
    let lines: Vec<&str> = reloading.lines().collect();
    assert_eq!(lines.len(), 2, "{reloading:?}");
    assert_eq!(lines[0], "RELOADING=1");
    let usec: u64 = lines[1]
        .strip_prefix("MONOTONIC_USEC=")
        .expect("the moment the reload began")
        .parse()
        .unwrap();
    assert!(usec > 0);
    let after = service.until(|m| !m.starts_with("STATUS="));
    assert_eq!(
        after.last().map(String::as_str),
        Some("READY=1\n"),
        "the reload has been handed on: {:?}",
        service.log.borrow()
    );

    service.tell("stop");
    let stopping = service.until(|m| !m.starts_with("STATUS="));
    assert_eq!(
        stopping.last().map(String::as_str),
        Some("STOPPING=1\n"),
        "{:?}",
        service.log.borrow()
    );
    assert!(
        stopping.iter().all(|m| !m.contains("stopping: ")),
        "STOPPING=1 before any status of the shutdown: {:?}",
        service.log.borrow()
    );
    let rest = service.until(|m| status_of(m).is_some_and(|s| s.contains("3 ended")));
    assert!(
        rest.iter()
            .all(|m| status_of(m).is_some_and(|s| s.starts_with("stopping: "))),
        "{rest:?}"
    );
    assert!(service.child.wait().unwrap().success());
}

#[test]
fn status_lines_follow_a_crash_and_its_restart() {
    let mut service = Service::start(true, &[]);
    service.tell("ready");
    service.until(|m| m == "READY=1\n");
    service.tell("fail");
    let crash = service.until(|m| status_of(m).is_some_and(|s| s.contains("1 restarting")));
    assert_eq!(
        status_of(crash.last().unwrap()),
        Some("3/4 ready, 1 restarting")
    );
    let back = service.until(|m| status_of(m) == Some("4/4 ready"));
    assert!(
        !back
            .iter()
            .any(|m| m.contains("READY=1\n") && status_of(m).is_none()),
        "a restart of one child does not announce the tree ready again: {back:?}"
    );
    assert!(service.stop().success());
}

#[test]
fn watchdog_pings_stop_while_a_manager_is_wedged_and_resume_after() {
    // 200 ms: a ping every 100 ms.
    let mut service = Service::start(true, &[("WATCHDOG_USEC", "200000")]);
    service.tell("ready");
    service.until(|m| m == "WATCHDOG=1\n");
    service.until(|m| m == "WATCHDOG=1\n");

    service.tell("wedge");
    service.hear("wedged");
    let withheld = |m: &str| status_of(m).is_some_and(|s| s.starts_with("watchdog: "));
    service.until(withheld);
    // Two more pings go unanswered, a full interval: no WATCHDOG=1 among what came between.
    let between = [service.until(withheld), service.until(withheld)].concat();
    assert!(
        !between.iter().any(|m| m.contains("WATCHDOG=1")),
        "{between:?}"
    );

    service.tell("unwedge");
    service.until(|m| m == "WATCHDOG=1\n");
    assert!(service.stop().success());
}

#[test]
fn outside_systemd_the_child_does_nothing_and_the_tree_runs() {
    let mut service = Service::start(false, &[]);
    service.tell("ready");
    service.hear("tree ready");
    assert!(service.stop().success());
    service.socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(
        service.socket.recv(&mut buf).is_err(),
        "nothing was sent to the socket that systemd would have named"
    );
}
