//! NAT, forwarding and host-input rules, with iptables, in three chains the daemon owns: `BERTH-NAT-<tag>` (nat,
//! jumped to from POSTROUTING), `BERTH-FWD-<tag>` (filter, from FORWARD) and `BERTH-IN-<tag>` (filter, from
//! INPUT: what containers may reach on the host itself, which is only the published ports' proxies, the embedded
//! DNS and ping; not the daemon's HTTP port nor any other host service). `<tag>` is the default bridge's name, so
//! several daemons on one host (the end-to-end tests run many) never touch each other's rules.
//!
//! The chains' whole content is rewritten from the list of networks on every change (`iptables-restore
//! --noflush` flushes a chain it declares, atomically), created at start, and removed on a clean stop. A daemon
//! that crashed left them behind: the next start removes them first.

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

/// A port the host listens on for containers (a published port's proxy).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub protocol: &'static str,
    pub port: u16,
}

pub struct Firewall {
    nat_chain: String,
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
            filter_chain: format!("BERTH-FWD-{tag}"),
            input_chain: format!("BERTH-IN-{tag}"),
        }
    }

    /// Removes whatever a previous daemon with the same tag left, then creates the chains, their jumps and the
    /// rules for `networks`; turns on IPv4 forwarding (needed for NAT).
    pub async fn install(&self, networks: &[BridgeRules], host_ports: &[HostPort]) -> Result<(), NetworkError> {
        self.remove().await;
        if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
            tracing::warn!(error = %e, "could not enable IPv4 forwarding; containers will have no outbound access");
        }
        self.sync(networks, host_ports).await?;
        iptables(&["-t", "nat", "-I", "POSTROUTING", "-j", &self.nat_chain]).await?;
        iptables(&["-t", "filter", "-I", "FORWARD", "-j", &self.filter_chain]).await?;
        iptables(&["-t", "filter", "-I", "INPUT", "-j", &self.input_chain]).await?;
        Ok(())
    }

    /// Rewrites the chains for `networks` and the host's published ports.
    pub async fn sync(&self, networks: &[BridgeRules], host_ports: &[HostPort]) -> Result<(), NetworkError> {
        let script = self.script(networks, host_ports);
        run("iptables-restore", &["-w", "--noflush"], Some(&script)).await.map(|_| ())
    }

    fn script(&self, networks: &[BridgeRules], host_ports: &[HostPort]) -> String {
        let (nat, filter, input) = (&self.nat_chain, &self.filter_chain, &self.input_chain);
        let mut text = format!("*nat\n:{nat} - [0:0]\n");
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
        for (table, builtin, chain) in [
            ("nat", "POSTROUTING", &self.nat_chain),
            ("filter", "FORWARD", &self.filter_chain),
            ("filter", "INPUT", &self.input_chain),
        ] {
            // A crash between two starts can leave a jump twice; delete until none is left.
            for _ in 0..16 {
                if iptables(&["-t", table, "-D", builtin, "-j", chain]).await.is_err() {
                    break;
                }
            }
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
            &[HostPort { protocol: "tcp", port: 8081 }],
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
    }
}
