//! Config files, in three formats, read into one [`model`]:
//!
//! - overseer's own TOML ([`native`]), with every option of the library;
//! - a Procfile ([`procfile`]): `name: command` lines;
//! - a `process-compose.yaml` ([`compose`]) as process-compose reads it, a key overseer
//!   does not support named in an error rather than ignored.
//!
//! Every error names the file, the line and column where they are known, and what to fix.

pub mod compose;
mod locate;
pub mod model;
pub mod native;
mod order;
pub mod procfile;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::Stack;

/// A config that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, where known.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub fn new(file: &Path, at: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            at,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.file.display(),
                    self.message
                )
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The formats a config can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `overseer.toml` (any `.toml`).
    Native,
    /// `Procfile` (any name starting with `Procfile`).
    Procfile,
    /// `process-compose.yaml` (any `.yaml` or `.yml`).
    Compose,
}

impl Format {
    /// The format of `file`, by its name.
    pub fn of(file: &Path) -> Option<Format> {
        let name = file.file_name()?.to_str()?;
        if name.starts_with("Procfile") {
            return Some(Format::Procfile);
        }
        match file.extension()?.to_str()? {
            "toml" => Some(Format::Native),
            "yaml" | "yml" => Some(Format::Compose),
            _ => None,
        }
    }
}

/// The files `overseer up` looks for when it is given none, in this order.
pub const DEFAULT_FILES: [&str; 4] = [
    "overseer.toml",
    "Procfile",
    "process-compose.yaml",
    "process-compose.yml",
];

/// The first of [`DEFAULT_FILES`] in `dir`.
pub fn find(dir: &Path) -> Result<PathBuf, String> {
    DEFAULT_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "no config in {}: looked for {}; name one with `overseer up FILE`",
                if dir == Path::new("") || dir == Path::new(".") {
                    "the current directory".to_owned()
                } else {
                    dir.display().to_string()
                },
                DEFAULT_FILES.join(", ")
            )
        })
}

/// Reads and checks the config in `file`.
pub fn load(file: &Path) -> Result<Stack, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ConfigError::new(file, None, format!("cannot read it: {e}")))?;
    parse(&text, file)
}

/// Reads and checks `text`, the contents of `file` (whose name says the format).
pub fn parse(text: &str, file: &Path) -> Result<Stack, ConfigError> {
    match Format::of(file) {
        Some(Format::Native) => native::parse(text, file),
        Some(Format::Procfile) => procfile::parse(text, file),
        Some(Format::Compose) => compose::parse(text, file),
        None => Err(ConfigError::new(
            file,
            None,
            "unknown config format: name it *.toml (overseer's own), Procfile*, or *.yaml (process-compose)",
        )),
    }
}
