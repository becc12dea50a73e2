//! From a config's [`Stack`] to a running tree: one process child per process (one per
//! replica), one nested manager per group, every option passed to the library's own types.
//! Each process's output is captured into a sink of its own: a log file (rotated), a tail for
//! `logs -n`, followers for `logs -f`, and a line callback for `up`'s terminal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use overseer::health::Probe;
use overseer::process::output::{Line, OutputConfig, OutputSink};
use overseer::process::{Command, OnReload};
use overseer::watch::{Watch, WatchAction};
use overseer::{AutoShutdown, ChildSpec, Lifetime, ProcessManager, Restart, StopOrder};

use crate::config::model::{
    CheckSpec, CommandLine, Group, Member, ProbeSpec, Process, RestartPolicy, Stack,
};

/// Called with the process's display name (its path below the root: `web`, `workers/w-0`)
/// and each line of its output.
pub type LineHook = Arc<dyn Fn(&str, &Line) + Send + Sync>;

/// How the tree is built.
#[derive(Clone)]
pub struct Options {
    /// Where logs go when the config names no `log_dir` (relative paths in the config are
    /// relative to its file's directory).
    pub default_log_dir: PathBuf,
    /// Until shut down, or until every process has ended for good (`up` in the foreground).
    pub lifetime: Lifetime,
    /// Every line of every process, as it is read.
    pub on_line: Option<LineHook>,
}

/// Lines kept in memory per process for `logs -n` and failure reports.
pub const TAIL_LINES: usize = 1000;
/// A process's log file is rotated at this size by default, keeping this many old ones.
pub const DEFAULT_ROTATION: (u64, usize) = (10 * 1024 * 1024, 3);

/// A built tree and what the CLI needs beside it.
pub struct Built {
    /// The root manager.
    pub manager: ProcessManager,
    /// Each process child's output, in start order.
    pub outputs: Vec<Output>,
}

/// The output of one process child.
#[derive(Clone)]
pub struct Output {
    /// Its display name: its path below the root (`web`, `workers/w-0`).
    pub name: String,
    /// Its log file.
    pub file: PathBuf,
    /// Rotated at this size, keeping this many old files.
    pub rotate: (u64, usize),
    /// Its sink: tail, followers, log file.
    pub sink: Arc<OutputSink>,
}

/// Builds the tree of `stack`. An error names the process and what is wrong (a probe's URL,
/// a regex, a log file that cannot be opened, a watch).
///
/// A process whose output goes where it went in `previous` (same name, file and rotation)
/// gets the same sink again: a tree reconfigured with the result then sees that process
/// unchanged (the library compares sinks by identity) and keeps it running, its followers
/// following.
pub fn build(stack: &Stack, options: &Options, previous: &[Output]) -> Result<Built, String> {
    // The config's directory, absolute (a bare `Procfile` has the empty path as parent).
    let parent = stack.file.parent().filter(|p| !p.as_os_str().is_empty());
    let base = std::path::absolute(parent.unwrap_or(Path::new(".")))
        .map_err(|e| format!("cannot resolve the config's directory: {e}"))?;
    let log_dir = match &stack.log_dir {
        Some(dir) => base.join(dir),
        None => options.default_log_dir.clone(),
    };
    let ctx = Ctx {
        base: &base,
        log_dir: &log_dir,
        options,
        previous,
        made: Default::default(),
    };
    let mut outputs = Vec::new();
    let significant = any_exit_on_end(&stack.root);
    let mut builder = group_builder(&stack.root, &ctx, "", &mut outputs)?
        .lifetime(options.lifetime)
        .stop_order(StopOrder::Reverse);
    if significant {
        builder = builder.auto_shutdown(AutoShutdown::AnySignificant);
    }
    if let Some(timeout) = stack.shutdown_timeout {
        builder = builder.shutdown_timeout(timeout);
    }
    let manager = builder.build().map_err(|e| e.to_string())?;
    Ok(Built { manager, outputs })
}

struct Ctx<'a> {
    base: &'a Path,
    log_dir: &'a Path,
    options: &'a Options,
    previous: &'a [Output],
    /// Log directories made (or found) so far: each is made once, not once per process.
    made: std::cell::RefCell<Vec<PathBuf>>,
}

impl Ctx<'_> {
    /// Makes `dir` (and its parents) unless this build already did.
    fn make_dir(&self, dir: &Path) -> Result<(), String> {
        if self.made.borrow().iter().any(|d| d == dir) {
            return Ok(());
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
        self.made.borrow_mut().push(dir.to_path_buf());
        Ok(())
    }
}

fn any_exit_on_end(group: &Group) -> bool {
    group.members.iter().any(|m| match m {
        Member::Process(p) => p.exit_on_end,
        Member::Group(_) => false,
    })
}

