//! Which paths a watch looks at, and which of their changes count: the watched roots, the
//! globs that filter them, and the ignore rules. Compiled once, when the watch is attached;
//! asked once per changed path, on notify's thread.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use ignore::gitignore::Gitignore;

use super::Watch;
use super::error::WatchError;

/// A compiled watch: what to watch and what counts.
#[derive(Debug)]
pub(super) struct Matcher {
    roots: Vec<Root>,
    /// Directories given to notify, with whether recursively; none inside another that is
    /// watched recursively.
    pub(super) dirs: Vec<(PathBuf, bool)>,
    /// Ignore globs matched against a path relative to its root (and its ancestors).
    ignore_rel: GlobSet,
    /// Ignore globs given as absolute paths, matched against the absolute path.
    ignore_abs: GlobSet,
    /// `.gitignore` rules, the deepest first; empty unless asked for.
    gitignores: Vec<Gitignore>,
    /// Whether `.git` directories are ignored (with the gitignore rules).
    skip_git_dir: bool,
}

/// One watched place: a directory, and which paths below it count.
#[derive(Debug)]
struct Root {
    dir: PathBuf,
    recursive: bool,
    filter: Filter,
}

#[derive(Debug)]
enum Filter {
    /// Everything below the directory.
    All,
    /// One file of the directory (a watched file is watched through its directory, so that
    /// an editor that saves by renaming a new file over it is still seen).
    Exact(PathBuf),
    /// Paths below the directory, relative to it, that match.
    Glob(GlobMatcher),
}

fn glob(pattern: &str, as_given: &str) -> Result<globset::Glob, WatchError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| WatchError::InvalidGlob {
            glob: as_given.to_owned(),
            reason: e.kind().to_string(),
        })
}

