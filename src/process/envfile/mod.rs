//! Environment files in the `.env` format, read as docker-compose reads an `env_file`.
//!
//! - One `KEY=value` entry per line (spaces around `=` allowed); blank lines and lines
//!   starting with `#` are skipped; a line may start with `export `. Keys are letters, digits,
//!   `_` and `.`, not starting with a digit.
//! - **Unquoted** values are trimmed and end at a ` #` comment.
//! - **Single-quoted** values are taken literally.
//! - **Double-quoted** values understand the escapes `\n`, `\r`, `\t`, `\"`, `\\` and
//!   `\$`.
//! - Quoted values may span several lines.
//! - **Interpolation**, in unquoted and double-quoted values: `$VAR`, `${VAR}`,
//!   `${VAR:-default}` (when unset or empty), `${VAR-default}` (when unset),
//!   `${VAR:?message}` / `${VAR?message}` (the file is refused when unset or empty / unset).
//!   `VAR` is looked up among the entries earlier in the same file first, then in the
//!   supervisor's environment (as Compose v2 does); unset is empty.
//!
//! Not read: backquoted values, and nested references inside a default.
//!
//! The project keeps this parser rather than using `dotenvy` (0.15), which refuses unquoted
//! values with spaces (`GREETING=hello world`, which Compose accepts) and looks a variable up
//! in the supervisor's environment before the file's own entries.

mod expand;

use std::path::Path;

use expand::Lookup;

/// Why an environment file could not be used. Reported when the child starts, before any
/// process is spawned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvFileError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// An entry is not valid `.env` syntax, or a required variable is not set.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The 1-based number of the line where the entry starts.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads and parses an env file; the pairs come in file order (a later key wins when applied).
pub(crate) fn read(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(EnvFileError::Read)?;
    parse(&text)
}

/// Parses `.env` text into `(key, value)` pairs in order, interpolating from the earlier
/// entries and the supervisor's environment.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    parse_with(text, &|name| std::env::var(name).ok())
}

/// [`parse`], with `env` in place of the supervisor's environment.
fn parse_with(text: &str, env: Lookup<'_>) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let malformed = |reason: String| EnvFileError::Malformed {
            line: i + 1,
            reason,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(line, str::trim_start);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| malformed("expected KEY=value".into()))?;
        let key = key.trim_end();
        if !is_valid_key(key) {
            return Err(malformed(
                "the key must be letters, digits, '_' or '.', not starting with a digit".into(),
            ));
        }
        let lookup = |name: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| env(name))
        };
        let mut value = value.trim_start().to_string();
        // A quoted value may go on over the next lines: until its closing quote.
        let parsed = loop {
            match parse_value(&value, &lookup) {
                Err(Problem::Unterminated(what)) => match lines.next() {
                    Some((_, next)) => {
                        value.push('\n');
                        value.push_str(next);
                    }
                    None => return Err(malformed(format!("{what} never closed"))),
                },
                Err(Problem::Bad(reason)) => return Err(malformed(reason)),
                Ok(parsed) => break parsed,
            }
        };
        vars.push((key.to_string(), parsed));
    }
    Ok(vars)
}

