//! NAT, forwarding and host-input rules, with iptables, in four chains the daemon owns: `BERTH-NAT-<tag>` (nat,
//! jumped to from POSTROUTING), `BERTH-DNAT-<tag>` (nat, from PREROUTING and OUTPUT for local destinations: the
//! published ports), `BERTH-FWD-<tag>` (filter, from FORWARD) and `BERTH-IN-<tag>` (filter, from INPUT: what
//! containers may reach on the host itself, which is only the published ports, the embedded DNS and ping; not the
//! daemon's HTTP port nor any other host service). `<tag>` is the default bridge's name, so several daemons on one
//! host (the end-to-end tests run many) never touch each other's rules.
//!
//! The chains' whole content is rewritten from the list of networks on every change (`iptables-restore
//! --noflush` flushes a chain it declares, atomically), created at start, and removed on a clean stop that stops
//! the containers. A start rewrites what the last daemon left in place, the DNAT chain last (after the containers
//! are adopted from their monitors), so ports stay forwarded across a restart.

use tokio::process::Command;

use super::subnet::Subnet;
use super::NetworkError;

/// What the rules need to know about one bridge network.
#[derive(Debug, Clone)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Subnet,
    pub internal: bool,
}

/// A published port: what the host listens on, and where the kernel forwards it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub protocol: &'static str,
    pub port: u16,
    /// None: every local address (and IPv6 ones are the proxy's alone).
    pub host_ip: Option<std::net::Ipv4Addr>,
    /// The container's address and port; None for a port bound on an IPv6 address only.
    pub target: Option<std::net::SocketAddrV4>,
}

pub struct Firewall {
    nat_chain: String,
    dnat_chain: String,
    filter_chain: String,
    input_chain: String,
}

async fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, NetworkError> {
    use tokio::io::AsyncWriteExt;
    let command_line = format!("{program} {}", args.join(" "));
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child =
        command.spawn().map_err(|e| NetworkError::Command { command: command_line.clone(), message: e.to_string() })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| NetworkError::Command { command: command_line.clone(), message: e.to_string() })?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| NetworkError::Command { command: command_line.clone(), message: e.to_string() })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(NetworkError::Command {
            command: command_line,
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

async fn iptables(args: &[&str]) -> Result<String, NetworkError> {
    let mut all = vec!["-w"];
    all.extend_from_slice(args);
    run("iptables", &all, None).await
}

impl Firewall {
    pub fn new(tag: &str) -> Self {
        Firewall {
            nat_chain: format!("BERTH-NAT-{tag}"),
            dnat_chain: format!("BERTH-DNAT-{tag}"),
            filter_chain: format!("BERTH-FWD-{tag}"),
            input_chain: format!("BERTH-IN-{tag}"),
        }
    }

    /// Removes whatever a previous daemon with the same tag left, then creates the chains, their jumps and the
    /// rules for `networks`; turns on IPv4 forwarding (needed for NAT).
    pub async fn install(&self, networks: &[BridgeRules], host_ports: &[HostPort]) -> Result<(), NetworkError> {
        if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
            tracing::warn!(error = %e, "could not enable IPv4 forwarding; containers will have no outbound access");
        }
        // Rewritten in place, never removed first: adopted containers' connections must not meet a moment
        // without their NAT (conntrack fixes a connection's NAT at its first packet).
        let _ = iptables(&["-t", "nat", "-N", &self.dnat_chain]).await;
        run("iptables-restore", &["-w", "--noflush"], Some(&self.script(networks, host_ports, false))).await?;
        let jumps: [&[&str]; 5] = [
            &["-t", "nat", "POSTROUTING", "-j", &self.nat_chain],
            &["-t", "filter", "FORWARD", "-j", &self.filter_chain],
            &["-t", "filter", "INPUT", "-j", &self.input_chain],
            &["-t", "nat", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", &self.dnat_chain],
            &["-t", "nat", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", &self.dnat_chain],
        ];
        for jump in jumps {
            let with = |verb: &'static str| -> Vec<&str> {
                let mut args = jump.to_vec();
                args.insert(2, verb);
                args
            };
            if iptables(&with("-C")).await.is_err() {
                iptables(&with("-I")).await?;
            }
        }
        Ok(())
    }

    /// Rewrites the chains for `networks` and the host's published ports.
    pub async fn sync(&self, networks: &[BridgeRules], host_ports: &[HostPort]) -> Result<(), NetworkError> {
        let script = self.script(networks, host_ports, true);
        run("iptables-restore", &["-w", "--noflush"], Some(&script)).await.map(|_| ())
    }

    fn script(&self, networks: &[BridgeRules], host_ports: &[HostPort], with_dnat: bool) -> String {
        let (nat, filter, input) = (&self.nat_chain, &self.filter_chain, &self.input_chain);
        let mut text = format!("*nat\n:{nat} - [0:0]\n");
        if with_dnat {
            let dnat = &self.dnat_chain;
            text.push_str(&format!(":{dnat} - [0:0]\n"));
            for port in host_ports {
                let Some(target) = port.target else { continue };
                let destination = port.host_ip.map(|ip| format!(" -d {ip}")).unwrap_or_default();
                text.push_str(&format!(
                    "-A {dnat} -p {}{destination} --dport {} -j DNAT --to-destination {target}\n",
                    port.protocol, port.port
                ));
                // A container reaching its own published port through the host comes back to itself.
                text.push_str(&format!(
                    "-A {nat} -s {ip}/32 -d {ip}/32 -p {} --dport {} -j MASQUERADE\n",
                    port.protocol,
                    target.port(),
                    ip = target.ip()
                ));
            }
        }
        for network in networks {
            // The host's own connections (127.0.0.1 among them, with route_localnet) leave from the gateway.
            text.push_str(&format!("-A {nat} -o {} -m addrtype --src-type LOCAL -j MASQUERADE\n", network.bridge));
        }
        for network in networks.iter().filter(|n| !n.internal) {
            text.push_str(&format!("-A {nat} -s {} ! -o {} -j MASQUERADE\n", network.subnet, network.bridge));
        }
        text.push_str(&format!("COMMIT\n*filter\n:{filter} - [0:0]\n:{input} - [0:0]\n"));
        for network in networks {
            let bridge = &network.bridge;
            text.push_str(&format!("-A {input} -i {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"));
            text.push_str(&format!("-A {input} -i {bridge} -p udp --dport 53 -j ACCEPT\n"));
            text.push_str(&format!("-A {input} -i {bridge} -p tcp --dport 53 -j ACCEPT\n"));
            text.push_str(&format!("-A {input} -i {bridge} -p icmp -j ACCEPT\n"));
            for port in host_ports {
                text.push_str(&format!(
                    "-A {input} -i {bridge} -p {} --dport {} -j ACCEPT\n",
                    port.protocol, port.port
                ));
            }
            text.push_str(&format!("-A {input} -i {bridge} -j REJECT\n"));
        }
        for network in networks {
            // A published port is open to whoever reaches the host, whatever network they are on.
            text.push_str(&format!("-A {filter} -o {} -m conntrack --ctstate DNAT -j ACCEPT\n", network.bridge));
        }
        for network in networks {
            let bridge = &network.bridge;
            text.push_str(&format!("-A {filter} -i {bridge} -o {bridge} -j ACCEPT\n"));
            if network.internal {
                text.push_str(&format!("-A {filter} -i {bridge} -j DROP\n-A {filter} -o {bridge} -j DROP\n"));
                continue;
            }
            // Networks are isolated from each other, as Docker's are.
            for other in networks.iter().filter(|o| o.bridge != *bridge) {
                text.push_str(&format!("-A {filter} -i {bridge} -o {} -j DROP\n", other.bridge));
            }
            text.push_str(&format!(
                "-A {filter} -i {bridge} -j ACCEPT\n-A {filter} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            ));
        }
        text.push_str("COMMIT\n");
        text
    }

    /// Deletes the jumps and the chains. Never fails: whatever is missing is already gone.
    pub async fn remove(&self) {
        let chains = [
            ("nat", "POSTROUTING", &self.nat_chain, false),
            ("filter", "FORWARD", &self.filter_chain, false),
            ("filter", "INPUT", &self.input_chain, false),
            ("nat", "PREROUTING", &self.dnat_chain, true),
            ("nat", "OUTPUT", &self.dnat_chain, true),
        ];
        for (table, builtin, chain, local_only) in chains {
            let mut jump = vec!["-t", table, "-D", builtin];
            if local_only {
                jump.extend(["-m", "addrtype", "--dst-type", "LOCAL"]);
            }
            jump.extend(["-j", chain.as_str()]);
            // A crash between two starts can leave a jump twice; delete until none is left.
            for _ in 0..16 {
                if iptables(&jump).await.is_err() {
                    break;
                }
            }
        }
        for (table, chain) in [
            ("nat", &self.nat_chain),
            ("nat", &self.dnat_chain),
            ("filter", &self.filter_chain),
            ("filter", &self.input_chain),
        ] {
            let _ = iptables(&["-t", table, "-F", chain]).await;
            let _ = iptables(&["-t", table, "-X", chain]).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_nat_isolation_and_internal_networks() {
        let firewall = Firewall::new("b0");
        let script = firewall.script(
            &[
                BridgeRules { bridge: "b0".into(), subnet: "10.88.0.0/16".parse().unwrap(), internal: false },
                BridgeRules { bridge: "br-1".into(), subnet: "10.89.0.0/24".parse().unwrap(), internal: true },
            ],
            &[HostPort { protocol: "tcp", port: 8081, host_ip: None, target: Some("10.88.0.2:80".parse().unwrap()) }],
            true,
        );
        assert!(script.contains("-A BERTH-NAT-b0 -s 10.88.0.0/16 ! -o b0 -j MASQUERADE"), "{script}");
        assert!(!script.contains("10.89.0.0/24 ! -o"), "internal networks get no NAT: {script}");
        assert!(script.contains("-A BERTH-FWD-b0 -i b0 -o br-1 -j DROP"), "{script}");
        assert!(script.contains("-A BERTH-FWD-b0 -i br-1 -j DROP"), "{script}");
        // The host: published ports, DNS and ping, then nothing else (the daemon's HTTP port included).
        let accept_8081 = script.find("-A BERTH-IN-b0 -i b0 -p tcp --dport 8081 -j ACCEPT").expect(&script);
        let reject = script.find("-A BERTH-IN-b0 -i b0 -j REJECT").expect(&script);
        assert!(accept_8081 < reject, "{script}");
        assert!(script.contains("-A BERTH-IN-b0 -i br-1 -p udp --dport 53 -j ACCEPT"), "{script}");
        // The kernel forwards the published port, from outside and from the host itself, and back to the
        // container that reaches its own port through the host.
        assert!(
            script.contains("-A BERTH-DNAT-b0 -p tcp --dport 8081 -j DNAT --to-destination 10.88.0.2:80"),
            "{script}"
        );
        assert!(script.contains("-A BERTH-NAT-b0 -o b0 -m addrtype --src-type LOCAL -j MASQUERADE"), "{script}");
        assert!(script.contains("-A BERTH-NAT-b0 -s 10.88.0.2/32 -d 10.88.0.2/32 -p tcp --dport 80 -j MASQUERADE"));
        let dnat_accept = script.find("-A BERTH-FWD-b0 -o br-1 -m conntrack --ctstate DNAT -j ACCEPT").expect(&script);
        let isolation = script.find("-A BERTH-FWD-b0 -i b0 -o br-1 -j DROP").expect(&script);
        assert!(dnat_accept < isolation, "{script}");
        // At start the forwarding of adopted containers' ports is left as it was.
        let at_start = firewall.script(&[], &[], false);
        assert!(!at_start.contains("BERTH-DNAT"), "{at_start}");
    }
}
