//! Resource usage of a process child's group, read from `/proc` (SPEC B7).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock::lock;

/// The resource usage of a running process child: its whole process group, summed.
///
/// Returned by [`Command::stats`](super::Command::stats). Members of the group are found by
/// scanning `/proc`, so processes the leader started are counted too, also after it exited
/// and they were reparented; processes that left the group (a new session) are not.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// The leader's pid, which is also the group's id.
    pub pid: u32,
    /// How many live (non-zombie) processes the group has.
    pub processes: usize,
    /// Resident memory of the group: the sum of each member's RSS, in bytes. Pages shared
    /// between members (after `fork`, shared libraries) are counted once per member, so this
    /// overestimates what the group really uses.
    pub rss_bytes: u64,
    /// CPU time (user + system) used by the live members so far, including what the members
    /// got from children they reaped themselves. Time of members that exited and were reaped
    /// by someone else (init) is no longer counted.
    pub cpu_time: Duration,
    /// CPU use between the previous call of `stats` for this run and this one, in percent of
    /// one core (a group busy on two cores shows 200). `None` for the first sample of a run.
    pub cpu_percent: Option<f64>,
    /// Time since the process was spawned.
    pub uptime: Duration,
}

/// The sums over a group's live members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) processes: usize,
    pub(crate) rss_bytes: u64,
    pub(crate) cpu_ticks: u64,
}

/// Scans `/proc` for the live members of process group `pgid` and sums their usage. `None`
/// when `/proc` cannot be read (not Linux). Cost: see [`live_members`].
pub(crate) fn group_usage(pgid: u32) -> Option<Usage> {
    let page = rustix::param::page_size() as u64;
    let mut usage = Usage::default();
    for_each_live_member(pgid, |_, stat| usage.add(stat, page))?;
    Some(usage)
}

impl Usage {
    /// Counts one more process, `stat`, in this usage (`page`: the page size in bytes).
    fn add(&mut self, stat: &Stat, page: u64) {
        self.processes += 1;
        self.rss_bytes = self
            .rss_bytes
            .saturating_add(stat.rss_pages.saturating_mul(page));
        self.cpu_ticks = self.cpu_ticks.saturating_add(stat.cpu_ticks);
    }
}

/// How long a scan of `/proc` serves [`shared_group_usage`]: the figures of a snapshot of
/// many process children come from one scan, not one each.
const SHARED_SCAN_AGE: Duration = Duration::from_millis(100);

/// The usage of every process group with a live member, from one scan of `/proc`.
struct Scan {
    at: Instant,
    groups: foldhash::HashMap<u32, Usage>,
}

/// The latest shared scan.
static RECENT: Mutex<Option<std::sync::Arc<Scan>>> = Mutex::new(None);

/// The usage of group `pgid` and when it was read: from a scan of `/proc` at most
/// [`SHARED_SCAN_AGE`] old and made after `not_before` (the run's start: an older scan does
/// not know the process), shared by every caller in this process, else from a new one. A
/// snapshot of `n` process children costs one scan of `/proc` instead of `n`. `None` when
/// `/proc` cannot be read.
pub(crate) fn shared_group_usage(pgid: u32, not_before: Instant) -> Option<(Usage, Instant)> {
    let recent = lock(&RECENT)
        .as_ref()
        .filter(|scan| scan.at.elapsed() < SHARED_SCAN_AGE && scan.at >= not_before)
        .cloned();
    let scan = match recent {
        Some(scan) => scan,
        None => {
            // Scanned without the lock: callers that race both scan, the newer one stays.
            let scan = std::sync::Arc::new(scan_all()?);
            *lock(&RECENT) = Some(scan.clone());
            scan
        }
    };
    // A group with no live member (its leader just exited, say) has no usage.
    let usage = scan.groups.get(&pgid).copied().unwrap_or_default();
    Some((usage, scan.at))
}

/// How many shared scans were made (tests).
#[cfg(test)]
static SCANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Every live process's usage, summed by process group.
fn scan_all() -> Option<Scan> {
    #[cfg(test)]
    SCANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let page = rustix::param::page_size() as u64;
    let mut groups: foldhash::HashMap<u32, Usage> = foldhash::HashMap::default();
    for_each_live(|_, stat| groups.entry(stat.pgrp).or_default().add(stat, page))?;
    Some(Scan {
        at: Instant::now(),
        groups,
    })
}

/// The pids of the live members of process group `pgid`. A zombie (a member that has ended
/// and waits for its parent, which in some containers is an init that never reaps) does not
/// count. `None` when `/proc` cannot be read (not Linux). Cost: one `readdir` of `/proc` and
/// one small read of `/proc/<pid>/stat` per process on the system.
pub(crate) fn live_members(pgid: u32) -> Option<Vec<u32>> {
    let mut pids = Vec::new();
    for_each_live_member(pgid, |pid, _| pids.push(pid))?;
    Some(pids)
}

fn for_each_live_member(pgid: u32, mut each: impl FnMut(u32, &Stat)) -> Option<()> {
    for_each_live(|pid, stat| {
        if stat.pgrp == pgid {
            each(pid, stat);
        }
    })
}

/// Calls `each` with every live (non-zombie) process of the machine; `None` when `/proc`
/// cannot be listed.
fn for_each_live(mut each: impl FnMut(u32, &Stat)) -> Option<()> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let Some(pid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the readdir and the read: skip it. Any other error
        // (out of file descriptors, say) leaves the list unknown, not empty.
        let text = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => continue,
            Err(_) => return None,
        };
        let Some(stat) = parse_stat(&text) else {
            continue;
        };
        if stat.state != 'Z' {
            each(pid, &stat);
        }
    }
    Some(())
}

