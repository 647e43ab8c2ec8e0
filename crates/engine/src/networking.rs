//! Containers and networks: which networks a container joins at create, its network namespace, /etc/hosts,
//! /etc/resolv.conf and published ports at start, teardown at exit, `docker network connect/disconnect/rm/prune`,
//! and what inspect and ps show about it.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use bollard_stubs::models::{
    EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig, PortBinding, PortMap, PortSummary,
    PortSummaryTypeEnum,
};

use super::container::{Container, ContainerRecord};
use super::{Engine, EngineError};
use berth_network::{etc_files, ports, EndpointRecord, NetworkError, NetworkRecord, PublishedPort};

/// The ports a running container got, beside its record: a daemon adopting it publishes the same ones.
const PUBLISHED_FILE: &str = "published.json";

/// How the container's network namespace is made.
pub enum NetworkNamespace {
    /// Share the host's (`--network host`).
    Host,
    /// A new, empty one with only `lo` (`--network none`).
    New,
    /// Join this one: the pinned namespace the daemon configured, or another container's.
    Join(PathBuf),
}

/// What inspect and ps show about a container's networking.
#[derive(Debug, Default)]
pub struct NetworkView {
    pub ports: PortMap,
    pub networks: HashMap<String, EndpointSettings>,
    pub summary_ports: Vec<PortSummary>,
}

/// The network a network mode names, if it names one (`bridge`, a user network) rather than host, none or
/// another container.
fn network_of_mode(mode: &str) -> Option<&str> {
    match mode {
        "host" | "none" => None,
        m if m.starts_with("container:") => None,
        "" | "default" => Some("bridge"),
        m => Some(m),
    }
}

fn mode_of(host: &HostConfig) -> String {
    host.network_mode.clone().filter(|m| !m.is_empty() && m != "default").unwrap_or_else(|| "bridge".into())
}

impl Engine {
    /// At create: checks the network mode and records an endpoint (with its address) on each network asked for.
    pub(super) fn attach_networks(
        &self,
        id: &str,
        name: &str,
        host: &HostConfig,
        networking: Option<&NetworkingConfig>,
    ) -> Result<(), EngineError> {
        let mode = mode_of(host);
        let publishes =
            host.port_bindings.as_ref().is_some_and(|b| !b.is_empty()) || host.publish_all_ports == Some(true);
        if let Some(other) = mode.strip_prefix("container:") {
            self.container(other)?;
            if publishes {
                return Err(EngineError::InvalidArgument(
                    "conflicting options: port publishing and the container type network mode".into(),
                ));
            }
        }
        let endpoints = networking.and_then(|n| n.endpoints_config.clone()).unwrap_or_default();
        let Some(primary) = network_of_mode(&mode) else {
            return Ok(());
        };
        let primary_record = self.networks.get_info(primary)?;
        let primary_settings =
            endpoints.get(primary).or_else(|| endpoints.get("default")).or_else(|| endpoints.get(&primary_record.id));
        let mut plan: Vec<(NetworkRecord, Option<EndpointSettings>)> =
            vec![(primary_record.clone(), primary_settings.cloned())];
        for (network, settings) in &endpoints {
            if network == primary || network == "default" || *network == primary_record.id {
                continue;
            }
            let record = self.networks.get_info(network)?;
            if record.pool.is_none() {
                return Err(EngineError::InvalidArgument(format!(
                    "container cannot be connected to network {} and to a host or none network",
                    record.name
                )));
            }
            if !plan.iter().any(|(r, _)| r.id == record.id) {
                plan.push((record, Some(settings.clone())));
            }
        }
        for (record, settings) in &plan {
            let has_aliases = settings.as_ref().and_then(|s| s.aliases.as_ref()).is_some_and(|a| !a.is_empty());
            if has_aliases && !record.is_user_defined() {
                return Err(EngineError::InvalidArgument(
                    "network-scoped aliases are only supported for user-defined networks".into(),
                ));
            }
        }
        for (record, settings) in &plan {
            if let Err(err) = self.networks.connect(&record.id, id, name, settings.as_ref()) {
                self.networks.disconnect_all(id);
                return Err(err.into());
            }
        }
        Ok(())
    }

