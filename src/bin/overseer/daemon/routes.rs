//! The control API's routes (HTTP/1.1, JSON; documented in `docs/api.md`):
//!
//! - `GET /v1/tree`, `GET /v1/processes/{name}`: snapshots, in the shapes of `overseer::json`;
//! - `GET /v1/logs[/{name}]?n=N&follow=true`: output as JSON lines ([`follow`](super::follow));
//! - `POST /v1/processes/{name}/{start|stop|restart|reload}`: answered with the node's
//!   snapshot once done;
//! - `POST /v1/apply`: the config read again and applied, answered with what changed;
//! - `POST /v1/down`: graceful shutdown, answered at once;
//! - `GET /v1/daemon`: the daemon itself.
//!
//! Every error is `{"error": "…", "kind": "not_found" | "bad_request" | "conflict" |
//! "internal"}` with status 404, 400 (405 for a known route asked with another method), 409
//! or 500. Nothing a client sends can make a handler panic.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use overseer::{ChildKind, ChildState, Control, ControlError, Snapshot};
use serde::Serialize;

use super::{Daemon, follow};
use crate::api::{self, PREFIX};

/// A response body: whole, or a stream of lines.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest request body accepted (`POST /v1/apply`'s).
const MAX_BODY: usize = 64 * 1024;

/// An API error: its status, its kind, and what happened.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub fn response(&self) -> Response<Body> {
        let body = serde_json::json!({"error": self.message, "kind": self.kind});
        json_response(self.status, &body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The API error for a refused command: `not_found` for a path that is not there, `conflict`
/// for one that cannot do it now (not running, shutting down, …), `bad_request` for a spec
/// refused, `internal` for the tree failing to answer.
pub fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound { .. } => ApiError::not_found(e.to_string()),
        ControlError::Spec(_) => ApiError::bad_request(e.to_string()),
        ControlError::ManagerGone | ControlError::FailedToStart(_) => {
            ApiError::internal(e.to_string())
        }
        _ => ApiError::conflict(e.to_string()),
    }
}

/// Answers one request.
pub async fn handle(
    request: Request<Incoming>,
    daemon: Arc<Daemon>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match route(request, &daemon).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%method, %path, %error, "request refused");
            error.response()
        }
    };
    Ok(response)
}

async fn route(
    request: Request<Incoming>,
    daemon: &Arc<Daemon>,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX).and_then(|p| p.strip_prefix('/')) else {
        return Err(ApiError::not_found(format!(
            "no route {path}: every route begins with {PREFIX}/ (see docs/api.md)"
        )));
    };
    let method = request.method().clone();
    let only = |allowed: Method| -> Result<(), ApiError> {
        if method == allowed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "bad_request",
                format!("{path} takes {allowed}, not {method}"),
            ))
        }
    };
    match rest {
        "tree" => {
            only(Method::GET)?;
            let snapshot = daemon.snapshot().await?;
            Ok(json_response(StatusCode::OK, &snapshot))
        }
        "daemon" => {
            only(Method::GET)?;
            Ok(json_response(StatusCode::OK, &daemon.info().await))
        }
        "down" => {
            only(Method::POST)?;
            daemon.handle.shutdown().map_err(control_error)?;
            tracing::info!("stopping the stack (asked through the API)");
            Ok(json_response(
                StatusCode::ACCEPTED,
                &serde_json::json!({"stopping": true}),
            ))
        }
        "apply" => {
            only(Method::POST)?;
            let file = apply_file(request).await?;
            let report = daemon.apply(file).await?;
            Ok(json_response(StatusCode::OK, &super::report_json(&report)))
        }
        "logs" => {
            only(Method::GET)?;
            logs(daemon, "", request.uri().query()).await
        }
        _ => {
            if let Some(name) = rest.strip_prefix("logs/") {
                only(Method::GET)?;
                let name = decode_name(name)?;
                logs(daemon, &name, request.uri().query()).await
            } else if let Some(name) = rest.strip_prefix("processes/") {
                if method == Method::POST {
                    let (name, action) = name.rsplit_once('/').ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "POST {path}: give an action: {PREFIX}/processes/NAME/start, stop, restart or reload"
                        ))
                    })?;
                    let name = decode_name(name)?;
                    act(daemon, &name, action).await
                } else {
                    only(Method::GET)?;
                    let name = decode_name(name)?;
                    let (_, node) = daemon.find(&name).await?;
                    Ok(json_response(StatusCode::OK, &node))
                }
            } else {
                Err(ApiError::not_found(format!(
                    "no route {path} (see docs/api.md)"
                )))
            }
        }
    }
}