/// The fields of `/proc/<pid>/stat` that matter here.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    state: char,
    pgrp: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    cpu_ticks: u64,
    rss_pages: u64,
}

/// Parses one `/proc/<pid>/stat` line (see `proc_pid_stat(5)`). The command name, in
/// parentheses, may hold anything, spaces and `)` included: fields are counted from the last
/// `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    // Field 3 (state) is at index 0.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    // Some counters are signed in the kernel; a negative one counts as 0.
    let count = |n: usize| Some(field(n)?.parse::<i64>().ok()?.max(0).unsigned_abs());
    Some(Stat {
        state: field(3)?.chars().next()?,
        pgrp: field(5)?.parse().ok()?,
        cpu_ticks: [14, 15, 16, 17]
            .into_iter()
            .try_fold(0u64, |sum, n| Some(sum.saturating_add(count(n)?)))?,
        rss_pages: count(24)?,
    })
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    let nanos = (ticks % per_second).saturating_mul(1_000_000_000) / per_second;
    Duration::from_secs(ticks / per_second).saturating_add(Duration::from_nanos(nanos))
}

/// What [`Command::stats`](super::Command::stats) knows of the current run. A clone starts
/// empty: it is another child.
#[derive(Default)]
pub(crate) struct StatsCell(Mutex<Option<Run>>);

struct Run {
    pid: u32,
    started: Instant,
    /// The last reading: when its scan was made, the CPU time then, and the CPU % it gave.
    last: Option<(Instant, Duration, Option<f64>)>,
}

impl Clone for StatsCell {
    fn clone(&self) -> Self {
        StatsCell::default()
    }
}

impl StatsCell {
    /// Records the run of `pid`, spawned now, until the returned guard is dropped.
    pub(crate) fn set(&self, pid: u32) -> StatsGuard<'_> {
        *lock(&self.0) = Some(Run {
            pid,
            started: Instant::now(),
            last: None,
        });
        StatsGuard(self)
    }

    /// Samples the group of the current run, if any, from a shared recent scan (see
    /// [`shared_group_usage`]).
    pub(crate) fn sample(&self) -> Option<ProcessStats> {
        let (pid, started) = {
            let run = lock(&self.0);
            let run = run.as_ref()?;
            (run.pid, run.started)
        };
        // Scan without holding the lock; a scan from before the run began does not know it.
        let (usage, now) = shared_group_usage(pid, started)?;
        let cpu_time = ticks_to_duration(usage.cpu_ticks);
        let mut run = lock(&self.0);
        // The run may have ended (or another started) during the scan.
        let run = run.as_mut().filter(|r| r.pid == pid)?;
        let cpu_percent = match run.last {
            // Read from the same shared scan as last time: the same figure.
            Some((at, _, percent)) if at == now => percent,
            Some((at, before, _)) => now
                .checked_duration_since(at)
                .map(|wall| wall.as_secs_f64())
                .filter(|wall| *wall > 0.0)
                .map(|wall| cpu_time.saturating_sub(before).as_secs_f64() / wall * 100.0),
            None => None,
        };
        run.last = Some((now, cpu_time, cpu_percent));
        Some(ProcessStats {
            pid,
            processes: usage.processes,
            rss_bytes: usage.rss_bytes,
            cpu_time,
            cpu_percent,
            uptime: now.saturating_duration_since(started),
        })
    }
}

/// Forgets the run when it ends.
pub(crate) struct StatsGuard<'a>(&'a StatsCell);

impl Drop for StatsGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.0) = None;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_usage_of_many_groups_read_at_once_comes_from_one_scan_of_proc() {
        use std::os::unix::process::CommandExt;
        let mut children: Vec<std::process::Child> = (0..3)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("30")
                    .process_group(0)
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        let spawned = Instant::now();
        let before = SCANS.load(std::sync::atomic::Ordering::Relaxed);
        for child in &children {
            let (usage, _) = shared_group_usage(child.id(), spawned).expect("/proc readable");
            assert_eq!(usage.processes, 1, "the sleep of group {}", child.id());
        }
        let scans = SCANS.load(std::sync::atomic::Ordering::Relaxed) - before;
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // One scan for the three (a scan each would be three); another test of this binary
        // sampling at the same moment may add one.
        assert!((1..3).contains(&scans), "{scans} scans for 3 groups");
    }

    use super::*;

    #[test]
    fn a_stat_line_with_spaces_and_parentheses_in_the_name_parses() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194304 101 0 0 0 \
                    7 3 2 1 20 0 1 0 1409841 3133440 384 18446744073709551615 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                pgrp: 4242,
                cpu_ticks: 13,
                rss_pages: 384
            })
        );
    }

    #[test]
    fn a_truncated_stat_line_is_rejected() {
        assert_eq!(parse_stat("4242 (x) S 1 4242 4242"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn our_own_group_is_found_with_memory_and_a_process() {
        let pgid = rustix::process::getpgrp()
            .as_raw_nonzero()
            .get()
            .unsigned_abs();
        let usage = group_usage(pgid).expect("/proc is readable");
        assert!(usage.processes >= 1);
        assert!(usage.rss_bytes > 0);
    }

    #[test]
    fn clock_ticks_convert_to_a_duration() {
        let per_second = rustix::param::clock_ticks_per_second();
        assert_eq!(ticks_to_duration(per_second * 3), Duration::from_secs(3));
    }
}