    /// At start: the namespace to give the spec, with /etc/hosts and /etc/resolv.conf written and ports published.
    /// On failure nothing is left behind.
    pub(super) async fn setup_network(&self, container: &Arc<Container>) -> Result<NetworkNamespace, EngineError> {
        let record = container.snapshot();
        let mode = mode_of(&record.host_config);
        if mode == "host" {
            return Ok(NetworkNamespace::Host);
        }
        if mode == "none" {
            return Ok(NetworkNamespace::New);
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let other = self.container(other)?;
            let pid = other.record().state.pid;
            if !other.status().is_running() || pid <= 0 {
                return Err(EngineError::Conflict(format!(
                    "cannot join network namespace of a non running container: {}",
                    other.id
                )));
            }
            for file in ["hosts", "resolv.conf"] {
                let _ = std::fs::copy(other.dir.join(file), container.dir.join(file));
            }
            return Ok(NetworkNamespace::Join(PathBuf::from(format!("/proc/{pid}/ns/net"))));
        }
        let netns = self.networks.setup(&container.id, Some(&mode)).await?;
        match self.finish_network(container, &mode).await {
            Ok(()) => {
                self.emit_sandbox_networks(container, "connect");
                Ok(NetworkNamespace::Join(netns))
            }
            Err(err) => {
                self.networks.teardown(&container.id).await;
                Err(err)
            }
        }
    }

    async fn finish_network(&self, container: &Arc<Container>, mode: &str) -> Result<(), EngineError> {
        let record = container.snapshot();
        let endpoints = self.networks.endpoints(&container.id, Some(mode));
        let own_ip = endpoints.first().map(|(_, e)| e.ip);
        let embedded =
            endpoints.iter().find(|(n, _)| n.has_dns()).and_then(|(n, _)| n.pool.as_ref()).map(|p| p.gateway);

        let mut links = Vec::new();
        for link in record.host_config.links.iter().flatten() {
            let (target, alias) = berth_network::link_target(link);
            let (target, alias) = (target.to_string(), alias.to_string());
            let other = self.container(&target)?;
            let ip = other_ip(self, &other.id, &endpoints);
            match ip {
                Some(ip) if other.status().is_running() => {
                    let other_name = other.name();
                    let mut names = vec![alias.clone()];
                    if alias != other_name {
                        names.push(other_name);
                    }
                    links.push((ip, names));
                }
                _ => {
                    return Err(EngineError::InvalidArgument(format!(
                        "Cannot link to a non running container: /{} AS /{}/{alias}",
                        other.name(),
                        record.name
                    )))
                }
            }
        }
        let extra: Vec<(String, String)> = record
            .host_config
            .extra_hosts
            .iter()
            .flatten()
            .filter_map(|h| h.split_once(':').map(|(n, ip)| (n.to_string(), ip.to_string())))
            .collect();
        let hostname = record.config.hostname.clone().unwrap_or_else(|| container.id[..12].to_string());
        let hosts = etc_files::hosts(&hostname, own_ip, &links, &extra);
        std::fs::write(container.dir.join("hosts"), hosts).map_err(|e| EngineError::io("write hosts", e))?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let host = &record.host_config;
        let resolv = etc_files::resolv_conf(
            &host_resolv,
            embedded,
            &host.dns.clone().unwrap_or_default(),
            &host.dns_search.clone().unwrap_or_default(),
            &host.dns_options.clone().unwrap_or_default(),
        );
        std::fs::write(container.dir.join("resolv.conf"), resolv)
            .map_err(|e| EngineError::io("write resolv.conf", e))?;

        let exposed = record.config.exposed_ports.clone().unwrap_or_default();
        let requests = ports::requests(host.port_bindings.as_ref(), &exposed, host.publish_all_ports.unwrap_or(false))?;
        if !requests.is_empty() {
            let Some(target) = own_ip else {
                return Err(EngineError::InvalidArgument(
                    "cannot publish ports of a container without a network".into(),
                ));
            };
            let endpoint = format!("{} ({})", record.name, container.id);
            let published = self.networks.publish(&container.id, &endpoint, &requests, target).await?;
            berth_fs::atomic::replace_json(&container.dir.join(PUBLISHED_FILE), &published)?;
        }
        Ok(())
    }

