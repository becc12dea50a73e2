//! The control socket's accept loop: every connection's peer must be this daemon's own user
//! (`SO_PEERCRED`), and is then served HTTP/1.1 by hyper with the routes of
//! [`routes`](super::routes). On shutdown, connections finish the request they are answering
//! (log followers end their stream) and close.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio_util::task::TaskTracker;

use super::Daemon;
use super::routes;

/// How long a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` until the task is aborted, serving each in a task of
/// `tracker`. A connection from another user is closed at once, unanswered, and logged.
pub async fn accept(listener: UnixListener, daemon: Arc<Daemon>, tracker: TaskTracker) {
    let uid = rustix::process::getuid().as_raw();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, say: the next accept may do better; do not spin.
                tracing::warn!(%error, "cannot accept a connection on the control socket");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == uid => {}
            Ok(cred) => {
                tracing::warn!(
                    peer_uid = cred.uid(),
                    peer_pid = ?cred.pid(),
                    "refused a connection on the control socket from another user"
                );
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "refused a connection whose peer cannot be identified");
                continue;
            }
        }
        tracker.spawn(connection(stream, daemon.clone(), None));
    }
}

/// Serves one connection until the client closes it, or, once the daemon is closing, until
/// the request in progress is answered. With a `token`, a request without
/// `Authorization: Bearer <token>` is answered 401 and goes no further.
pub(super) async fn connection<S>(stream: S, daemon: Arc<Daemon>, token: Option<Arc<str>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let closing = daemon.closing.clone();
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let (daemon, token) = (daemon.clone(), token.clone());
        async move {
            if let Some(token) = token
                && !super::tcp::bears(&request, &token)
            {
                return Ok(routes::ApiError::unauthorized(
                    "this listener needs `Authorization: Bearer TOKEN`, the token in the file next to the daemon's socket",
                )
                .response());
            }
            routes::handle(request, daemon).await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "a control connection ended with an error");
    }
}
