//! What to start as a job.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// A job to start: a program, its arguments, environment, working directory and labels.
///
/// ```
/// use overseer::jobs::JobSpec;
///
/// let spec = JobSpec::new("rsync")
///     .args(["-a", "src/", "dst/"])
///     .env("LANG", "C")
///     .cwd("/tmp")
///     .label("kind", "backup");
/// assert_eq!(spec.command_line(), vec!["rsync", "-a", "src/", "dst/"]);
/// ```
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) labels: BTreeMap<String, String>,
}

impl JobSpec {
    /// A job running `program` (looked up in the job's `PATH` as `execvp` does).
    pub fn new(program: impl Into<OsString>) -> Self {
        JobSpec {
            program: program.into(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            labels: BTreeMap::new(),
        }
    }

    /// A job running `sh -c script`.
    pub fn shell(script: impl Into<OsString>) -> Self {
        JobSpec::new("/bin/sh").arg("-c").arg(script)
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (over the starter's environment).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// Starts from an empty environment instead of the starter's.
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory (default: the starter's, recorded as an absolute path).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Adds a label (`key=value`), recorded in `state.json` and usable as a
    /// [list filter](super::Filter::label).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The program and arguments as recorded (lossy UTF-8).
    pub fn command_line(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    /// The environment the job gets: the starter's (or none) with the changes applied.
    pub(crate) fn resolved_env(&self) -> Vec<(OsString, OsString)> {
        crate::process::spawn::resolve_env(self.env_clear, &self.env)
    }
}
