//! Containment of the processes a child starts beyond its process group: a daemon that
//! double-forks and calls `setsid` escapes the group, and is stopped with its child (and
//! reaped) only when the child is contained.
//!
//! The cgroup tests need a `cgroup2` mount the test may create groups in. When none is
//! mounted and the test runs as root, [`cgroup2_mounted`] mounts one at
//! [`TEST_CGROUP2_MOUNT`] and leaves it mounted (tests of other processes may be using it at
//! the same time; it holds no controller and costs nothing). Without one they fail, loudly:
//! they ask for `Containment::Cgroup`, which fails the start rather than falling back.
// Real processes, checked through /proc; subreaper and cgroups: Linux only.
#![cfg(all(feature = "process", target_os = "linux"))]

mod process_common;

use std::time::Duration;

use overseer::process::{Command, Containment};
use overseer::{ProcessManager, TreeError};
use process_common::{Scratch, assert_clean, assert_dead, is_alive};

/// Where the tests mount a `cgroup2` hierarchy when the machine has none mounted.
const TEST_CGROUP2_MOUNT: &str = "/run/overseer-test-cgroup2";

/// Makes sure a `cgroup2` hierarchy is mounted (see the module docs).
fn cgroup2_mounted() {
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|line| {
                line.split_once(" - ")
                    .is_some_and(|(_, t)| t.starts_with("cgroup2 "))
            })
    };
    if mounted() {
        return;
    }
    std::fs::create_dir_all(TEST_CGROUP2_MOUNT).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "cgroup2", "none", TEST_CGROUP2_MOUNT])
        .status()
        .expect("mount");
    assert!(
        status.success() || mounted(),
        "no cgroup2 mount and mounting one at {TEST_CGROUP2_MOUNT} failed ({status}): \
         the cgroup tests need root or a writable cgroup2 mount"
    );
}

/// A child that starts a daemon the classic way (a subshell forks it and exits, the daemon
/// calls `setsid`), writes the daemon's pid into `daemon` (through the daemon itself) and its
/// own into `pid`, then waits.
fn daemonizing(s: &Scratch) -> Command {
    Command::shell(format!(
        "( setsid sh -c 'echo $$ > {daemon}.tmp; mv {daemon}.tmp {daemon}; exec sleep 1000' & ); \
         echo $$ > {pid}; exec sleep 1000",
        daemon = s.path("daemon"),
        pid = s.path("pid"),
    ))
    .stop_timeout(Duration::from_secs(5))
}

/// Runs a tree with the single child `cmd` until the daemon's pid is known, checks that the
/// daemon is in a cgroup of the run or not, as `in_a_cgroup` says, stops the tree, and returns
/// the result and the pids of the child and the daemon.
async fn run_then_stop(
    s: &Scratch,
    cmd: Command,
    in_a_cgroup: bool,
) -> (Result<(), TreeError>, i32, i32) {
    run_then_stop_after(s, cmd, in_a_cgroup, async || {}).await
}

/// [`run_then_stop`], awaiting `before_stop` once the daemon is known and before the stop.
async fn run_then_stop_after(
    s: &Scratch,
    cmd: Command,
    in_a_cgroup: bool,
    before_stop: impl AsyncFnOnce(),
) -> (Result<(), TreeError>, i32, i32) {
    let tree = ProcessManager::builder("root")
        .child(cmd.into_spec("p"))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let (pid, daemon) = (s.pid("pid").await, s.pid("daemon").await);
    let cgroup = std::fs::read_to_string(format!("/proc/{daemon}/cgroup")).unwrap_or_default();
    let in_a_run_cgroup = cgroup
        .lines()
        .any(|l| l.starts_with("0::") && l.contains("/overseer-"));
    assert_eq!(
        in_a_run_cgroup, in_a_cgroup,
        "the daemon's cgroup: {cgroup}"
    );
    before_stop().await;
    handle.shutdown().unwrap();
    (run.await.unwrap(), pid, daemon)
}

/// `/proc/<pid>/stat`'s state and parent, `None` once the pid is gone (reaped).
fn state_and_parent(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 2..].split(' ');
    Some((fields.next()?.chars().next()?, fields.next()?.parse().ok()?))
}

/// Asserts that `daemon`, right when the stop returned, is gone: not running and not a
/// zombie (of the supervisor, or of anyone).
fn assert_gone(daemon: i32) {
    assert_eq!(
        state_and_parent(daemon),
        None,
        "the daemon {daemon} is still there (state, parent) when the stop returned"
    );
}

#[tokio::test]
async fn a_daemon_that_double_forks_and_calls_setsid_escapes_a_child_without_containment() {
    let s = Scratch::new();
    let (result, pid, daemon) = run_then_stop(&s, daemonizing(&s), false).await;
    result.unwrap();
    assert_clean(&[pid]).await;
    // The documented limit of a process group: the daemon is in a session of its own.
    assert!(
        is_alive(daemon),
        "the daemon was stopped without containment"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(daemon).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    // If another test of this process made it a subreaper, the daemon is its child: reap it.
    if matches!(state_and_parent(daemon), Some((_, ppid)) if ppid == std::process::id() as i32) {
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(daemon),
            rustix::process::WaitOptions::empty(),
        );
    }
    assert_dead(daemon).await;
}

