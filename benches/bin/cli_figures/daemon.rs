//! 1. **A CLI round trip against a daemon running N processes**, as a whole process: the
//!    median of 50 runs of `overseer ps` and of `overseer ps --json` (each spawned and waited
//!    for, its output read), beside `supervisorctl status` against supervisord and `pm2 ls`
//!    against PM2 running the same N `sleep 1000`; and each daemon's resident memory
//!    (`VmRSS` of its pid, with the N processes idle, after the round trips). Peers that are
//!    not installed are skipped.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::measure::{median, percentile};
use crate::which;

const TRIPS: usize = 50;

/// Measures every daemon that is installed and prints one line each.
pub fn run(overseer: &Path, n: usize) {
    println!(
        "## round trip against a daemon running {n} idle processes ({TRIPS} runs, whole process) and the daemon's RSS"
    );
    overseer_daemon(overseer, n);
    match which("supervisord").zip(which("supervisorctl")) {
        Some((d, c)) => supervisor(&d, &c, n),
        None => println!("supervisord: not installed (pip install supervisor), skipped"),
    }
    match which("pm2") {
        Some(pm2) => pm2_daemon(&pm2, n),
        None => println!("pm2: not installed (npm install -g pm2), skipped"),
    }
}

/// The median and 90th percentile wall time of `TRIPS` runs of `cmd`, in ms; each must
/// succeed.
fn trips(mut cmd: impl FnMut() -> Command) -> (f64, f64) {
    let mut times = Vec::with_capacity(TRIPS);
    for _ in 0..TRIPS {
        let t0 = Instant::now();
        let out = cmd().stdin(Stdio::null()).output().expect("run the client");
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let p90 = percentile(&mut times.clone(), 0.9);
    (median(times), p90)
}

/// `VmRSS` of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// Polls `ready` every 20 ms for up to 60 s.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn report(name: &str, (med, p90): (f64, f64), rss: f64) {
    println!("{name:<28} median {med:7.2} ms  p90 {p90:7.2} ms   daemon RSS {rss:6.1} MiB");
}

fn overseer_daemon(overseer: &Path, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("overseer.toml");
    let text: String = (0..n)
        .map(|i| format!("[processes.p{i}]\ncommand = [\"sleep\", \"1000\"]\n"))
        .collect();
    std::fs::write(&config, text).expect("config");
    let cmd = || {
        let mut c = Command::new(overseer);
        c.env("OVERSEER_STATE_DIR", dir.path().join("state"))
            .env("OVERSEER_RUNTIME_DIR", dir.path().join("run"));
        c
    };
    let up = cmd()
        .args(["up", "-d"])
        .arg(&config)
        .output()
        .expect("up -d");
    assert!(
        up.status.success(),
        "up -d: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let lock = dir.path().join("run").join("overseer.sock.lock");
    let pid: u32 = std::fs::read_to_string(&lock)
        .expect("the daemon's lock file")
        .trim()
        .parse()
        .expect("its pid");
    wait_until("every overseer process running", || {
        let out = cmd().args(["ps"]).output().expect("ps");
        String::from_utf8_lossy(&out.stdout)
            .matches(" ready ")
            .count()
            == n
    });
    let plain = trips(|| {
        let mut c = cmd();
        c.arg("ps");
        c
    });
    let json = trips(|| {
        let mut c = cmd();
        c.args(["ps", "--json"]);
        c
    });
    let rss = rss_mib(pid);
    report("overseer ps", plain, rss);
    report("overseer ps --json", json, rss);
    let down = cmd().arg("down").output().expect("down");
    assert!(
        down.status.success(),
        "down: {}",
        String::from_utf8_lossy(&down.stderr)
    );
}

fn supervisor(supervisord: &Path, supervisorctl: &Path, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let mut conf = format!(
        "[unix_http_server]\nfile={d}/supervisor.sock\n\n[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n[supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n"
    );
    for i in 0..n {
        conf.push_str(&format!(
            "[program:p{i}]\ncommand=sleep 1000\nstartsecs=0\n\n"
        ));
    }
    let conf_path = dir.path().join("supervisord.conf");
    std::fs::write(&conf_path, conf).expect("supervisord.conf");
    let started = Command::new(supervisord)
        .arg("-c")
        .arg(&conf_path)
        .status()
        .expect("supervisord");
    assert!(started.success());
    let ctl = || {
        let mut c = Command::new(supervisorctl);
        c.arg("-c").arg(&conf_path);
        c
    };
    wait_until("every supervisord program running", || {
        let out = ctl().arg("status").output().expect("supervisorctl status");
        String::from_utf8_lossy(&out.stdout)
            .matches("RUNNING")
            .count()
            == n
    });
    let status = trips(|| {
        let mut c = ctl();
        c.arg("status");
        c
    });
    let pid: u32 = std::fs::read_to_string(dir.path().join("supervisord.pid"))
        .expect("supervisord.pid")
        .trim()
        .parse()
        .expect("pid");
    report("supervisorctl status", status, rss_mib(pid));
    let _ = ctl().arg("shutdown").output();
    wait_until("supervisord gone", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
}

fn pm2_daemon(pm2: &Path, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let apps: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{name: 'p{i}', script: 'sleep', args: '1000', interpreter: 'none', autorestart: true}}"
            )
        })
        .collect();
    let eco = dir.path().join("ecosystem.config.js");
    std::fs::write(
        &eco,
        format!("module.exports = {{ apps: [{}] }};\n", apps.join(",\n")),
    )
    .expect("ecosystem file");
    let cmd = || {
        let mut c = Command::new(pm2);
        c.env("PM2_HOME", dir.path().join("pm2"));
        c
    };
    let started = cmd().arg("start").arg(&eco).output().expect("pm2 start");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    wait_until("every pm2 app online", || {
        let out = cmd().arg("jlist").output().expect("pm2 jlist");
        String::from_utf8_lossy(&out.stdout)
            .matches("\"status\":\"online\"")
            .count()
            == n
    });
    let ls = trips(|| {
        let mut c = cmd();
        c.arg("ls");
        c
    });
    let pid: u32 = std::fs::read_to_string(dir.path().join("pm2").join("pm2.pid"))
        .expect("pm2.pid")
        .trim()
        .parse()
        .expect("pid");
    report("pm2 ls", ls, rss_mib(pid));
    let _ = cmd().arg("kill").output();
}
