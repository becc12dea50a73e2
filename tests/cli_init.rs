//! `overseer up --reap`: the command as a small init above its stack (as it is, always, when
//! it is PID 1): orphans that its processes leave behind are reparented to it and reaped.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod cli_common;

use std::time::{Duration, Instant};

use cli_common::{Dir, Live};

const LIMIT: Duration = Duration::from_secs(30);

/// `(state, ppid)` from `/proc/PID/stat`; `None` once the process is gone (reaped).
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

#[test]
fn up_with_reap_adopts_and_reaps_an_orphan_its_process_left_behind() {
    let dir = Dir::new();
    dir.write(
        "overseer.toml",
        "name = \"t\"\n[processes.p]\n\
         command = [\"sh\", \"-c\", \"( sleep 300 & echo $! > orphan.pid ); exec sleep 600\"]\n",
    );
    let up = Live::spawn(&mut dir.overseer(&["up", "--reap"]));
    let orphan: u32 = cli_common::line_of(&dir.join("orphan.pid"), LIMIT)
        .trim()
        .parse()
        .expect("a pid");
    let init = up.child.id();
    assert_eq!(
        state_and_parent(orphan).map(|(_, parent)| parent),
        Some(init),
        "the orphan was reparented to the init that `up --reap` runs as"
    );

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(orphan as i32).expect("a pid"),
        rustix::process::Signal::KILL,
    )
    .expect("kill the orphan");
    let deadline = Instant::now() + LIMIT;
    while let Some((state, _)) = state_and_parent(orphan) {
        assert!(
            Instant::now() < deadline,
            "the orphan is still there ({state}): not reaped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    up.signal(rustix::process::Signal::TERM);
    let ran = up.finish(LIMIT);
    assert!(ran.status.success(), "{ran:?}");
}

#[test]
fn the_init_forwards_a_signal_and_exits_with_the_programs_code() {
    let dir = Dir::new();
    dir.write(
        "overseer.toml",
        "name = \"t\"\n[processes.p]\ncommand = [\"sleep\", \"600\"]\n",
    );
    let mut up = Live::spawn(&mut dir.overseer(&["up", "--reap"]));
    up.expect_line("started", LIMIT);
    // SIGINT to the init alone (not to a terminal's group): forwarded, a graceful stop.
    up.signal(rustix::process::Signal::INT);
    let ran = up.finish(LIMIT);
    assert_eq!(ran.code(), Some(0), "{ran:?}");
}
