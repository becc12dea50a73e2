//! `overseer daemon` and `overseer up` as orchestrators run them: under systemd
//! (`Type=notify`: the real binary with `NOTIFY_SOCKET` naming a real Unix datagram socket, the
//! notifications read in order) and under Kubernetes (`--http`: the probes and metrics
//! scraped over real HTTP, the metrics parsed as Prometheus text).
#![cfg(all(feature = "cli", target_os = "linux"))]

mod cli_common;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cli_common::{Dir, Live};

const LIMIT: Duration = Duration::from_secs(30);

/// A scratch directory with a socket bound where `NOTIFY_SOCKET` will point.
struct Systemd {
    dir: Dir,
    socket: UnixDatagram,
    path: PathBuf,
}

impl Systemd {
    fn new() -> Systemd {
        let dir = Dir::new();
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind");
        // An upper bound for a broken run; every wait is for a message.
        socket.set_read_timeout(Some(LIMIT)).expect("timeout");
        Systemd { dir, socket, path }
    }

    /// `overseer ARGS` with `NOTIFY_SOCKET` set (and `env` added).
    fn overseer(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = self.dir.overseer(args);
        cmd.env("NOTIFY_SOCKET", &self.path)
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Notifications up to the first that is not a status line, which is returned.
    fn next_state(&self) -> String {
        loop {
            let msg = self.next();
            if !msg.starts_with("STATUS=") {
                return msg;
            }
        }
    }
}

const TWO: &str = "name = \"t\"\n\
    [processes.a]\ncommand = [\"sleep\", \"600\"]\n\
    [processes.b]\ncommand = [\"sleep\", \"601\"]\n";

#[test]
fn the_daemon_under_systemd_reports_ready_an_apply_as_a_reload_and_down_as_stopping() {
    let sd = Systemd::new();
    sd.dir.write("overseer.toml", TWO);
    let socket = sd.dir.join("api.sock");
    let socket = socket.to_str().expect("utf-8");
    let daemon = Live::spawn(&mut sd.overseer(
        &["daemon", "--file", "overseer.toml", "--socket", socket],
        &[],
    ));
    assert_eq!(sd.next_state(), "READY=1\n");

    sd.dir.write(
        "overseer.toml",
        &format!("{TWO}[processes.c]\ncommand = [\"sleep\", \"602\"]\n"),
    );
    let apply = cli_common::run(&mut sd.dir.overseer(&["--socket", socket, "apply"]), LIMIT);
    assert_eq!(apply.code(), Some(0), "{apply:?}");
    let reloading = sd.next_state();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    assert_eq!(sd.next_state(), "READY=1\n");

    // Two processes removed: the status counts what the stack has now.
    sd.dir.write(
        "overseer.toml",
        "name = \"t\"\n[processes.a]\ncommand = [\"sleep\", \"600\"]\n",
    );
    let apply = cli_common::run(&mut sd.dir.overseer(&["--socket", socket, "apply"]), LIMIT);
    assert_eq!(apply.code(), Some(0), "{apply:?}");
    while sd.next() != "STATUS=1/1 ready\n" {}

    let down = cli_common::run(&mut sd.dir.overseer(&["--socket", socket, "down"]), LIMIT);
    assert_eq!(down.code(), Some(0), "{down:?}");
    assert_eq!(sd.next_state(), "STOPPING=1\n");
    assert!(daemon.finish(LIMIT).status.success());
}

#[test]
fn up_under_systemd_with_a_watchdog_pings_it() {
    let sd = Systemd::new();
    sd.dir.write("overseer.toml", TWO);
    let up = Live::spawn(&mut sd.overseer(&["up"], &[("WATCHDOG_USEC", "200000")]));
    let mut seen = Vec::new();
    while seen.iter().filter(|m| *m == "WATCHDOG=1\n").count() < 2 {
        seen.push(sd.next_state());
    }
    assert!(seen.contains(&"READY=1\n".to_owned()), "{seen:?}");
    up.signal(rustix::process::Signal::TERM);
    loop {
        if sd.next_state() == "STOPPING=1\n" {
            break;
        }
    }
    assert!(up.finish(LIMIT).status.success());
}

/// `GET path` on 127.0.0.1:`port` with a plain TCP stream: the status and the body; `None`
/// when nothing answers there.
fn try_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Some((status, body.unwrap_or_default()))
}

fn get(port: u16, path: &str) -> (u16, String) {
    try_get(port, path).expect("an answer")
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `GET path` until it answers `status` (the server may not listen yet).
fn until_status(port: u16, path: &str, status: u16) {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let got = try_get(port, path).map(|(status, _)| status);
        if got == Some(status) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: {got:?}, never {status}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn up_with_http_answers_the_probes_and_serves_metrics_of_every_process() {
    let dir = Dir::new();
    // `slow` ignores SIGTERM for a while: the stack's stop takes that long.
    dir.write(
        "overseer.toml",
        "name = \"t\"\n\
         [processes.a]\ncommand = [\"sleep\", \"600\"]\n\
         [processes.slow]\ncommand = \"trap '' TERM; echo up; exec sleep 600\"\n\
         stop_timeout = \"3s\"\n",
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut up = Live::spawn(&mut dir.overseer(&["up", "--http", &addr]));
    up.expect_line("up", LIMIT);
    until_status(port, "/readyz", 200);
    assert_eq!(get(port, "/healthz").0, 200);

    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    for path in ["t/a", "t/slow"] {
        let memory = scrape.samples.iter().find(|s| {
            s.metric == "overseer_process_resident_memory_bytes"
                && s.labels.get("path") == Some(path)
        });
        assert!(
            matches!(memory.map(|s| &s.value), Some(prometheus_parse::Value::Gauge(v)) if *v > 0.0),
            "{path}: {memory:?}"
        );
    }

    // The stop begins: not ready any more while `slow` is still stopping.
    up.signal(rustix::process::Signal::TERM);
    until_status(port, "/readyz", 503);
    assert_eq!(get(port, "/healthz").0, 200, "stopping is not failing");
    let ran = up.finish(LIMIT);
    assert!(ran.status.success(), "{ran:?}");
}
