//! The spawn paths with real processes: which one is taken here, and that both give the
//! child the same things (the checks run once on the fast path and once with the fallback
//! forced). The public behaviour on the default path is in `tests/process_spawn.rs`.

use std::time::Duration;

use super::{Path, Prepared, path_for};
use crate::process::group::Group;
use crate::process::output::OutputConfig;
use crate::process::{Command, Containment, Output, ProcessError};
use crate::{AutoShutdown, Cause, ProcessManager, Restart, TreeError};

/// Both paths, by name: `false` the default (the fast path here), `true` the fallback forced.
const PATHS: [(bool, &str); 2] = [(false, "fast path"), (true, "fallback")];

fn on(mut cmd: Command, fallback: bool) -> Command {
    cmd.force_fallback = fallback;
    cmd
}

/// Runs `cmd` as the only, significant and temporary child of a tree: the tree ends when it
/// does, with its failure if it failed.
async fn run_once(cmd: Command) -> Result<(), TreeError> {
    ProcessManager::builder("root")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            cmd.into_spec("p")
                .restart(Restart::Temporary)
                .significant(true),
        )
        .build()
        .unwrap()
        .run()
        .await
}

/// The process error behind a tree's first failure (inside `Cause::FailedToStart` for a
/// process that failed before it was spawned, or at its spawn).
fn process_error(err: &TreeError) -> &ProcessError {
    let cause = match err.cause() {
        Cause::FailedToStart { cause } => &**cause,
        cause => cause,
    };
    match cause {
        Cause::Error(e) => e
            .downcast_ref::<ProcessError>()
            .unwrap_or_else(|| panic!("not a ProcessError: {e}")),
        other => panic!("not an error cause: {other}"),
    }
}

