//! The invariants the group relies on, with real processes: the identity of a group is held
//! while it is signalled (a zombie leader, or a pidfd), and a signal after the group is gone
//! cannot reach a process that got the leader's pid.

use std::time::Duration;

use tokio::time::Instant;

use super::{Group, Prepared, Strength};
use crate::process::signal::Signal;

/// `/proc/<pid>/stat`'s state letter, `None` once the pid is gone.
fn state(pid: u32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].chars().next()
}

/// A leader that starts one member ignoring SIGTERM and exits once the member's trap is set
/// (a signal sent before that would end it: under load the leader can exit first). The
/// directory holds the marker; keep it as long as the group.
fn leader_with_a_term_proof_member() -> (tempfile::TempDir, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("trapped");
    let script = format!(
        "(trap '' TERM; : > {m}; exec sleep 30) & while [ ! -e {m} ]; do sleep 0.01; done; exit 0",
        m = marker.display()
    );
    (dir, shell(&script))
}

/// `sh -c script` as a process child runs it (a parent-death signal, inherited stdio).
fn shell(script: &str) -> Prepared {
    crate::process::Command::shell(script).prepare().unwrap()
}

/// Spawns a process leading its own group, which takes the pid that follows `before` if
/// nobody else on the machine forks first: as root, through `/proc/sys/kernel/ns_last_pid`.
/// Returns it when it got `wanted`, `None` (after killing it) when not.
fn spawn_with_pid(wanted: u32) -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt;
    std::fs::write("/proc/sys/kernel/ns_last_pid", (wanted - 1).to_string())
        .expect("writing /proc/sys/kernel/ns_last_pid (these tests run as root)");
    let mut stranger = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .expect("sleep");
    if stranger.id() == wanted {
        return Some(stranger);
    }
    let _ = stranger.kill();
    let _ = stranger.wait();
    None
}

/// Tries up to 200 times to give `wanted` to a stranger (other processes of the machine may
/// take it first); `None` when it could not be had.
fn stranger_with_pid(wanted: u32) -> Option<std::process::Child> {
    (0..200).find_map(|_| spawn_with_pid(wanted))
}

/// The running kernel's (major, minor) version.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse().unwrap_or(0));
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
}

#[tokio::test]
async fn a_leader_kept_as_a_zombie_is_reaped_only_once_the_rest_of_its_group_has_exited() {
    // The member ignores SIGTERM: it lives until it is SIGKILLed at the deadline.
    let (_dir, cmd) = leader_with_a_term_proof_member();
    let mut group = Group::spawn_holding(cmd, Strength::Zombie).await.unwrap();
    let leader = group.pid();
    group.wait().await.unwrap();
    assert_eq!(
        state(leader),
        Some('Z'),
        "the exited leader is kept a zombie"
    );
    let deadline = Instant::now() + Duration::from_millis(300);
    let settle = group.settle(Some(Signal::TERM), deadline);
    tokio::pin!(settle);
    let mut looks = 0;
    loop {
        tokio::select! {
            () = &mut settle => break,
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                assert_eq!(state(leader), Some('Z'), "the leader stays a zombie while its group is settled");
                looks += 1;
            }
        }
    }
    assert!(looks >= 5, "settled too soon to look ({looks} looks)");
    assert_eq!(state(leader), None, "reaped once the group is settled");
    assert!(super::stats::live_members(leader).unwrap().is_empty());
}

#[tokio::test]
async fn the_pid_of_a_leader_kept_as_a_zombie_cannot_be_handed_to_another_process() {
    let mut group = Group::spawn_holding(shell("exit 3"), Strength::Zombie)
        .await
        .unwrap();
    let leader = group.pid();
    let status = group.wait().await.unwrap();
    assert_eq!(status.code(), Some(3));
    // While the zombie holds the pid, no attempt gets it.
    for _ in 0..20 {
        assert!(spawn_with_pid(leader).is_none(), "pid {leader} was reused");
    }
    group
        .settle(Some(Signal::TERM), Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(state(leader), None);
}

/// The defect of issue 13: after the leader was reaped and the last member gone, the group's
/// pid went to a new group leader, which the supervisor then took for a member of its group,
/// waited for and killed. Here the pid is handed to a stranger on purpose, as soon as the
/// group lets it go, and the group is then settled, signalled and dropped.
async fn a_group_gone_never_signals_the_new_owner_of_its_pid(strength: Strength) {
    let mut group = Group::spawn_holding(shell("exit 0"), strength)
        .await
        .unwrap();
    let leader = group.pid();
    group.wait().await.unwrap();
    // Before the fix, `wait` had reaped the leader: the pid was free here.
    let stranger = stranger_with_pid(leader);
    group
        .settle(
            Some(Signal::TERM),
            Instant::now() + Duration::from_millis(200),
        )
        .await;
    // After the group is settled the pid is free whatever the strength.
    let mut stranger = match stranger {
        Some(stranger) => stranger,
        None => stranger_with_pid(leader)
            .unwrap_or_else(|| panic!("pid {leader} could not be given to a stranger")),
    };
    group.signal(Signal::KILL);
    drop(group);
    assert_eq!(
        stranger.try_wait().unwrap(),
        None,
        "the stranger that got pid {leader} was signalled"
    );
    assert!(matches!(state(leader), Some('S' | 'R')));
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test]
async fn a_settled_group_never_signals_the_new_owner_of_its_leaders_pid() {
    a_group_gone_never_signals_the_new_owner_of_its_pid(Strength::Best).await;
}

#[tokio::test]
async fn a_settled_group_held_by_a_zombie_never_signals_the_new_owner_of_its_leaders_pid() {
    a_group_gone_never_signals_the_new_owner_of_its_pid(Strength::Zombie).await;
}

#[tokio::test]
async fn a_group_signalled_through_its_pidfd_reaches_its_members_after_the_leader_is_reaped() {
    // Linux 6.9 and later only: elsewhere `Best` is the zombie, tested above.
    let (_dir, cmd) = leader_with_a_term_proof_member();
    let mut group = Group::spawn(cmd).await.unwrap();
    if !matches!(group.hold, super::Hold::PidfdGroup(_)) {
        assert!(
            kernel_version() < (6, 9),
            "Linux 6.9 signals process groups through pidfds: this one should"
        );
        return;
    }
    let leader = group.pid();
    group.wait().await.unwrap();
    assert_eq!(state(leader), None, "reaped at once");
    let members = super::stats::live_members(leader).unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    group
        .settle(
            Some(Signal::TERM),
            Instant::now() + Duration::from_millis(100),
        )
        .await;
    // Waited for until it is gone, not only SIGKILLed.
    assert!(!matches!(state(members[0]), Some(s) if s != 'Z'));
}

#[tokio::test]
async fn without_pidfds_the_rest_of_the_group_is_still_stopped_and_waited_for() {
    // The fallback where pidfds are missing (forced here): the leader is reaped at once and
    // the members are found by probing the group.
    let (_dir, cmd) = leader_with_a_term_proof_member();
    let mut group = Group::spawn_holding(cmd, Strength::Probe).await.unwrap();
    let leader = group.pid();
    group.wait().await.unwrap();
    assert_eq!(state(leader), None, "reaped at once");
    let members = super::stats::live_members(leader).unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    group
        .settle(
            Some(Signal::TERM),
            Instant::now() + Duration::from_millis(100),
        )
        .await;
    assert!(!matches!(state(members[0]), Some(s) if s != 'Z'));
    // Once the leader is reaped, the group's identity is not held: no signal any more.
    assert!(!group.identity_held());
}
