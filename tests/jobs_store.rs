//! Detached jobs with real processes: start, statuses, identity, query, follow, cancel,
//! remove, bad input, concurrency. Every job a test starts has ended when it returns.
#![cfg(all(feature = "jobs", target_os = "linux"))]

mod jobs_common;

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::time::Duration;

use jobs_common::*;
use overseer::jobs::{Filter, FollowOptions, JobError, JobSpec, Status, Store};
use overseer::process::output::Stream;

const CANCEL: Duration = Duration::from_secs(5);

/// Not a test: the starter process of the tests below (does nothing unless its env is set).
/// Starts a job, prints its id, then blocks until it is killed.
#[test]
fn helper_starter_process() {
    let Ok(dir) = std::env::var("JOBS_TEST_STARTER_DIR") else {
        return;
    };
    let script = std::env::var("JOBS_TEST_STARTER_SCRIPT").unwrap();
    let store = Store::open(dir).unwrap();
    let job = store.start(JobSpec::shell(script)).unwrap();
    println!("JOB_ID={}", job.id);
    std::io::stdout().flush().unwrap();
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

#[test]
fn a_job_keeps_running_after_its_starter_is_sigkilled_and_a_fresh_store_finds_it_running() {
    let (tmp, store) = store();
    let dir = store.dir().to_str().unwrap().to_owned();
    let (mut starter, id) = spawn_helper(
        "helper_starter_process",
        &[
            ("JOBS_TEST_STARTER_DIR", &dir),
            ("JOBS_TEST_STARTER_SCRIPT", "exec sleep 1000"),
        ],
    );
    let starter_pid = starter.id();
    starter.kill().unwrap();
    starter.wait().unwrap();
    assert!(gone(starter_pid));

    let fresh = Store::open(&dir).unwrap();
    let job = fresh.get(&id).unwrap();
    assert_eq!(job.status, Status::Running);
    let pid = job.pid.unwrap();
    assert!(!gone(pid));
    // A new session, and its own group in it.
    let (pgid, sid) = pgid_sid(pid);
    assert_eq!(pgid, pid);
    assert_ne!(sid, pgid_sid(std::process::id()).1);
    let shim = ppid(pid);
    assert_ne!(shim, starter_pid);
    // Its directory holds the state and the logs; the state records what was started.
    let job_dir = fresh.job_dir(&id).unwrap();
    for file in ["state.json", "stdout.log", "stderr.log"] {
        assert!(job_dir.join(file).exists(), "{file}");
    }
    assert_eq!(job.command, ["/bin/sh", "-c", "exec sleep 1000"]);
    assert!(job.started_at_ms.is_some());
    assert_eq!(job.cwd, std::env::current_dir().unwrap());

    let cancelled = fresh.cancel(&id, CANCEL).unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(cancelled.exit.unwrap().signal, Some(15));
    assert!(gone(pid) && gone(shim));
    drop(tmp);
}

#[test]
fn the_real_exit_code_is_recorded_by_the_shim_when_no_starter_is_alive() {
    let (tmp, store) = store();
    let gate = fifo(tmp.path(), "gate");
    let dir = store.dir().to_str().unwrap().to_owned();
    let script = format!("read x < {}; exit 3", gate.display());
    let (mut starter, id) = spawn_helper(
        "helper_starter_process",
        &[
            ("JOBS_TEST_STARTER_DIR", &dir),
            ("JOBS_TEST_STARTER_SCRIPT", &script),
        ],
    );
    starter.kill().unwrap();
    starter.wait().unwrap();
    release(&gate);
    let job = Store::open(&dir).unwrap().wait(&id, None).unwrap();
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.exit.unwrap().code, Some(3));
    assert!(gone(job.pid.unwrap()));
}

