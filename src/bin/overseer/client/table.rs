//! How `ps` and `status` show snapshots (the JSON of `overseer::json`): an aligned table of
//! every node below the root, and one node's details.

use std::fmt::Write;

use serde::Deserialize;
use serde_json::Value;

/// A snapshot node, as the API sends it (fields this client does not show are ignored).
#[derive(Debug, Deserialize)]
pub struct Node {
    pub path: String,
    pub kind: String,
    pub state: String,
    pub pid: Option<u32>,
    #[serde(default)]
    pub restarts: u32,
    pub uptime_ms: Option<u64>,
    pub last_exit: Option<Value>,
    pub resources: Option<Resources>,
    pub health: Option<Health>,
    #[serde(default)]
    pub children: Vec<Node>,
}

#[derive(Debug, Deserialize)]
pub struct Resources {
    pub memory_bytes: u64,
    pub cpu_percent: Option<f64>,
    pub processes: usize,
}

#[derive(Debug, Deserialize)]
pub struct Health {
    pub state: String,
    pub probe: Option<String>,
    pub error: Option<String>,
}

impl Node {
    /// Every node, depth first, this one first.
    fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        out.push(self);
        for child in &self.children {
            child.walk(out);
        }
    }

    /// Its path below the root `root` (the root's own path when it is the root).
    fn name<'a>(&'a self, root: &str) -> &'a str {
        self.path
            .strip_prefix(root)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(&self.path)
    }
}

const HEADER: [&str; 8] = [
    "NAME", "STATE", "PID", "RESTARTS", "UPTIME", "HEALTH", "CPU", "MEM",
];

/// The `ps` table of every node below `top` (not `top` itself), names relative to `root`'s
/// path: one row each, columns aligned, groups shown with a `/` after their name.
pub fn ps(top: &Node, root: &Node) -> String {
    let mut nodes = Vec::new();
    top.walk(&mut nodes);
    let rows: Vec<[String; 8]> = nodes
        .into_iter()
        .skip(1)
        .map(|node| row(node, &root.path))
        .collect();
    render(HEADER, &rows)
}

fn row(node: &Node, root: &str) -> [String; 8] {
    let group = node.kind == "manager";
    let name = match group {
        true => format!("{}/", node.name(root)),
        false => node.name(root).to_owned(),
    };
    let dash = || "-".to_owned();
    let running = !matches!(node.state.as_str(), "stopped" | "exited" | "waiting");
    [
        name,
        node.state.clone(),
        node.pid.map_or_else(dash, |p| p.to_string()),
        match group {
            true => dash(),
            false => node.restarts.to_string(),
        },
        node.uptime_ms
            .filter(|_| running)
            .map_or_else(dash, duration),
        health(node.health.as_ref()),
        node.resources
            .as_ref()
            .and_then(|r| r.cpu_percent)
            .map_or_else(dash, |c| format!("{c:.1}%")),
        node.resources
            .as_ref()
            .map_or_else(dash, |r| bytes(r.memory_bytes)),
    ]
}

/// `header` and `rows` as aligned columns, two spaces apart, trailing spaces trimmed.
pub fn render<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `healthy`, `unhealthy`, or `-` (no probe, or not decided yet).
fn health(health: Option<&Health>) -> String {
    match health.map(|h| h.state.as_str()) {
        Some("healthy") => "healthy".to_owned(),
        Some("unhealthy") => "unhealthy".to_owned(),
        _ => "-".to_owned(),
    }
}

/// `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `512B`, `12.3K`, `4.0M`, `1.2G` (powers of 1024).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// `status NAME`: one node's details; for a group, the table of what is below it after.
pub fn status(node: &Node, root: &str) -> String {
    let mut out = String::new();
    let mut field = |key: &str, value: String| {
        let _ = writeln!(out, "{key:<10} {value}");
    };
    field("name:", node.name(root).to_owned());
    field("path:", node.path.clone());
    field(
        "kind:",
        match node.kind.as_str() {
            "manager" => "group".to_owned(),
            other => other.to_owned(),
        },
    );
    field("state:", node.state.clone());
    if node.kind != "manager" {
        field(
            "pid:",
            node.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
        );
        field("restarts:", node.restarts.to_string());
    }
    if let Some(ms) = node.uptime_ms {
        field("uptime:", duration(ms));
    }
    if let Some(h) = &node.health {
        let text = match (h.state.as_str(), &h.probe, &h.error) {
            ("unhealthy", Some(probe), Some(error)) => {
                format!("unhealthy ({probe} probe: {error})")
            }
            (state, _, _) => state.to_owned(),
        };
        field("health:", text);
    }
    if let Some(r) = &node.resources {
        field(
            "cpu:",
            r.cpu_percent
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}%")),
        );
        let plural = if r.processes == 1 { "" } else { "es" };
        field(
            "memory:",
            format!(
                "{} ({} process{plural})",
                bytes(r.memory_bytes),
                r.processes
            ),
        );
    }
    if let Some(exit) = &node.last_exit {
        field("last exit:", exit_text(exit));
    }
    if node.kind == "manager" && !node.children.is_empty() {
        out.push('\n');
        let root_node = Node {
            path: root.to_owned(),
            kind: String::new(),
            state: String::new(),
            pid: None,
            restarts: 0,
            uptime_ms: None,
            last_exit: None,
            resources: None,
            health: None,
            children: Vec::new(),
        };
        out.push_str(&ps(node, &root_node));
    }
    out
}

/// An exit status's JSON (`{"status": "failed", "error": …}`) as text.
fn exit_text(exit: &Value) -> String {
    let field = |key: &str| exit.get(key).and_then(Value::as_str);
    match field("status") {
        Some("failed") => format!("failed: {}", field("error").unwrap_or("?")),
        Some("panicked") => format!("panicked: {}", field("message").unwrap_or("?")),
        Some(status) => status.to_owned(),
        None => exit.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_at_a_glance() {
        assert_eq!(duration(999), "0s");
        assert_eq!(duration(192_000), "3m12s");
        assert_eq!(duration(7_500_000), "2h05m");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(4 * 1024 * 1024), "4.0M");
    }

    #[test]
    fn the_table_is_aligned_and_lists_every_node_below_the_root() {
        let json = r#"{"path":"s","kind":"manager","state":"running","pid":null,"restarts":0,
            "uptime_ms":5000,"last_exit":null,"resources":null,"health":{"state":"unknown"},
            "children":[
              {"path":"s/web","kind":"process","state":"running","pid":42,"restarts":3,
               "uptime_ms":65000,"last_exit":null,
               "resources":{"memory_bytes":2097152,"cpu_percent":1.25,"processes":1},
               "health":{"state":"healthy"},"children":[]},
              {"path":"s/workers","kind":"manager","state":"stopped","pid":null,"restarts":0,
               "uptime_ms":null,"last_exit":null,"resources":null,
               "health":{"state":"unknown"},"children":[]}]}"#;
        let root: Node = serde_json::from_str(json).unwrap();
        let table = ps(&root, &root);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "NAME      STATE    PID  RESTARTS  UPTIME  HEALTH   CPU   MEM",
                "web       running  42   3         1m05s   healthy  1.2%  2.0M",
                "workers/  stopped  -    -         -       -        -     -",
            ]
        );
    }
}
