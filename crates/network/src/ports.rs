//! Published ports (`-p`, `-P`): what the container asked for, and a userland proxy per published port.
//!
//! IPv4 traffic to a published port is forwarded by the kernel: a DNAT rule per port (`firewall`, with
//! `route_localnet` on the bridges so 127.0.0.1 works too), which keeps forwarding while the daemon is down or
//! restarting, as the containers run on under their monitors. The daemon still binds each port, as docker-proxy
//! does: a port held by another process is a bind error before the container starts, the port stays reserved, and
//! what DNAT does not take (IPv6) is relayed by the proxy here, a tokio task per port, to the container's address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::PortMap;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use super::NetworkError;

/// How long a UDP flow lives without traffic.
const UDP_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One port to publish, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub container_port: u16,
    pub protocol: Protocol,
    /// None: every host address.
    pub host_ip: Option<IpAddr>,
    /// None: any free port. A range: the first free one in it.
    pub host_ports: Option<(u16, u16)>,
}

/// One port published, as done (kept beside the container, so a daemon that adopts it publishes the same port).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: IpAddr,
    pub host_port: u16,
}

/// `80/tcp`, `53/udp` or `80` (tcp).
pub fn parse_port_key(key: &str) -> Result<(u16, Protocol), NetworkError> {
    let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match protocol.to_ascii_lowercase().as_str() {
        "tcp" | "" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(NetworkError::InvalidArgument(format!("invalid proto: {other}"))),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| NetworkError::InvalidArgument(format!("invalid containerPort: {port}")))?;
    Ok((port, protocol))
}

fn parse_host_ports(text: &str) -> Result<Option<(u16, u16)>, NetworkError> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || NetworkError::InvalidArgument(format!("invalid hostPort: {text}"));
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let start: u16 = start.parse().map_err(|_| bad())?;
    let end: u16 = end.parse().map_err(|_| bad())?;
    if start > end {
        return Err(bad());
    }
    // Port 0 means "any", as an empty host port does.
    Ok((start != 0).then_some((start, end)))
}

/// Everything to publish: `HostConfig.PortBindings`, plus, with `-P`, every exposed port on a random host port.
pub fn requests(
    bindings: Option<&PortMap>,
    exposed: &[String],
    publish_all: bool,
) -> Result<Vec<PortRequest>, NetworkError> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = bindings.map(|b| b.keys().collect()).unwrap_or_default();
    keys.sort();
    for key in keys {
        let (container_port, protocol) = parse_port_key(key)?;
        for binding in bindings.and_then(|b| b.get(key).cloned().flatten()).unwrap_or_default() {
            let host_ip = match binding.host_ip.as_deref().unwrap_or("") {
                "" => None,
                text => Some(
                    text.trim_matches(['[', ']'])
                        .parse::<IpAddr>()
                        .map_err(|_| NetworkError::InvalidArgument(format!("invalid IP address: {text}")))?,
                ),
            };
            let host_ports = parse_host_ports(binding.host_port.as_deref().unwrap_or(""))?;
            out.push(PortRequest { container_port, protocol, host_ip, host_ports });
        }
    }
    if publish_all {
        for key in exposed {
            let (container_port, protocol) = parse_port_key(key)?;
            if !out.iter().any(|r| r.container_port == container_port && r.protocol == protocol) {
                out.push(PortRequest { container_port, protocol, host_ip: None, host_ports: None });
            }
        }
    }
    Ok(out)
}

/// A running proxy; dropping it closes the listener and every relayed connection.
pub struct Proxy {
    pub port: PublishedPort,
    /// The container's address and port the proxy (and the kernel's DNAT rule) sends to.
    pub target: std::net::SocketAddrV4,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds the host side of `request` and relays to `target`. `endpoint` names the container in errors.
pub async fn publish(request: &PortRequest, target: Ipv4Addr, endpoint: &str) -> Result<Proxy, NetworkError> {
    let host_ip = request.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let candidates: Vec<u16> = match request.host_ports {
        None => vec![0],
        Some((start, end)) => (start..=end).collect(),
    };
    let destination = SocketAddr::new(IpAddr::V4(target), request.container_port);
    let mut last_error = None;
    for port in candidates {
        let address = SocketAddr::new(host_ip, port);
        let bound = match request.protocol {
            Protocol::Tcp => TcpListener::bind(address).await.and_then(|listener| {
                let port = listener.local_addr()?.port();
                Ok((port, tokio::spawn(relay_tcp(listener, destination))))
            }),
            Protocol::Udp => UdpSocket::bind(address).await.and_then(|socket| {
                let port = socket.local_addr()?.port();
                Ok((port, tokio::spawn(relay_udp(socket, destination))))
            }),
        };
        match bound {
            Ok((host_port, task)) => {
                let port = PublishedPort {
                    container_port: request.container_port,
                    protocol: request.protocol,
                    host_ip,
                    host_port,
                };
                tracing::debug!(?port, %target, "published");
                let target = std::net::SocketAddrV4::new(target, request.container_port);
                return Ok(Proxy { port, target, task });
            }
            Err(err) => last_error = Some((address, err)),
        }
    }
    let (address, err) = last_error.unwrap_or((SocketAddr::new(host_ip, 0), std::io::Error::other("no port")));
    if err.kind() == std::io::ErrorKind::AddrInUse {
        Err(NetworkError::PortAllocated { endpoint: endpoint.to_string(), address: address.to_string() })
    } else {
        Err(NetworkError::io(format!("publish {address}/{}", request.protocol.as_str()), err))
    }
}

async fn relay_tcp(listener: TcpListener, destination: SocketAddr) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let mut inbound = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::debug!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        connections.spawn(async move {
            match TcpStream::connect(destination).await {
                Ok(mut outbound) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                Err(err) => tracing::debug!(%err, %destination, "proxy could not reach the container"),
            }
        });
    }
}

