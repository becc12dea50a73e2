//! A TCP connect as a check: [`Probe::tcp`](super::Probe::tcp).

use super::check::{Check, CheckFuture};
use super::probe::Probe;

/// Connects to `addr` and closes the connection at once.
struct TcpCheck {
    addr: String,
}

impl Check for TcpCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            tokio::net::TcpStream::connect(self.addr.as_str())
                .await
                .map(drop)
                .map_err(|e| format!("cannot connect to {}: {e}", self.addr).into())
        })
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.addr)
    }

    fn same_as(&self, other: &dyn Check) -> bool {
        super::check::downcast::<TcpCheck>(other).is_some_and(|other| self.addr == other.addr)
    }
}

impl Probe {
    /// A probe that passes when a TCP connection to `addr` (`host:port`; a name is resolved
    /// at each check) is accepted, as Kubernetes' `tcpSocket` probe. Feature `health`.
    pub fn tcp(addr: impl Into<String>) -> Self {
        Probe::new(TcpCheck { addr: addr.into() })
    }
}