fn canonical(path: &Path) -> Result<PathBuf, WatchError> {
    path.canonicalize().map_err(|e| WatchError::PathNotFound {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Splits a glob into the directory it starts from (its components without glob syntax)
/// and the rest, or `None` for a glob without glob syntax.
fn split_glob(pattern: &str) -> Option<(PathBuf, String)> {
    let mut base = PathBuf::new();
    let mut rest: Vec<&str> = Vec::new();
    for component in Path::new(pattern).components() {
        match component {
            Component::Normal(part) if !rest.is_empty() || has_meta(&part.to_string_lossy()) => {
                rest.push(part.to_str()?);
            }
            other if rest.is_empty() => base.push(other),
            _ => return None,
        }
    }
    if rest.is_empty() {
        return None;
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    Some((base, rest.join("/")))
}

impl Matcher {
    pub(super) fn compile(watch: &Watch) -> Result<Matcher, WatchError> {
        if watch.debounce.is_zero() {
            return Err(WatchError::ZeroDebounce);
        }
        if watch.threshold == 0 {
            return Err(WatchError::ZeroThreshold);
        }
        if watch.paths.is_empty() && watch.globs.is_empty() {
            return Err(WatchError::NothingToWatch);
        }
        // Syntax first, so that a bad glob is named as such even when its directory is
        // missing too.
        let mut ignore_rel = GlobSetBuilder::new();
        let mut ignore_abs = GlobSetBuilder::new();
        for pattern in &watch.ignores {
            if pattern.starts_with('/') {
                ignore_abs.add(glob(pattern, pattern)?);
            } else if pattern.contains('/') {
                ignore_rel.add(glob(pattern.trim_start_matches("./"), pattern)?);
            } else {
                ignore_rel.add(glob(&format!("**/{pattern}"), pattern)?);
            }
        }
        let mut globs = Vec::with_capacity(watch.globs.len());
        for pattern in &watch.globs {
            match split_glob(pattern) {
                Some((base, rest)) => {
                    let matcher = glob(&rest, pattern)?.compile_matcher();
                    globs.push((base, Some((rest, matcher))));
                }
                None => {
                    glob(pattern, pattern)?;
                    globs.push((PathBuf::from(pattern), None));
                }
            }
        }
        let mut roots = Vec::new();
        let paths = watch.paths.iter().map(|p| (p.clone(), None, false));
        let globs = globs.into_iter().map(|(p, g)| (p, g, true));
        for (path, pattern, is_glob) in paths.chain(globs) {
            let path = match (&pattern, path.file_name(), path.parent()) {
                // A glob without glob syntax names a file that need not exist yet, in a
                // directory that must.
                (None, Some(name), Some(parent)) if is_glob && !path.exists() => {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    canonical(parent)?.join(name)
                }
                _ => canonical(&path)?,
            };
            roots.push(match pattern {
                Some((rest, matcher)) => Root {
                    dir: path,
                    recursive: rest.contains('/') || rest.contains("**"),
                    filter: Filter::Glob(matcher),
                },
                None if path.is_dir() => Root {
                    dir: path,
                    recursive: true,
                    filter: Filter::All,
                },
                None => Root {
                    dir: path.parent().unwrap_or(Path::new("/")).to_owned(),
                    recursive: false,
                    filter: Filter::Exact(path),
                },
            });
        }
        let gitignores = if watch.gitignore {
            gitignores(&roots)?
        } else {
            Vec::new()
        };
        let ignore_rel = ignore_rel.build().map_err(|e| WatchError::InvalidGlob {
            glob: watch.ignores.join(", "),
            reason: e.to_string(),
        })?;
        let ignore_abs = ignore_abs.build().map_err(|e| WatchError::InvalidGlob {
            glob: watch.ignores.join(", "),
            reason: e.to_string(),
        })?;
        Ok(Matcher {
            dirs: dirs(&roots),
            roots,
            ignore_rel,
            ignore_abs,
            gitignores,
            skip_git_dir: watch.gitignore,
        })
    }

    /// Whether a change to `path` counts: it is under a root, passes the root's filter, and
    /// is not ignored.
    pub(super) fn counts(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| {
            let Ok(rel) = path.strip_prefix(&root.dir) else {
                return false;
            };
            let matched = match &root.filter {
                Filter::All => true,
                Filter::Exact(file) => path == file,
                Filter::Glob(glob) => glob.is_match(rel),
            };
            matched && (root.recursive || rel.components().count() <= 1) && !self.ignored(path, rel)
        })
    }

    fn ignored(&self, path: &Path, rel: &Path) -> bool {
        if !self.ignore_rel.is_empty() && rel.ancestors().any(|p| self.ignore_rel.is_match(p)) {
            return true;
        }
        if !self.ignore_abs.is_empty() && path.ancestors().any(|p| self.ignore_abs.is_match(p)) {
            return true;
        }
        if self.skip_git_dir && rel.components().any(|c| c.as_os_str() == ".git") {
            return true;
        }
        if self.gitignores.is_empty() {
            return false;
        }
        let is_dir = path.is_dir();
        for rules in &self.gitignores {
            if !path.starts_with(rules.path()) {
                continue;
            }
            let decision = rules.matched_path_or_any_parents(path, is_dir);
            if decision.is_ignore() {
                return true;
            }
            if decision.is_whitelist() {
                return false;
            }
        }
        false
    }
}

/// The directories to give notify: one entry per directory, none below another watched
/// recursively.
fn dirs(roots: &[Root]) -> Vec<(PathBuf, bool)> {
    let mut dirs: Vec<(PathBuf, bool)> = Vec::new();
    for root in roots {
        match dirs.iter_mut().find(|(dir, _)| *dir == root.dir) {
            Some((_, recursive)) => *recursive |= root.recursive,
            None => dirs.push((root.dir.clone(), root.recursive)),
        }
    }
    let covered: Vec<bool> = dirs
        .iter()
        .map(|(dir, _)| {
            dirs.iter()
                .any(|(other, recursive)| *recursive && other != dir && dir.starts_with(other))
        })
        .collect();
    let mut covered = covered.into_iter();
    dirs.retain(|_| !covered.next().unwrap_or(false));
    dirs
}

/// The `.gitignore` rules that apply to the roots: those of each root's directory and of its
/// ancestors up to the top of its repository (the directory that holds `.git`), and the
/// repository's `.git/info/exclude`, the deepest first. Outside a repository, only the
/// root's own `.gitignore`.
fn gitignores(roots: &[Root]) -> Result<Vec<Gitignore>, WatchError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for root in roots {
        let top = root.dir.ancestors().find(|dir| dir.join(".git").exists());
        let dirs: Vec<&Path> = match top {
            Some(top) => root
                .dir
                .ancestors()
                .take_while(|dir| dir.starts_with(top))
                .collect(),
            None => vec![&root.dir],
        };
        for dir in dirs {
            let file = dir.join(".gitignore");
            if file.is_file() && !files.contains(&file) {
                files.push(file);
            }
        }
        if let Some(top) = top {
            let exclude = top.join(".git/info/exclude");
            if exclude.is_file() && !files.contains(&exclude) {
                files.push(exclude);
            }
        }
    }
    // Deepest first; `exclude` (under `.git/info`, rooted at the repository's top) last
    // among its repository's files.
    files.sort_by_key(|f| {
        let exclude = f.ends_with(".git/info/exclude");
        let depth = f.components().count() - if exclude { 2 } else { 0 };
        (std::cmp::Reverse(depth), exclude)
    });
    files
        .into_iter()
        .map(|file| {
            let root = if file.ends_with(".git/info/exclude") {
                file.ancestors().nth(3).unwrap_or(Path::new("/")).to_owned()
            } else {
                file.parent().unwrap_or(Path::new("/")).to_owned()
            };
            let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
            if let Some(e) = builder.add(&file) {
                return Err(WatchError::Gitignore {
                    path: file,
                    reason: e.to_string(),
                });
            }
            builder.build().map_err(|e| WatchError::Gitignore {
                path: file,
                reason: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_splits_into_the_directory_it_starts_from_and_the_pattern() {
        assert_eq!(
            split_glob("src/**/*.rs"),
            Some(("src".into(), "**/*.rs".into()))
        );
        assert_eq!(split_glob("*.toml"), Some((".".into(), "*.toml".into())));
        assert_eq!(
            split_glob("/etc/app/*.conf"),
            Some(("/etc/app".into(), "*.conf".into()))
        );
        assert_eq!(split_glob("src/main.rs"), None);
    }

    #[test]
    fn a_directory_inside_one_watched_recursively_is_not_watched_again() {
        let root = |dir: &str, recursive| Root {
            dir: dir.into(),
            recursive,
            filter: Filter::All,
        };
        let dirs = dirs(&[root("/a", true), root("/a/b", false), root("/c", false)]);
        assert_eq!(dirs, [("/a".into(), true), ("/c".into(), false)]);
    }
}