async fn relay_udp(socket: UdpSocket, destination: SocketAddr) {
    let socket = Arc::new(socket);
    let mut flows: HashMap<SocketAddr, (Arc<UdpSocket>, AbortHandle)> = HashMap::new();
    let mut replies = JoinSet::new();
    let mut buffer = vec![0u8; 65536];
    loop {
        let Ok((length, client)) = socket.recv_from(&mut buffer).await else { continue };
        while replies.try_join_next().is_some() {}
        flows.retain(|_, (_, handle)| !handle.is_finished());
        #[allow(clippy::map_entry)] // the insert needs awaits in between, which the entry API cannot hold
        if !flows.contains_key(&client) {
            let Ok(upstream) = UdpSocket::bind("0.0.0.0:0").await else { continue };
            if upstream.connect(destination).await.is_err() {
                continue;
            }
            let upstream = Arc::new(upstream);
            let (back, to_client) = (socket.clone(), upstream.clone());
            let handle = replies.spawn(async move {
                let mut buffer = vec![0u8; 65536];
                while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, to_client.recv(&mut buffer)).await {
                    let _ = back.send_to(&buffer[..n], client).await;
                }
            });
            flows.insert(client, (upstream, handle));
        }
        if let Some((upstream, _)) = flows.get(&client) {
            let _ = upstream.send(&buffer[..length]).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::PortBinding;

    #[test]
    fn bindings_and_publish_all_become_requests() {
        let bindings: PortMap = HashMap::from([
            (
                "80/tcp".to_string(),
                Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some("8080".into()) }]),
            ),
            ("53/udp".to_string(), Some(vec![PortBinding { host_ip: None, host_port: Some("5000-5010".into()) }])),
        ]);
        let list = requests(Some(&bindings), &["80/tcp".into(), "443/tcp".into()], true).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].protocol, Protocol::Udp);
        assert_eq!(list[0].host_ports, Some((5000, 5010)));
        assert_eq!(list[1].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            list[2],
            PortRequest { container_port: 443, protocol: Protocol::Tcp, host_ip: None, host_ports: None }
        );
        assert!(parse_port_key("80/sctpx").is_err());
        assert!(parse_port_key("0/tcp").is_err());
    }

    #[tokio::test]
    async fn tcp_and_udp_are_relayed() {
        let echo_tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_port = echo_tcp.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = echo_tcp.accept().await.unwrap();
            let (mut reader, mut writer) = stream.split();
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        });
        let echo_udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_port = echo_udp.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buffer = [0u8; 64];
            let (n, from) = echo_udp.recv_from(&mut buffer).await.unwrap();
            echo_udp.send_to(&buffer[..n], from).await.unwrap();
        });
        let local = Some("127.0.0.1".parse().unwrap());
        let tcp = PortRequest { container_port: tcp_port, protocol: Protocol::Tcp, host_ip: local, host_ports: None };
        let udp = PortRequest { container_port: udp_port, protocol: Protocol::Udp, host_ip: local, host_ports: None };
        let tcp_proxy = publish(&tcp, Ipv4Addr::LOCALHOST, "t").await.unwrap();
        let udp_proxy = publish(&udp, Ipv4Addr::LOCALHOST, "u").await.unwrap();

        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut client = TcpStream::connect(("127.0.0.1", tcp_proxy.port.host_port)).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut reply = [0u8; 4];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ping");

        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"dgram", ("127.0.0.1", udp_proxy.port.host_port)).await.unwrap();
        let mut buffer = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buffer)).await.unwrap().unwrap();
        assert_eq!(&buffer[..n], b"dgram");
    }

    #[tokio::test]
    async fn a_taken_port_is_reported_like_docker() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let request = PortRequest {
            container_port: 80,
            protocol: Protocol::Tcp,
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_ports: Some((port, port)),
        };
        let err = publish(&request, Ipv4Addr::LOCALHOST, "web").await.err().unwrap();
        assert!(err.to_string().contains("port is already allocated"), "{err}");
    }
}