#[test]
fn a_job_that_exits_0_is_completed_and_one_that_exits_3_is_failed_with_code_3() {
    let (_tmp, store) = store();
    let ok = store.start(JobSpec::new("true")).unwrap();
    let bad = store.start(JobSpec::shell("exit 3")).unwrap();
    let ok = store.wait(&ok.id, None).unwrap();
    let bad = store.wait(&bad.id, None).unwrap();
    assert_eq!(
        (ok.status, ok.exit.unwrap().code),
        (Status::Completed, Some(0))
    );
    assert_eq!(
        (bad.status, bad.exit.unwrap().code),
        (Status::Failed, Some(3))
    );
    // Saved: the state file itself now says so.
    let text = std::fs::read_to_string(store.job_dir(&bad.id).unwrap().join("state.json")).unwrap();
    assert!(text.contains("\"failed\""), "{text}");
}

#[test]
fn a_job_killed_by_a_signal_is_failed_with_that_signal() {
    let (_tmp, store) = store();
    let job = store.start(JobSpec::shell("kill -KILL $$")).unwrap();
    let job = store.wait(&job.id, None).unwrap();
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.exit.unwrap().signal, Some(9));
    assert_eq!(job.exit.unwrap().to_string(), "terminated by SIGKILL");
}

#[test]
fn a_program_that_cannot_be_executed_is_a_spawn_error_and_a_failed_job() {
    let (_tmp, store) = store();
    let err = store
        .start(JobSpec::new("/nonexistent/program"))
        .unwrap_err();
    let JobError::Spawn { id, source, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    let job = store.wait(&id, None).unwrap();
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.exit.unwrap().code, Some(127));
    assert!(job.error.unwrap().contains("cannot execute"));
}

