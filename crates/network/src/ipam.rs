//! Address management: which address a new endpoint gets, and which subnet a new network gets.
//!
//! The state lives in the network records (each endpoint holds its address), so it is persisted with them and
//! survives a daemon restart; this file only decides.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::subnet::Subnet;

/// Where networks created without `--subnet` get theirs from: /24s from 10.89.0.0 up to 10.127.255.0, far from
/// Docker's 172.17.0.0/16 and from the default bridge's 10.88.0.0/16.
const POOL_START: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 0);
const POOL_END: Ipv4Addr = Ipv4Addr::new(10, 128, 0, 0);
const POOL_PREFIX: u8 = 24;

/// The lowest free host address of `subnet`: never the network address, the broadcast address or one in `used`.
/// `range` narrows the choice (`--ip-range`).
pub fn allocate(subnet: Subnet, range: Option<Subnet>, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let pool = range.unwrap_or(subnet);
    let broadcast = subnet.broadcast();
    (0..pool.size().min(u64::from(u32::MAX)) as u32)
        .filter_map(|n| pool.host(n))
        .find(|ip| *ip != subnet.network() && *ip != broadcast && subnet.contains(*ip) && !used.contains(ip))
}

/// The first pool subnet that overlaps none of `taken` (other networks' subnets and the host's routes).
pub fn next_free_subnet(taken: &[Subnet]) -> Option<Subnet> {
    let mut candidate = Subnet::new(POOL_START, POOL_PREFIX)?;
    while u32::from(candidate.network()) < u32::from(POOL_END) {
        if !taken.iter().any(|t| t.overlaps(&candidate)) {
            return Some(candidate);
        }
        candidate = candidate.next()?;
    }
    None
}

/// Docker's MAC scheme: 02:42 followed by the four bytes of the IPv4 address (unique while addresses are).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// A MAC address as `docker run --mac-address` takes it: six hex pairs split by colons (or dashes).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut mac {
        let part = parts.next().filter(|p| p.len() == 2)?;
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_never_handed_out_twice() {
        let subnet: Subnet = "10.1.0.0/30".parse().unwrap();
        let mut used = HashSet::from(["10.1.0.1".parse().unwrap()]);
        let first = allocate(subnet, None, &used).unwrap();
        assert_eq!(first, "10.1.0.2".parse::<Ipv4Addr>().unwrap());
        used.insert(first);
        assert_eq!(allocate(subnet, None, &used), None, "a /30 has two hosts: the gateway and one container");
        used.remove(&first);
        assert_eq!(allocate(subnet, None, &used), Some(first), "released addresses come back");
    }

    #[test]
    fn pool_skips_taken_subnets() {
        let taken = vec!["10.89.0.0/24".parse().unwrap(), "10.89.1.0/24".parse().unwrap()];
        assert_eq!(next_free_subnet(&taken).unwrap().to_string(), "10.89.2.0/24");
        assert_eq!(next_free_subnet(&["10.0.0.0/8".parse().unwrap()]), None);
        assert_eq!(mac_string(mac_for("10.88.0.2".parse().unwrap())), "02:42:0a:58:00:02");
        assert_eq!(parse_mac("02:42:AC:11:00:0a"), Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x0a]));
        for bad in ["", "02:42:ac:11:00", "02:42:ac:11:00:0a:0b", "02:42:ac:11:00:zz", "2:42:ac:11:00:0a"] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
