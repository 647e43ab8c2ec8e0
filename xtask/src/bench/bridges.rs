//! The bench's own bridges: each engine's default `bridge` network gets a Linux bridge and a /24 that nothing else
//! on the machine uses, so both engines do the same per-container network work (a veth pair on a bridge, an
//! address) without meeting a system daemon, another bench or an end-to-end test's daemon.
//!
//! Names carry the bench's pid (`btb<pid>b` for Berth, `btb<pid>d` for dockerd): a bench killed before its
//! cleanup leaves names that the next run recognises and removes (with Berth's iptables chains, which its
//! bridge name tags). Subnets are the first free /24s of a short list, free meaning that no route on the host
//! overlaps them.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::cleanup::{undo, Cleanup};
use crate::command::probe;

/// Private /24s outside Docker's default pools' usual first picks and outside the 10.x.y.0/24 the end-to-end
/// tests derive from their ports.
const CANDIDATE_SUBNETS: &[&str] = &[
    "172.30.199.0/24",
    "172.30.200.0/24",
    "172.29.199.0/24",
    "172.29.200.0/24",
    "192.168.199.0/24",
    "192.168.200.0/24",
];

/// A bridge and its subnet, `172.30.199.0/24`; the gateway is the subnet's first address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub subnet: String,
}

impl Bridge {
    /// `172.30.199.1/24`, the bridge's own address.
    pub fn gateway_cidr(&self) -> String {
        let (network, prefix) = parse_cidr(&self.subnet).expect("a subnet this module chose");
        format!("{}/{prefix}", Ipv4Addr::from(network + 1))
    }
}

pub struct Bridges {
    pub berth: Bridge,
    pub dockerd: Bridge,
    /// The remapped Berth's (`run_rm_userns_ms`); the remapped dockerd runs with `--bridge=none`.
    pub berth_userns: Bridge,
    /// The Berth killed and restarted with 100 containers (`daemon_restart_adopt_100_ms`).
    pub berth_adopt: Bridge,
}

fn bridge_name(owner_pid: u32, engine: char) -> String {
    format!("btb{owner_pid}{engine}")
}

/// Two free subnets and names for a bench whose xtask has pid `owner_pid`.
pub fn choose(owner_pid: u32) -> Result<Bridges> {
    let routes = Command::new("ip").args(["-4", "-o", "route", "show", "table", "all"]).output();
    let routes = routes.context("running `ip route` (iproute2)")?;
    let taken = route_destinations(&String::from_utf8_lossy(&routes.stdout));
    let mut free = CANDIDATE_SUBNETS.iter().filter(|candidate| {
        let candidate = parse_cidr(candidate).expect("the candidates are valid");
        !taken.iter().any(|&route| overlaps(candidate, route))
    });
    let (Some(berth), Some(dockerd), Some(berth_userns), Some(berth_adopt)) =
        (free.next(), free.next(), free.next(), free.next())
    else {
        bail!("no four free subnets among {CANDIDATE_SUBNETS:?}: routes on this host overlap them");
    };
    Ok(Bridges {
        berth: Bridge { name: bridge_name(owner_pid, 'b'), subnet: berth.to_string() },
        dockerd: Bridge { name: bridge_name(owner_pid, 'd'), subnet: dockerd.to_string() },
        berth_userns: Bridge { name: bridge_name(owner_pid, 'u'), subnet: berth_userns.to_string() },
        berth_adopt: Bridge { name: bridge_name(owner_pid, 'a'), subnet: berth_adopt.to_string() },
    })
}

/// Creates the bridge device dockerd attaches its containers to (`dockerd --bridge` uses an existing device and
/// takes the subnet from its address); removed when the bench ends.
pub fn create_for_dockerd(cleanup: &Cleanup, bridge: &Bridge) -> Result<()> {
    let name = bridge.name.clone();
    cleanup.start(&format!("bridge {name}"), || {
        ip(&["link", "add", "name", &bridge.name, "type", "bridge"])?;
        let remove = undo(move || {
            let _ = ip(&["link", "del", &name]);
        });
        ip(&["addr", "add", &bridge.gateway_cidr(), "dev", &bridge.name])?;
        ip(&["link", "set", &bridge.name, "up"])?;
        Ok(((), remove))
    })
}

/// Removes what a bench with pid `owner_pid` may have left: both bridges, and the iptables chains Berth tags with
/// its bridge name (`BERTH-NAT-<tag>`, `BERTH-FWD-<tag>`; Berth removes them itself on a clean stop).
pub fn remove_left_behind(owner_pid: u32) {
    for engine in ['b', 'd', 'u', 'a'] {
        let name = bridge_name(owner_pid, engine);
        if probe("ip", &["link", "show", &name]).is_some() {
            println!("xtask bench: removing bridge {name}, left behind");
            let _ = ip(&["link", "del", &name]);
        }
    }
    for tag in [bridge_name(owner_pid, 'b'), bridge_name(owner_pid, 'u'), bridge_name(owner_pid, 'a')] {
        remove_chains_left_behind(&tag);
    }
}

