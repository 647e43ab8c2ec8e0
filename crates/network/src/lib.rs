//! Networks: Linux bridges, one veth pair per container and network, address management, NAT, published ports
//! and the embedded DNS of user-defined networks.
//!
//! - [`record`]: what is persisted per network (`<root>/networks/<id>.json`) and per endpoint (`<id>.endpoints/`).
//! - [`subnet`], [`ipam`]: CIDR math; which address an endpoint gets and which subnet a new network gets.
//! - [`link`]: bridges, veths, addresses and routes over rtnetlink, on the host and inside a container's namespace.
//! - [`firewall`]: MASQUERADE and forwarding rules in iptables chains the daemon owns.
//! - [`ports`]: `-p`/`-P` requests and the userland proxy that publishes them.
//! - [`dns`]: the resolver on each user-defined network's gateway address.
//! - [`etc_files`]: /etc/hosts and /etc/resolv.conf contents.
//!
//! A container's network namespace is made before its process: pinned at `<root>/netns/<container id>`, filled
//! with one `ethN` per attached network, and handed to `berth init` as a namespace path to join (the "sandbox").
//! Endpoints (address allocations) live from connect (at create, or `docker network connect`) to disconnect or
//! removal; the sandbox (namespace, veths, proxies) lives while the container runs.
//!
//! Not done: IPv6 NAT and AAAA answers (IPv6 networks are on-link only), `--ip-range` beyond address choice, macvlan/overlay drivers, `--internal` DNS forwarding
//! suppression, TCP DNS.

pub mod dns;
mod error;
pub mod etc_files;
mod firewall;
mod host_lock;
pub mod ipam;
mod link;
pub mod ports;
pub mod record;
pub mod subnet;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bollard_stubs::models::{EndpointSettings, NetworkCreateRequest};
use chrono::Utc;

pub use error::NetworkError;
pub use ports::{PortRequest, PublishedPort};
pub use record::{Driver, EndpointRecord, NetworkRecord, Pool, Pool6};
pub use subnet::{Subnet, Subnet6};

use firewall::{BridgeRules, Firewall, HostPort};
use link::Netlink;
use ports::Proxy;

/// The default bridge, from `berth serve --bridge-name/--bridge-subnet`, and how many running containers any one
/// bridge takes (`--max-containers-per-bridge`).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub bridge_name: String,
    pub bridge_subnet: Subnet,
    pub max_containers_per_bridge: usize,
}

/// A Linux bridge has 1,024 port numbers and never hands out port 0 (net/bridge/br_if.c, `BR_MAX_PORTS` and
/// `find_portno`): the 1,024th veth fails with EXFULL ("Exchange full"), after its namespace was made.
pub const BRIDGE_PORT_LIMIT: usize = 1023;

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            bridge_name: "berth0".into(),
            bridge_subnet: Subnet::DEFAULT_BRIDGE,
            max_containers_per_bridge: BRIDGE_PORT_LIMIT,
        }
    }
}

/// A running container's network: its namespace, one interface per network, its published ports.
struct Sandbox {
    netns: PathBuf,
    /// (network id, interface name inside, host-side veth)
    interfaces: Vec<(String, String, String)>,
    proxies: Vec<Proxy>,
}

#[derive(Default)]
struct State {
    /// By id.
    networks: BTreeMap<String, NetworkRecord>,
    /// By container id.
    sandboxes: HashMap<String, Sandbox>,
}

impl State {
    /// The network a full id or id prefix names, or a name among the daemon's own networks (a tenant's names are
    /// its own: [`find_owned`](Self::find_owned)).
    fn find(&self, reference: &str) -> Result<&NetworkRecord, NetworkError> {
        if let Some(found) =
            self.networks.values().find(|n| n.id == reference || (n.owner.is_none() && n.name == reference))
        {
            return Ok(found);
        }
        let matches: Vec<_> = self.networks.values().filter(|n| n.id.starts_with(reference)).collect();
        match matches.as_slice() {
            [one] if !reference.is_empty() => Ok(one),
            _ => Err(NetworkError::NotFound(reference.to_string())),
        }
    }

    /// The network `owner`'s reference (name, id, id prefix) names among its own networks.
    fn find_owned(&self, owner: &str, reference: &str) -> Result<&NetworkRecord, NetworkError> {
        let own = || self.networks.values().filter(|n| n.owner.as_deref() == Some(owner));
        if let Some(found) = own().find(|n| n.id == reference || n.name == reference) {
            return Ok(found);
        }
        let matches: Vec<_> = own().filter(|n| n.id.starts_with(reference)).collect();
        match matches.as_slice() {
            [one] if !reference.is_empty() => Ok(one),
            _ => Err(NetworkError::NotFound(reference.to_string())),
        }
    }

    /// Running containers with an interface (made or about to be) on `network_id`: the ports its bridge holds.
    fn sandboxes_on(&self, network_id: &str) -> usize {
        let Some(network) = self.networks.get(network_id) else { return 0 };
        self.sandboxes.keys().filter(|container| network.endpoints.contains_key(container.as_str())).count()
    }

    /// The first of `networks` whose bridge already holds `limit` running containers.
    fn full_bridge(&self, networks: &[&NetworkRecord], limit: usize) -> Option<NetworkError> {
        networks
            .iter()
            .filter(|n| n.pool.is_some())
            .find(|n| self.sandboxes_on(&n.id) >= limit)
            .map(|n| NetworkError::BridgeFull { bridge: n.bridge.clone(), network: n.name.clone(), limit })
    }