/// A name from the URL: percent-decoded, without a trailing `/`, not empty.
fn decode_name(raw: &str) -> Result<String, ApiError> {
    let name = api::percent_decode(raw)
        .ok_or_else(|| ApiError::bad_request(format!("{raw:?} is not a valid URL-encoded name")))?;
    let name = name.trim_end_matches('/');
    if name.is_empty() {
        return Err(ApiError::bad_request("the name is empty"));
    }
    Ok(name.to_owned())
}

/// `POST /v1/processes/{name}/{action}`.
async fn act(daemon: &Daemon, name: &str, action: &str) -> Result<Response<Body>, ApiError> {
    let (full, node) = daemon.find(name).await?;
    let handle = &daemon.handle;
    match action {
        "start" => start(daemon, &node).await,
        "stop" => handle.stop(&full).await,
        "restart" => handle.restart(&full).await,
        "reload" => handle.send(&full, Control::Reload).await,
        _ => {
            return Err(ApiError::not_found(format!(
                "no action {action:?}: start, stop, restart or reload"
            )));
        }
    }
    .map_err(control_error)?;
    tracing::info!(name, action, "done (asked through the API)");
    let (_, node) = daemon.find(name).await?;
    Ok(json_response(StatusCode::OK, &node))
}

/// Starts what is stopped or ended at or below `node`, in declared order: a stopped group
/// is started whole; a running group has its stopped members started. What runs is left
/// alone.
async fn start(daemon: &Daemon, node: &Snapshot) -> Result<(), ControlError> {
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        match node.state {
            ChildState::Stopped | ChildState::Exited => {
                daemon.handle.restart(node.path.as_str()).await?;
            }
            _ if node.kind == ChildKind::Manager => todo.extend(node.children.iter().rev()),
            _ => {}
        }
    }
    Ok(())
}

/// `GET /v1/logs[/{name}]`.
async fn logs(
    daemon: &Daemon,
    name: &str,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut n = None;
    let mut follow = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = api::percent_decode(value).unwrap_or_default();
        match key {
            "n" => {
                n = Some(value.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!("n={value:?}: give a number of lines"))
                })?);
            }
            "follow" => {
                follow = match value.as_str() {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "follow={value:?}: give true or false"
                        )));
                    }
                };
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {key:?}: n, follow"
                )));
            }
        }
    }
    let outputs = daemon.outputs_of(name);
    if outputs.is_empty() && !name.is_empty() {
        // A name with no output of its own: a group with no processes, or nothing at all.
        daemon.find(name).await?;
    }
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson");
    let body = if follow {
        StreamBody::new(follow::follow(daemon, &outputs, n)).boxed_unsync()
    } else {
        Full::new(Bytes::from(follow::tail(&outputs, n))).boxed_unsync()
    };
    response
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The file of `POST /v1/apply`'s body: `{"file": "…"}`, or none (an empty body or `{}`).
async fn apply_file(request: Request<Incoming>) -> Result<Option<PathBuf>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Apply {
        file: Option<PathBuf>,
    }
    let body = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?
        .to_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let apply: Apply = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not {{\"file\": \"…\"}}: {e}")))?;
    Ok(apply.file)
}

/// `value` as JSON with `status`.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let (status, body) = match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (status, body)
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "{{\"error\":{},\"kind\":\"internal\"}}\n",
                serde_json::to_string(&e.to_string()).unwrap_or_default()
            )
            .into_bytes(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// `followers` for `GET /v1/daemon`.
pub fn followers(daemon: &Daemon) -> usize {
    daemon.followers.load(Ordering::Relaxed)
}