#[test]
fn a_job_whose_shim_and_process_vanished_without_a_result_is_orphaned() {
    let (_tmp, store) = store();
    let job = store.start(JobSpec::new("sleep").arg("1000")).unwrap();
    let pid = job.pid.unwrap();
    let shim = ppid(pid);
    kill(shim, "KILL");
    // The shim is gone: the job still runs, unwatched.
    assert!(!gone(pid));
    assert_eq!(store.get(&job.id).unwrap().status, Status::Running);
    kill(pid, "KILL");
    let job = store.wait(&job.id, None).unwrap();
    assert_eq!(job.status, Status::Orphaned);
    assert!(job.exit.is_none());
    assert!(gone(pid));
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn cancel_never_signals_a_process_that_reused_the_jobs_pid_and_marks_the_job_orphaned() {
    let (_tmp, store) = store();
    let job = store.start(JobSpec::new("true")).unwrap();
    store.wait(&job.id, None).unwrap();
    // Another live process now has the recorded pid (as if the pid had been reused).
    let mut other = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let dir = store.job_dir(&job.id).unwrap();
    let path = dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let start = stat_fields(other.id()).unwrap()[19].parse::<u64>().unwrap();
    state["status"] = "running".into();
    state["pid"] = other.id().into();
    state["exit"] = serde_json::Value::Null;
    state["ended_at_ms"] = serde_json::Value::Null;
    // Same pid, another start time: the recorded process is not this one.
    for who in ["process", "shim"] {
        state[who] = serde_json::json!({"pid": other.id(), "start": start - 1});
    }
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    std::fs::remove_file(dir.join("result.json")).unwrap();

    let job = store.cancel(&job.id, CANCEL).unwrap();
    assert_eq!(job.status, Status::Orphaned);
    assert!(
        other.try_wait().unwrap().is_none(),
        "the other process was signalled"
    );
    assert!(!gone(other.id()));
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn get_and_list_filter_by_status_and_by_labels() {
    let (_tmp, store) = store();
    let a = store
        .start(JobSpec::new("true").label("kind", "x"))
        .unwrap();
    let b = store
        .start(JobSpec::new("sleep").arg("1000").label("kind", "y"))
        .unwrap();
    let c = store
        .start(JobSpec::shell("exit 1").label("kind", "x").label("n", "2"))
        .unwrap();
    store.wait(&a.id, None).unwrap();
    store.wait(&c.id, None).unwrap();
    let ids = |filter: Filter| -> Vec<String> {
        let listing = store.list(&filter).unwrap();
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        listing.jobs.into_iter().map(|j| j.id).collect()
    };
    assert_eq!(
        ids(Filter::new()),
        [a.id.clone(), b.id.clone(), c.id.clone()]
    );
    assert_eq!(
        ids(Filter::new().status(Status::Running)),
        vec![b.id.clone()]
    );
    assert_eq!(
        ids(Filter::new().label("kind", "x")),
        [a.id.clone(), c.id.clone()]
    );
    assert_eq!(
        ids(Filter::new().label("kind", "x").status(Status::Completed)),
        vec![a.id.clone()]
    );
    assert_eq!(
        ids(Filter::new().label("kind", "x").label("n", "2")),
        vec![c.id.clone()]
    );
    assert!(ids(Filter::new().label("kind", "z")).is_empty());
    assert_eq!(store.get(&b.id).unwrap().label("kind"), Some("y"));
    store.cancel(&b.id, CANCEL).unwrap();
}

#[test]
fn following_a_job_hands_over_each_line_as_written_and_ends_when_the_job_ends() {
    let (tmp, store) = store();
    let gate = fifo(tmp.path(), "gate");
    let job = store
        .start(JobSpec::shell(format!(
            "echo one; echo two >&2; read x < {}; echo three; printf four",
            gate.display()
        )))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let follower = std::thread::spawn({
        let store = store.clone();
        let id = job.id.clone();
        move || {
            store.follow(&id, &FollowOptions::new(), |line| {
                tx.send((line.stream, line.text().into_owned())).unwrap();
                ControlFlow::Continue(())
            })
        }
    });
    // The first lines arrive while the job still runs (it waits on the gate).
    let mut first = vec![rx.recv().unwrap(), rx.recv().unwrap()];
    first.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        first,
        [
            (Stream::Stdout, "one".to_owned()),
            (Stream::Stderr, "two".to_owned())
        ]
    );
    release(&gate);
    let job = follower.join().unwrap().unwrap();
    assert_eq!(job.status, Status::Completed);
    let rest: Vec<_> = rx.iter().collect();
    assert_eq!(
        rest,
        [
            (Stream::Stdout, "three".to_owned()),
            (Stream::Stdout, "four".to_owned())
        ]
    );
}

#[test]
fn a_finished_jobs_output_is_followed_from_another_store_after_the_fact() {
    let (_tmp, store) = store();
    let job = store
        .start(JobSpec::shell("for i in 1 2 3; do echo line $i; done"))
        .unwrap();
    store.wait(&job.id, None).unwrap();
    let other = Store::open(store.dir()).unwrap();
    let mut lines = Vec::new();
    other
        .follow(&job.id, &FollowOptions::new().stderr(false), |l| {
            lines.push(l.text().into_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);
}

#[test]
fn watch_calls_back_with_running_then_the_finished_status() {
    let (tmp, store) = store();
    let gate = fifo(tmp.path(), "gate");
    let job = store
        .start(JobSpec::shell(format!(
            "read x < {}; exit 0",
            gate.display()
        )))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let watcher = std::thread::spawn({
        let store = store.clone();
        let id = job.id.clone();
        move || {
            store.watch(&id, None, None, |job| {
                tx.send(job.status).unwrap();
                ControlFlow::Continue(())
            })
        }
    });
    assert_eq!(rx.recv().unwrap(), Status::Running);
    release(&gate);
    assert_eq!(watcher.join().unwrap().unwrap().status, Status::Completed);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [Status::Completed]);
}

#[test]
fn cancel_sends_term_to_the_whole_group_and_records_cancelled() {
    let (tmp, store) = store();
    let ready = fifo(tmp.path(), "ready");
    let job = store
        .start(JobSpec::shell(format!(
            "sleep 1000 & sleep 1000 & echo up > {}; wait",
            ready.display()
        )))
        .unwrap();
    assert_eq!(read_line(&ready), "up");
    let pid = job.pid.unwrap();
    assert_eq!(group_members(pid).len(), 3);
    let job = store.cancel(&job.id, CANCEL).unwrap();
    assert_eq!(job.status, Status::Cancelled);
    assert_eq!(job.exit.unwrap().signal, Some(15));
    assert!(group_members(pid).is_empty());
}

#[test]
fn cancel_sigkills_a_job_that_ignores_term_after_the_timeout() {
    let (tmp, store) = store();
    let gate = fifo(tmp.path(), "gate");
    let job = store
        .start(JobSpec::shell(format!(
            "trap '' TERM; echo trapped; read x < {}",
            gate.display()
        )))
        .unwrap();
    // Wait for the trap to be set: the line after it.
    store
        .follow(&job.id, &FollowOptions::new(), |l| {
            if l.text() == "trapped" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    let job = store.cancel(&job.id, Duration::from_millis(200)).unwrap();
    assert_eq!(job.status, Status::Cancelled);
    assert_eq!(job.exit.unwrap().signal, Some(9));
    assert!(gone(job.pid.unwrap()));
}

#[test]
fn cancelling_a_finished_job_is_an_already_finished_error() {
    let (_tmp, store) = store();
    let job = store.start(JobSpec::new("true")).unwrap();
    store.wait(&job.id, None).unwrap();
    let err = store.cancel(&job.id, CANCEL).unwrap_err();
    assert!(
        matches!(
            err,
            JobError::AlreadyFinished {
                status: Status::Completed,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn remove_is_refused_while_the_job_runs_and_deletes_a_finished_job() {
    let (_tmp, store) = store();
    let job = store.start(JobSpec::new("sleep").arg("1000")).unwrap();
    let err = store.remove(&job.id).unwrap_err();
    assert!(
        matches!(
            err,
            JobError::StillRunning {
                status: Status::Running,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("only a finished job can be removed")
    );
    store.cancel(&job.id, CANCEL).unwrap();
    store.remove(&job.id).unwrap();
    assert!(!store.job_dir(&job.id).unwrap().exists());
    assert!(matches!(store.get(&job.id), Err(JobError::NotFound { .. })));
}

#[test]
fn cleanup_removes_only_finished_jobs_older_than_the_age() {
    let (_tmp, store) = store();
    let done = store.start(JobSpec::new("true")).unwrap();
    let running = store.start(JobSpec::new("sleep").arg("1000")).unwrap();
    store.wait(&done.id, None).unwrap();
    assert!(store.cleanup(Duration::from_secs(3600)).unwrap().is_empty());
    assert_eq!(
        store.cleanup(Duration::ZERO).unwrap(),
        vec![done.id.clone()]
    );
    assert_eq!(store.get(&running.id).unwrap().status, Status::Running);
    store.cancel(&running.id, CANCEL).unwrap();
}

#[test]
fn a_corrupt_state_file_is_a_clear_error_for_that_job_and_the_others_still_list() {
    let (_tmp, store) = store();
    let good = store.start(JobSpec::new("true")).unwrap();
    let bad = store.start(JobSpec::new("true")).unwrap();
    store.wait(&good.id, None).unwrap();
    store.wait(&bad.id, None).unwrap();
    let path = store.job_dir(&bad.id).unwrap().join("state.json");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();

    let err = store.get(&bad.id).unwrap_err();
    assert!(
        matches!(err, JobError::CorruptState { ref id, .. } if *id == bad.id),
        "{err}"
    );
    assert!(err.to_string().contains("state.json"), "{err}");
    let listing = store.list(&Filter::new()).unwrap();
    assert_eq!(listing.jobs.len(), 1);
    assert_eq!(listing.jobs[0].id, good.id);
    assert_eq!(listing.errors.len(), 1);
    // A corrupt job can still be removed.
    store.remove(&bad.id).unwrap();
}

#[test]
fn a_missing_store_directory_is_created_with_mode_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b");
    let store = Store::open(&dir).unwrap();
    let mode = std::fs::metadata(store.dir()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn an_unknown_job_id_is_not_found_and_a_path_is_not_an_id() {
    let (_tmp, store) = store();
    assert!(matches!(
        store.get("0000000000-000000"),
        Err(JobError::NotFound { .. })
    ));
    assert!(matches!(store.get("../etc"), Err(JobError::InvalidId(_))));
    assert!(matches!(
        store.cancel("nope", CANCEL),
        Err(JobError::NotFound { .. })
    ));
    assert!(matches!(
        store.remove("nope"),
        Err(JobError::NotFound { .. })
    ));
}

#[test]
fn the_store_is_found_in_the_configured_directory_then_the_environment() {
    let configured = std::path::Path::new("/configured");
    assert_eq!(Store::locate(Some(configured)).unwrap(), configured);
    // The environment is this process's: only read here, set by the runner if at all.
    match std::env::var_os(overseer::jobs::JOBS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => assert_eq!(Store::locate(None).unwrap(), dir),
        _ => assert!(Store::locate(None).unwrap().ends_with("overseer/jobs")),
    }
}

/// Not a test: one of the processes of the concurrency test (does nothing unless its env
/// is set). Starts jobs, lists, reads and cancels, on a store shared with others.
#[test]
fn helper_hammer_process() {
    let Ok(dir) = std::env::var("JOBS_TEST_HAMMER_DIR") else {
        return;
    };
    let store = Store::open(dir).unwrap();
    let mut mine = Vec::new();
    for i in 0..8 {
        let spec = if i % 2 == 0 {
            JobSpec::new("true")
        } else {
            JobSpec::new("sleep").arg("1000")
        };
        mine.push(store.start(spec.label("i", i.to_string())).unwrap());
        let listing = store.list(&Filter::new()).unwrap();
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        // Read every job, the others' too: each read may save a status it resolved.
        for job in &listing.jobs {
            match store.get(&job.id) {
                // Removed by another process since the listing.
                Ok(_) | Err(JobError::NotFound { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    for job in &mine {
        match store.cancel(&job.id, CANCEL) {
            Ok(j) => assert_eq!(j.status, Status::Cancelled),
            Err(JobError::AlreadyFinished { status, .. }) => assert_eq!(status, Status::Completed),
            Err(e) => panic!("{e}"),
        }
    }
    for job in mine.iter().step_by(4) {
        store.remove(&job.id).unwrap();
    }
    println!("JOB_ID=done");
}

#[test]
fn several_processes_starting_listing_cancelling_and_removing_at_once_corrupt_nothing() {
    let (_tmp, store) = store();
    let dir = store.dir().to_str().unwrap().to_owned();
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "--exact",
                "helper_hammer_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("JOBS_TEST_HAMMER_DIR", &dir)
            .stdout(std::process::Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    let ok: Vec<bool> = hammers
        .into_iter()
        .map(|mut hammer| hammer.wait().unwrap().success())
        .collect();
    // A failed hammer leaves its jobs running: stop them before judging.
    for job in store
        .list(&Filter::new().status(Status::Running))
        .unwrap()
        .jobs
    {
        let _ = store.cancel(&job.id, CANCEL);
    }
    assert_eq!(ok, [true; 4]);
    let listing = store.list(&Filter::new()).unwrap();
    assert!(listing.errors.is_empty(), "{:?}", listing.errors);
    // 4 processes × 8 jobs, 2 of each removed.
    assert_eq!(listing.jobs.len(), 24);
    for job in &listing.jobs {
        assert!(
            matches!(job.status, Status::Completed | Status::Cancelled),
            "{} {}",
            job.id,
            job.status
        );
        assert!(gone(job.pid.unwrap()));
    }
    // Nothing half-written or half-removed is left.
    for entry in std::fs::read_dir(store.dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(
            !name.starts_with(".new-") && !name.starts_with(".trash-"),
            "{name}"
        );
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            assert!(!file.ends_with(".tmp"), "{name}/{file}");
        }
    }
}
