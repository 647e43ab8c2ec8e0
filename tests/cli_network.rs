//! Networking through the real docker CLI: published ports, user-defined networks with DNS, links, `none`, many
//! containers talking to each other, and nothing left behind afterwards.

mod support;

use support::{free_port, http_get, Daemon};

fn links() -> String {
    String::from_utf8_lossy(&std::process::Command::new("ip").args(["-o", "link"]).output().expect("ip link").stdout)
        .into_owned()
}

/// Waits until no veth of these containers is among the host's links. A container's veth pair goes with its network
/// namespace, which the kernel destroys asynchronously (cleanup_net), so allow it a moment; a leak still fails.
fn assert_no_veths_of(ids: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = links();
        let leaked: Vec<&String> = ids.iter().filter(|id| now.contains(&format!("vb{}", &id[..7]))).collect();
        if leaked.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "veths of {leaked:?} left behind:\n{now}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn iptables_rules() -> String {
    String::from_utf8_lossy(&std::process::Command::new("iptables-save").output().expect("iptables-save").stdout)
        .into_owned()
}

#[test]
fn published_ports_answer_and_are_listed() {
    let daemon = Daemon::start();
    let port = free_port();
    let published = format!("127.0.0.1:{port}:80");
    daemon.ok(&["run", "-d", "--name", "web", "-p", &published, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let response = http_get(&format!("127.0.0.1:{port}"), "/passwd");
    assert!(response.contains("root:x:0:0"), "{response}");
    assert_eq!(daemon.ok(&["port", "web"]).trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let ps = daemon.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");

    // -P publishes every exposed port on a random host port, on every address.
    daemon.ok(&[
        "run", "-d", "--name", "any", "-P", "--expose", "80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
    ]);
    let listed = daemon.ok(&["port", "any", "80"]);
    let random: u16 = listed
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("docker port any 80: {listed:?}"));
    assert!(http_get(&format!("127.0.0.1:{random}"), "/passwd").contains("root:x:0:0"));
    let inspect = daemon.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks.bridge.IPAddress}}", "any"]);
    assert!(inspect.contains(&support::bridge_for(daemon.http_addr()).1[..6]), "{inspect}");

    // A port held by another process: a clear error, and the container is not left half-started.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = holder.local_addr().expect("addr").port();
    let taken = format!("127.0.0.1:{held}:80");
    let clash = daemon.docker(&["run", "-d", "--name", "clash", "-p", &taken, "busybox", "httpd", "-f", "-p", "80"]);
    assert_eq!(clash.code, Some(125), "{clash:?}");
    assert!(clash.stderr.contains("port is already allocated"), "{clash:?}");
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}}", "clash"]).trim(), "created");
    let id = daemon.ok(&["inspect", "-f", "{{.Id}}", "clash"]);
    assert_no_veths_of(&[id]);
    daemon.ok(&["rm", "-f", "web", "any", "clash"]);
}

