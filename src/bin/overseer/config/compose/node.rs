//! Reading the parsed YAML tree with its key paths: every mapping of the file is walked as a
//! [`Map`] that knows its path (`processes.web.availability`), so that each error names the
//! key at fault and points at the line where it is written ([`locate::yaml`]).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::super::{ConfigError, locate};

/// The file being read: its text (to locate keys) and its name (for errors).
pub(super) struct Doc<'a> {
    pub text: &'a str,
    pub file: &'a Path,
}

impl Doc<'_> {
    /// An error about the key at `path`, located where the deepest of its keys found in the
    /// text is written.
    pub fn error(&self, path: &[String], message: impl Into<String>) -> ConfigError {
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        ConfigError::new(self.file, locate::yaml(self.text, &keys), message)
    }

    /// A YAML syntax error (or any error of the parser), at the place the parser reports,
    /// its message without the position it repeats.
    pub fn syntax_error(&self, e: &serde_yaml_ng::Error) -> ConfigError {
        let mut message = e.to_string();
        let at = e.location().map(|l| (l.line(), l.column()));
        if let Some((line, column)) = at {
            message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
        }
        ConfigError::new(self.file, at, format!("this is not valid YAML: {message}"))
    }
}

/// `a.b.c`, the way errors name a key.
pub(super) fn dotted(path: &[String]) -> String {
    path.join(".")
}

/// A mapping of the file, its keys as written (a number or boolean key as its text), in
/// the file's order.
pub(super) struct Map<'a> {
    pub doc: &'a Doc<'a>,
    pub path: Vec<String>,
    pub entries: Vec<(String, &'a Value)>,
}

impl<'a> Map<'a> {
    /// `value`, found at `path`, as a mapping; any other value is an error that says what
    /// `what` should be.
    pub fn new(
        doc: &'a Doc<'a>,
        path: Vec<String>,
        value: &'a Value,
        what: &str,
    ) -> Result<Map<'a>, ConfigError> {
        let Value::Mapping(mapping) = value else {
            let place = if path.is_empty() {
                "the file".to_owned()
            } else {
                format!("`{}`", dotted(&path))
            };
            return Err(doc.error(
                &path,
                format!("{place} must be {what}, not {}", kind(value)),
            ));
        };
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping {
            let key = match key {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(doc.error(
                        &path,
                        format!(
                            "`{}` has a key that is {}: keys are names",
                            dotted(&path),
                            kind(other)
                        ),
                    ));
                }
            };
            entries.push((key, value));
        }
        Ok(Map { doc, path, entries })
    }

    /// The path of `key` in this mapping.
    pub fn path_of(&self, key: &str) -> Vec<String> {
        let mut path = self.path.clone();
        path.push(key.to_owned());
        path
    }

    /// `processes.web.key`.
    pub fn name_of(&self, key: &str) -> String {
        dotted(&self.path_of(key))
    }

    /// An error about `key` of this mapping, located where it is written.
    pub fn fail(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.doc.error(&self.path_of(key), message)
    }

    /// An error about this mapping itself.
    pub fn fail_here(&self, message: impl Into<String>) -> ConfigError {
        self.doc.error(&self.path, message)
    }

    /// The value of `key`; a key written with no value (`key:`, YAML's null) counts as absent,
    /// as it does for process-compose.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }

    /// The value of `key` read as a `T`; a value of the wrong type is an error naming the key.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        serde_yaml_ng::from_value(value.clone())
            .map(Some)
            .map_err(|e| {
                self.fail(
                    key,
                    format!("`{}`: {}", self.name_of(key), plain(&e.to_string())),
                )
            })
    }

    /// The mapping at `key`, if there is one; `what` says what it should be.
    pub fn map(&self, key: &str, what: &str) -> Result<Option<Map<'a>>, ConfigError> {
        self.value(key)
            .map(|value| Map::new(self.doc, self.path_of(key), value, what))
            .transpose()
    }

    /// A whole number of seconds at `key`; 0 counts as absent, as process-compose reads it.
    pub fn seconds(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        Ok(self.get::<u64>(key)?.filter(|&s| s > 0))
    }

    /// A string at `key`; an empty one counts as absent, as process-compose reads it.
    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get::<String>(key)?.filter(|s| !s.trim().is_empty()))
    }

    /// A boolean at `key`, `false` when absent.
    pub fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        Ok(self.get::<bool>(key)?.unwrap_or(false))
    }
}

/// serde's message about a value of the wrong type, with Rust's integer types said in words.
fn plain(message: &str) -> String {
    for (rust, words) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number, 0 or more"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
    ] {
        if let Some(start) = message.strip_suffix(&format!("expected {rust}")) {
            return format!("{start}expected {words}");
        }
    }
    message.to_owned()
}

/// What kind of YAML value `value` is, for errors.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}
