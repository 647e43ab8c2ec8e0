//! What a route's callers can get wrong, each with the words a person needs to fix it.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The spec or a change to it cannot be (unknown backend, weights not adding up, a rule that cannot parse).
    #[error("{0}")]
    Invalid(String),
    #[error("port {addr} is already in use")]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("backend {name} is not healthy ({reason}); switch with force to send it the traffic anyway")]
    Unhealthy { name: String, reason: String },
    /// The change does not fit the route's state (nothing to roll back to).
    #[error("{0}")]
    Conflict(String),
}