    /// Takes over the network of a container adopted from its monitor after a daemon restart: the same
    /// namespace, veths and addresses, and its ports published again on the host ports they had.
    pub(super) async fn adopt_network(&self, container: &Arc<Container>) -> Result<(), EngineError> {
        let record = container.snapshot();
        let mode = mode_of(&record.host_config);
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Ok(());
        }
        let published: Vec<PublishedPort> =
            berth_fs::atomic::read_json(&container.dir.join(PUBLISHED_FILE)).unwrap_or_default();
        let endpoint = format!("{} ({})", record.name, container.id);
        self.networks.adopt(&container.id, Some(&mode), &endpoint, &published).await?;
        Ok(())
    }

    /// After the container's process is gone (or its start failed).
    pub(super) async fn teardown_network(&self, container: &Container) {
        self.networks.teardown(&container.id).await;
    }

    /// What inspect and ps show.
    pub fn network_view(&self, container: &Container) -> NetworkView {
        self.network_view_of(&container.snapshot())
    }

    /// [`network_view`](Self::network_view) from a record already copied (a listing copies each one once).
    pub fn network_view_of(&self, record: &ContainerRecord) -> NetworkView {
        let container_id = record.id.as_str();
        let mode = mode_of(&record.host_config);
        let mut view = NetworkView::default();
        for key in record.config.exposed_ports.iter().flatten() {
            if let Ok((port, protocol)) = ports::parse_port_key(key) {
                view.ports.insert(format!("{port}/{}", protocol.as_str()), None);
                view.summary_ports.push(PortSummary {
                    private_port: port,
                    typ: Some(summary_type(protocol)),
                    ..Default::default()
                });
            }
        }
        let published = self.networks.published(container_id);
        for port in &published {
            view.summary_ports.retain(|p| !(p.private_port == port.container_port && p.public_port.is_none()));
        }
        for PublishedPort { container_port, protocol, host_ip, host_port } in published {
            let key = format!("{container_port}/{}", protocol.as_str());
            let entry = view.ports.entry(key).or_insert(None).get_or_insert_with(Vec::new);
            entry.push(PortBinding { host_ip: Some(host_ip.to_string()), host_port: Some(host_port.to_string()) });
            view.summary_ports.push(PortSummary {
                ip: Some(host_ip.to_string()),
                private_port: container_port,
                public_port: Some(host_port),
                typ: Some(summary_type(protocol)),
            });
        }
        view.summary_ports.sort_by_key(|p| (p.private_port, p.public_port));
        match network_of_mode(&mode) {
            Some(_) => {
                for (network, endpoint) in self.networks.endpoints(container_id, Some(&mode)) {
                    view.networks
                        .insert(network.name.clone(), endpoint_settings(&network, &endpoint, &record.host_config));
                }
            }
            None if mode == "host" || mode == "none" => {
                if let Ok(network) = self.networks.get_info(&mode) {
                    let settings = EndpointSettings {
                        network_id: Some(network.id.clone()),
                        ip_address: Some(String::new()),
                        gateway: Some(String::new()),
                        mac_address: Some(String::new()),
                        ip_prefix_len: Some(0),
                        ..Default::default()
                    };
                    view.networks.insert(network.name.clone(), settings);
                }
            }
            None => {}
        }
        view
    }

    /// `docker network connect`.
    pub async fn network_connect(
        self: &Arc<Self>,
        network: &str,
        reference: &str,
        settings: Option<EndpointSettings>,
    ) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        let record = container.snapshot();
        let mode = mode_of(&record.host_config);
        if network_of_mode(&mode).is_none() {
            return Err(EngineError::Forbidden("container sharing network namespace with another container or host cannot be connected to any other network".to_string()));
        }
        let target = self.networks.get(network)?;
        let has_aliases = settings.as_ref().and_then(|s| s.aliases.as_ref()).is_some_and(|a| !a.is_empty());
        if has_aliases && !target.is_user_defined() {
            return Err(EngineError::InvalidArgument(
                "network-scoped aliases are only supported for user-defined networks".into(),
            ));
        }
        self.networks.connect(&target.id, &container.id, &record.name, settings.as_ref())?;
        if self.networks.is_running(&container.id) {
            if let Err(err) = self.networks.attach_running(&container.id, &target.id).await {
                let _ = self.networks.disconnect(&target.id, &container.id).await;
                return Err(err.into());
            }
        }
        self.emit_network("connect", &target, &container.id);
        Ok(())
    }

    /// `docker network disconnect`.
    pub async fn network_disconnect(self: &Arc<Self>, network: &str, reference: &str) -> Result<(), EngineError> {
        let target = self.networks.get(network)?;
        let container = match self.container(reference) {
            Ok(container) => container,
            Err(err) => {
                // `--force` on a container that is gone: drop its endpoint anyway.
                let id = target
                    .endpoints
                    .values()
                    .find(|e| e.container_name == reference || e.container_id.starts_with(reference));
                match id {
                    Some(endpoint) => {
                        self.networks.disconnect(&target.id, &endpoint.container_id.clone()).await?;
                        return Ok(());
                    }
                    None => return Err(err),
                }
            }
        };
        let _op = container.op.lock().await;
        if !target.endpoints.contains_key(&container.id) && !self.networks.is_running(&container.id) {
            // dockerd's wording for a container that is not running (daemon/container_operations.go).
            return Err(EngineError::Conflict(format!(
                "container {} is not connected to the network {}",
                container.id, target.name
            )));
        }
        self.networks.disconnect(&target.id, &container.id).await?;
        self.emit_network("disconnect", &target, &container.id);
        Ok(())
    }

    /// Every network.
    pub fn network_list(&self) -> Vec<berth_network::NetworkRecord> {
        self.networks.list()
    }

    /// The networks `scope` sees: a tenant's own only.
    pub fn network_list_in(&self, scope: super::Scope<'_>) -> Vec<berth_network::NetworkRecord> {
        let mut list = self.networks.list();
        if let super::Scope::Tenant(tenant) = scope {
            list.retain(|network| network.owner.as_deref() == Some(tenant));
        }
        list
    }

    /// The network a name, id or id prefix names.
    pub fn network(&self, reference: &str) -> Result<berth_network::NetworkRecord, EngineError> {
        Ok(self.networks.get(reference)?)
    }

    /// The network `reference` names in `scope` (a tenant's: among its own networks), without its endpoints.
    pub fn network_in(
        &self,
        scope: super::Scope<'_>,
        reference: &str,
    ) -> Result<berth_network::NetworkRecord, EngineError> {
        match scope {
            super::Scope::Everything => Ok(self.networks.get_info(reference)?),
            super::Scope::Tenant(tenant) => Ok(self.networks.get_owned(tenant, reference)?),
        }
    }

    /// `docker network create`.
    pub async fn network_create(
        &self,
        request: &bollard_stubs::models::NetworkCreateRequest,
    ) -> Result<NetworkRecord, EngineError> {
        self.network_create_owned(None, request).await
    }

    /// `docker network create` for `owner` (a tenant: the name is unique among its networks only).
    pub async fn network_create_owned(
        &self,
        owner: Option<&str>,
        request: &bollard_stubs::models::NetworkCreateRequest,
    ) -> Result<NetworkRecord, EngineError> {
        let record = self.networks.create_owned(owner, request).await?;
        self.emit_network("create", &record, "");
        Ok(record)
    }

    /// `docker network rm`.
    pub async fn network_remove(&self, reference: &str) -> Result<(), EngineError> {
        let record = self.networks.remove(reference).await?;
        self.emit_network("destroy", &record, "");
        Ok(())
    }

    /// `docker network prune`: user-defined networks of `scope` without endpoints that `filter` selects. Returns
    /// their names.
    pub async fn network_prune(&self, scope: super::Scope<'_>, filter: &super::PruneFilter) -> Vec<String> {
        let mut deleted = Vec::new();
        for network in self.network_list_in(scope) {
            if network.predefined
                || !network.endpoints.is_empty()
                || !filter.matches(&network.labels, Some(network.created))
            {
                continue;
            }
            if self.network_remove(&network.id).await.is_ok() {
                deleted.push(network.name);
            }
        }
        self.emit_prune(scope.names_owner(), bollard_stubs::models::EventMessageTypeEnum::NETWORK, 0);
        deleted
    }

    /// dockerd's `connect` at a start and `disconnect` at an exit, for each network the container is on.
    pub(super) fn emit_sandbox_networks(&self, container: &Container, action: &str) {
        let mode = mode_of(&container.snapshot().host_config);
        for (network, _) in self.networks.endpoints(&container.id, Some(&mode)) {
            self.emit_network(action, &network, &container.id);
        }
    }

    fn emit_network(&self, action: &str, network: &NetworkRecord, container: &str) {
        let mut attributes = HashMap::from([
            ("name".to_string(), network.name.clone()),
            ("type".to_string(), network.driver.as_str().to_string()),
        ]);
        if !container.is_empty() {
            attributes.insert("container".into(), container.to_string());
        }
        super::mark_tenant(&mut attributes, network.owner.as_deref());
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::NETWORK, action, &network.id, attributes);
    }
}

