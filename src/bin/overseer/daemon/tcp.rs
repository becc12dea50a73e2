//! The optional TCP listener (`overseer up -d --listen ADDR`): the same API as the socket,
//! for a client on another host or in a container. TCP carries no peer credentials, so every
//! request must bear a token: 32 random bytes from the kernel, hex-encoded, written at start
//! to `<socket>.token` (mode 0600, in the socket's 0700 directory: only the daemon's user can
//! read it) and removed at exit. A request without it is answered 401 before any route runs.
//! Off unless asked for; binding a non-loopback address exposes the API to the network,
//! protected only by the token (plain HTTP: use it behind a tunnel).

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::Daemon;

/// A bound TCP listener and the token its requests must bear.
pub struct Tcp {
    listener: TcpListener,
    token: Arc<str>,
}

/// Where the token of the daemon on `socket` is written.
pub fn token_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".token");
    PathBuf::from(name)
}

/// Removes the token file of the daemon on `socket`.
pub fn remove_token(socket: &Path) {
    let _ = std::fs::remove_file(token_path(socket));
}

impl Tcp {
    /// Binds `addr` and writes a new token next to `socket`.
    pub async fn bind(addr: SocketAddr, socket: &Path) -> std::io::Result<Tcp> {
        let listener = TcpListener::bind(addr).await?;
        let token: Arc<str> = new_token()?.into();
        let path = token_path(socket);
        // A token left by a daemon that was killed is replaced.
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        writeln!(file, "{token}")?;
        Ok(Tcp { listener, token })
    }

    /// The address bound (its port, when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Accepts connections until the task is aborted, serving each in a task of `tracker`.
    pub async fn accept(self, daemon: Arc<Daemon>, tracker: TaskTracker) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "a TCP control connection");
                    let _ = stream.set_nodelay(true);
                    tracker.spawn(super::server::connection(
                        stream,
                        daemon.clone(),
                        Some(self.token.clone()),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a TCP connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Whether `request` bears `token` (`Authorization: Bearer <token>`), compared in a time that
/// does not depend on where they differ.
pub fn bears<B>(request: &hyper::Request<B>, token: &str) -> bool {
    let Some(given) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// 32 bytes from `/dev/urandom`, as 64 hex digits.
fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(auth: Option<&str>) -> hyper::Request<()> {
        let mut r = hyper::Request::builder().uri("/v1/tree");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn only_a_request_bearing_the_exact_token_is_let_through() {
        assert!(bears(&request(Some("Bearer abc123")), "abc123"));
        assert!(!bears(&request(Some("Bearer abc124")), "abc123"));
        assert!(!bears(&request(Some("Bearer abc12")), "abc123"));
        assert!(!bears(&request(Some("abc123")), "abc123"));
        assert!(!bears(&request(None), "abc123"));
    }

    #[test]
    fn a_token_is_64_hex_digits_and_never_the_same_twice() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
