//! Running the real `overseer` binary in a scratch directory of its own: its state (logs)
//! and runtime (socket) directories inside it, so that tests run side by side.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory for one test.
pub struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `overseer ARGS` run in the directory, its state and runtime directories inside it.
    pub fn overseer(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_overseer"));
        cmd.args(args)
            .current_dir(self.path())
            .env("OVERSEER_STATE_DIR", self.join("state"))
            .env("OVERSEER_RUNTIME_DIR", self.join("run"))
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }
}

/// What a finished run printed, and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `cmd` to its end, failing the test if it takes longer than `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn overseer");
    wait(child, limit)
}

/// Waits for `child` (spawned with piped stdout and stderr) to end within `limit`; kills it
/// and fails the test otherwise.
pub fn wait(child: Child, limit: Duration) -> Ran {
    let output = wait_output(child, limit)
        .unwrap_or_else(|| panic!("overseer did not end within {limit:?}"));
    Ran {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits for `child` to end within `limit`, its pipes read on threads so that a full pipe
/// cannot block it; `None` (and the child killed) when it does not.
pub fn wait_output(mut child: Child, limit: Duration) -> Option<Output> {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Some(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Waits until `path` exists and holds a complete first line; returns it.
pub fn line_of(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some((line, _)) = text.split_once('\n')
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{} never got a line",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` is alive (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// A running `overseer` whose output is read line by line as it comes.
pub struct Live {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Live {
    /// Spawns `cmd` with its output piped.
    pub fn spawn(cmd: &mut Command) -> Live {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn overseer");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Live {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits for a line of standard output that contains `text` (it may have been printed
    /// already); fails the test after `limit`.
    pub fn expect_line(&mut self, text: &str, limit: Duration) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} within {limit:?}; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Sends `signal` to the `overseer` process.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, signal).expect("kill");
    }

    /// Waits for it to end within `limit` (killed and failing the test otherwise).
    pub fn finish(mut self, limit: Duration) -> Ran {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "overseer did not end within {limit:?}; saw {:#?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader ends with the pipe.
        self.seen.extend(self.lines.iter());
        Ran {
            status,
            stdout: self.seen.iter().map(|l| format!("{l}\n")).collect(),
            stderr: self.stderr.join().expect("stderr reader"),
        }
    }
}
