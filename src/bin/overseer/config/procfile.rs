//! Procfiles, as foreman and Heroku read them: one `name: command` per line, `#` comments
//! and blank lines ignored. Each process restarts always, as foreman's do not (foreman stops
//! everything when one ends); run it with `restart` semantics of overseer's own format when
//! that matters.

use std::path::Path;

use overseer::Strategy;

use super::model::{CommandLine, Group, Member, Process, Stack};
use super::{ConfigError, native, order};

/// Reads `text`, the contents of `file`.
pub fn parse(text: &str, file: &Path) -> Result<Stack, ConfigError> {
    let mut members: Vec<Member> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = Some((n + 1, line.len() - line.trim_start().len() + 1));
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(ConfigError::new(
                file,
                at,
                format!("expected `name: command`, found {trimmed:?}"),
            ));
        };
        let (name, command) = (name.trim(), command.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::new(
                file,
                at,
                format!("{name:?} is not a process name (letters, digits, '_' and '-')"),
            ));
        }
        if command.is_empty() {
            return Err(ConfigError::new(
                file,
                at,
                format!("{name:?} has no command"),
            ));
        }
        if members.iter().any(|m| m.name() == name) {
            return Err(ConfigError::new(
                file,
                at,
                format!("{name:?} is declared twice"),
            ));
        }
        let process = Process::new(name, CommandLine::Shell(command.to_owned()));
        members.push(Member::Process(Box::new(process)));
    }
    if members.is_empty() {
        return Err(ConfigError::new(
            file,
            None,
            "no process: write one `name: command` per line",
        ));
    }
    let mut root = Group {
        name: native::default_name(file),
        strategy: Strategy::OneForOne,
        intensity: None,
        depends_on: Vec::new(),
        members,
    };
    order::check(&mut root).map_err(|p| ConfigError::new(file, None, p.message))?;
    Ok(Stack {
        file: file.to_owned(),
        root,
        shutdown_timeout: None,
        log_dir: None,
    })
}
