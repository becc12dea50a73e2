//! A cgroup v2 per contained run: found, created, killed and removed at run time.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

/// The cgroup of one run, created under the supervisor's own cgroup.
pub(super) struct RunCgroup {
    dir: PathBuf,
    /// The cgroup's path as `/proc/<pid>/cgroup` shows it for its members (`0::<path>`).
    path: String,
    /// `cgroup.procs`, opened before the spawn: the child writes itself into it. Shared with
    /// the spawn, which may outlive an abandoned run.
    procs: Arc<OwnedFd>,
    removed: bool,
}

impl RunCgroup {
    /// Creates the cgroup `overseer-<supervisor pid>-<run>` under the supervisor's own cgroup
    /// in a `cgroup2` mount. An error where there is none, it does not hold the supervisor's
    /// cgroup, or the supervisor may not create a group or move a process there.
    pub(super) fn create(run: u64) -> io::Result<RunCgroup> {
        let (parent, parent_path) = own_cgroup()?;
        let name = format!("overseer-{}-{run}", std::process::id());
        let dir = parent.join(&name);
        fs::create_dir(&dir)?;
        let procs = match fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
        {
            Ok(file) => Arc::new(OwnedFd::from(file)),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let path = format!("{}/{name}", parent_path.trim_end_matches('/'));
        Ok(RunCgroup {
            dir,
            path,
            procs,
            removed: false,
        })
    }

    pub(super) fn procs(&self) -> &Arc<OwnedFd> {
        &self.procs
    }

    /// Whether `pid` (alive or a zombie: a zombie still shows its cgroup) is in this cgroup.
    pub(super) fn holds(&self, pid: u32) -> bool {
        fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| {
            text.lines()
                .any(|line| line.strip_prefix("0::") == Some(self.path.as_str()))
        })
    }

    /// The live processes of the cgroup (`cgroup.procs` lists no zombies) outside process
    /// group `pgid`.
    pub(super) fn escaped(&self, pgid: u32) -> Vec<u32> {
        let Ok(text) = fs::read_to_string(self.dir.join("cgroup.procs")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| line.trim().parse::<u32>().ok())
            .filter(|&pid| super::adopted::process_group(pid).is_some_and(|g| g != pgid))
            .collect()
    }

    /// `SIGKILL` to every process of the cgroup at once (`cgroup.kill`, Linux 5.14). `false`
    /// where there is no `cgroup.kill`.
    pub(super) fn kill(&self) -> bool {
        match fs::write(self.dir.join("cgroup.kill"), b"1") {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(cgroup = %self.dir.display(), error = %e, "cannot write cgroup.kill");
                false
            }
        }
    }

    /// Removes the cgroup (it must be empty of live processes).
    pub(super) fn remove(&mut self) {
        if self.removed {
            return;
        }
        match fs::remove_dir(&self.dir) {
            Ok(()) => self.removed = true,
            Err(e) => {
                tracing::warn!(cgroup = %self.dir.display(), error = %e, "cannot remove a run's cgroup")
            }
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // A run abandoned (or a probe): remove the cgroup if nothing runs in it any more.
        if !self.removed {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// The directory of the supervisor's own cgroup in a `cgroup2` mount, and its path as
/// `/proc/self/cgroup` shows it.
fn own_cgroup() -> io::Result<(PathBuf, String)> {
    let own = fs::read_to_string("/proc/self/cgroup")?;
    let path = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or_else(|| {
            io::Error::other("the supervisor is in no cgroup v2 (no 0:: line in /proc/self/cgroup)")
        })?
        .to_owned();
    let mounts = fs::read_to_string("/proc/self/mountinfo")?;
    for mount in mounts.lines().filter_map(Cgroup2Mount::parse) {
        if let Some(rest) = path.strip_prefix(mount.root.as_str())
            && (mount.root == "/" || rest.is_empty() || rest.starts_with('/'))
        {
            let dir = mount.point.join(rest.trim_start_matches('/'));
            if dir.is_dir() {
                return Ok((dir, path));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "no cgroup2 mount holds the supervisor's cgroup",
    ))
}

/// A `cgroup2` line of `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
struct Cgroup2Mount {
    /// The directory of the hierarchy mounted (`/` for the whole of it).
    root: String,
    /// Where it is mounted.
    point: PathBuf,
}

impl Cgroup2Mount {
    /// Parses a `mountinfo` line (`proc_pid_mountinfo(5)`): `id parent major:minor root point
    /// options [optional fields] - type source super-options`. `None` for another type.
    fn parse(line: &str) -> Option<Cgroup2Mount> {
        let (before, after) = line.split_once(" - ")?;
        if after.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut fields = before.split(' ');
        let root = unescape(fields.nth(3)?);
        let point = PathBuf::from(unescape(fields.next()?));
        Some(Cgroup2Mount { root, point })
    }
}

/// Undoes the octal escapes of `mountinfo` (`\040` for a space, and so on).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(octal) = field.get(i + 1..i + 4)
            && let Ok(byte) = u8::from_str_radix(octal, 8)
        {
            out.push(byte);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup2_mount_line_is_parsed_with_its_escapes() {
        let line = "41 31 0:38 / /sys/fs/cgroup/my\\040unified rw,nosuid - cgroup2 cgroup2 rw";
        assert_eq!(
            Cgroup2Mount::parse(line),
            Some(Cgroup2Mount {
                root: "/".into(),
                point: PathBuf::from("/sys/fs/cgroup/my unified"),
            })
        );
    }

    #[test]
    fn a_cgroup_v1_mount_line_is_not_a_cgroup2_mount() {
        let line = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu";
        assert_eq!(Cgroup2Mount::parse(line), None);
    }
}
