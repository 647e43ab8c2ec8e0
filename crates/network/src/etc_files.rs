//! The contents of a container's /etc/hosts and /etc/resolv.conf once its network is known.

use std::net::Ipv4Addr;

const HOSTS_HEADER: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// /etc/hosts: localhost, the container's own address and hostname (127.0.0.1 without a network), then one line
/// per `--link` (`ip alias name`) and per `--add-host`.
pub fn hosts(
    hostname: &str,
    own_ip: Option<Ipv4Addr>,
    links: &[(Ipv4Addr, Vec<String>)],
    extra: &[(String, String)],
) -> String {
    let mut text = HOSTS_HEADER.to_string();
    for (ip, names) in links {
        text.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    for (name, ip) in extra {
        text.push_str(&format!("{ip}\t{name}\n"));
    }
    match own_ip {
        Some(ip) => text.push_str(&format!("{ip}\t{hostname}\n")),
        None => text.push_str(&format!("127.0.0.1\t{hostname}\n")),
    }
    text
}

/// /etc/resolv.conf from the host's: with `embedded` (a user-defined network) the only nameserver is the
/// network's DNS server; otherwise `dns` (`--dns`) or the host's non-loopback nameservers, falling back to Google's
/// as Docker does. `search` and `options` are kept from the host unless `--dns-search`/`--dns-option` are given.
pub fn resolv_conf(
    host: &str,
    embedded: Option<Ipv4Addr>,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let mut host_servers = Vec::new();
    let mut host_search = Vec::new();
    let mut host_options = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => host_servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => host_search.extend(words.map(str::to_string)),
            Some("options") => host_options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    let servers: Vec<String> = match embedded {
        Some(ip) => vec![ip.to_string()],
        None if !dns.is_empty() => dns.to_vec(),
        None => {
            let usable: Vec<String> = host_servers
                .into_iter()
                .filter(|s| s.parse::<std::net::IpAddr>().map(|ip| !ip.is_loopback()).unwrap_or(false))
                .collect();
            if usable.is_empty() {
                vec!["8.8.8.8".into(), "8.8.4.4".into()]
            } else {
                usable
            }
        }
    };
    let mut text = String::new();
    for server in servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    let search = if search.is_empty() { host_search } else { search.to_vec() };
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    let options = if options.is_empty() { host_options } else { options.to_vec() };
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_links_and_own_address() {
        let text = hosts(
            "abc",
            Some(Ipv4Addr::new(10, 88, 0, 2)),
            &[(Ipv4Addr::new(10, 88, 0, 3), vec!["web".into(), "srv".into()])],
            &[("db".into(), "10.0.0.9".into())],
        );
        assert!(text.contains("10.88.0.3\tweb srv\n"), "{text}");
        assert!(text.contains("10.0.0.9\tdb\n"), "{text}");
        assert!(text.ends_with("10.88.0.2\tabc\n"), "{text}");
    }

    #[test]
    fn resolv_conf_points_at_the_embedded_server_or_filters_loopback() {
        let host = "nameserver 127.0.0.53\nsearch corp\noptions ndots:2\n";
        assert_eq!(
            resolv_conf(host, Some(Ipv4Addr::new(10, 89, 0, 1)), &[], &[], &[]),
            "nameserver 10.89.0.1\nsearch corp\noptions ndots:2\n"
        );
        assert!(resolv_conf(host, None, &[], &[], &[]).starts_with("nameserver 8.8.8.8\n"));
        assert!(resolv_conf(host, None, &["1.1.1.1".into()], &[], &[]).starts_with("nameserver 1.1.1.1\n"));
    }
}
