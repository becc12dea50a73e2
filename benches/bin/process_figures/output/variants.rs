//! The ways of getting the pipeline's 200 MB into files, each timed until all of it is
//! there:
//! - `shell`: `sh -c 'head -c 200000000 /dev/zero | tr "\0" x | fold -w 99 > FILE'`;
//! - `command`: the real path: a `ProcessManager` (2-worker runtime) with one
//!   `Command::shell(PIPELINE).capture(sink)` child (`Temporary`, significant, the manager
//!   auto-shuts down when it ends), timed from building the manager until `run()` returns,
//!   i.e. until the child's run has ended and all its output is in the files;
//! - `pump`: the bare pump: the same pipeline spawned by `tokio::process` in its own process
//!   group with stdout piped, the pipe read by `OutputSink::pump` in a task of the same
//!   runtime (no manager, no pipe enlargement);
//! - `rw_loop`: the same pipeline piped into this process and copied to a plain file by a
//!   blocking 64 KiB `read`/`write_all` loop on a std thread (no lines, no rotation, no
//!   runtime): the floor for a reader that is woken by every write of the pipeline, to tell
//!   what the pipe hop costs by itself on this machine from what the pump adds;
//! - `paced_loop`: the same copy, read as the capture reads a busy pipe: the pipe enlarged to
//!   1 MiB and non-blocking, drained until empty, then a sleep of 250 µs (`--nap-us N` for
//!   another length) instead of a read that blocks until the next write: the floor for a
//!   paced reader (the experiment that chose the capture's nap length).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer::process::Command;
use overseer::process::output::{OutputConfig, OutputSink, Stream};
use overseer::{AutoShutdown, ProcessManager, Restart};

use super::{PIPELINE, ROTATE_BYTES};

fn rotating_sink(dir: &Path) -> Arc<OutputSink> {
    OutputConfig::new()
        .log_file(dir.join("app.log"))
        .rotate(ROTATE_BYTES, 10)
        .build()
        .expect("open log")
}

pub fn shell(dir: &Path) -> Duration {
    let out = dir.join("shell.out");
    let t0 = Instant::now();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{PIPELINE} > '{}'", out.display()))
        .status()
        .expect("spawn sh");
    let took = t0.elapsed();
    assert!(status.success(), "shell redirect failed");
    took
}

/// The real path: a manager with one `Command::shell(PIPELINE).capture(sink)` child that runs
/// once; `run()` returns after the child's run has ended, its pipes drained and the log file
/// flushed.
pub async fn command(dir: &Path) -> Duration {
    let sink = rotating_sink(dir);
    let t0 = Instant::now();
    let child = Command::shell(PIPELINE)
        .capture(sink)
        .into_spec("output")
        .restart(Restart::Temporary)
        .significant(true);
    let tree = ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(child)
        .build()
        .expect("valid tree");
    tokio::spawn(async move { tree.run().await })
        .await
        .expect("run task")
        .expect("the pipeline succeeds");
    t0.elapsed()
}

pub async fn pump(dir: &Path) -> Duration {
    let sink = rotating_sink(dir);
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", PIPELINE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().expect("piped stdout");
    let pumping = tokio::spawn(async move { sink.pump(stdout, Stream::Stdout).await });
    let status = child.wait().await.expect("wait");
    pumping.await.expect("pump task").expect("pump");
    let took = t0.elapsed();
    assert!(status.success(), "pipeline failed");
    took
}

/// Runs the pipeline with its stdout piped into this process, and `copy` on a std thread to
/// copy the pipe into a plain file in `dir`; the time until both are done.
fn copy_loop<F>(dir: &Path, copy: F) -> Duration
where
    F: FnOnce(std::process::ChildStdout, std::fs::File) + Send + 'static,
{
    let t0 = Instant::now();
    let mut child = std::process::Command::new("sh")
        .args(["-c", PIPELINE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().expect("piped stdout");
    let file = std::fs::File::create(dir.join("copy.out")).expect("create");
    std::thread::spawn(move || copy(stdout, file))
        .join()
        .expect("copier thread");
    let status = child.wait().expect("wait");
    let took = t0.elapsed();
    assert!(status.success(), "pipeline failed");
    took
}

/// A blocking 64 KiB `read`/`write_all` loop: woken by every write of the pipeline.
pub fn rw_loop(dir: &Path) -> Duration {
    use std::io::{Read, Write};
    copy_loop(dir, |mut stdout, mut file| {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).expect("write");
        }
    })
}

/// The same copy as [`rw_loop`], read as the capture reads a busy pipe: the pipe enlarged to
/// 1 MiB and non-blocking, drained with 64 KiB reads until it is empty, then a sleep of `nap`
/// (a thread sleep, as exact as a `timerfd`), instead of a read that blocks until the next
/// write. The floor for a paced reader, and the experiment that chose the capture's nap.
pub fn paced_loop(dir: &Path, nap: Duration) -> Duration {
    use std::io::Write;
    copy_loop(dir, move |stdout, mut file| {
        // Refused by a lowered pipe-max-size: then the default size, paced all the same.
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1024 * 1024);
        rustix::io::ioctl_fionbio(&stdout, true).expect("non-blocking pipe");
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rustix::io::read(&stdout, &mut buf) {
                Ok(0) => break,
                Ok(n) => file.write_all(&buf[..n]).expect("write"),
                Err(rustix::io::Errno::AGAIN) => std::thread::sleep(nap),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    })
}
