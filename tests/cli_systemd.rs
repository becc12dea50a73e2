//! `overseer daemon` and `overseer up` as systemd runs them (`Type=notify`): the real binary
//! with `NOTIFY_SOCKET` naming a real Unix datagram socket, and the notifications read in
//! order.
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