    /// Every port a published port's proxy listens on, once.
    fn host_ports(&self) -> Vec<HostPort> {
        let mut ports: Vec<HostPort> = self
            .sandboxes
            .values()
            .flat_map(|sandbox| sandbox.proxies.iter())
            .map(|proxy| {
                let host_ip = match proxy.port.host_ip {
                    std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(Some(ip)),
                    std::net::IpAddr::V4(_) => Some(None),
                    std::net::IpAddr::V6(ip) if ip.is_unspecified() => Some(None),
                    std::net::IpAddr::V6(_) => None,
                };
                HostPort {
                    protocol: proxy.port.protocol.as_str(),
                    port: proxy.port.host_port,
                    host_ip: host_ip.flatten(),
                    target: host_ip.map(|_| proxy.target),
                }
            })
            .collect();
        ports.sort();
        ports.dedup();
        ports
    }

    fn bridge_rules(&self) -> Vec<BridgeRules> {
        self.networks
            .values()
            .filter_map(|n| {
                let pool = n.pool.as_ref()?;
                Some(BridgeRules { bridge: n.bridge.clone(), subnet: pool.subnet, internal: n.internal })
            })
            .collect()
    }
}

/// The network service the engine holds.
pub struct Networks {
    dir: PathBuf,
    netns_dir: PathBuf,
    config: NetworkConfig,
    netlink: Netlink,
    firewall: Firewall,
    state: Arc<Mutex<State>>,
    dns: Mutex<HashMap<String, dns::DnsServer>>,
    upstreams: Vec<SocketAddr>,
    /// Serialises changes to the set of networks (subnet choice, bridges, rules).
    changes: tokio::sync::Mutex<()>,
    /// Serialises rewrites of the rules, each from the state of its moment, so the last one written is current.
    firewall_sync: tokio::sync::Mutex<()>,
}

fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Host-side veth and its peer's temporary name: `vb`/`vp` + 7 characters of the container id + 5 of the network
/// id (15 characters at most, the kernel's limit), so leftovers can be found from the records after a crash.
/// The host end of a container's veth on a network (the other end is `ethN` inside, made there directly).
fn host_veth_name(container_id: &str, network_id: &str) -> String {
    let c = &container_id[..container_id.len().min(7)];
    let n = &network_id[..network_id.len().min(5)];
    format!("vb{c}{n}")
}

