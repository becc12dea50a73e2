//! `overseer jobs`: the real binary over a real job store in a temp dir, with real processes.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod cli_common;

use std::time::Duration;

use cli_common::{Dir, alive, run};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

/// `overseer jobs --store DIR/jobs ARGS`, run to its end.
fn jobs(d: &Dir, args: &[&str]) -> cli_common::Ran {
    let store = d.join("jobs");
    let mut all = vec!["jobs", "--store", store.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&mut d.overseer(&all), LIMIT)
}

/// Starts a job and returns its id.
fn start(d: &Dir, args: &[&str]) -> String {
    let mut all = vec!["start"];
    all.extend_from_slice(args);
    let ran = jobs(d, &all);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
    ran.stdout.trim().to_owned()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_job_started_by_the_cli_outlives_it_and_wait_exits_with_the_jobs_code() {
    let d = Dir::new();
    let marker = d.join("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo done; echo oops >&2; exit 3",
        marker.display()
    );
    let id = start(&d, &["-l", "team=a", "--", "sh", "-c", &script]);
    // The command that started it has exited; the job runs on, waiting for the marker.
    let shown = jobs(&d, &["show", &id, "--json"]);
    let job = json(&shown.stdout);
    assert_eq!(job["status"], "running", "{job}");
    let pid = u32::try_from(job["pid"].as_u64().unwrap()).unwrap();
    assert!(alive(pid));
    std::fs::write(&marker, "").unwrap();

    let waited = jobs(&d, &["wait", &id]);
    assert_eq!(waited.code(), Some(3), "{waited:?}");
    let logs = jobs(&d, &["logs", &id]);
    assert_eq!(logs.stdout, "done\n");
    assert_eq!(logs.stderr, "oops\n");
    let job = json(&jobs(&d, &["show", &id, "--json"]).stdout);
    assert_eq!(job["status"], "failed");
    assert_eq!(job["exit"]["code"], 3);
    assert_eq!(job["labels"]["team"], "a");
    let text = jobs(&d, &["show", &id]).stdout;
    assert!(text.contains("exit:      exited with code 3"), "{text}");
}

#[test]
fn ls_lists_the_jobs_as_a_table_filtered_by_status_and_label() {
    let d = Dir::new();
    let ok = start(&d, &["-l", "team=a", "true"]);
    let bad = start(&d, &["-l", "team=b", "false"]);
    for id in [&ok, &bad] {
        jobs(&d, &["wait", id]);
    }
    let all = jobs(&d, &["ls"]).stdout;
    let rows: Vec<Vec<&str>> = all
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["ID", "STATUS", "PID", "EXIT", "AGE", "COMMAND"],
        "{all}"
    );
    assert_eq!(rows.len(), 3, "{all}");
    assert_eq!(
        (rows[1][0], rows[1][1], rows[1][3]),
        (&*ok, "completed", "0")
    );
    assert_eq!((rows[2][0], rows[2][1], rows[2][3]), (&*bad, "failed", "1"));

    let failed = json(&jobs(&d, &["ls", "--status", "failed", "--json"]).stdout);
    let ids: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&*bad]);
    let team_a = json(&jobs(&d, &["ls", "-l", "team=a", "--json"]).stdout);
    assert_eq!(team_a.as_array().unwrap().len(), 1);
    assert_eq!(team_a[0]["id"], *ok);
}

#[test]
fn rm_is_refused_while_a_job_runs_and_cancel_ends_it_first() {
    let d = Dir::new();
    let id = start(&d, &["sleep", "100"]);
    let pid = json(&jobs(&d, &["show", &id, "--json"]).stdout)["pid"]
        .as_u64()
        .unwrap();

    let refused = jobs(&d, &["rm", &id]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr.contains("is running") && refused.stderr.contains("cancel it first"),
        "{refused:?}"
    );
    assert!(
        alive(u32::try_from(pid).unwrap()),
        "a refused rm changes nothing"
    );

    let cancelled = jobs(&d, &["cancel", "--timeout", "5s", &id]);
    assert_eq!(cancelled.code(), Some(0), "{cancelled:?}");
    assert_eq!(cancelled.stdout, format!("{id}: cancelled\n"));
    assert!(!alive(u32::try_from(pid).unwrap()));

    assert_eq!(jobs(&d, &["rm", &id]).code(), Some(0));
    let gone = jobs(&d, &["show", &id]);
    assert_eq!(gone.code(), Some(1));
    assert!(gone.stderr.contains(&format!("no job {id:?}")), "{gone:?}");
}

#[test]
fn logs_follow_prints_every_line_of_both_streams_and_returns_once_the_job_has_ended() {
    let d = Dir::new();
    let id = start(
        &d,
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line $i; sleep 0.1; done; echo last >&2",
        ],
    );
    let followed = jobs(&d, &["logs", "-f", &id]);
    assert_eq!(followed.code(), Some(0), "{followed:?}");
    assert_eq!(followed.stdout, "line 1\nline 2\nline 3\n");
    assert_eq!(followed.stderr, "last\n");
    let job = json(&jobs(&d, &["show", &id, "--json"]).stdout);
    assert_eq!(job["status"], "completed", "follow returned after the end");
}

#[test]
fn prune_removes_the_finished_jobs_and_leaves_a_running_one() {
    let d = Dir::new();
    let done = start(&d, &["true"]);
    jobs(&d, &["wait", &done]);
    let running = start(&d, &["sleep", "100"]);

    let pruned = jobs(&d, &["prune", "--older-than", "0s"]);
    assert_eq!(pruned.code(), Some(0), "{pruned:?}");
    assert_eq!(pruned.stdout, format!("{done}\n"));
    let left = json(&jobs(&d, &["ls", "--json"]).stdout);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], *running);
    assert_eq!(
        jobs(&d, &["cancel", "--timeout", "5s", &running]).code(),
        Some(0)
    );
}

#[test]
fn bad_input_is_a_clear_error_that_changes_nothing() {
    let d = Dir::new();
    let kept = start(&d, &["true"]);
    jobs(&d, &["wait", &kept]);

    let unknown = jobs(&d, &["show", "nosuchjob"]);
    assert_eq!(unknown.code(), Some(1));
    assert!(
        unknown.stderr.contains("no job \"nosuchjob\""),
        "{unknown:?}"
    );
    let path = jobs(&d, &["rm", "../etc"]);
    assert_eq!(path.code(), Some(1));
    assert!(path.stderr.contains("is not a job id"), "{path:?}");
    let status = jobs(&d, &["ls", "--status", "done"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        status.stderr.contains("\"done\" is not a status"),
        "{status:?}"
    );
    let label = jobs(&d, &["start", "-l", "novalue", "true"]);
    assert_eq!(label.code(), Some(2));
    assert!(label.stderr.contains("is not KEY=VALUE"), "{label:?}");
    let missing = jobs(&d, &["start", "/nonexistent/program"]);
    assert_eq!(missing.code(), Some(1));
    assert!(
        missing
            .stderr
            .contains("cannot start `/nonexistent/program`"),
        "{missing:?}"
    );

    // The finished job is still there, and the failed start is recorded as failed.
    let listed = json(&jobs(&d, &["ls", "--json"]).stdout);
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "failed"]);
}