/// `label=key` or `label=key=value` filters.
pub fn labels_match(labels: &HashMap<String, String>, filters: &[String]) -> bool {
    filters.iter().all(|filter| match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter.as_str()),
    })
}

fn summary_type(protocol: ports::Protocol) -> PortSummaryTypeEnum {
    match protocol {
        ports::Protocol::Tcp => PortSummaryTypeEnum::TCP,
        ports::Protocol::Udp => PortSummaryTypeEnum::UDP,
    }
}

impl Engine {
    /// `docker rm --link parent/alias` (`DELETE /containers/{parent}/{alias}?link=1`): the parent forgets the link,
    /// both containers stay. As dockerd, an alias the parent does not have names no container.
    pub fn remove_link(&self, parent: &str, alias: &str) -> Result<(), EngineError> {
        let missing = || EngineError::NoSuchContainer(format!("{parent}/{alias}"));
        let container = self.container(parent).map_err(|_| missing())?;
        let removed = container.update(|record| {
            let Some(links) = record.host_config.links.as_mut() else { return false };
            let before = links.len();
            links.retain(|link| berth_network::link_target(link).1 != alias);
            links.len() != before
        })?;
        if removed {
            Ok(())
        } else {
            Err(missing())
        }
    }
}

/// The address of `other` on a network this container shares with it, else its first address.
fn other_ip(engine: &Engine, other: &str, mine: &[(NetworkRecord, EndpointRecord)]) -> Option<Ipv4Addr> {
    let theirs = engine.networks.endpoints(other, None);
    theirs.iter().find(|(n, _)| mine.iter().any(|(m, _)| m.id == n.id)).or(theirs.first()).map(|(_, e)| e.ip)
}

