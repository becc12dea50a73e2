//! What the daemon and its clients share: where the socket is, the lock beside it, the
//! version prefix of the routes, and the shape of a log line. The routes themselves are
//! documented in `docs/api.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The version prefix of every route.
pub const PREFIX: &str = "/v1";

/// The socket's file name in the runtime directory.
pub const SOCKET_NAME: &str = "overseer.sock";

/// The socket to use: `--socket` (or `OVERSEER_SOCKET`), else `overseer.sock` in the
/// per-user runtime directory. Made absolute against the current directory, so that a daemon
/// and its clients started elsewhere agree on it.
pub fn socket_path(given: Option<&Path>) -> PathBuf {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => crate::paths::runtime_dir().join(SOCKET_NAME),
    };
    std::path::absolute(&path).unwrap_or(path)
}

/// The lock file beside `socket`: held (`flock`, exclusive) by the one daemon that serves
/// the socket, for its whole life, and holding that daemon's pid as text.
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// One line of a process's output, as `GET /v1/logs/{name}` sends it: one JSON object per
/// line of the response (JSON lines). A follower that fell behind gets instead
/// `{"name": …, "missed": N}` once, for the lines it missed.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogLine {
    /// The process's name (its path below the root: `web`, `workers/w-0`).
    pub name: String,
    /// `"stdout"` or `"stderr"`; absent in a `missed` notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// When the line was read, RFC 3339 with milliseconds; absent in a `missed` notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The line, without its newline (bytes that are not UTF-8 are replaced by U+FFFD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// How many lines a follower missed because it fell behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
}

/// Decodes the `%XX` escapes of one URL path segment or query value (`+` stays `+`).
/// `None` for a malformed escape or a result that is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes `name` for a URL path: every byte but unreserved characters and `/` as `%XX`
/// (a name's `/` separates groups, and the routes take it as is).
pub fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_survive_encoding_and_decoding() {
        for name in ["web", "workers/w-0", "a b%c", "é"] {
            assert_eq!(percent_decode(&percent_encode(name)).as_deref(), Some(name));
        }
        assert_eq!(
            percent_decode("workers%2Fw-0").as_deref(),
            Some("workers/w-0")
        );
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }

    #[test]
    fn the_lock_sits_beside_the_socket() {
        assert_eq!(
            lock_path(Path::new("/run/u/overseer.sock")),
            Path::new("/run/u/overseer.sock.lock")
        );
    }
}
