//! Subnets in CIDR form, IPv4 ([`Subnet`]) and IPv6 ([`Subnet6`]): parsing, membership, overlap and the n-th host.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network: its first address and prefix length (host bits always zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The default bridge's: clear of Docker's 172.17.0.0/16.
    pub const DEFAULT_BRIDGE: Subnet = Subnet { network: Ipv4Addr::new(10, 88, 0, 0), prefix: 16 };

    /// `network` is masked to the prefix. `prefix` must be at most 32.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Subnet { network: Ipv4Addr::from(u32::from(network) & mask(prefix)), prefix })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The address `n` after the network address, if it is inside the subnet.
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        (u64::from(n) < self.size()).then(|| Ipv4Addr::from(u32::from(self.network).wrapping_add(n)))
    }

    /// The offset of `ip` from the network address.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        self.contains(ip).then(|| u32::from(ip) - u32::from(self.network))
    }

    /// The next subnet of the same size, if the address space has one.
    pub fn next(&self) -> Option<Subnet> {
        let next = u64::from(u32::from(self.network)) + self.size();
        u32::try_from(next).ok().and_then(|n| Subnet::new(Ipv4Addr::from(n), self.prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid CIDR address: {text}");
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        Subnet::new(address, prefix).ok_or_else(invalid)
    }
}

impl TryFrom<String> for Subnet {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Subnet> for String {
    fn from(subnet: Subnet) -> String {
        subnet.to_string()
    }
}

/// An IPv6 network (`--ipv6 --subnet fd00:1::/64`): its first address and prefix length (host bits always zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet6 {
    network: Ipv6Addr,
    prefix: u8,
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Subnet6 {
    /// `network` is masked to the prefix. `prefix` must be at most 128.
    pub fn new(network: Ipv6Addr, prefix: u8) -> Option<Self> {
        (prefix <= 128).then(|| Subnet6 { network: Ipv6Addr::from(u128::from(network) & mask6(prefix)), prefix })
    }

    pub fn network(&self) -> Ipv6Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The address `n` after the network address, if it is inside the subnet.
    pub fn host(&self, n: u128) -> Option<Ipv6Addr> {
        let ip = Ipv6Addr::from(u128::from(self.network).checked_add(n)?);
        self.contains(ip).then_some(ip)
    }
}

impl fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet6 {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid CIDR address: {text}");
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let address: Ipv6Addr = address.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        Subnet6::new(address, prefix).ok_or_else(invalid)
    }
}

impl TryFrom<String> for Subnet6 {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Subnet6> for String {
    fn from(subnet: Subnet6) -> String {
        subnet.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let s: Subnet = "10.88.3.7/16".parse().unwrap();
        assert_eq!(s.to_string(), "10.88.0.0/16");
        assert!(s.contains("10.88.255.1".parse().unwrap()));
        assert!(!s.contains("10.89.0.1".parse().unwrap()));
        assert_eq!(s.broadcast(), "10.88.255.255".parse::<Ipv4Addr>().unwrap());
        assert_eq!(s.host(1), Some("10.88.0.1".parse().unwrap()));
        let small: Subnet = "10.88.7.0/24".parse().unwrap();
        assert!(s.overlaps(&small) && small.overlaps(&s));
        assert!(!small.overlaps(&"10.88.8.0/24".parse().unwrap()));
        assert_eq!(small.next().unwrap().to_string(), "10.88.8.0/24");
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert!("nonsense".parse::<Subnet>().is_err());
        assert_eq!(small.host(256), None);
    }

    #[test]
    fn ipv6_cidr_math() {
        let s: Subnet6 = "fd00:1:2::7/64".parse().unwrap();
        assert_eq!(s.to_string(), "fd00:1:2::/64");
        assert!(s.contains("fd00:1:2::ffff".parse().unwrap()) && !s.contains("fd00:1:3::1".parse().unwrap()));
        assert_eq!(s.host(1), Some("fd00:1:2::1".parse().unwrap()));
        assert!(s.overlaps(&"fd00:1::/32".parse().unwrap()) && !s.overlaps(&"fd00:2::/64".parse().unwrap()));
        assert_eq!("fd00::/126".parse::<Subnet6>().unwrap().host(4), None);
        assert!("10.0.0.0/8".parse::<Subnet6>().is_err());
    }
}
