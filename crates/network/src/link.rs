//! Links, addresses and routes over rtnetlink: the bridges on the host, the veth pairs, and the container side of
//! each veth inside its network namespace (reached through a netlink socket opened in that namespace).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::subnet::Subnet;
use super::NetworkError;

const ENODEV: i32 = libc::ENODEV;
const EEXIST: i32 = libc::EEXIST;

/// The errno of a netlink NACK, positive.
fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

/// A netlink connection bound to one network namespace.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// A connection in the daemon's own (the host's) network namespace. Needs a tokio runtime.
    pub fn host() -> Result<Self, NetworkError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetworkError::io("open a netlink socket", e))?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// A connection inside the network namespace pinned at `path`. The socket is opened on a helper thread that
    /// joined the namespace and stays there; the connection task runs on the daemon's runtime.
    pub async fn in_namespace(path: &Path) -> Result<Self, NetworkError> {
        let runtime = tokio::runtime::Handle::current();
        let path = path.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || {
            berth_runtime::in_netns(&path, move || {
                let _entered = runtime.enter();
                rtnetlink::new_connection()
            })
        })
        .await
        .map_err(|e| NetworkError::io("netns helper", std::io::Error::other(e)))??;
        let (connection, handle, _) = opened.map_err(|e| NetworkError::io("open a netlink socket", e))?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// The index of the link called `name`, if there is one.
    pub async fn index(&self, name: &str) -> Result<Option<u32>, NetworkError> {
        let mut links = self.handle.link().get().match_name(name.to_string()).execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(Some(link.header.index)),
            Ok(None) => Ok(None),
            Err(err) if errno(&err) == Some(ENODEV) => Ok(None),
            Err(err) => Err(NetworkError::netlink(format!("look up link {name}"), err)),
        }
    }

    async fn require(&self, name: &str) -> Result<u32, NetworkError> {
        self.index(name).await?.ok_or_else(|| NetworkError::Netlink {
            op: format!("look up link {name}"),
            message: "no such device".into(),
        })
    }

    /// Creates the bridge if missing, gives it `gateway/prefix` and brings it up. Idempotent.
    pub async fn ensure_bridge(&self, name: &str, gateway: Ipv4Addr, subnet: Subnet) -> Result<(), NetworkError> {
        if self.index(name).await?.is_none() {
            match self.handle.link().add(LinkBridge::new(name).build()).execute().await {
                Ok(()) => {}
                Err(err) if errno(&err) == Some(EEXIST) => {}
                Err(err) => return Err(NetworkError::netlink(format!("create bridge {name}"), err)),
            }
        }
        let index = self.require(name).await?;
        let request = self.handle.address().add(index, IpAddr::V4(gateway), subnet.prefix()).replace();
        request.execute().await.map_err(|e| NetworkError::netlink(format!("address {gateway} on {name}"), e))?;
        self.set_up(index, name).await
    }

    async fn set_up(&self, index: u32, name: &str) -> Result<(), NetworkError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("set {name} up"), e))
    }

    /// Deletes a link; a missing one is fine.
    pub async fn delete(&self, name: &str) -> Result<(), NetworkError> {
        let Some(index) = self.index(name).await? else { return Ok(()) };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(err) if errno(&err) == Some(ENODEV) => Ok(()),
            Err(err) => Err(NetworkError::netlink(format!("delete link {name}"), err)),
        }
    }

    /// A veth pair in one request: `host` enslaved to `bridge` and up, its peer made directly inside the namespace
    /// pinned at `netns` as `ifname` with `mac`. Creating the peer there, rather than moving it in afterwards, skips
    /// the kernel's synchronize_net() of a namespace move (~30 ms here), and lets the namespace's removal destroy
    /// the pair at exit.
    pub async fn create_veth(
        &self,
        host: &str,
        bridge: &str,
        netns: &Path,
        ifname: &str,
        mac: [u8; 6],
    ) -> Result<(), NetworkError> {
        let bridge_index = self.require(bridge).await?;
        let namespace =
            std::fs::File::open(netns).map_err(|e| NetworkError::io(format!("open {}", netns.display()), e))?;
        let peer = LinkUnspec::new_with_name(ifname).address(mac.to_vec()).setns_by_fd(namespace.as_raw_fd()).build();
        let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host.to_string())
            .controller(bridge_index)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        // The namespace file stays open until the request is answered: the kernel resolves the fd then.
        let created = self.handle.link().add(pair).execute().await;
        drop(namespace);
        created.map_err(|e| NetworkError::netlink(format!("create veth {host} on {bridge}"), e))
    }

    /// Inside the container's namespace: the address of `name`, up, and for the first interface the default route
    /// via `gateway`.
    pub async fn configure_interface(
        &self,
        name: &str,
        ip: Ipv4Addr,
        prefix: u8,
        default_gateway: Option<Ipv4Addr>,
    ) -> Result<(), NetworkError> {
        let index = self.require(name).await?;
        self.handle
            .address()
            .add(index, IpAddr::V4(ip), prefix)
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("address {ip} on {name}"), e))?;
        self.set_up(index, name).await?;
        if let Some(gateway) = default_gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).output_interface(index).build();
            self.handle
                .route()
                .add(route)
                .execute()
                .await
                .map_err(|e| NetworkError::netlink(format!("default route via {gateway}"), e))?;
        }
        Ok(())
    }

    /// An IPv6 address on `name`, usable at once: without duplicate address detection (the bridge and its
    /// containers' addresses are the daemon's to hand out, each once), which would hold it tentative for seconds.
    pub async fn add_address6(&self, name: &str, ip: Ipv6Addr, prefix: u8) -> Result<(), NetworkError> {
        let index = self.require(name).await?;
        let mut request = self.handle.address().add(index, IpAddr::V6(ip), prefix).replace();
        request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        request.execute().await.map_err(|e| NetworkError::netlink(format!("address {ip} on {name}"), e))
    }

    /// The IPv6 default route via `gateway` out of `name`.
    pub async fn default_route6(&self, name: &str, gateway: Ipv6Addr) -> Result<(), NetworkError> {
        let index = self.require(name).await?;
        let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gateway).output_interface(index).build();
        self.handle
            .route()
            .add(route)
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("default route via {gateway}"), e))
    }

    /// Subnets the host already routes to or has addresses in (main table, default route excluded): a new
    /// network must not overlap them.
    pub async fn host_subnets(&self) -> Result<Vec<Subnet>, NetworkError> {
        let mut subnets = Vec::new();
        let mut routes = self.handle.route().get(RouteMessageBuilder::<Ipv4Addr>::new().build()).execute();
        while let Some(route) = routes.try_next().await.map_err(|e| NetworkError::netlink("list routes", e))? {
            if route.header.table != RouteHeader::RT_TABLE_MAIN || route.header.destination_prefix_length == 0 {
                continue;
            }
            for attribute in &route.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(address)) = attribute {
                    subnets.extend(Subnet::new(*address, route.header.destination_prefix_length));
                }
            }
        }
        let mut addresses = self.handle.address().get().execute();
        while let Some(address) = addresses.try_next().await.map_err(|e| NetworkError::netlink("list addresses", e))? {
            for attribute in &address.attributes {
                if let AddressAttribute::Address(IpAddr::V4(ip)) = attribute {
                    if !ip.is_loopback() {
                        subnets.extend(Subnet::new(*ip, address.header.prefix_len));
                    }
                }
            }
        }
        Ok(subnets)
    }
}