fn group_builder(
    group: &Group,
    ctx: &Ctx,
    prefix: &str,
    outputs: &mut Vec<Output>,
) -> Result<overseer::ProcessManagerBuilder, String> {
    let mut builder = ProcessManager::builder(group.name.as_str()).strategy(group.strategy);
    if let Some((max, period)) = group.intensity {
        builder = builder.intensity(max, period);
    }
    for member in &group.members {
        match member {
            Member::Process(p) => {
                for spec in process_specs(p, group, ctx, prefix, outputs)? {
                    builder = builder.child(spec);
                }
            }
            Member::Group(inner) => {
                let inner_prefix = format!("{prefix}{}/", inner.name);
                let mut inner_builder = group_builder(inner, ctx, &inner_prefix, outputs)?;
                if any_exit_on_end(inner) {
                    inner_builder = inner_builder.auto_shutdown(AutoShutdown::AnySignificant);
                }
                let manager = inner_builder
                    .build()
                    .map_err(|e| format!("group {}: {e}", inner_prefix.trim_end_matches('/')))?;
                let mut spec = ChildSpec::new(inner.name.as_str(), manager);
                for (on, condition) in &inner.depends_on {
                    for name in member_names(group, on) {
                        spec = spec.after(name, *condition);
                    }
                }
                builder = builder.child(spec);
            }
        }
    }
    Ok(builder)
}

/// The child ids a member of `group` named `name` runs as: its replicas' ids, or its name.
fn member_names(group: &Group, name: &str) -> Vec<String> {
    match group.members.iter().find(|m| m.name() == name) {
        Some(Member::Process(p)) if p.replicas > 1 => replica_names(p),
        _ => vec![name.to_owned()],
    }
}

fn replica_names(p: &Process) -> Vec<String> {
    if p.replicas <= 1 {
        return vec![p.name.clone()];
    }
    (0..p.replicas).map(|i| format!("{}-{i}", p.name)).collect()
}

