//! The embedded DNS server of user-defined networks: a UDP responder on the bridge's gateway address, port 53,
//! that the containers' resolv.conf points at.
//!
//! It answers A queries for the names of the network's running containers (name, short id, `--network-alias`)
//! from the network state, answers other types for those names with no records (so a resolver's parallel AAAA
//! query does not wait on the outside world), and relays everything else, unchanged, to the host's resolvers. Wire
//! format parsing and encoding is `hickory-proto`'s; the server loop is ours (hickory-server's catalog and
//! authority machinery is far more than one lookup table needs).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::NetworkError;

/// How long a relayed query may wait on one upstream resolver.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
const TTL: u32 = 600;

/// Where the server looks names up.
pub trait Directory: Send + Sync + 'static {
    /// The addresses of `name` as seen by `client` (a container on `network_id`), or None if it is not a
    /// container name there.
    fn lookup(&self, network_id: &str, client: Ipv4Addr, name: &str) -> Option<Vec<Ipv4Addr>>;
}

/// A running server; dropping it stops it.
pub struct DnsServer {
    task: JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The host's resolvers (`nameserver` lines of /etc/resolv.conf), where unknown names are relayed.
pub fn host_resolvers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|address| address.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Starts a server on `listen`:53 for `network_id`.
pub async fn serve(
    listen: Ipv4Addr,
    network_id: String,
    directory: Arc<dyn Directory>,
    upstreams: Vec<SocketAddr>,
) -> Result<DnsServer, NetworkError> {
    let socket = UdpSocket::bind((listen, 53))
        .await
        .map_err(|e| NetworkError::io(format!("embedded DNS: bind {listen}:53"), e))?;
    let socket = Arc::new(socket);
    let upstreams = Arc::new(upstreams);
    let task = tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok((length, client)) = socket.recv_from(&mut buffer).await else { continue };
            let query = buffer[..length].to_vec();
            let client_ip = match client.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(_) => continue,
            };
            match answer(&query, &network_id, client_ip, directory.as_ref()) {
                Some(reply) => {
                    let _ = socket.send_to(&reply, client).await;
                }
                None => {
                    let (socket, upstreams) = (socket.clone(), upstreams.clone());
                    tokio::spawn(async move {
                        let reply = relay(&query, &upstreams).await.or_else(|| failure(&query));
                        if let Some(reply) = reply {
                            let _ = socket.send_to(&reply, client).await;
                        }
                    });
                }
            }
        }
    });
    Ok(DnsServer { task })
}

/// The reply for a query about a container name, or None when the query must go upstream.
fn answer(query: &[u8], network_id: &str, client: Ipv4Addr, directory: &dyn Directory) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.message_type() != MessageType::Query || request.queries().len() != 1 {
        return None;
    }
    let question = request.queries().first()?;
    let name = question.name().to_lowercase().to_utf8();
    let addresses = directory.lookup(network_id, client, name.trim_end_matches('.'))?;
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true)
        .set_response_code(ResponseCode::NoError)
        .add_query(question.clone());
    if matches!(question.query_type(), RecordType::A | RecordType::ANY) {
        for ip in addresses {
            reply.add_answer(Record::from_rdata(question.name().clone(), TTL, RData::A(A(ip))));
        }
    }
    reply.to_vec().ok()
}

/// SERVFAIL for a query no upstream answered: the client learns at once instead of timing out.
fn failure(query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_response_code(ResponseCode::ServFail);
    for question in request.queries() {
        reply.add_query(question.clone());
    }
    reply.to_vec().ok()
}

/// Sends the query as is to each upstream in turn; the first reply wins.
async fn relay(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let local: SocketAddr = if upstream.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
        let Ok(socket) = UdpSocket::bind(local).await else { continue };
        if socket.connect(upstream).await.is_err() || socket.send(query).await.is_err() {
            continue;
        }
        let mut buffer = vec![0u8; 4096];
        if let Ok(Ok(length)) = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv(&mut buffer)).await {
            buffer.truncate(length);
            return Some(buffer);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;
    use std::str::FromStr;

    struct One;
    impl Directory for One {
        fn lookup(&self, _: &str, _: Ipv4Addr, name: &str) -> Option<Vec<Ipv4Addr>> {
            (name == "srv").then(|| vec![Ipv4Addr::new(10, 89, 0, 2)])
        }
    }

    fn query(name: &str, typ: RecordType) -> Vec<u8> {
        let mut message = Message::new();
        message.set_id(7).set_recursion_desired(true).add_query(Query::query(Name::from_str(name).unwrap(), typ));
        message.to_vec().unwrap()
    }

    #[test]
    fn container_names_are_answered_and_others_go_upstream() {
        let reply = answer(&query("srv.", RecordType::A), "n", Ipv4Addr::LOCALHOST, &One).unwrap();
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!(reply.id(), 7);
        assert_eq!(reply.answers().len(), 1);
        let empty = answer(&query("SRV.", RecordType::AAAA), "n", Ipv4Addr::LOCALHOST, &One).unwrap();
        assert_eq!(Message::from_vec(&empty).unwrap().answers().len(), 0);
        assert!(answer(&query("example.com.", RecordType::A), "n", Ipv4Addr::LOCALHOST, &One).is_none());
        let fail = Message::from_vec(&failure(&query("example.com.", RecordType::A)).unwrap()).unwrap();
        assert_eq!(fail.response_code(), ResponseCode::ServFail);
    }
}