#[tokio::test]
async fn a_daemon_that_escaped_is_stopped_with_its_child_in_a_cgroup_and_no_zombie_is_left() {
    cgroup2_mounted();
    assert!(Containment::cgroup_available(), "no cgroup v2 to test with");
    let s = Scratch::new();
    let cmd = daemonizing(&s).contain(Containment::Cgroup);
    let (result, pid, daemon) = run_then_stop(&s, cmd, true).await;
    result.unwrap();
    assert_gone(daemon);
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_daemon_that_escaped_is_stopped_with_its_child_by_the_subreaper_and_no_zombie_is_left() {
    let s = Scratch::new();
    let cmd = daemonizing(&s).contain(Containment::Subreaper);
    let (result, pid, daemon) = run_then_stop(&s, cmd, false).await;
    result.unwrap();
    assert_gone(daemon);
    assert_clean(&[pid]).await;
}

/// Waits up to 10 s for `pid` to be a zombie.
async fn a_zombie(pid: i32) {
    for _ in 0..1000 {
        if matches!(state_and_parent(pid), Some(('Z', _))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{pid} never became a zombie: {:?}", state_and_parent(pid));
}

#[tokio::test]
async fn a_process_of_an_escaped_daemons_session_that_ended_unseen_is_reaped_by_the_subreaper() {
    // The daemon starts a process that ends at once and never reaps it: when the daemon is
    // stopped, its zombie is reparented to the supervisor without ever having been seen
    // alive (its environment can no longer be read), so only its session says whose it is.
    let s = Scratch::new();
    let script = s.path("daemon.py");
    std::fs::write(
        &script,
        "import os, sys, time\n\
         zombie = os.fork() or os._exit(0)\n\
         open(sys.argv[1], 'w').write(f'{zombie}\\n')\n\
         open(sys.argv[2] + '.tmp', 'w').write(f'{os.getpid()}\\n')\n\
         os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n\
         time.sleep(1000)\n",
    )
    .unwrap();
    let cmd = Command::shell(format!(
        "( setsid python3 {script} {zombie} {daemon} & ); echo $$ > {pid}; exec sleep 1000",
        zombie = s.path("zombie"),
        daemon = s.path("daemon"),
        pid = s.path("pid"),
    ))
    .stop_timeout(Duration::from_secs(5))
    .contain(Containment::Subreaper);
    // The daemon writes the zombie's pid before its own.
    let (result, pid, daemon) = run_then_stop_after(&s, cmd, false, async || {
        a_zombie(s.pid("zombie").await).await;
    })
    .await;
    result.unwrap();
    let zombie = s.pid("zombie").await;
    assert_gone(daemon);
    assert_eq!(
        state_and_parent(zombie),
        None,
        "the daemon's unreaped child {zombie} is still there (state, parent) when the stop returned"
    );
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_daemon_that_ignores_the_stop_signal_is_killed_with_its_cgroup_at_the_stop_timeout() {
    cgroup2_mounted();
    let s = Scratch::new();
    let cmd = Command::shell(format!(
        "( setsid sh -c 'trap \"\" TERM; echo $$ > {daemon}.tmp; mv {daemon}.tmp {daemon}; \
         while :; do sleep 0.05; done' & ); echo $$ > {pid}; exec sleep 1000",
        daemon = s.path("daemon"),
        pid = s.path("pid"),
    ))
    .stop_timeout(Duration::from_millis(200))
    .contain(Containment::Cgroup);
    let (result, pid, daemon) = run_then_stop(&s, cmd, true).await;
    result.unwrap();
    assert_gone(daemon);
    assert_clean(&[pid]).await;
}

#[tokio::test]
async fn a_daemon_escaped_from_a_child_whose_leader_exits_on_its_own_is_stopped_when_the_run_ends()
{
    cgroup2_mounted();
    let s = Scratch::new();
    let cmd = Command::shell(format!(
        "( setsid sh -c 'echo $$ > {daemon}.tmp; mv {daemon}.tmp {daemon}; exec sleep 1000' & ); \
         while [ ! -s {daemon} ]; do sleep 0.01; done",
        daemon = s.path("daemon"),
    ))
    .contain(Containment::Descendants);
    process_common::run_once(cmd).await.unwrap();
    let daemon = s.pid("daemon").await;
    assert_gone(daemon);
}

#[tokio::test]
async fn containment_never_reaps_or_kills_a_process_the_application_spawned_itself() {
    use std::os::unix::process::CommandExt;
    // A child of the application in a session of its own, like an escaped daemon.
    let mut own = std::process::Command::new("sleep");
    own.arg("1000");
    // SAFETY: `setsid` is async-signal-safe and touches no memory.
    unsafe {
        own.pre_exec(|| {
            rustix::process::setsid()?;
            Ok(())
        });
    }
    let mut own = own.spawn().unwrap();
    let s = Scratch::new();
    cgroup2_mounted();
    for (containment, in_a_cgroup) in [(Containment::Subreaper, false), (Containment::Cgroup, true)]
    {
        let cmd = daemonizing(&s).contain(containment);
        let (result, pid, daemon) = run_then_stop(&s, cmd, in_a_cgroup).await;
        result.unwrap();
        assert_gone(daemon);
        assert_clean(&[pid]).await;
        std::fs::remove_file(s.path("daemon")).unwrap();
        std::fs::remove_file(s.path("pid")).unwrap();
    }
    assert_eq!(
        own.try_wait().unwrap(),
        None,
        "the application's child was stopped"
    );
    own.kill().unwrap();
    // Still ours to reap: nobody took its exit status.
    assert!(own.wait().is_ok());
}
