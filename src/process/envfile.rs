//! Environment files in the `.env` format.
//!
//! One `KEY=value` per line. Blank lines and lines starting with `#` are skipped; a line may
//! start with `export `. Values are taken literally: unquoted (trailing whitespace and a
//! ` # comment` removed), in single quotes (no escapes), or in double quotes (with the escapes
//! `\n`, `\r`, `\t`, `\"`, `\\`). There is no variable expansion and no multi-line value.

use std::path::Path;

/// Why an environment file could not be used. Reported when the child starts, before any
/// process is spawned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvFileError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// A line is not valid `.env` syntax.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads and parses an env file; the pairs come in file order (a later key wins when applied).
pub(crate) fn read(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(EnvFileError::Read)?;
    parse(&text)
}

/// Parses `.env` text into `(key, value)` pairs in order.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut vars = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let malformed = |reason| EnvFileError::Malformed {
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
            .ok_or_else(|| malformed("expected KEY=value"))?;
        let key = key.trim_end();
        if !is_valid_key(key) {
            return Err(malformed(
                "the key must be letters, digits, '_' or '.', not starting with a digit",
            ));
        }
        let value = parse_value(value.trim_start()).map_err(malformed)?;
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_value(value: &str) -> Result<String, &'static str> {
    let (parsed, rest) = if let Some(body) = value.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated single quote")?;
        (body[..end].to_string(), &body[end + 1..])
    } else if let Some(body) = value.strip_prefix('"') {
        double_quoted(body)?
    } else {
        let end = value
            .char_indices()
            .find(|&(i, c)| c == '#' && i > 0 && value[..i].ends_with([' ', '\t']))
            .map_or(value.len(), |(i, _)| i);
        return Ok(value[..end].trim_end().to_string());
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(parsed)
    } else {
        Err("unexpected text after the closing quote")
    }
}

/// Parses the body of a double-quoted value; returns it and the text after the closing quote.
fn double_quoted(body: &str) -> Result<(String, &str), &'static str> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\' | '$')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated double quote")
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
}