fn remove_chains_left_behind(tag: &str) {
    let local: &[&str] = &["-m", "addrtype", "--dst-type", "LOCAL"];
    let chains: [(&str, &[&str], String); 4] = [
        ("nat", &["POSTROUTING"], format!("BERTH-NAT-{tag}")),
        ("nat", &["PREROUTING", "OUTPUT"], format!("BERTH-DNAT-{tag}")),
        ("filter", &["FORWARD"], format!("BERTH-FWD-{tag}")),
        ("filter", &["INPUT"], format!("BERTH-IN-{tag}")),
    ];
    for (table, builtins, chain) in chains {
        if probe("iptables", &["-t", table, "-n", "-L", &chain]).is_none() {
            continue;
        }
        println!("xtask bench: removing iptables chain {chain} ({table}), left behind");
        for builtin in builtins {
            let matches: &[&str] = if chain.starts_with("BERTH-DNAT") { local } else { &[] };
            let jump: Vec<&str> =
                ["-t", table, "-D", builtin].into_iter().chain(matches.iter().copied()).chain(["-j", &chain]).collect();
            while probe("iptables", &jump).is_some() {}
        }
        let _ = probe("iptables", &["-t", table, "-F", &chain]);
        let _ = probe("iptables", &["-t", table, "-X", &chain]);
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip").args(args).output().context("running ip (iproute2)")?;
    if !output.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// The destination of every route (`ip -4 -o route show table all`), as (network, prefix length); the default
/// route is left out: it overlaps everything and takes nothing.
fn route_destinations(routes: &str) -> Vec<(u32, u8)> {
    const ROUTE_TYPES: &[&str] = &[
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "unreachable",
        "prohibit",
        "blackhole",
        "throw",
        "nat",
        "anycast",
    ];
    routes
        .lines()
        .filter_map(|line| line.split_whitespace().find(|word| !ROUTE_TYPES.contains(word)))
        .filter(|destination| *destination != "default")
        .filter_map(|destination| {
            if destination.contains('/') {
                parse_cidr(destination)
            } else {
                destination.parse::<Ipv4Addr>().ok().map(|address| (u32::from(address), 32))
            }
        })
        .collect()
}

/// `10.1.2.0/24` as (the network address with host bits cleared, 24).
fn parse_cidr(text: &str) -> Option<(u32, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let prefix: u8 = prefix.parse().ok().filter(|&prefix| prefix <= 32)?;
    Some((u32::from(address.parse::<Ipv4Addr>().ok()?) & mask(prefix), prefix))
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// Two prefixes overlap when the shorter one contains the other's network address.
fn overlaps((a, a_prefix): (u32, u8), (b, b_prefix): (u32, u8)) -> bool {
    let shorter = mask(a_prefix.min(b_prefix));
    a & shorter == b & shorter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_contains_the_other() {
        let net = |text: &str| parse_cidr(text).unwrap();
        assert!(overlaps(net("172.30.199.0/24"), net("172.30.0.0/16")));
        assert!(overlaps(net("172.16.0.0/12"), net("172.30.199.0/24")));
        assert!(overlaps(net("172.30.199.7/32"), net("172.30.199.0/24")));
        assert!(!overlaps(net("172.30.199.0/24"), net("172.30.200.0/24")));
        assert!(!overlaps(net("10.0.0.0/8"), net("172.30.199.0/24")));
    }

    #[test]
    fn route_destinations_skip_types_and_the_default_route() {
        let routes = "\
default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2
";
        let expected = [
            parse_cidr("192.0.2.0/24").unwrap(),
            parse_cidr("127.0.0.0/8").unwrap(),
            (u32::from(Ipv4Addr::new(192, 0, 2, 255)), 32),
        ];
        assert_eq!(route_destinations(routes), expected);
    }

    #[test]
    fn the_gateway_is_the_first_address() {
        let bridge = Bridge { name: "btb1d".into(), subnet: "172.30.199.0/24".into() };
        assert_eq!(bridge.gateway_cidr(), "172.30.199.1/24");
    }

    #[test]
    fn bridge_names_fit_an_interface_name() {
        // IFNAMSIZ is 16 with the NUL; Linux pids go up to 2^22.
        assert!(bridge_name(4_194_304, 'd').len() <= 15);
    }
}