fn endpoint_settings(network: &NetworkRecord, endpoint: &EndpointRecord, host: &HostConfig) -> EndpointSettings {
    let mut dns_names = Vec::new();
    if network.is_user_defined() {
        dns_names.push(endpoint.container_name.clone());
        dns_names.push(endpoint.container_id[..endpoint.container_id.len().min(12)].to_string());
        dns_names.extend(endpoint.aliases.iter().cloned());
    }
    EndpointSettings {
        ipam_config: (endpoint.requested_ip.is_some() || endpoint.requested_ip6.is_some()).then(|| {
            EndpointIpamConfig {
                ipv4_address: endpoint.requested_ip.map(|ip| ip.to_string()),
                ipv6_address: endpoint.requested_ip6.map(|ip| ip.to_string()),
                ..Default::default()
            }
        }),
        links: match endpoint.links.is_empty() {
            true => host.links.clone().filter(|l| !l.is_empty()),
            false => Some(endpoint.links.clone()),
        },
        mac_address: Some(endpoint.mac.clone()),
        aliases: (!endpoint.aliases.is_empty()).then(|| endpoint.aliases.clone()),
        network_id: Some(network.id.clone()),
        endpoint_id: Some(endpoint.endpoint_id.clone()),
        gateway: Some(network.pool.as_ref().map(|p| p.gateway.to_string()).unwrap_or_default()),
        ip_address: Some(endpoint.ip.to_string()),
        ip_prefix_len: Some(network.pool.as_ref().map(|p| i64::from(p.subnet.prefix())).unwrap_or(0)),
        ipv6_gateway: Some(network.pool6.as_ref().map(|p| p.gateway.to_string()).unwrap_or_default()),
        global_ipv6_address: Some(endpoint.ip6.map(|ip| ip.to_string()).unwrap_or_default()),
        global_ipv6_prefix_len: Some(
            network
                .pool6
                .as_ref()
                .filter(|_| endpoint.ip6.is_some())
                .map(|p| i64::from(p.subnet.prefix()))
                .unwrap_or(0),
        ),
        dns_names: (!dns_names.is_empty()).then_some(dns_names),
        ..Default::default()
    }
}

impl From<NetworkError> for EngineError {
    fn from(err: NetworkError) -> Self {
        EngineError::Network(err)
    }
}