/// The specs of process `p` (one per replica).
fn process_specs(
    p: &Process,
    group: &Group,
    ctx: &Ctx,
    prefix: &str,
    outputs: &mut Vec<Output>,
) -> Result<Vec<ChildSpec>, String> {
    let mut specs = Vec::new();
    for id in replica_names(p) {
        let display = format!("{prefix}{id}");
        let fail = |what: String| format!("{display}: {what}");
        let output = output(p, &display, ctx).map_err(fail)?;
        let sink = output.sink.clone();
        let command = command(p, ctx.base)?.capture(sink.clone());
        outputs.push(output);
        let mut spec = command.into_spec(id.as_str());
        spec = spec.restart(match p.restart {
            RestartPolicy::Always => Restart::Permanent,
            RestartPolicy::OnFailure => Restart::Transient,
            RestartPolicy::Never | RestartPolicy::ExitOnFailure => Restart::Temporary,
        });
        // A failure that no restart absorbs ends only the process, except when it is to end
        // the stack (exit-on-failure).
        spec = spec.escalates(p.restart == RestartPolicy::ExitOnFailure);
        if let Some(backoff) = p.backoff {
            spec = spec.backoff(backoff);
        }
        if let Some((max, period)) = p.max_restarts {
            spec = spec.intensity(max, period);
        }
        if p.exit_on_end {
            spec = spec.significant(true);
        }
        for (on, condition) in &p.depends_on {
            for name in member_names(group, on) {
                spec = spec.after(name, *condition);
            }
        }
        if let Some(probe) = &p.readiness {
            spec = spec.readiness(self::probe(probe, ctx.base).map_err(fail)?);
        }
        if let Some(probe) = &p.liveness {
            spec = spec.liveness(self::probe(probe, ctx.base).map_err(fail)?);
        }
        if let Some(pattern) = &p.ready_log_line {
            spec = spec
                .ready_on_output(sink.clone(), pattern)
                .map_err(|e| fail(format!("ready_log_line is not a valid regex: {e}")))?;
        }
        if let Some(w) = &p.watch {
            let mut watch = Watch::new();
            for path in &w.paths {
                watch = watch.path(ctx.base.join(path));
            }
            for glob in &w.globs {
                watch = watch.glob(glob.as_str());
            }
            for glob in &w.ignore {
                watch = watch.ignore(glob.as_str());
            }
            if let Some(g) = w.gitignore {
                watch = watch.gitignore(g);
            }
            if let Some(d) = w.debounce {
                watch = watch.debounce(d);
            }
            watch = watch.action(if w.reload {
                WatchAction::Reload
            } else {
                WatchAction::Restart
            });
            spec = spec.watch(watch);
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// The library command for `p`, every option set.
fn command(p: &Process, base: &Path) -> Result<Command, String> {
    let mut cmd = command_line(&p.command);
    let cwd = p
        .cwd
        .as_ref()
        .map_or_else(|| base.to_path_buf(), |d| base.join(d));
    cmd = cmd.current_dir(cwd);
    for file in &p.env_files {
        cmd = cmd.env_file(base.join(file));
    }
    for (key, value) in &p.env {
        cmd = cmd.env(key, value);
    }
    if let Some(signal) = p.stop_signal {
        cmd = cmd.stop_signal(signal);
    }
    if let Some(timeout) = p.stop_timeout {
        cmd = cmd.stop_timeout(timeout);
    }
    if let Some(stop) = &p.stop_command {
        cmd = cmd.stop_command(command_line(stop).current_dir(base));
    }
    if let Some(signal) = p.reload_signal {
        cmd = cmd.on_reload(OnReload::Signal(signal));
    }
    if let Some(codes) = &p.success_codes {
        cmd = cmd.success_codes(codes.iter().copied());
    }
    if let Some(bytes) = p.memory_limit {
        cmd = cmd.memory_limit(bytes, Duration::from_secs(1));
    }
    for step in &p.pre_start {
        cmd = cmd.pre_start(command_line(step).current_dir(base));
    }
    Ok(cmd)
}

fn command_line(line: &CommandLine) -> Command {
    match line {
        CommandLine::Shell(script) => Command::shell(script),
        CommandLine::Exec(words) => Command::new(&words[0]).args(&words[1..]),
    }
}

/// The output of the process shown as `display`: its log file (the config's, else
/// `<log dir>/<display with / as ->.log`), rotated, with a tail, and the line hook; the
/// previous build's sink when it went to the same place.
fn output(p: &Process, display: &str, ctx: &Ctx) -> Result<Output, String> {
    let file = match &p.log.file {
        Some(file) if p.replicas <= 1 => ctx.base.join(file),
        Some(file) => {
            // One file per replica: `web.log` → `web-0.log`.
            let file = ctx.base.join(file);
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("log");
            let suffix = display.rsplit('-').next().unwrap_or("0");
            let name = match file.extension().and_then(|e| e.to_str()) {
                Some(ext) => format!("{stem}-{suffix}.{ext}"),
                None => format!("{stem}-{suffix}"),
            };
            file.with_file_name(name)
        }
        None => ctx
            .log_dir
            .join(format!("{}.log", display.replace('/', "-"))),
    };
    let rotate = p.log.rotate.unwrap_or(DEFAULT_ROTATION);
    if let Some(same) = ctx
        .previous
        .iter()
        .find(|o| o.name == display && o.file == file && o.rotate == rotate)
    {
        return Ok(same.clone());
    }
    if let Some(dir) = file.parent() {
        ctx.make_dir(dir)?;
    }
    let (max_bytes, keep) = rotate;
    let mut config = OutputConfig::new()
        .log_file(&file)
        .rotate(max_bytes, keep)
        .tail(TAIL_LINES);
    if let Some(hook) = &ctx.options.on_line {
        let (hook, name) = (hook.clone(), display.to_owned());
        config = config.on_line(move |line| hook(&name, line));
    }
    let sink = config
        .build()
        .map_err(|e| format!("cannot open the log file {}: {e}", file.display()))?;
    Ok(Output {
        name: display.to_owned(),
        file,
        rotate,
        sink,
    })
}

fn probe(spec: &ProbeSpec, base: &Path) -> Result<Probe, String> {
    let mut probe = match &spec.check {
        CheckSpec::Exec(line) => Probe::exec(command_line(line).current_dir(base)),
        CheckSpec::Http(url) => Probe::http(url).map_err(|e| format!("probe {url}: {e}"))?,
        CheckSpec::Tcp(addr) => Probe::tcp(addr.as_str()),
    };
    if let Some(d) = spec.initial_delay {
        probe = probe.initial_delay(d);
    }
    if let Some(d) = spec.period {
        probe = probe.period(d);
    }
    if let Some(d) = spec.timeout {
        probe = probe.timeout(d);
    }
    if let Some(n) = spec.success_threshold {
        probe = probe.success_threshold(n);
    }
    if let Some(n) = spec.failure_threshold {
        probe = probe.failure_threshold(n);
    }
    Ok(probe)
}

/// Every process child of `stack` with its display name (its path below the root, replicas
/// expanded), in start order.
pub fn processes(stack: &Stack) -> Vec<(String, &Process)> {
    fn walk<'a>(group: &'a Group, prefix: &str, out: &mut Vec<(String, &'a Process)>) {
        for member in &group.members {
            match member {
                Member::Process(p) => {
                    out.extend(
                        replica_names(p)
                            .into_iter()
                            .map(|n| (format!("{prefix}{n}"), &**p)),
                    );
                }
                Member::Group(g) => walk(g, &format!("{prefix}{}/", g.name), out),
            }
        }
    }
    let mut out = Vec::new();
    walk(&stack.root, "", &mut out);
    out
}
