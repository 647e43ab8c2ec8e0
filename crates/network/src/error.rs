//! The one error type of the network module. Messages follow dockerd's wording: the docker CLI prints them as is.

use berth_fs::atomic::StoreError;
use berth_runtime::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network by that name, id or id prefix (404).
    #[error("network {0} not found")]
    NotFound(String),
    /// A network with that name exists (409).
    #[error("network with name {0} already exists")]
    NameInUse(String),
    /// Refused by policy: pre-defined networks, networks with endpoints, overlapping pools (403).
    #[error("{0}")]
    Forbidden(String),
    /// Malformed input: bad subnet, gateway outside its subnet, unknown driver (400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The container is already connected, or not connected (409 / 404 in Docker's own mapping).
    #[error("{0}")]
    Conflict(String),
    /// Every address of the pool is taken (503, like libnetwork's ErrNoAvailableIPs).
    #[error("no available IPv4 addresses on this network's address pools: {network} ({id})")]
    PoolExhausted { network: String, id: String },
    /// The bridge holds as many running containers as `--max-containers-per-bridge` allows (at most the kernel's
    /// 1,023 ports per bridge). Refused before the container's namespace is made (503, like a full pool).
    #[error("bridge {bridge} of network {network} is full: it holds {limit} running containers, the most allowed (--max-containers-per-bridge {limit})")]
    BridgeFull { bridge: String, network: String, limit: usize },
    /// Publishing a port failed because the host port is taken (500, Docker's wording).
    #[error("driver failed programming external connectivity on endpoint {endpoint}: Bind for {address} failed: port is already allocated")]
    PortAllocated { endpoint: String, address: String },
    /// A netlink request failed.
    #[error("{op}: {message}")]
    Netlink { op: String, message: String },
    /// iptables, ip or another helper command failed.
    #[error("{command}: {message}")]
    Command { command: String, message: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NetworkError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NetworkError::Io { context: context.into(), source }
    }

    pub fn netlink(op: impl Into<String>, err: rtnetlink::Error) -> Self {
        NetworkError::Netlink { op: op.into(), message: err.to_string() }
    }
}