impl Networks {
    /// Loads the networks under `<root>/networks`, makes the pre-defined ones, removes what a crashed daemon left
    /// (namespaces, veths, rules), and brings up bridges, rules and DNS servers.
    pub async fn open(root: &Path, config: NetworkConfig) -> Result<Arc<Self>, NetworkError> {
        let dir = root.join("networks");
        let netns_dir = root.join("netns");
        for d in [&dir, &netns_dir] {
            std::fs::create_dir_all(d).map_err(|e| NetworkError::io(format!("create {}", d.display()), e))?;
        }
        let mut records = record::load_all(&dir)?;
        for (name, driver) in [("bridge", Driver::Bridge), ("host", Driver::Host), ("none", Driver::Null)] {
            if !records.iter().any(|r| r.predefined && r.name == name) {
                let record = NetworkRecord {
                    id: new_id(),
                    name: name.into(),
                    owner: None,
                    created: Utc::now(),
                    driver,
                    bridge: String::new(),
                    pool: None,
                    pool6: None,
                    internal: false,
                    attachable: false,
                    labels: HashMap::new(),
                    options: HashMap::new(),
                    ipam_options: None,
                    predefined: true,
                    endpoints: BTreeMap::new(),
                };
                record.save(&dir)?;
                records.push(record);
            }
        }
        // The flags are authoritative for the default bridge; addresses outside a changed subnet are redone.
        for record in records.iter_mut().filter(|r| r.predefined && r.driver == Driver::Bridge) {
            let subnet = config.bridge_subnet;
            let gateway = subnet.host(1).ok_or_else(|| {
                NetworkError::InvalidArgument(format!("bridge subnet {subnet} has no room for a gateway"))
            })?;
            let changed = record.bridge != config.bridge_name || record.pool.as_ref().map(|p| p.subnet) != Some(subnet);
            if changed {
                record.bridge = config.bridge_name.clone();
                record.pool = Some(Pool { subnet, gateway, ip_range: None, aux_addresses: BTreeMap::new() });
                let mut used: HashSet<Ipv4Addr> = HashSet::from([gateway]);
                used.extend(record.endpoints.values().filter(|e| subnet.contains(e.ip)).map(|e| e.ip));
                for endpoint in record.endpoints.values_mut().filter(|e| !subnet.contains(e.ip)) {
                    if let Some(ip) = ipam::allocate(subnet, None, &used) {
                        used.insert(ip);
                        endpoint.ip = ip;
                        endpoint.mac = ipam::mac_string(ipam::mac_for(ip));
                    }
                }
                record.save_all(&dir)?;
            }
        }

        let netlink = Netlink::host()?;
        let networks = Arc::new(Networks {
            dir,
            netns_dir,
            firewall: Firewall::new(&config.bridge_name),
            config,
            netlink,
            state: Arc::new(Mutex::new(State::default())),
            dns: Mutex::new(HashMap::new()),
            upstreams: dns::host_resolvers(),
            changes: tokio::sync::Mutex::new(()),
            firewall_sync: tokio::sync::Mutex::new(()),
        });
        {
            let mut state = networks.state();
            for record in records {
                state.networks.insert(record.id.clone(), record);
            }
        }
        let bridges: Vec<NetworkRecord> =
            networks.state().networks.values().filter(|n| n.pool.is_some()).cloned().collect();
        for network in &bridges {
            networks.bring_up(network).await?;
        }
        let rules = networks.state().bridge_rules();
        if let Err(err) = networks.firewall.install(&rules, &[]).await {
            // Containers still reach each other and published ports still work (they are proxied); only outbound
            // NAT is missing.
            tracing::error!(%err, "could not install the NAT rules; containers will have no outbound access");
        }
        Ok(networks)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// Namespaces and veths the last daemon left, but for those of the containers in `adopted` (still running
    /// under their monitors, their sandboxes taken over with [`adopt`](Self::adopt)).
    pub async fn clean_leftovers(&self, adopted: &HashSet<String>) {
        if let Ok(entries) = std::fs::read_dir(&self.netns_dir) {
            for entry in entries.flatten() {
                if adopted.contains(entry.file_name().to_string_lossy().as_ref()) {
                    continue;
                }
                let path = entry.path();
                if let Err(err) =
                    tokio::task::spawn_blocking(move || berth_runtime::remove_netns(&path)).await.unwrap_or(Ok(()))
                {
                    tracing::warn!(%err, "could not remove a leftover network namespace");
                }
            }
        }
        let veths: Vec<String> = self
            .state()
            .networks
            .values()
            .flat_map(|n| {
                n.endpoints
                    .values()
                    .filter(|e| !adopted.contains(&e.container_id))
                    .map(|e| host_veth_name(&e.container_id, &n.id))
            })
            .collect();
        for veth in veths {
            let _ = self.netlink.delete(&veth).await;
        }
    }

    /// Rewrites the rules once recovery is done: ports of containers that did not outlive the last daemon stop
    /// being forwarded.
    pub async fn refresh_rules(&self) {
        if let Err(err) = self.sync_firewall().await {
            tracing::warn!(%err, "could not rewrite the rules after the restart");
        }
    }

    /// Takes over the sandbox of a container that kept running while no daemon did: its pinned namespace and
    /// veths are where the last daemon left them (bridges are kept across a restart); its ports are published
    /// again on the host ports they had. The caller calls [`refresh_rules`](Self::refresh_rules) when done.
    pub async fn adopt(
        &self,
        container_id: &str,
        primary: Option<&str>,
        endpoint_name: &str,
        published: &[PublishedPort],
    ) -> Result<(), NetworkError> {
        let netns = self.netns_dir.join(container_id);
        if !netns.exists() {
            return Err(NetworkError::Conflict(format!("container {container_id} has no network namespace to adopt")));
        }
        let endpoints = self.endpoints(container_id, primary);
        let interfaces = endpoints
            .iter()
            .filter(|(network, _)| network.pool.is_some())
            .enumerate()
            .map(|(n, (network, _))| (network.id.clone(), format!("eth{n}"), host_veth_name(container_id, &network.id)))
            .collect();
        self.state().sandboxes.insert(container_id.to_string(), Sandbox { netns, interfaces, proxies: Vec::new() });
        let Some(target) = endpoints.first().map(|(_, e)| e.ip) else { return Ok(()) };
        let requests: Vec<PortRequest> = published
            .iter()
            .map(|p| PortRequest {
                container_port: p.container_port,
                protocol: p.protocol,
                host_ip: Some(p.host_ip),
                host_ports: Some((p.host_port, p.host_port)),
            })
            .collect();
        // The rules the last daemon left forward these ports still; they are rewritten once, by refresh_rules
        // after every container is adopted, not once per container.
        self.bind_ports(container_id, endpoint_name, &requests, target).await.map(|_| ())
    }

    /// The bridge with its gateway address, and the DNS server of a user-defined network.
    async fn bring_up(&self, network: &NetworkRecord) -> Result<(), NetworkError> {
        let Some(pool) = &network.pool else { return Ok(()) };
        self.netlink.ensure_bridge(&network.bridge, pool.gateway, pool.subnet).await?;
        if let Some(pool6) = &network.pool6 {
            let disable = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", network.bridge);
            std::fs::write(&disable, "0").map_err(|e| NetworkError::io(format!("write {disable}"), e))?;
            self.netlink.add_address6(&network.bridge, pool6.gateway, pool6.subnet.prefix()).await?;
        }
        // Published ports reach containers by DNAT, 127.0.0.1 included: the bridge must route loopback sources.
        let route_localnet = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", network.bridge);
        if let Err(err) = std::fs::write(&route_localnet, "1") {
            tracing::warn!(%err, bridge = %network.bridge, "published ports will not answer on 127.0.0.1 while the daemon is down");
        }
        if network.has_dns() {
            let directory: Arc<dyn dns::Directory> = Arc::new(Directory(self.state.clone()));
            // Without its DNS server the network still works by address: a port 53 taken on the host (a resolver
            // bound to 0.0.0.0) must not make the network unusable.
            match dns::serve(pool.gateway, network.id.clone(), directory, self.upstreams.clone()).await {
                Ok(server) => {
                    self.dns.lock().unwrap_or_else(|p| p.into_inner()).insert(network.id.clone(), server);
                }
                Err(err) => tracing::warn!(%err, network = %network.name, "no embedded DNS on this network"),
            }
        }
        Ok(())
    }

    /// A clean daemon stop: every sandbox, DNS server, bridge and rule goes (the next start makes them again).
    pub async fn shutdown(&self) {
        let containers: Vec<String> = self.state().sandboxes.keys().cloned().collect();
        for container in containers {
            self.teardown(&container).await;
        }
        self.dns.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let bridges: Vec<String> =
            self.state().networks.values().filter(|n| n.pool.is_some()).map(|n| n.bridge.clone()).collect();
        for bridge in bridges {
            if let Err(err) = self.netlink.delete(&bridge).await {
                tracing::warn!(%err, bridge, "could not delete a bridge");
            }
        }
        self.firewall.remove().await;
    }

    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut list: Vec<NetworkRecord> = self.state().networks.values().cloned().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    pub fn get(&self, reference: &str) -> Result<NetworkRecord, NetworkError> {
        self.state().find(reference).cloned()
    }

    /// [`get`](Self::get) without the endpoints: what a create or a listing needs, at a cost that does not grow
    /// with the containers on the network.
    pub fn get_info(&self, reference: &str) -> Result<NetworkRecord, NetworkError> {
        self.state().find(reference).map(NetworkRecord::without_endpoints)
    }

    /// A tenant's network by its reference, without the endpoints.
    pub fn get_owned(&self, owner: &str, reference: &str) -> Result<NetworkRecord, NetworkError> {
        self.state().find_owned(owner, reference).map(NetworkRecord::without_endpoints)
    }

    /// `docker network create`.
    pub async fn create(&self, request: &NetworkCreateRequest) -> Result<NetworkRecord, NetworkError> {
        self.create_owned(None, request).await
    }

    /// `docker network create` for `owner` (a tenant), whose names are its own.
    pub async fn create_owned(
        &self,
        owner: Option<&str>,
        request: &NetworkCreateRequest,
    ) -> Result<NetworkRecord, NetworkError> {
        let name = request.name.clone();
        // dockerd takes any name but an empty one (spaces included) and refuses the pre-defined ones
        // (daemon/network.go, createNetwork; libnetwork's NewNetwork).
        if name.trim().is_empty() {
            return Err(NetworkError::InvalidArgument("invalid name: name is empty".into()));
        }
        if matches!(name.as_str(), "bridge" | "host" | "none" | "default") {
            return Err(NetworkError::Forbidden(format!("operation is not permitted on predefined {name} network ")));
        }
        match request.driver.as_deref().unwrap_or("") {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(NetworkError::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    request.driver.as_deref().unwrap_or("")
                )))
            }
            other => return Err(NetworkError::NotFound(format!("plugin \"{other}\""))),
        }
        let _changes = self.changes.lock().await;
        if self.state().networks.values().any(|n| n.name == name && n.owner.as_deref() == owner) {
            return Err(NetworkError::NameInUse(name));
        }
        let configs = request.ipam.as_ref().and_then(|i| i.config.as_ref());
        let is_ipv6 = |c: &&bollard_stubs::models::IpamConfig| c.subnet.as_deref().is_some_and(|s| s.contains(':'));
        let config = configs.and_then(|c| c.iter().find(|c| c.subnet.is_some() && !is_ipv6(c)));
        let config6 = configs.and_then(|c| c.iter().find(is_ipv6));
        let mut taken: Vec<Subnet> =
            self.state().networks.values().filter_map(|n| n.pool.as_ref()).map(|p| p.subnet).collect();
        let own = taken.clone();
        // Held until the bridge has its address, so that no other daemon on the host takes the same subnet.
        let _host_lock = host_lock::SubnetLock::acquire().await?;
        let host_subnets = self.netlink.host_subnets().await?;
        // The host's routes include our own bridges': they are in `own` already.
        taken.extend(host_subnets.into_iter().filter(|s| !own.contains(s)));
        let overlap = || {
            NetworkError::Forbidden("invalid pool request: Pool overlaps with other one on this address space".into())
        };
        let pool = match config {
            Some(config) => {
                let text = config.subnet.as_deref().unwrap_or("");
                let subnet: Subnet = text.parse().map_err(NetworkError::InvalidArgument)?;
                if subnet.prefix() > 30 {
                    return Err(NetworkError::InvalidArgument(format!("subnet {subnet} is too small for a network")));
                }
                if taken.iter().any(|t| t.overlaps(&subnet)) {
                    return Err(overlap());
                }
                let gateway = match config.gateway.as_deref().filter(|g| !g.is_empty()) {
                    Some(text) => {
                        let gateway: Ipv4Addr = text
                            .parse()
                            .map_err(|_| NetworkError::InvalidArgument(format!("invalid gateway address {text}")))?;
                        if !subnet.contains(gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
                            return Err(NetworkError::InvalidArgument(format!(
                                "no matching subnet for gateway {gateway}"
                            )));
                        }
                        gateway
                    }
                    None => subnet.host(1).ok_or_else(overlap)?,
                };
                let ip_range = match config.ip_range.as_deref().filter(|r| !r.is_empty()) {
                    Some(text) => {
                        let range: Subnet = text.parse().map_err(NetworkError::InvalidArgument)?;
                        if !subnet.contains(range.network()) || range.prefix() < subnet.prefix() {
                            return Err(NetworkError::InvalidArgument(format!(
                                "ip range {range} is not in subnet {subnet}"
                            )));
                        }
                        Some(range)
                    }
                    None => None,
                };
                let mut aux_addresses = BTreeMap::new();
                for (aux_name, text) in config.auxiliary_addresses.iter().flatten() {
                    let address: Ipv4Addr = text.parse().map_err(|_| {
                        NetworkError::InvalidArgument(format!("invalid auxiliary address {aux_name}: {text}"))
                    })?;
                    if !subnet.contains(address) {
                        return Err(NetworkError::InvalidArgument(format!(
                            "invalid network config:\ninvalid auxiliary address {aux_name}: parent subnet {subnet} doesn't contain this address"
                        )));
                    }
                    aux_addresses.insert(aux_name.clone(), address);
                }
                Pool { subnet, gateway, ip_range, aux_addresses }
            }
            None => {
                let subnet = ipam::next_free_subnet(&taken).ok_or_else(|| {
                    NetworkError::Forbidden(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?;
                let gateway = subnet.host(1).ok_or_else(overlap)?;
                Pool { subnet, gateway, ip_range: None, aux_addresses: BTreeMap::new() }
            }
        };
        let id = new_id();
        let pool6 = match request.enable_ipv6 {
            Some(true) => Some(self.pool6(config6, &id)?),
            _ => None,
        };
        let options = request.options.clone().unwrap_or_default();
        let bridge = options
            .get("com.docker.network.bridge.name")
            .filter(|b| !b.is_empty() && b.len() <= 15)
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        let record = NetworkRecord {
            id: id.clone(),
            name,
            owner: owner.map(str::to_string),
            created: Utc::now(),
            driver: Driver::Bridge,
            bridge,
            pool: Some(pool),
            pool6,
            internal: request.internal.unwrap_or(false),
            attachable: request.attachable.unwrap_or(false),
            labels: request.labels.clone().unwrap_or_default(),
            options,
            ipam_options: request.ipam.as_ref().and_then(|i| i.options.clone()),
            predefined: false,
            endpoints: BTreeMap::new(),
        };
        record.save(&self.dir)?;
        self.state().networks.insert(id.clone(), record.clone());
        let kernel = async {
            self.bring_up(&record).await?;
            self.sync_firewall().await
        };
        if let Err(err) = kernel.await {
            self.state().networks.remove(&id);
            self.dns.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            let _ = self.netlink.delete(&record.bridge).await;
            let _ = record.delete(&self.dir);
            return Err(err);
        }
        tracing::info!(name = %record.name, subnet = %record.pool.as_ref().map(|p| p.subnet.to_string()).unwrap_or_default(), "network created");
        Ok(record)
    }

    /// The IPv6 pool of a `--ipv6` network: its `--subnet`, gateway and range, or a /64 of the ULA space made
    /// from the network's id (dockerd takes one from its default pools).
    fn pool6(&self, config: Option<&bollard_stubs::models::IpamConfig>, id: &str) -> Result<Pool6, NetworkError> {
        let invalid = NetworkError::InvalidArgument;
        let subnet: Subnet6 = match config.and_then(|c| c.subnet.as_deref()) {
            Some(text) => text.parse().map_err(invalid)?,
            None => format!("fd{}:{}:{}::/64", &id[..2], &id[2..6], &id[6..10]).parse().map_err(invalid)?,
        };
        if self.state().networks.values().filter_map(|n| n.pool6.as_ref()).any(|p| p.subnet.overlaps(&subnet)) {
            return Err(NetworkError::Forbidden(
                "invalid pool request: Pool overlaps with other one on this address space".into(),
            ));
        }
        let gateway = match config.and_then(|c| c.gateway.as_deref()).filter(|g| !g.is_empty()) {
            Some(text) => {
                let gateway: Ipv6Addr = text.parse().map_err(|_| invalid(format!("invalid gateway address {text}")))?;
                if !subnet.contains(gateway) {
                    return Err(invalid(format!(
                        "invalid network config:\ninvalid gateway {gateway}: parent subnet {subnet} doesn't contain this address"
                    )));
                }
                gateway
            }
            None => subnet.host(1).ok_or_else(|| invalid(format!("subnet {subnet} is too small for a network")))?,
        };
        let ip_range = match config.and_then(|c| c.ip_range.as_deref()).filter(|r| !r.is_empty()) {
            Some(text) => {
                let range: Subnet6 = text.parse().map_err(invalid)?;
                if !subnet.contains(range.network()) || range.prefix() < subnet.prefix() {
                    return Err(invalid(format!(
                        "invalid network config:\ninvalid ip-range {range}: parent subnet {subnet} doesn't contain ip-range"
                    )));
                }
                Some(range)
            }
            None => None,
        };
        Ok(Pool6 { subnet, gateway, ip_range })
    }

    /// `docker network rm`.
    pub async fn remove(&self, reference: &str) -> Result<NetworkRecord, NetworkError> {
        let _changes = self.changes.lock().await;
        let record = self.state().find(reference)?.clone();
        if record.predefined {
            return Err(NetworkError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                record.name
            )));
        }
        // As in dockerd, only running containers hold a network: a stopped one's endpoint goes with it (and the
        // container finds its network missing when it next starts).
        let active = {
            let state = self.state();
            record.endpoints.keys().any(|container| state.sandboxes.contains_key(container))
        };
        if active {
            return Err(NetworkError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                record.name, record.id
            )));
        }
        self.state().networks.remove(&record.id);
        self.dns.lock().unwrap_or_else(|p| p.into_inner()).remove(&record.id);
        record.delete(&self.dir)?;
        if let Err(err) = self.netlink.delete(&record.bridge).await {
            tracing::warn!(%err, bridge = %record.bridge, "could not delete a bridge");
        }
        self.sync_firewall().await?;
        Ok(record)
    }

    /// Records an endpoint for the container on the network and gives it an address. Persisted at once.
    pub fn connect(
        &self,
        reference: &str,
        container_id: &str,
        container_name: &str,
        settings: Option<&EndpointSettings>,
    ) -> Result<EndpointRecord, NetworkError> {
        let mut state = self.state();
        // Not cloned: the record holds every endpoint, and a clone per create made filling a bridge quadratic.
        let network_id = state.find(reference)?.id.clone();
        let Some(network) = state.networks.get_mut(&network_id) else {
            return Err(NetworkError::NotFound(reference.to_string()));
        };
        let Some(pool) = network.pool.clone() else {
            return Err(NetworkError::Forbidden(
                "container cannot be disconnected from host network or connected to host network".to_string(),
            ));
        };
        if network.endpoints.contains_key(container_id) {
            return Err(NetworkError::Forbidden(format!(
                "endpoint with name {container_name} already exists in network {}",
                network.name
            )));
        }
        let mut used: HashSet<Ipv4Addr> = network.endpoints.values().map(|e| e.ip).collect();
        used.insert(pool.gateway);
        used.extend(pool.aux_addresses.values());
        let requested = settings
            .and_then(|s| s.ipam_config.as_ref())
            .and_then(|c| c.ipv4_address.clone())
            .filter(|a| !a.is_empty());
        let (ip, requested_ip) = match requested {
            Some(text) => {
                if network.predefined {
                    return Err(NetworkError::InvalidArgument(
                        "user specified IP address is supported on user defined networks only".into(),
                    ));
                }
                let ip: Ipv4Addr =
                    text.parse().map_err(|_| NetworkError::InvalidArgument(format!("invalid IPv4 address: {text}")))?;
                if !pool.subnet.contains(ip) || ip == pool.subnet.network() || ip == pool.subnet.broadcast() {
                    return Err(NetworkError::InvalidArgument(format!(
                        "no configured subnet or ip-range contain the IP address {ip}"
                    )));
                }
                if used.contains(&ip) {
                    return Err(NetworkError::Forbidden(format!("Address already in use: {ip}")));
                }
                (ip, Some(ip))
            }
            None => {
                let ip = ipam::allocate(pool.subnet, pool.ip_range, &used).ok_or_else(|| {
                    NetworkError::PoolExhausted { network: network.name.clone(), id: network.id.clone() }
                })?;
                (ip, None)
            }
        };
        let (ip6, requested_ip6) = match &network.pool6 {
            Some(pool6) => {
                let requested6 = settings
                    .and_then(|s| s.ipam_config.as_ref())
                    .and_then(|c| c.ipv6_address.clone())
                    .filter(|a| !a.is_empty());
                let used6: HashSet<Ipv6Addr> =
                    network.endpoints.values().filter_map(|e| e.ip6).chain([pool6.gateway]).collect();
                match requested6 {
                    Some(text) => {
                        let ip: Ipv6Addr = text
                            .parse()
                            .map_err(|_| NetworkError::InvalidArgument(format!("invalid IPv6 address: {text}")))?;
                        if !pool6.subnet.contains(ip) {
                            return Err(NetworkError::InvalidArgument(format!(
                                "no configured subnet contains IP address {ip}"
                            )));
                        }
                        if used6.contains(&ip) {
                            return Err(NetworkError::Forbidden(format!("Address already in use: {ip}")));
                        }
                        (Some(ip), Some(ip))
                    }
                    None => {
                        let range = pool6.ip_range.unwrap_or(pool6.subnet);
                        let ip = (1..u128::from(u16::MAX))
                            .filter_map(|n| range.host(n))
                            .find(|ip| !used6.contains(ip))
                            .ok_or_else(|| NetworkError::PoolExhausted {
                                network: network.name.clone(),
                                id: network.id.clone(),
                            })?;
                        (Some(ip), None)
                    }
                }
            }
            None => (None, None),
        };
        let mac = match settings.and_then(|s| s.mac_address.as_deref()).filter(|m| !m.is_empty()) {
            Some(text) => ipam::parse_mac(text)
                .ok_or_else(|| NetworkError::InvalidArgument(format!("invalid MAC address: {text}")))?,
            None => ipam::mac_for(ip),
        };
        let endpoint = EndpointRecord {
            endpoint_id: new_id(),
            container_id: container_id.to_string(),
            container_name: container_name.to_string(),
            ip,
            mac: ipam::mac_string(mac),
            aliases: settings.and_then(|s| s.aliases.clone()).unwrap_or_default(),
            requested_ip,
            ip6,
            requested_ip6,
            links: settings.and_then(|s| s.links.clone()).unwrap_or_default(),
            attached: Utc::now(),
        };
        network.endpoints.insert(container_id.to_string(), endpoint.clone());
        if let Err(err) = network.save_endpoint(&self.dir, container_id) {
            network.endpoints.remove(container_id);
            return Err(err);
        }
        Ok(endpoint)
    }

    /// Removes the container's endpoint on the network (and its interface, if running). Its address is free again.
    pub async fn disconnect(&self, reference: &str, container_id: &str) -> Result<(), NetworkError> {
        let (name, veth) = {
            let mut state = self.state();
            // In place: the record holds every endpoint, and a copy per disconnect grows with the containers on it.
            let network_id = state.find(reference)?.id.clone();
            let Some(network) = state.networks.get_mut(&network_id) else {
                return Err(NetworkError::NotFound(reference.to_string()));
            };
            let Some(endpoint) = network.endpoints.remove(container_id) else {
                return Err(NetworkError::Conflict(format!(
                    "container {container_id} is not connected to network {}",
                    network.name
                )));
            };
            if let Err(err) = network.delete_endpoint(&self.dir, container_id) {
                network.endpoints.insert(container_id.to_string(), endpoint);
                return Err(err);
            }
            let name = network.name.clone();
            let mut veth = None;
            if let Some(sandbox) = state.sandboxes.get_mut(container_id) {
                if let Some(at) = sandbox.interfaces.iter().position(|i| i.0 == network_id) {
                    veth = Some(sandbox.interfaces.remove(at).2);
                }
            }
            (name, veth)
        };
        if let Some(veth) = veth {
            self.netlink.delete(&veth).await?;
        }
        tracing::debug!(network = %name, container_id, "disconnected");
        Ok(())
    }

    /// Every endpoint of a removed container goes.
    pub fn disconnect_all(&self, container_id: &str) {
        let mut state = self.state();
        let ids: Vec<String> =
            state.networks.values().filter(|n| n.endpoints.contains_key(container_id)).map(|n| n.id.clone()).collect();
        for id in ids {
            if let Some(network) = state.networks.get_mut(&id) {
                network.endpoints.remove(container_id);
                if let Err(err) = network.delete_endpoint(&self.dir, container_id) {
                    tracing::warn!(%err, "could not persist a network");
                }
            }
        }
    }

    /// The container's endpoints with their networks (without the networks' other endpoints, so what `docker ps`
    /// pays per container does not grow with the containers beside it), `primary` first, then in the order they
    /// were attached.
    pub fn endpoints(&self, container_id: &str, primary: Option<&str>) -> Vec<(NetworkRecord, EndpointRecord)> {
        let state = self.state();
        let mut list: Vec<(NetworkRecord, EndpointRecord)> = state
            .networks
            .values()
            .filter_map(|n| n.endpoints.get(container_id).map(|e| (n.without_endpoints(), e.clone())))
            .collect();
        list.sort_by_key(|(n, e)| (Some(n.name.as_str()) != primary && Some(n.id.as_str()) != primary, e.attached));
        list
    }

    /// Keeps DNS names in step with `docker rename`.
    pub fn rename_container(&self, container_id: &str, new_name: &str) {
        let mut state = self.state();
        for network in state.networks.values_mut() {
            if let Some(endpoint) = network.endpoints.get_mut(container_id) {
                endpoint.container_name = new_name.to_string();
                if let Err(err) = network.save_endpoint(&self.dir, container_id) {
                    tracing::warn!(%err, "could not persist a network");
                }
            }
        }
    }

    /// Creates the container's network namespace with one interface per endpoint. Returns the namespace path for
    /// the spec. On failure nothing is left behind.
    pub async fn setup(&self, container_id: &str, primary: Option<&str>) -> Result<PathBuf, NetworkError> {
        self.teardown(container_id).await;
        let netns = self.netns_dir.join(container_id);
        {
            // Counted and claimed under one lock, before the namespace: racing starts cannot both take the last
            // port, and a refused one leaves nothing to undo.
            let mut state = self.state();
            let joined: Vec<&NetworkRecord> =
                state.networks.values().filter(|n| n.endpoints.contains_key(container_id)).collect();
            if let Some(full) = state.full_bridge(&joined, self.config.max_containers_per_bridge) {
                tracing::warn!(container_id, %full, "start refused");
                return Err(full);
            }
            state.sandboxes.insert(
                container_id.to_string(),
                Sandbox { netns: netns.clone(), interfaces: Vec::new(), proxies: Vec::new() },
            );
        }
        let path = netns.clone();
        let made = tokio::task::spawn_blocking(move || berth_runtime::create_netns(&path))
            .await
            .map_err(|e| NetworkError::io("create network namespace", std::io::Error::other(e)))
            .and_then(|made| made.map_err(NetworkError::from));
        if let Err(err) = made {
            self.teardown(container_id).await;
            return Err(err);
        }
        let endpoints = self.endpoints(container_id, primary);
        let result = async {
            let inside = Netlink::in_namespace(&netns).await?;
            let mut default_route_set = false;
            for (network, endpoint) in &endpoints {
                let gateway = !network.internal && !default_route_set;
                self.plumb(&inside, container_id, network, endpoint, gateway).await?;
                default_route_set |= gateway;
            }
            Ok::<(), NetworkError>(())
        };
        if let Err(err) = result.await {
            self.teardown(container_id).await;
            return Err(err);
        }
        Ok(netns)
    }

    /// One veth: host end on the network's bridge, the other as the next free `ethN` inside.
    async fn plumb(
        &self,
        inside: &Netlink,
        container_id: &str,
        network: &NetworkRecord,
        endpoint: &EndpointRecord,
        default_route: bool,
    ) -> Result<(), NetworkError> {
        let Some(pool) = &network.pool else { return Ok(()) };
        let host = host_veth_name(container_id, &network.id);
        let (netns, ifname) = {
            let state = self.state();
            let Some(sandbox) = state.sandboxes.get(container_id) else {
                return Err(NetworkError::Conflict(format!("container {container_id} is not running")));
            };
            let taken: HashSet<&str> = sandbox.interfaces.iter().map(|i| i.1.as_str()).collect();
            let ifname = (0..).map(|n| format!("eth{n}")).find(|n| !taken.contains(n.as_str())).unwrap_or_default();
            (sandbox.netns.clone(), ifname)
        };
        // A pair left from the previous run of this container may still be on its way out with its old namespace.
        let _ = self.netlink.delete(&host).await;
        let mac = ipam::parse_mac(&endpoint.mac).unwrap_or_else(|| ipam::mac_for(endpoint.ip));
        self.netlink.create_veth(&host, &network.bridge, &netns, &ifname, mac).await?;
        if let Some(sandbox) = self.state().sandboxes.get_mut(container_id) {
            sandbox.interfaces.push((network.id.clone(), ifname.clone(), host.clone()));
        }
        inside
            .configure_interface(&ifname, endpoint.ip, pool.subnet.prefix(), default_route.then_some(pool.gateway))
            .await?;
        if let (Some(pool6), Some(ip6)) = (&network.pool6, endpoint.ip6) {
            inside.add_address6(&ifname, ip6, pool6.subnet.prefix()).await?;
            if default_route {
                inside.default_route6(&ifname, pool6.gateway).await?;
            }
        }
        Ok(())
    }

    /// `docker network connect` on a running container: adds the interface now.
    pub async fn attach_running(&self, container_id: &str, reference: &str) -> Result<(), NetworkError> {
        let network = self.get(reference)?;
        let Some(endpoint) = network.endpoints.get(container_id).cloned() else { return Ok(()) };
        let Some(netns) = self.state().sandboxes.get(container_id).map(|s| s.netns.clone()) else { return Ok(()) };
        // The container's endpoint is recorded already, so it counts itself: the bridge is full past the limit.
        if self.state().sandboxes_on(&network.id) > self.config.max_containers_per_bridge {
            let limit = self.config.max_containers_per_bridge;
            return Err(NetworkError::BridgeFull {
                bridge: network.bridge.clone(),
                network: network.name.clone(),
                limit,
            });
        }
        let inside = Netlink::in_namespace(&netns).await?;
        let has_interfaces = self.state().sandboxes.get(container_id).is_some_and(|s| !s.interfaces.is_empty());
        self.plumb(&inside, container_id, &network, &endpoint, !has_interfaces && !network.internal).await
    }

    /// Publishes the container's ports towards `target`. On failure, what was published is closed again.
    pub async fn publish(
        &self,
        container_id: &str,
        endpoint_name: &str,
        requests: &[PortRequest],
        target: Ipv4Addr,
    ) -> Result<Vec<PublishedPort>, NetworkError> {
        let published = self.bind_ports(container_id, endpoint_name, requests, target).await?;
        if !published.is_empty() {
            // Containers on the bridges may now reach these ports on the host (and nothing else there).
            if let Err(err) = self.sync_firewall().await {
                tracing::warn!(%err, "could not open the published ports to containers");
            }
        }
        Ok(published)
    }

    /// Binds the ports and starts their proxies, without rewriting the rules (see [`publish`](Self::publish)).
    async fn bind_ports(
        &self,
        container_id: &str,
        endpoint_name: &str,
        requests: &[PortRequest],
        target: Ipv4Addr,
    ) -> Result<Vec<PublishedPort>, NetworkError> {
        let mut proxies = Vec::new();
        for request in requests {
            proxies.push(ports::publish(request, target, endpoint_name).await?);
        }
        let published: Vec<PublishedPort> = proxies.iter().map(|p| p.port.clone()).collect();
        if let Some(sandbox) = self.state().sandboxes.get_mut(container_id) {
            sandbox.proxies.extend(proxies);
        }
        Ok(published)
    }

    /// Rewrites the rules for the networks and published ports as they are now.
    async fn sync_firewall(&self) -> Result<(), NetworkError> {
        let _one_at_a_time = self.firewall_sync.lock().await;
        let (rules, host_ports) = {
            let state = self.state();
            (state.bridge_rules(), state.host_ports())
        };
        self.firewall.sync(&rules, &host_ports).await
    }

    /// The ports published for a running container.
    pub fn published(&self, container_id: &str) -> Vec<PublishedPort> {
        self.state()
            .sandboxes
            .get(container_id)
            .map(|s| s.proxies.iter().map(|p| p.port.clone()).collect())
            .unwrap_or_default()
    }

    pub fn is_running(&self, container_id: &str) -> bool {
        self.state().sandboxes.contains_key(container_id)
    }

    /// Closes the published ports and removes the namespace, which takes the container's veth pairs with it.
    /// Host ends are deleted one by one only where no namespace could go (none pinned, or its removal failed).
    /// Idempotent; never fails (logs instead).
    pub async fn teardown(&self, container_id: &str) {
        let sandbox = self.state().sandboxes.remove(container_id);
        let mut veths: Vec<String> = self
            .state()
            .networks
            .values()
            .filter(|n| n.endpoints.contains_key(container_id))
            .map(|n| host_veth_name(container_id, &n.id))
            .collect();
        if let Some(sandbox) = &sandbox {
            veths.extend(sandbox.interfaces.iter().map(|i| i.2.clone()));
        }
        // Dropping the sandbox closes its port proxies; the rules then stop letting containers reach them.
        let had_ports = sandbox.as_ref().is_some_and(|sandbox| !sandbox.proxies.is_empty());
        drop(sandbox);
        if had_ports {
            if let Err(err) = self.sync_firewall().await {
                tracing::warn!(%err, "could not close the published ports to containers");
            }
        }
        let netns = self.netns_dir.join(container_id);
        if netns.exists() {
            let path = netns.clone();
            match tokio::task::spawn_blocking(move || berth_runtime::remove_netns(&path)).await {
                Ok(Ok(())) => return,
                Ok(Err(err)) => tracing::warn!(%err, "could not remove a network namespace"),
                Err(err) => tracing::warn!(%err, "could not remove a network namespace"),
            }
        }
        veths.sort();
        veths.dedup();
        for veth in veths {
            if let Err(err) = self.netlink.delete(&veth).await {
                tracing::warn!(%err, veth, "could not delete a veth");
            }
        }
    }
}