/// Our children that are zombies, waited for up to 5 s to be reaped.
async fn zombies_left() -> Vec<i32> {
    let me = std::process::id();
    let find = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return false;
                };
                let mut fields = stat[stat.rfind(')').unwrap() + 2..].split(' ');
                fields.next() == Some("Z") && fields.next() == Some(&me.to_string())
            })
            .collect::<Vec<_>>()
    };
    for _ in 0..500 {
        if find().is_empty() {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    find()
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn the_fast_path_is_the_one_taken_on_this_machine_and_the_fallback_can_be_forced() {
    // This machine runs Linux 5.4 or later (pidfds, waitid(P_PIDFD)) without a filter on
    // clone: the fast path must be taken.
    assert_eq!(path_for(&Prepared::new("true".into())), Path::Clone);
    let mut forced = Prepared::new("true".into());
    forced.force_fallback = true;
    assert_eq!(path_for(&forced), Path::Std);

    for (fallback, name) in PATHS {
        for cmd in [
            Command::new("true"),
            Command::new("true").no_parent_death_signal(),
        ] {
            let mut group = Group::spawn(on(cmd, fallback).prepare().unwrap())
                .await
                .unwrap();
            assert_eq!(group.spawned_by_clone(), !fallback, "{name}");
            let status = group.wait().await.unwrap();
            assert!(status.success(), "{name}: {status}");
            group
                .settle(None, tokio::time::Instant::now() + Duration::from_secs(5))
                .await;
        }
    }
}

#[tokio::test]
async fn a_missing_program_fails_the_start_with_enoent_and_leaves_no_zombie_on_both_paths() {
    for (fallback, name) in PATHS {
        for program in [
            "overseer-test-no-such-program",
            "/nonexistent/overseer-test",
        ] {
            let err = run_once(on(Command::new(program), fallback))
                .await
                .unwrap_err();
            assert!(
                matches!(err.cause(), Cause::FailedToStart { .. }),
                "{name}: {err}"
            );
            match process_error(&err) {
                ProcessError::Spawn { source, .. } => {
                    assert_eq!(
                        source.raw_os_error(),
                        Some(libc::ENOENT),
                        "{name}: {source}"
                    );
                }
                other => panic!("{name}: expected a spawn error, got {other}"),
            }
        }
    }
    assert_eq!(zombies_left().await, Vec::<i32>::new());
}

#[tokio::test]
async fn a_program_is_found_through_the_path_the_child_gets_on_both_paths() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("overseer-spawn-path-probe");
    std::fs::write(&probe, "#!/bin/sh\necho \"$1\" > \"$2\"\n").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (fallback, name) in PATHS {
        let out = dir.path().join(format!("out-{fallback}"));
        // Only the child's own PATH has the directory.
        let path = format!("/usr/bin:{}:/bin", dir.path().display());
        let cmd = Command::new("overseer-spawn-path-probe")
            .arg("found")
            .arg(&out)
            .env("PATH", path);
        run_once(on(cmd, fallback))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(read(&out), "found\n", "{name}");
        // Without a PATH at all, `/bin:/usr/bin`, as execvp.
        let out = dir.path().join(format!("no-path-{fallback}"));
        let cmd = Command::new("sh")
            .arg("-c")
            .arg(format!("echo \"${{PATH-unset}}\" > {}", out.display()))
            .env_clear();
        run_once(on(cmd, fallback))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // (sh sets a PATH of its own when it has none: only that it ran matters.)
        assert!(out.exists(), "{name}");
    }
}

#[tokio::test]
async fn the_environment_working_directory_and_stdio_reach_the_child_on_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(&env_file, "FROM_FILE=file\nOVERRIDDEN=file\n").unwrap();
    for (fallback, name) in PATHS {
        let sink = OutputConfig::new().tail(16).build().unwrap();
        let script = "echo \"cwd=$(pwd)\"; \
             echo \"env=$FROM_FILE $OVERRIDDEN $ADDED ${HOME-unset} ${REMOVED-removed}\"; \
             if read line; then echo \"stdin=$line\"; else echo stdin=eof; fi; \
             echo err >&2";
        let cmd = Command::shell(script)
            .env_clear()
            .env_file(&env_file)
            .env("OVERRIDDEN", "explicit")
            .env("ADDED", "a b")
            .env("REMOVED", "x")
            .env_remove("REMOVED")
            .current_dir(dir.path())
            .capture(sink.clone())
            .stderr(Output::Null);
        run_once(on(cmd, fallback))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines: Vec<String> = sink.tail().iter().map(|l| l.text().into_owned()).collect();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            lines,
            [
                format!("cwd={}", cwd.display()),
                "env=file explicit a b unset removed".to_owned(),
                "stdin=eof".to_owned(),
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn sigpipe_is_at_its_default_in_the_child_on_both_paths() {
    // Rust ignores SIGPIPE in this process.
    // SAFETY: queries the disposition into a zeroed `sigaction` on this stack.
    let ignored = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old);
        old.sa_sigaction == libc::SIG_IGN
    };
    assert!(ignored, "the premise: SIGPIPE is ignored in the supervisor");
    for (fallback, name) in PATHS {
        // The leader dies of the signal it sends itself only if SIGPIPE is at its default.
        let err = run_once(on(Command::shell("kill -PIPE $$; sleep 5"), fallback))
            .await
            .unwrap_err();
        assert_eq!(
            process_error(&err).signal(),
            Some(libc::SIGPIPE),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn a_signal_the_supervisor_ignores_is_at_its_default_in_the_child_on_both_paths() {
    // SIGALRM: ignored in this test binary from here on; nothing else here uses it.
    // SAFETY: sets SIGALRM's disposition to SIG_IGN with a zeroed `sigaction` on this stack.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        assert_eq!(
            libc::sigaction(libc::SIGALRM, &ignore, std::ptr::null_mut()),
            0
        );
    }
    for (fallback, name) in PATHS {
        // The leader dies of the signal it sends itself only if SIGALRM is at its default.
        let err = run_once(on(Command::shell("kill -ALRM $$; sleep 5"), fallback))
            .await
            .unwrap_err();
        assert_eq!(
            process_error(&err).signal(),
            Some(libc::SIGALRM),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn a_signal_handler_of_the_supervisor_is_not_inherited_on_both_paths() {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Stays installed in this test binary; nothing else here uses SIGUSR2.
    signal_hook::flag::register(libc::SIGUSR2, flag).unwrap();
    for (fallback, name) in PATHS {
        let err = run_once(on(Command::shell("kill -USR2 $$; sleep 5"), fallback))
            .await
            .unwrap_err();
        assert_eq!(
            process_error(&err).signal(),
            Some(libc::SIGUSR2),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_signal_blocked_in_the_spawning_thread_is_unblocked_on_the_fast_path_and_kept_on_the_fallback()
{
    // A thread of its own with SIGUSR1 blocked, which spawns (no parent-death signal: from
    // the calling thread).
    std::thread::spawn(move || {
        // SAFETY: blocks SIGUSR1 in this thread only, with a set built on this stack.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for (fallback, name) in PATHS {
                // No shell between: a shell may change its mask.
                let sink = OutputConfig::new().tail(4).build().unwrap();
                let cmd = Command::new("grep")
                    .args(["SigBlk", "/proc/self/status"])
                    .capture(sink.clone())
                    .no_parent_death_signal();
                run_once(on(cmd, fallback))
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let line = sink
                    .tail()
                    .first()
                    .map(|l| l.text().into_owned())
                    .unwrap_or_default();
                let mask =
                    u64::from_str_radix(line.trim().trim_start_matches("SigBlk:").trim(), 16)
                        .unwrap();
                let usr1 = 1u64 << (libc::SIGUSR1 - 1);
                if fallback {
                    assert_eq!(mask & usr1, usr1, "{name}: std keeps the thread's mask");
                } else {
                    assert_eq!(mask, 0, "{name}: {line}");
                }
            }
        });
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn a_contained_run_is_in_its_own_cgroup_on_both_paths() {
    // As the containment tests: this machine has a cgroup v2 the supervisor may use.
    assert!(Containment::cgroup_available(), "no cgroup v2 to test with");
    let dir = tempfile::tempdir().unwrap();
    for (fallback, name) in PATHS {
        let out = dir.path().join(format!("cgroup-{fallback}"));
        let cmd = Command::shell(format!("cat /proc/self/cgroup > {}", out.display()))
            .contain(Containment::Cgroup);
        run_once(on(cmd, fallback))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let cgroup = read(&out);
        let own = format!("/overseer-{}-", std::process::id());
        assert!(cgroup.contains(&own), "{name}: {cgroup}");
    }
}

#[tokio::test]
async fn an_abandoned_run_leaves_no_zombie_on_both_paths() {
    for (fallback, name) in PATHS {
        let group = Group::spawn(
            on(Command::new("sleep").arg("30"), fallback)
                .prepare()
                .unwrap(),
        )
        .await
        .unwrap();
        let pid = group.pid();
        // Dropped before it is settled: the group is SIGKILLed, the leader reaped later (by
        // the spawner thread, or Tokio's orphan reaper).
        drop(group);
        let mut gone = false;
        for _ in 0..500 {
            // Asleep within the runtime, whose driver runs Tokio's orphan reaper.
            tokio::time::sleep(Duration::from_millis(10)).await;
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                gone = true;
                break;
            }
        }
        assert!(gone, "{name}: the abandoned leader {pid} is still there");
    }
}

#[tokio::test]
async fn a_file_without_a_shebang_that_is_no_binary_fails_with_enoexec_on_the_fast_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no-shebang");
    std::fs::write(&file, "touch ran\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    // As `posix_spawn` (and std without `pre_exec`): not run through /bin/sh.
    let err = run_once(Command::new(&file).current_dir(dir.path()))
        .await
        .unwrap_err();
    match process_error(&err) {
        ProcessError::Spawn { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOEXEC), "{source}");
        }
        other => panic!("expected a spawn error, got {other}"),
    }
    assert!(!dir.path().join("ran").exists());
}

/// Whether `pid` runs (exists and is no zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with(|c| c != 'Z'))
        })
        .unwrap_or(false)
}

/// The pid written into `file`, waited for up to 10 s.
async fn pid_in(file: &std::path::Path) -> i32 {
    for _ in 0..1000 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pid in {}", file.display());
}

/// Waits up to 10 s for `pid` to be reaped (gone from `/proc`); `false` if it is still there.
async fn reaped(pid: i32) -> bool {
    for _ in 0..1000 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        // Asleep within the runtime, whose driver runs Tokio's orphan reaper.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits up to 10 s for `pid` to be gone (or a zombie); `false` if it still runs.
async fn ends(pid: i32) -> bool {
    for _ in 0..1000 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_spawned_child_that_never_reaches_its_run_takes_its_whole_group_with_it_on_both_paths() {
    for (fallback, name) in PATHS {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("member");
        let prepared = on(
            Command::shell(format!("sleep 30 & echo $! > {}; wait", file.display())),
            fallback,
        )
        .prepare()
        .unwrap();
        let path = path_for(&prepared);
        let spawned = super::spawn_here(prepared, path).unwrap();
        let leader = match &spawned {
            super::Spawned::Std(child) => i32::try_from(child.id().unwrap()).unwrap(),
            super::Spawned::Cloned(cloned) => cloned.pid.as_raw_nonzero().get(),
        };
        let answer = super::Answer::new(spawned, tokio::runtime::Handle::current());
        let member = pid_in(&file).await;
        assert!(alive(member), "{name}");
        // Dropped on its way, as the answer of a run that was dropped meanwhile is.
        drop(answer);
        assert!(ends(member).await, "{name}: the member outlived the leader");
        // (Other tests of this process may leave zombies meanwhile: only ours are looked at.)
        assert!(
            reaped(leader).await,
            "{name}: the leader {leader} is not reaped"
        );
    }
}

#[tokio::test]
async fn a_spawn_whose_caller_stops_waiting_leaves_no_process_behind_on_both_paths() {
    use std::future::Future;
    for (fallback, name) in PATHS {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let leader = dir.path().join("leader");
            let member = dir.path().join("member");
            let prepared = on(
                Command::shell(format!(
                    "echo $$ > {}; sleep 30 & echo $! > {}; wait",
                    leader.display(),
                    member.display()
                )),
                fallback,
            )
            .prepare()
            .unwrap();
            assert!(
                prepared.death_signal.is_some(),
                "through the spawner thread"
            );
            // Polled once (the job is handed to the spawner thread), then dropped: the
            // answer is refused, or sent and never taken.
            let mut spawn = Box::pin(super::spawn(prepared));
            let waker = futures_util::task::noop_waker();
            let poll = spawn
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker));
            drop(spawn);
            if let std::task::Poll::Ready(Ok(spawned)) = poll {
                // Done already (this thread was slow): dropped on its way all the same.
                drop(super::Answer::new(
                    spawned,
                    tokio::runtime::Handle::current(),
                ));
            }
            // Jobs run in order: once this one has, the spawn is over and its answer dropped.
            crate::process::spawner::run(|| ()).await.unwrap();
            // Whatever the shell got to start before it was killed is gone.
            let pid = |file: &std::path::Path| -> Option<i32> {
                std::fs::read_to_string(file).ok()?.trim().parse().ok()
            };
            if let Some(member) = pid(&member) {
                assert!(ends(member).await, "{name}: the member {member} still runs");
            }
            // (Other tests of this process may leave zombies meanwhile: only ours are looked
            // at.)
            if let Some(leader) = pid(&leader) {
                assert!(
                    reaped(leader).await,
                    "{name}: the leader {leader} is not reaped"
                );
            }
        }
    }
}
