//! `overseer logs [-f] [-n N] [NAME…]`: the output of processes, prefixed and aligned as `up`
//! prints it. One request per name (a group's name gives all its processes' lines, merged by
//! time); with `-f`, the requests stream concurrently and their lines are printed as they
//! come. With `--json`, the API's JSON lines are printed as they are.

use std::io::Write;

use futures_util::future::try_join_all;
use http_body_util::BodyExt;

use super::{Client, table};
use crate::api::{self, LogLine, PREFIX};
use crate::printer::Printer;

/// What `logs` was asked for.
pub struct Options {
    pub follow: bool,
    pub lines: usize,
    pub json: bool,
    pub colour: bool,
}

/// Runs `logs`. Unknown names are refused before anything is printed.
pub async fn run(client: &Client, names: &[String], options: &Options) -> Result<(), String> {
    let tree = client.get(&format!("{PREFIX}/tree")).await?;
    let root: table::Node = super::parse(&tree)?;
    let mut processes = Vec::new();
    let wanted: Vec<String> = names
        .iter()
        .map(|n| n.trim_end_matches('/').to_owned())
        .collect();
    for name in &wanted {
        let full = format!("{}/{name}", root.path);
        let Some(node) = find(&root, &full) else {
            return Err(format!(
                "no process or group named {name:?} (`overseer ps` lists them)"
            ));
        };
        processes_below(node, &root.path, &mut processes);
    }
    if wanted.is_empty() {
        processes_below(&root, &root.path, &mut processes);
    }
    let printer = Printer::new(&processes, options.colour);
    let uris: Vec<String> = match wanted.is_empty() {
        true => vec![format!("{PREFIX}/logs")],
        false => wanted
            .iter()
            .map(|n| format!("{PREFIX}/logs/{}", api::percent_encode(n)))
            .collect(),
    };
    let query = format!("?n={}&follow={}", options.lines, options.follow);
    if options.follow {
        try_join_all(
            uris.iter()
                .map(|uri| stream(client, format!("{uri}{query}"), &printer, options.json)),
        )
        .await?;
    } else {
        for uri in &uris {
            stream(client, format!("{uri}{query}"), &printer, options.json).await?;
        }
    }
    Ok(())
}

fn find<'a>(node: &'a table::Node, path: &str) -> Option<&'a table::Node> {
    if node.path == path {
        return Some(node);
    }
    node.children.iter().find_map(|c| find(c, path))
}

/// The names (below `root`) of the processes at or below `node`.
fn processes_below(node: &table::Node, root: &str, out: &mut Vec<String>) {
    if node.kind != "manager" {
        let name = node
            .path
            .strip_prefix(root)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(&node.path);
        out.push(name.to_owned());
    }
    for child in &node.children {
        processes_below(child, root, out);
    }
}

/// Prints the JSON lines of `uri` as they come, until the answer ends.
async fn stream(client: &Client, uri: String, printer: &Printer, json: bool) -> Result<(), String> {
    let response = client.send(hyper::Method::GET, &uri, Vec::new()).await?;
    let mut body = response.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the daemon went away while following: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
            print_line(&pending[start..start + end], printer, json)?;
            start += end + 1;
        }
        pending.drain(..start);
    }
    Ok(())
}

fn print_line(raw: &[u8], printer: &Printer, json: bool) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let written = if json {
        out.write_all(raw).and_then(|()| out.write_all(b"\n"))
    } else {
        let Ok(line) = serde_json::from_slice::<LogLine>(raw) else {
            return Ok(());
        };
        match (line.line, line.missed) {
            (Some(text), _) => printer.write_line(&mut out, &line.name, text.as_bytes()),
            (None, Some(missed)) => printer.write_line(
                &mut out,
                &line.name,
                format!("[overseer] {missed} lines missed (this reader fell behind)").as_bytes(),
            ),
            (None, None) => Ok(()),
        }
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}
