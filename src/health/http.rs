//! An HTTP GET as a check: [`Probe::http`](super::Probe::http), on hyper's HTTP/1 client.

use std::ops::RangeInclusive;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

use super::check::{Check, CheckFuture};
use super::probe::Probe;
use crate::error::BoxError;

/// How much of a body is read to look for the expected text.
const MAX_BODY: usize = 64 * 1024;

/// Why an HTTP probe cannot be made from what it was given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpProbeError {
    /// The URL does not parse.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL is not `http://host[:port]/path` (HTTPS is not supported: probe the plain
    /// port, or use an exec probe with `curl`).
    #[error("unsupported URL {url:?}: {reason}")]
    Unsupported {
        /// The URL as given.
        url: String,
        /// Why.
        reason: &'static str,
    },
}

/// A GET of one URL, passing on an expected status and, if asked, a text in the body.
struct HttpCheck {
    uri: Uri,
    /// The path and query, as the request line has them (origin form).
    target: Uri,
    authority: String,
    statuses: RangeInclusive<u16>,
    body_contains: Option<String>,
}

impl HttpCheck {
    async fn get(&self) -> Result<(), BoxError> {
        let stream = tokio::net::TcpStream::connect(self.authority.as_str())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.authority))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection is driven here, beside the request: no task of its own.
        let request = Request::get(self.target.clone())
            .header(hyper::header::HOST, self.authority.as_str())
            .header(hyper::header::USER_AGENT, "overseer-probe")
            .body(Empty::<Bytes>::new())?;
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            if !self.statuses.contains(&status) {
                return Err(format!(
                    "status {status}, expected {}-{}",
                    self.statuses.start(),
                    self.statuses.end()
                )
                .into());
            }
            let Some(wanted) = &self.body_contains else {
                return Ok(());
            };
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await?
                .to_bytes();
            if String::from_utf8_lossy(&body).contains(wanted.as_str()) {
                Ok(())
            } else {
                Err(format!("the body does not contain {wanted:?}").into())
            }
        };
        // Both driven here: the connection may end first (an HTTP/1.0 server closes it once
        // it has answered) with the answer already taken; only its error is a failure.
        tokio::pin!(exchange, connection);
        let mut connection_over = false;
        loop {
            tokio::select! {
                result = &mut exchange => return result,
                ended = &mut connection, if !connection_over => {
                    connection_over = true;
                    ended?;
                }
            }
        }
    }
}

impl Check for HttpCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self.get())
    }

    fn describe(&self) -> String {
        format!("http GET {}", self.uri)
    }

    fn same_as(&self, other: &dyn Check) -> bool {
        super::check::downcast::<HttpCheck>(other).is_some_and(|other| {
            self.uri == other.uri
                && self.statuses == other.statuses
                && self.body_contains == other.body_contains
        })
    }
}

impl Probe {
    /// A probe that GETs `url` (`http://host:port/path`) at each check, as Kubernetes'
    /// `httpGet` probe: it passes on a status from 200 to 399 (see
    /// [`http_expecting`](Self::http_expecting) for others, or a text the body must
    /// contain). One connection per check, closed after it; HTTP/1.1; no HTTPS. Feature
    /// `health-http`.
    ///
    /// # Errors
    /// [`HttpProbeError`] when the URL does not parse, is not `http`, or has no host.
    pub fn http(url: &str) -> Result<Self, HttpProbeError> {
        Self::http_expecting(url, 200..=399, None)
    }

    /// [`http`](Self::http) passing only on a status in `statuses` and, with
    /// `body_contains`, a body (its first 64 KiB) that contains that text.
    ///
    /// # Errors
    /// As [`http`](Self::http).
    pub fn http_expecting(
        url: &str,
        statuses: RangeInclusive<u16>,
        body_contains: Option<&str>,
    ) -> Result<Self, HttpProbeError> {
        let uri: Uri =
            url.parse().map_err(
                |e: hyper::http::uri::InvalidUri| HttpProbeError::InvalidUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                },
            )?;
        let unsupported = |reason| HttpProbeError::Unsupported {
            url: url.to_string(),
            reason,
        };
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(unsupported("HTTPS is not supported")),
            _ => return Err(unsupported("the URL must start with http://")),
        }
        let host = uri
            .host()
            .ok_or_else(|| unsupported("the URL has no host"))?;
        let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
        let target = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(
                |e: hyper::http::uri::InvalidUri| HttpProbeError::InvalidUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                },
            )?;
        Ok(Probe::new(HttpCheck {
            uri,
            target,
            authority,
            statuses,
            body_contains: body_contains.map(str::to_string),
        }))
    }
}
