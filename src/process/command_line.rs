//! A command line as a person reads it in an error or a log: the program and its arguments,
//! quoted as a POSIX shell would need them, cut when very long.

use std::ffi::{OsStr, OsString};

/// How many characters of a command line an error or a log line shows; longer ones end with
/// `…`.
pub(crate) const MAX_CHARS: usize = 200;

/// `program` and `args` as one line (`sh -c 'exit 3'`), each word quoted only when a shell
/// would need it, non-UTF-8 bytes replaced, cut at [`MAX_CHARS`].
pub(crate) fn render(program: &OsStr, args: &[OsString]) -> String {
    let mut line = String::new();
    for word in std::iter::once(program).chain(args.iter().map(OsString::as_os_str)) {
        if !line.is_empty() {
            line.push(' ');
        }
        quote_into(&mut line, &word.to_string_lossy());
        if line.chars().count() > MAX_CHARS {
            break;
        }
    }
    if line.chars().count() > MAX_CHARS {
        line = line.chars().take(MAX_CHARS - 1).collect();
        line.push('…');
    }
    line
}

fn quote_into(line: &mut String, word: &str) {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        line.push_str(word);
        return;
    }
    line.push('\'');
    for c in word.chars() {
        if c == '\'' {
            line.push_str("'\\''");
        } else {
            line.push(c);
        }
    }
    line.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[&str]) -> String {
        let args: Vec<OsString> = words[1..].iter().map(OsString::from).collect();
        render(OsStr::new(words[0]), &args)
    }

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted_and_plain_ones_are_not() {
        assert_eq!(line(&["sh", "-c", "exit 3"]), "sh -c 'exit 3'");
        assert_eq!(
            line(&["python3", "app.py", "--port=8080"]),
            "python3 app.py --port=8080"
        );
        assert_eq!(line(&["echo", "it's", ""]), "echo 'it'\\''s' ''");
        assert_eq!(line(&["echo", "$HOME", "a*b"]), "echo '$HOME' 'a*b'");
    }

    #[test]
    fn a_very_long_command_line_is_cut_with_an_ellipsis() {
        let long = "x".repeat(500);
        let shown = line(&["sh", "-c", &long]);
        assert_eq!(shown.chars().count(), MAX_CHARS);
        assert!(shown.starts_with("sh -c xxx"));
        assert!(shown.ends_with('…'));
    }
}