#[test]
fn user_networks_resolve_names_links_and_none_is_cut_off() {
    let daemon = Daemon::start();
    daemon.ok(&["network", "create", "--label", "purpose=test", "n1"]);
    let clash = daemon.docker(&["network", "create", "n1"]);
    assert!(!clash.success() && clash.stderr.contains("already exists"), "{clash:?}");
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "n1",
        "--network-alias",
        "files",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let by_name = daemon.ok(&["run", "--rm", "--network", "n1", "busybox", "wget", "-qO-", "http://srv/passwd"]);
    assert!(by_name.contains("root:x:0:0"), "{by_name}");
    let by_alias = daemon.ok(&["run", "--rm", "--network", "n1", "busybox", "wget", "-qO-", "http://files/passwd"]);
    assert!(by_alias.contains("root:x:0:0"), "{by_alias}");
    let linked = daemon.ok(&[
        "run",
        "--rm",
        "--network",
        "n1",
        "--link",
        "srv:web",
        "busybox",
        "wget",
        "-qO-",
        "http://web/passwd",
    ]);
    assert!(linked.contains("root:x:0:0"), "{linked}");
    let cut_off =
        daemon.docker(&["run", "--rm", "--network", "none", "busybox", "wget", "-T", "3", "-qO-", "http://srv/passwd"]);
    assert!(!cut_off.success() && !cut_off.stdout.contains("root:x"), "{cut_off:?}");

    // --network container:srv shares srv's namespace: its server is on 127.0.0.1.
    let shared =
        daemon.ok(&["run", "--rm", "--network", "container:srv", "busybox", "wget", "-qO-", "http://127.0.0.1/passwd"]);
    assert!(shared.contains("root:x:0:0"), "{shared}");
    // Networks are isolated from each other: the default bridge does not reach n1.
    let srv_ip = daemon.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "srv"]);
    let url = format!("http://{}/passwd", srv_ip.trim());
    let isolated = daemon.docker(&["run", "--rm", "busybox", "wget", "-T", "2", "-qO-", &url]);
    assert!(!isolated.success(), "{isolated:?}");

    let inspect = daemon.get_json("/networks/n1");
    assert_eq!(inspect["Labels"]["purpose"], "test");
    assert_eq!(inspect["Containers"].as_object().map(|c| c.len()), Some(1), "{inspect}");
    let busy = daemon.docker(&["network", "rm", "n1"]);
    assert!(!busy.success() && busy.stderr.contains("active endpoints"), "{busy:?}");

    // connect/disconnect: a second network on a running container.
    daemon.ok(&["network", "create", "n2"]);
    daemon.ok(&["network", "connect", "n2", "srv"]);
    let interfaces = daemon.ok(&["exec", "srv", "ip", "-o", "-4", "addr"]);
    assert!(interfaces.contains("eth0") && interfaces.contains("eth1"), "{interfaces}");
    let from_n2 = daemon.ok(&["run", "--rm", "--network", "n2", "busybox", "wget", "-qO-", "http://srv/passwd"]);
    assert!(from_n2.contains("root:x:0:0"), "{from_n2}");
    daemon.ok(&["network", "disconnect", "n2", "srv"]);
    assert!(!daemon.ok(&["exec", "srv", "ip", "-o", "-4", "addr"]).contains("eth1"));
    daemon.ok(&["rm", "-f", "srv"]);
    daemon.ok(&["network", "rm", "n1"]);
    assert_eq!(daemon.ok(&["network", "prune", "-f"]).trim(), "Deleted Networks:\nn2");
    let names = daemon.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names.split_whitespace().collect::<Vec<_>>(), ["bridge", "host", "none"], "{names}");
}