/// Name lookups for the DNS servers, over the live state.
struct Directory(Arc<Mutex<State>>);

impl dns::Directory for Directory {
    fn lookup(&self, network_id: &str, client: Ipv4Addr, name: &str) -> Option<Vec<Ipv4Addr>> {
        let state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let asking = state.networks.get(network_id)?.endpoints.values().find(|e| e.ip == client)?.container_id.clone();
        // The asker's networks, the one it asked on first: Docker resolves across every network a container is on.
        let mut searched: Vec<&NetworkRecord> =
            state.networks.values().filter(|n| n.has_dns() && n.endpoints.contains_key(&asking)).collect();
        searched.sort_by_key(|n| n.id != network_id);
        for network in searched {
            let running = |e: &&EndpointRecord| {
                state.sandboxes.get(&e.container_id).is_some_and(|s| s.interfaces.iter().any(|i| i.0 == network.id))
            };
            let is = |n: &str| {
                n.eq_ignore_ascii_case(name)
                    || name
                        .strip_suffix(network.name.as_str())
                        .and_then(|rest| rest.strip_suffix('.'))
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(n))
            };
            // The asker's own links on this network: its alias names the linked container, for the asker only.
            let linked: Vec<&str> = network
                .endpoints
                .get(&asking)
                .map(|own| own.links.iter().map(|l| link_target(l)).filter(|(_, alias)| is(alias)).map(|(t, _)| t))
                .into_iter()
                .flatten()
                .collect();
            let found: Vec<Ipv4Addr> = network
                .endpoints
                .values()
                .filter(running)
                .filter(|e| {
                    let names = [e.container_name.as_str(), &e.container_id[..e.container_id.len().min(12)]];
                    names.into_iter().chain(e.aliases.iter().map(String::as_str)).any(is)
                        || linked.contains(&e.container_name.as_str())
                })
                .map(|e| e.ip)
                .collect();
            if !found.is_empty() {
                return Some(found);
            }
        }
        None
    }
}

/// `name:alias` (the CLI's and docker-py's form), `/name:/container/alias` (dockerd's stored form) or `name`:
/// the linked container's name and the alias it is known by.
pub fn link_target(link: &str) -> (&str, &str) {
    let (target, alias) = link.split_once(':').unwrap_or((link, link));
    (target.trim_start_matches('/'), alias.rsplit('/').next().unwrap_or(alias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_the_kernel_limit() {
        assert!(host_veth_name(&"a".repeat(64), &"b".repeat(64)).len() <= 15);
    }

    #[test]
    fn links_name_their_target_and_alias() {
        assert_eq!(link_target("up:bar"), ("up", "bar"));
        assert_eq!(link_target("/up:/me/bar"), ("up", "bar"));
        assert_eq!(link_target("up"), ("up", "up"));
    }
}
