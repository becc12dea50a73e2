//! Finding where a key is written, for errors found after parsing (an unknown dependency, a
//! cycle, a key overseer does not support): the parsers report positions only for what they
//! reject themselves. A line-based search that knows each format's nesting; `None` when the
//! key is written in a way it does not follow (the error then names the file and key path).

/// A 1-based line and column.
pub type At = (usize, usize);

/// Where `key` of TOML table `table` (dotted, like `processes.web`) is written: the key's line
/// inside the table's `[table]` section, else the section's header, else a dotted key
/// `table.key =` or `key =` at the top.
pub fn toml(text: &str, table: &str, key: Option<&str>) -> Option<At> {
    let header = format!("[{table}]");
    let mut in_table = false;
    let mut header_at = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_table = normalise_header(trimmed) == header;
            if in_table && header_at.is_none() {
                header_at = Some((n + 1, line.len() - trimmed.len() + 1));
            }
            continue;
        }
        if in_table
            && let Some(key) = key
            && key_of(trimmed) == Some(key)
        {
            return Some((n + 1, line.len() - trimmed.len() + 1));
        }
    }
    if header_at.is_some() {
        return header_at;
    }
    // A dotted key at the top: `processes.web.command = …`, or the table's last part.
    let dotted = match key {
        Some(key) => format!("{table}.{key}"),
        None => table.to_owned(),
    };
    text.lines().enumerate().find_map(|(n, line)| {
        let trimmed = line.trim_start();
        let written = key_of(trimmed)?;
        (written == dotted || dotted.starts_with(&format!("{written}.")))
            .then(|| (n + 1, line.len() - trimmed.len() + 1))
    })
}

/// `[ a . b ]` as `[a.b]`; `[[a]]` stays as it is.
fn normalise_header(line: &str) -> String {
    let end = line.find(']').map_or(line.len(), |i| i + 1);
    line[..end].chars().filter(|c| !c.is_whitespace()).collect()
}

/// The key of a `key = value` line, without quotes or spaces around the dots.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

/// Where the YAML mapping key at `path` (`["processes", "web", "depends_on"]`) is written,
/// following block mappings by indentation: each key of the path is looked for among the
/// keys of its parent's block (the lines indented as the block's first line), not deeper,
/// so a key of the same name in a nested mapping or inside a multi-line value is not taken
/// for it. Stops at the deepest key it finds.
pub fn yaml(text: &str, path: &[&str]) -> Option<At> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    let mut parent_indent: Option<usize> = None;
    let mut start = 0;
    'path: for key in path {
        // The indentation of the block's keys: its first line's.
        let mut level = None;
        for (n, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                // Left the parent's block without finding the key.
                return found;
            }
            if indent != *level.get_or_insert(indent) {
                // A nested block, or a value written over several lines.
                continue;
            }
            let Some((written, _)) = trimmed.split_once(':') else {
                continue;
            };
            let written = written.trim().trim_matches(|c| c == '"' || c == '\'');
            if written == *key {
                found = Some((n + 1, indent + 1));
                parent_indent = Some(indent);
                start = n + 1;
                continue 'path;
            }
        }
        return found;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = "\
shutdown_timeout = \"5s\"

[processes.web]
command = \"serve\"
depends_on = { db = \"ready\" }

[processes.db]
command = \"db\"
";

    #[test]
    fn a_toml_key_is_found_in_its_table_section() {
        assert_eq!(
            toml(TOML, "processes.web", Some("depends_on")),
            Some((5, 1))
        );
        assert_eq!(toml(TOML, "processes.db", Some("command")), Some((8, 1)));
    }

    #[test]
    fn a_toml_key_not_written_in_its_section_points_at_the_section() {
        assert_eq!(toml(TOML, "processes.db", Some("restart")), Some((7, 1)));
        assert_eq!(toml(TOML, "processes.db", None), Some((7, 1)));
    }

    #[test]
    fn a_toml_dotted_key_at_the_top_is_found() {
        let text = "processes.web.command = \"x\"\nprocesses.web.restart = \"no\"\n";
        assert_eq!(toml(text, "processes.web", Some("restart")), Some((2, 1)));
    }

    const YAML: &str = "\
version: \"0.5\"
processes:
  web:
    command: serve
    depends_on:
      db:
        condition: process_healthy
  db:
    command: db
    namespace: x
";

    #[test]
    fn a_yaml_key_is_found_by_its_path() {
        assert_eq!(
            yaml(YAML, &["processes", "web", "depends_on", "db"]),
            Some((6, 7))
        );
        assert_eq!(yaml(YAML, &["processes", "db", "namespace"]), Some((10, 5)));
    }

    #[test]
    fn a_yaml_key_is_looked_for_among_its_siblings_not_in_nested_mappings_or_multi_line_values() {
        let text = "\
processes:
  db:
    description: |
      command: not a key
    command: db
  web:
    readiness_probe:
      exec:
        command: check
    command: serve
";
        assert_eq!(yaml(text, &["processes", "db", "command"]), Some((5, 5)));
        assert_eq!(yaml(text, &["processes", "web", "command"]), Some((10, 5)));
        assert_eq!(
            yaml(
                text,
                &["processes", "web", "readiness_probe", "exec", "command"]
            ),
            Some((9, 9))
        );
    }

    #[test]
    fn a_yaml_key_that_is_missing_points_at_its_deepest_parent() {
        assert_eq!(yaml(YAML, &["processes", "db", "shutdown"]), Some((8, 3)));
    }
}
