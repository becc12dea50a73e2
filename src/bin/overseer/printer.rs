//! Name-prefixed, aligned output for `up` and `logs`, as foreman and overmind print it:
//! `web    | a line`. On a terminal each name has a colour (unless `NO_COLOR` is set); the
//! tree's own news is printed under the process's name in a dimmed `[overseer]` voice.

use std::io::Write;

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];
const DIM: &str = "2";

/// Prints lines of named sources, aligned on the longest name.
pub struct Printer {
    width: usize,
    colour: bool,
    names: Vec<String>,
}

impl Printer {
    /// A printer for `names` (each gets a colour, in this order).
    pub fn new(names: &[String], colour: bool) -> Printer {
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(8);
        Printer {
            width,
            colour,
            names: names.to_vec(),
        }
    }

    fn prefix(&self, name: &str) -> String {
        let pad = self.width.saturating_sub(name.chars().count());
        if self.colour {
            let i = self.names.iter().position(|n| n == name).unwrap_or(0);
            format!(
                "\x1b[{}m{name}{:pad$} |\x1b[0m ",
                COLOURS[i % COLOURS.len()],
                ""
            )
        } else {
            format!("{name}{:pad$} | ", "")
        }
    }

    /// One line of `name`'s output (without its newline).
    pub fn line(&self, name: &str, text: &[u8]) {
        let _ = self.write_line(&mut std::io::stdout().lock(), name, text);
    }

    /// One line of `name`'s output (without its newline) to `out`, saying whether it could
    /// be written (`logs -f | head` ends when `head` does).
    pub fn write_line(&self, out: &mut impl Write, name: &str, text: &[u8]) -> std::io::Result<()> {
        out.write_all(self.prefix(name).as_bytes())?;
        out.write_all(text)?;
        out.write_all(b"\n")
    }

    /// News about `name` from the tree (each of its lines prefixed).
    pub fn status(&self, name: &str, text: &str) {
        for line in text.lines() {
            let line = if self.colour {
                format!("\x1b[{DIM}m[overseer] {line}\x1b[0m")
            } else {
                format!("[overseer] {line}")
            };
            self.line(name, line.as_bytes());
        }
    }

    /// News about the whole stack.
    pub fn notice(&self, text: &str) {
        self.status("overseer", text);
    }
}

/// Whether to colour standard output: `always`, `never`, or `auto` (a terminal, and no
/// `NO_COLOR` set to a non-empty value).
pub fn use_colour(choice: ColourChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColourChoice::Always => true,
        ColourChoice::Never => false,
        ColourChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// `--color`.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum ColourChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_padded_to_the_longest_and_coloured_only_when_asked() {
        let names = vec!["web".to_owned(), "worker-10".to_owned()];
        let plain = Printer::new(&names, false);
        assert_eq!(plain.prefix("web"), "web       | ");
        assert_eq!(plain.prefix("worker-10"), "worker-10 | ");
        let coloured = Printer::new(&names, true);
        assert_eq!(coloured.prefix("worker-10"), "\x1b[33mworker-10 |\x1b[0m ");
    }
}