/// Why a value cannot be parsed (yet).
enum Problem {
    /// Its quote is not closed on the lines read so far.
    Unterminated(&'static str),
    Bad(String),
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_value(value: &str, lookup: Lookup<'_>) -> Result<String, Problem> {
    let (parsed, rest) = if let Some(body) = value.strip_prefix('\'') {
        let end = body
            .find('\'')
            .ok_or(Problem::Unterminated("the single quote"))?;
        (body[..end].to_string(), &body[end + 1..])
    } else if let Some(body) = value.strip_prefix('"') {
        double_quoted(body, lookup)?
    } else {
        let end = value
            .char_indices()
            .find(|&(i, c)| c == '#' && i > 0 && value[..i].ends_with([' ', '\t']))
            .map_or(value.len(), |(i, _)| i);
        let text = value[..end].trim_end();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some(dollar) = text[at..].find('$') {
            out.push_str(&text[at..at + dollar]);
            at += dollar + 1;
            at += expand::reference(&text[at..], lookup, &mut out).map_err(Problem::Bad)?;
        }
        out.push_str(&text[at..]);
        return Ok(out);
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(parsed)
    } else {
        Err(Problem::Bad(
            "unexpected text after the closing quote".into(),
        ))
    }
}

/// Parses the body of a double-quoted value; returns it and the text after the closing quote.
fn double_quoted<'a>(body: &'a str, lookup: Lookup<'_>) -> Result<(String, &'a str), Problem> {
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    while let Some(c) = body[at..].chars().next() {
        at += c.len_utf8();
        match c {
            '"' => return Ok((out, &body[at..])),
            '\\' => {
                let Some(next) = body[at..].chars().next() else {
                    break;
                };
                at += next.len_utf8();
                match next {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    c @ ('"' | '\\' | '$') => out.push(c),
                    c => {
                        out.push('\\');
                        out.push(c);
                    }
                }
            }
            '$' => at += expand::reference(&body[at..], lookup, &mut out).map_err(Problem::Bad)?,
            c => out.push(c),
        }
    }
    Err(Problem::Unterminated("the double quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn plain_pairs_comments_blank_lines_and_export_are_understood() {
        let text = "# a comment\n\nA=1\nexport B = two words \n  C=x # trailing\nD=a#b\n";
        assert_eq!(
            pairs(text),
            [
                kv("A", "1"),
                kv("B", "two words"),
                kv("C", "x"),
                kv("D", "a#b")
            ]
        );
    }

    #[test]
    fn quoted_values_keep_their_content() {
        let text = "S='it is $HOME # not a comment'\nD=\"line\\nnext \\\"q\\\"\" # c\nE=\"\"\n";
        assert_eq!(
            pairs(text),
            [
                kv("S", "it is $HOME # not a comment"),
                kv("D", "line\nnext \"q\""),
                kv("E", "")
            ]
        );
    }

    #[test]
    fn a_key_named_export_is_still_a_key() {
        assert_eq!(
            pairs("export=1\nexported=2"),
            [kv("export", "1"), kv("exported", "2")]
        );
    }

    #[test]
    fn a_line_without_equals_is_malformed_with_its_line_number() {
        let err = parse("A=1\njust words\n").unwrap_err();
        assert!(
            matches!(err, EnvFileError::Malformed { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_keys_and_unterminated_quotes_are_malformed() {
        assert!(parse("1A=x").is_err());
        assert!(parse("=x").is_err());
        assert!(parse("A B=x").is_err());
        assert!(parse("A='x").is_err());
        assert!(parse("A=\"x").is_err());
        assert!(parse("A='x' y").is_err());
    }

    #[test]
    fn windows_line_endings_are_accepted() {
        assert_eq!(pairs("A=1\r\nB='2'\r\n"), [kv("A", "1"), kv("B", "2")]);
    }

    fn with_env(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
        parse_with(text, &|name| match name {
            "HOME" => Some("/home/ada".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("9000".into()),
            _ => None,
        })
    }

    #[test]
    fn variables_expand_in_unquoted_and_double_quoted_values_but_not_in_single_quoted_ones() {
        let text = "A=$HOME/data\nB=\"${HOME}/x $PORT\"\nC='$HOME'\nD=\"\\$HOME\"\nE=cost $ 5\n";
        assert_eq!(
            with_env(text).unwrap(),
            [
                kv("A", "/home/ada/data"),
                kv("B", "/home/ada/x 9000"),
                kv("C", "$HOME"),
                kv("D", "$HOME"),
                kv("E", "cost $ 5"),
            ]
        );
    }

    #[test]
    fn an_entry_earlier_in_the_file_wins_over_the_supervisors_environment() {
        let text = "PORT=8080\nURL=http://localhost:${PORT}/\nUNSET=[$NOPE]\n";
        assert_eq!(
            with_env(text).unwrap(),
            [
                kv("PORT", "8080"),
                kv("URL", "http://localhost:8080/"),
                kv("UNSET", "[]"),
            ]
        );
    }

    #[test]
    fn defaults_apply_as_in_compose_to_unset_or_empty_variables() {
        let text =
            "A=${NOPE:-one}\nB=${EMPTY:-two}\nC=${EMPTY-three}\nD=${NOPE-four}\nE=${PORT:-x}\n";
        assert_eq!(
            with_env(text).unwrap(),
            [
                kv("A", "one"),
                kv("B", "two"),
                kv("C", ""),
                kv("D", "four"),
                kv("E", "9000"),
            ]
        );
    }

    #[test]
    fn a_required_variable_that_is_not_set_refuses_the_file_with_its_message_and_line() {
        let err = with_env("A=1\nKEY=${API_KEY:?set it in the vault}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: API_KEY is required: set it in the vault"
        );
        assert!(with_env("KEY=${EMPTY?}").is_ok(), "set, though empty");
        assert!(with_env("KEY=${EMPTY:?}").is_err());
        assert!(with_env("KEY=${HOME").is_err(), "unclosed brace");
    }

    #[test]
    fn quoted_values_may_span_several_lines() {
        let text = "CERT=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\nRAW='a\n  b'\n";
        assert_eq!(
            with_env(text).unwrap(),
            [
                kv("CERT", "-----BEGIN-----\nabc\n-----END-----"),
                kv("NEXT", "1"),
                kv("RAW", "a\n  b"),
            ]
        );
        let err = with_env("A=1\nB=\"never\nclosed\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: the double quote never closed");
    }

    #[test]
    fn unquoted_values_keep_their_inner_spaces() {
        assert_eq!(
            with_env("GREETING = hello  world  # hi\n").unwrap(),
            [kv("GREETING", "hello  world")]
        );
    }
}