#[test]
fn bad_network_input_gets_docker_errors() {
    let daemon = Daemon::start();
    daemon.ok(&["network", "create", "--subnet", "10.250.7.0/30", "tiny"]);
    let overlap = daemon.docker(&["network", "create", "--subnet", "10.250.7.0/24", "over"]);
    assert!(overlap.stderr.contains("overlaps"), "{overlap:?}");
    let bad_gateway = daemon.docker(&["network", "create", "--subnet", "10.250.8.0/24", "--gateway", "10.9.9.9", "gw"]);
    assert!(!bad_gateway.success(), "{bad_gateway:?}");
    // A /30 holds the gateway and one container.
    daemon.ok(&["create", "--name", "first", "--network", "tiny", "busybox", "true"]);
    let full = daemon.docker(&["create", "--name", "second", "--network", "tiny", "busybox", "true"]);
    assert!(full.stderr.contains("no available IPv4 addresses"), "{full:?}");
    let missing = daemon.docker(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert!(missing.stderr.contains("network nosuchnet not found"), "{missing:?}");
    let predefined = daemon.docker(&["network", "rm", "bridge"]);
    assert!(predefined.stderr.contains("pre-defined"), "{predefined:?}");
}

#[test]
fn twenty_containers_reach_each_other_and_leave_nothing_behind() {
    let daemon = Daemon::start();
    let root = daemon.root().canonicalize().expect("root");
    daemon.ok(&["network", "create", "mesh"]);
    let network_id = daemon.ok(&["network", "inspect", "-f", "{{.Id}}", "mesh"]).trim().to_string();
    let subnet =
        daemon.ok(&["network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "mesh"]).trim().to_string();
    let names: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let mut ids = Vec::new();
    for name in &names {
        let id = daemon.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "mesh",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ]);
        ids.push(id.trim().to_string());
    }
    let all = names.join(" ");
    for name in &names {
        let script = format!(
            "for n in {all}; do [ $n = {name} ] && continue; wget -qO- http://$n/hostname >/dev/null || echo FAIL $n; done"
        );
        let out = daemon.ok(&["exec", name, "sh", "-c", &script]);
        assert_eq!(out.trim(), "", "{name} could not reach: {out}");
    }
    let mut rm = vec!["rm", "-f"];
    rm.extend(names.iter().map(String::as_str));
    daemon.ok(&rm);
    assert_no_veths_of(&ids);
    let mounts = std::fs::read_to_string("/proc/mounts").expect("mounts");
    assert!(!mounts.contains(&format!("{}/netns", root.display())), "{mounts}");
    daemon.ok(&["network", "rm", "mesh"]);
    let bridge = format!("br-{}", &network_id[..12]);
    assert!(!links().contains(&format!(" {bridge}:")), "bridge {bridge} left after network rm");
    assert!(!iptables_rules().contains(&subnet), "rules for {subnet} left after network rm");

    let default_bridge = daemon.bridge_name();
    assert!(iptables_rules().contains(&format!("BERTH-NAT-{default_bridge}")), "chains exist while running");
    drop(daemon);
    assert!(!links().contains(&format!(" {default_bridge}:")), "default bridge left after the daemon stopped");
    let rules = iptables_rules();
    assert!(!rules.contains(&format!("-{default_bridge}")), "chains left after the daemon stopped:\n{rules}");
}

#[test]
fn restart_keeps_networks_and_addresses() {
    let mut daemon = Daemon::start();
    daemon.ok(&["network", "create", "keep"]);
    let network_id = daemon.ok(&["network", "inspect", "-f", "{{.Id}}", "keep"]);
    daemon.ok(&["run", "-d", "--name", "ka", "--network", "keep", "busybox", "sleep", "1000"]);
    let ip_of = |daemon: &Daemon, name: &str| {
        daemon.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.keep.IPAddress}}", name]).trim().to_string()
    };
    let before = ip_of(&daemon, "ka");
    daemon.crash_and_restart();
    assert_eq!(daemon.ok(&["network", "inspect", "-f", "{{.Id}}", "keep"]), network_id);
    assert_eq!(ip_of(&daemon, "ka"), before, "the address is kept while the container exists");
    daemon.ok(&["run", "-d", "--name", "kb", "--network", "keep", "busybox", "sleep", "1000"]);
    assert_ne!(ip_of(&daemon, "kb"), before, "a new container never gets a taken address");
    daemon.ok(&["start", "ka"]);
    let ping = daemon.ok(&["exec", "kb", "ping", "-c", "1", "-W", "2", "ka"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    daemon.ok(&["rm", "-f", "ka", "kb"]);
}

#[test]
fn network_create_options_and_connect_options_behave_as_dockerd() {
    let daemon = Daemon::start();
    // Names: any but an empty or a pre-defined one, spaces included; duplicates are a 409 whatever CheckDuplicate
    // says (API 1.44 and later); the host and null drivers have their one instance.
    daemon.ok(&["network", "create", "with space"]);
    assert_eq!(daemon.ok(&["network", "inspect", "-f", "{{.Name}}", "with space"]).trim(), "with space");
    let predefined = daemon.docker(&["network", "create", "bridge"]);
    assert!(predefined.stderr.contains("operation is not permitted on predefined bridge network"), "{predefined:?}");
    let host = daemon.docker(&["network", "create", "-d", "host", "x"]);
    assert!(host.stderr.contains(r#"only one instance of "host" network is allowed"#), "{host:?}");
    let body = r#"{"Name":"with space","CheckDuplicate":false}"#;
    let (status, answer) =
        support::unix_request(daemon.socket(), "POST", "/networks/create", Some(body)).expect("daemon answers");
    assert_eq!((status, answer.contains("network with name with space already exists")), (409, true), "{answer}");
    let (status, answer) = support::unix_request(daemon.socket(), "POST", "/networks/create", Some(r#"{"Name":" "}"#))
        .expect("daemon answers");
    assert_eq!((status, answer.contains("invalid name: name is empty")), (400, true), "{answer}");

    // IPAM as asked: the range is where addresses come from, auxiliary addresses are never handed out; labels and
    // driver options are kept.
    daemon.ok(&[
        "network",
        "create",
        "--subnet",
        "10.251.0.0/24",
        "--ip-range",
        "10.251.0.4/30",
        "--gateway",
        "10.251.0.254",
        "--aux-address",
        "reserved=10.251.0.4",
        "--label",
        "team=net",
        "-o",
        "com.example.opt=1",
        "ipam",
    ]);
    let inspect = daemon.get_json("/networks/ipam");
    assert_eq!(
        inspect["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.251.0.0/24", "IPRange": "10.251.0.4/30", "Gateway": "10.251.0.254",
            "AuxiliaryAddresses": {"reserved": "10.251.0.4"}}]),
        "{inspect}"
    );
    assert_eq!(inspect["Labels"], serde_json::json!({"team": "net"}));
    assert_eq!(inspect["Options"], serde_json::json!({"com.example.opt": "1"}));
    daemon.ok(&["run", "-d", "--name", "ranged", "--network", "ipam", "busybox", "sleep", "1000"]);
    let ranged = daemon.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.ipam.IPAddress}}", "ranged"]);
    assert_eq!(ranged.trim(), "10.251.0.5", "the range's first address not reserved");
    assert!(daemon.ok(&["exec", "ranged", "ip", "route"]).contains("default via 10.251.0.254"));

    // connect on a stopped container with an alias, an address and a link: it has them once started.
    daemon.ok(&["create", "--name", "late", "busybox", "sleep", "1000"]);
    daemon.ok(&[
        "network",
        "connect",
        "--alias",
        "later",
        "--ip",
        "10.251.0.20",
        "--link",
        "ranged:rr",
        "ipam",
        "late",
    ]);
    daemon.ok(&["start", "late"]);
    let addresses = daemon.ok(&["exec", "late", "ip", "-o", "-4", "addr"]);
    assert!(addresses.contains("eth1") && addresses.contains("10.251.0.20/24"), "{addresses}");
    let settings = daemon.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks.ipam}}", "late"]);
    let settings: serde_json::Value = serde_json::from_str(&settings).expect("json");
    assert_eq!(settings["IPAMConfig"]["IPv4Address"], "10.251.0.20", "{settings}");
    assert_eq!(settings["Links"], serde_json::json!(["ranged:rr"]), "{settings}");
    assert_eq!(settings["Aliases"], serde_json::json!(["later"]), "{settings}");
    let by_alias = daemon.ok(&["exec", "ranged", "nslookup", "later"]);
    assert!(by_alias.contains("10.251.0.20"), "{by_alias}");
    let by_link = daemon.ok(&["exec", "late", "nslookup", "rr"]);
    assert!(by_link.contains("10.251.0.5"), "{by_link}");
    assert!(!daemon.docker(&["exec", "ranged", "nslookup", "rr"]).success(), "a link's alias is its container's alone");
    let taken = daemon.docker(&["network", "connect", "--ip", "10.251.0.20", "ipam", "ranged"]);
    assert!(!taken.success(), "{taken:?}");

    // disconnect: --force on a running one, the stopped one's wording when it is not connected.
    daemon.ok(&["network", "disconnect", "--force", "ipam", "late"]);
    assert!(!daemon.ok(&["exec", "late", "ip", "-o", "-4", "addr"]).contains("10.251.0.20"));
    daemon.ok(&["rm", "-f", "late"]);
    daemon.ok(&["create", "--name", "idle", "busybox", "true"]);
    let idle = daemon.ok(&["inspect", "-f", "{{.Id}}", "idle"]);
    let not_connected = daemon.docker(&["network", "disconnect", "ipam", "idle"]);
    let expected = format!("container {} is not connected to the network ipam", idle.trim());
    assert!(not_connected.stderr.contains(&expected), "{not_connected:?}");

    // --internal: containers on it reach each other, nothing else (no default route, no NAT, forwarding
    // dropped), while the default bridge reaches the host.
    daemon.ok(&["network", "create", "--internal", "--subnet", "10.252.0.0/24", "inside"]);
    daemon.ok(&["run", "-d", "--name", "in1", "--network", "inside", "busybox", "sleep", "1000"]);
    let peer = daemon.ok(&["run", "--rm", "--network", "inside", "busybox", "ping", "-c", "1", "-W", "2", "in1"]);
    assert!(peer.contains("1 packets received"), "{peer}");
    assert!(!daemon.ok(&["exec", "in1", "ip", "route"]).contains("default"));
    // The default bridge's gateway: an address of the host's outside the internal network.
    let host_gateway = support::bridge_for(daemon.http_addr()).1.replace(".0/24", ".1");
    assert!(daemon.ok(&["run", "--rm", "busybox", "ping", "-c", "1", "-W", "2", &host_gateway]).contains("1 packets"));
    assert!(!daemon.docker(&["exec", "in1", "ping", "-c", "1", "-W", "2", &host_gateway]).success());
    let bridge = format!("br-{}", &daemon.ok(&["network", "inspect", "-f", "{{.Id}}", "inside"])[..12]);
    let rules = iptables_rules();
    assert!(rules.contains(&format!("-i {bridge} -j DROP")), "{rules}");
    assert!(!rules.contains("-s 10.252.0.0/24 ! -o"), "an internal network gets no NAT:\n{rules}");
    daemon.ok(&["rm", "-f", "in1", "ranged", "idle"]);

    // --ipv6: addresses from the ULA subnet (one per daemon: two bridges must not route the same one) in inspect,
    // and containers reach each other over IPv6.
    let port: u16 = daemon.http_addr().rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let port = format!("{port:x}");
    let subnet6 = format!("fd00:b7:{port}::/64");
    daemon.ok(&["network", "create", "--ipv6", "--subnet", &subnet6, "six"]);
    let six = daemon.get_json("/networks/six");
    assert_eq!(six["EnableIPv6"], true, "{six}");
    let config6 = six["IPAM"]["Config"].as_array().and_then(|c| c.iter().find(|c| c["Subnet"] == subnet6.as_str()));
    assert_eq!(config6.map(|c| c["Gateway"].clone()), Some(format!("fd00:b7:{port}::1").into()), "{six}");
    let fixed6 = format!("fd00:b7:{port}::99");
    daemon.ok(&["run", "-d", "--name", "s6a", "--network", "six", "busybox", "sleep", "1000"]);
    daemon.ok(&["run", "-d", "--name", "s6b", "--network", "six", "--ip6", &fixed6, "busybox", "sleep", "1000"]);
    let settings = daemon.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks.six}}", "s6b"]);
    let settings: serde_json::Value = serde_json::from_str(&settings).expect("json");
    assert_eq!(settings["GlobalIPv6Address"], fixed6.as_str(), "{settings}");
    assert_eq!(settings["GlobalIPv6PrefixLen"], 64, "{settings}");
    assert_eq!(settings["IPAMConfig"]["IPv6Address"], fixed6.as_str(), "{settings}");
    let first6 = daemon.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.six.GlobalIPv6Address}}", "s6a"]);
    assert_eq!(first6.trim(), format!("fd00:b7:{port}::2"));
    let listed = daemon.get_json("/networks/six");
    let listed6: Vec<&str> =
        listed["Containers"].as_object().into_iter().flatten().filter_map(|(_, e)| e["IPv6Address"].as_str()).collect();
    assert!(listed6.contains(&format!("{fixed6}/64").as_str()), "{listed}");
    let ping6 = daemon.ok(&["exec", "s6a", "ping6", "-c", "1", "-W", "2", &fixed6]);
    assert!(ping6.contains("1 packets received"), "{ping6}");
    daemon.ok(&["rm", "-f", "s6a", "s6b"]);

    // prune with filters: labels select, `until` spares the newer ones.
    daemon.ok(&["network", "create", "--label", "keep=yes", "kept"]);
    let pruned = daemon.ok(&["network", "prune", "-f", "--filter", "label!=keep", "--filter", "until=1h"]);
    assert!(!pruned.contains("ipam"), "networks newer than an hour stay: {pruned}");
    let pruned = daemon.ok(&["network", "prune", "-f", "--filter", "label!=keep"]);
    let mut names: Vec<&str> = pruned.lines().skip(1).filter(|l| !l.is_empty()).collect();
    names.sort();
    assert_eq!(names, ["inside", "ipam", "six", "with space"], "{pruned}");
    assert_eq!(daemon.ok(&["network", "prune", "-f", "--filter", "label=keep=yes"]).trim(), "Deleted Networks:\nkept");
}
