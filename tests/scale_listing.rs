//! `docker ps` at classroom scale (#16): 2,000 containers made through the Engine API, then every filter kind
//! checked for the exact set of containers it returns, through the API (both wire forms) and through the real
//! `docker ps --filter`; and a full bridge: a subnet without a free address and `--max-containers-per-bridge`.
//!
//! The listing test also runs against a reference dockerd, to check what it expects: with
//! `BERTH_E2E_DOCKER_HOST=unix:///path/docker.sock` every request and docker command goes there, scoped by a label
//! of this run so that other containers on that daemon do not count. Error texts are only compared with Berth's
//! (the reference may be an older dockerd, whose wording moby has since changed).

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{unix_request, Daemon, REFERENCE_DOCKER_HOST};

/// How many containers the listing test makes (`BERTH_SCALE_CONTAINERS` to try others).
fn container_count() -> usize {
    std::env::var("BERTH_SCALE_CONTAINERS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000)
}

/// Where the API requests go: the harness's daemon, or the reference dockerd the docker commands go to.
struct Target<'a> {
    daemon: &'a Daemon,
    socket: PathBuf,
    reference: bool,
    /// Every container of this run carries `scaletag=<tag>`; names and the image carry it too.
    tag: String,
}

impl Target<'_> {
    fn new(daemon: &Daemon) -> Target<'_> {
        let reference = std::env::var(REFERENCE_DOCKER_HOST).ok();
        let socket = match &reference {
            Some(host) => PathBuf::from(host.strip_prefix("unix://").expect("a unix:// reference host")),
            None => daemon.socket().to_path_buf(),
        };
        Target { daemon, socket, reference: reference.is_some(), tag: format!("t{}", std::process::id()) }
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string);
        let path = format!("/v1.41{path}");
        let Some((status, answer)) = unix_request(&self.socket, method, &path, text.as_deref()) else {
            panic!("{method} {path}: no answer\n{}", self.daemon.log_tail());
        };
        (status, serde_json::from_str(&answer).unwrap_or(Value::String(answer)))
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.request(method, path, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}\n{}", self.daemon.log_tail());
        answer
    }

    fn name(&self, index: usize) -> String {
        format!("{}-s{index:04}", self.tag)
    }

    /// The names `GET /containers/json?all=1` lists for `filters` (this run's label added).
    fn listed(&self, filters: Value) -> BTreeSet<String> {
        self.listed_with(filters, "all=1")
    }

    fn listed_with(&self, mut filters: Value, query: &str) -> BTreeSet<String> {
        let scope = format!("scaletag={}", self.tag);
        match filters.get_mut("label").and_then(Value::as_array_mut) {
            Some(labels) => labels.push(Value::String(scope)),
            None => filters["label"] = json!([scope]),
        }
        self.listed_raw(&filters.to_string(), query)
    }

    fn listed_raw(&self, filters: &str, query: &str) -> BTreeSet<String> {
        let path = format!("/containers/json?{query}&filters={}", encode(filters));
        let answer = self.ok("GET", &path, None);
        let list = answer.as_array().unwrap_or_else(|| panic!("{path}: {answer}"));
        list.iter().map(|c| c["Names"][0].as_str().unwrap_or_default().trim_start_matches('/').to_string()).collect()
    }

    /// The names `docker ps -a --filter ...` prints (this run's label added).
    fn cli_listed(&self, filters: &[&str]) -> BTreeSet<String> {
        let scope = format!("label=scaletag={}", self.tag);
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}", "--filter", &scope];
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        self.daemon.ok(&args).lines().map(String::from).collect()
    }
}

/// Percent-encoding for a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What each container of the listing test is, by its index: the filters' expected sets come from these.
struct Plan {
    count: usize,
}

impl Plan {
    fn runs_forever(&self, i: usize) -> bool {
        i % 200 == 199 || i == 11 || i == 77
    }
    fn exits_with(&self, i: usize) -> Option<i32> {
        match i {
            2 => Some(0),
            i if i % 500 == 1 => Some(3),
            _ => None,
        }
    }
    fn on_user_network(&self, i: usize) -> bool {
        i % 400 == 3
    }
    fn on_bridge(&self, i: usize) -> bool {
        i == 11
    }
    fn child_image(&self, i: usize) -> bool {
        i % 300 == 5
    }
    fn exposes_80(&self, i: usize) -> bool {
        i.is_multiple_of(250) || i == 11
    }
    fn has_volume(&self, i: usize) -> bool {
        i == 7 || i == 1507
    }
    fn where_(&self, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        (0..self.count).filter(|i| keep(*i)).collect()
    }
}

fn names(target: &Target, indexes: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    indexes.into_iter().map(|i| target.name(i)).collect()
}

#[test]
fn every_filter_kind_at_two_thousand_containers() {
    let daemon = Daemon::start();
    let target = Target::new(&daemon);
    let plan = Plan { count: container_count() };
    let tag = target.tag.clone();
    let _cleanup = ReferenceCleanup { socket: target.reference.then(|| target.socket.clone()), tag: tag.clone() };

    // A network for a few, an image made from busybox (a child, for `ancestor`), a named volume.
    let network_name = format!("{tag}-net");
    let network = target.ok("POST", "/networks/create", Some(&json!({ "Name": network_name })));
    let network_id = network["Id"].as_str().expect("a network id").to_string();
    let base = target.ok("POST", "/containers/create", Some(&json!({ "Image": "busybox", "Cmd": ["true"] })));
    let base_id = base["Id"].as_str().expect("an id").to_string();
    let child_repo = format!("{tag}-child");
    target.ok("POST", &format!("/commit?container={base_id}&repo={child_repo}&tag=latest"), None);
    target.ok("DELETE", &format!("/containers/{base_id}?force=1"), None);
    let child_id = target.ok("GET", &format!("/images/{child_repo}:latest/json"), None)["Id"]
        .as_str()
        .expect("the child image's id")
        .to_string();
    let volume = format!("{tag}-vol");

    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..plan.count {
        let mut labels = json!({ "scaletag": tag, "group": format!("g{}", i % 4) });
        if i.is_multiple_of(10) {
            labels["idx"] = json!(i.to_string());
        }
        let command = match (plan.runs_forever(i), plan.exits_with(i)) {
            (true, _) => json!(["sleep", "600"]),
            (false, Some(code)) => json!(["sh", "-c", format!("exit {code}")]),
            (false, None) => json!(["true"]),
        };
        let mode = if plan.on_user_network(i) {
            network_name.as_str()
        } else if plan.on_bridge(i) {
            "bridge"
        } else {
            // The test daemon's bridge is a /24: 2,000 containers on it would not fit.
            "none"
        };
        let mut host_config = json!({ "NetworkMode": mode });
        let mut body = json!({
            "Image": if plan.child_image(i) { child_repo.as_str() } else { "busybox" },
            "Cmd": command,
            "Labels": labels,
        });
        if plan.exposes_80(i) {
            body["ExposedPorts"] = json!({ "80/tcp": {} });
        }
        if i == 1001 {
            body["ExposedPorts"] = json!({ "5353/udp": {} });
        }
        if i == 11 {
            host_config["PortBindings"] = json!({ "80/tcp": [{ "HostPort": "" }] });
        }
        if plan.has_volume(i) {
            host_config["Binds"] = json!([format!("{volume}:/data")]);
        }
        if i == 42 {
            host_config["Binds"] = json!(["/tmp:/hostdir:ro"]);
        }
        if i == 77 {
            body["Healthcheck"] = json!({ "Test": ["CMD", "true"], "Interval": 1_000_000_000u64 });
        }
        body["HostConfig"] = host_config;
        let created = target.ok("POST", &format!("/containers/create?name={}", target.name(i)), Some(&body));
        ids.push(created["Id"].as_str().expect("an id").to_string());
    }
    eprintln!("scale: {} containers created in {:.1} s", plan.count, started.elapsed().as_secs_f64());
    for i in plan.where_(|i| plan.runs_forever(i) || plan.exits_with(i).is_some()) {
        target.ok("POST", &format!("/containers/{}/start", ids[i]), None);
    }
    for i in plan.where_(|i| plan.exits_with(i).is_some()) {
        target.ok("POST", &format!("/containers/{}/wait", ids[i]), None);
    }

    // How long a whole listing takes, for the record (performance is the bench's to report, not asserted).
    let started = Instant::now();
    let all = target.ok("GET", "/containers/json?all=1", None);
    let elapsed = started.elapsed();
    eprintln!("scale: GET /containers/json?all=1 listed {} in {elapsed:?}", all.as_array().map_or(0, Vec::len));
    let everyone = names(&target, 0..plan.count);
    assert_eq!(target.listed(json!({})), everyone);

    // Without `all`, the running ones; `limit` lists any state, newest first.
    let running = plan.where_(|i| plan.runs_forever(i));
    assert_eq!(target.listed_with(json!({}), "all=0"), names(&target, running.clone()));
    let newest = plan.count - 5..plan.count;
    assert_eq!(target.listed_with(json!({}), "limit=5"), names(&target, newest));

    // id: a unique prefix names one container; an ambiguous one (the empty prefix of them all) names none.
    assert_eq!(target.listed(json!({ "id": [&ids[123][..12]] })), names(&target, [123]));
    assert_eq!(target.listed(json!({ "id": [&ids[123], &ids[7][..20]] })), names(&target, [7, 123]));

    // name: regular expressions, unanchored, against the name with and without its slash.
    let prefix = format!("^/?{tag}-s00[0-4]");
    assert_eq!(target.listed(json!({ "name": [prefix] })), names(&target, (0..50).filter(|i| *i < plan.count)));
    assert_eq!(target.listed(json!({ "name": ["s19"] })), names(&target, plan.where_(|i| (1900..2000).contains(&i))));
    assert_eq!(target.listed(json!({ "name": [target.name(5)] })), names(&target, [5]));

    // label: key, key=value, all of them.
    assert_eq!(target.listed(json!({ "label": ["group=g1"] })), names(&target, plan.where_(|i| i % 4 == 1)));
    assert_eq!(target.listed(json!({ "label": ["idx"] })), names(&target, plan.where_(|i| i.is_multiple_of(10))));
    assert_eq!(target.listed(json!({ "label": ["idx", "group=g2"] })), names(&target, plan.where_(|i| i % 20 == 10)));
    assert!(target.listed(json!({ "label": ["group=g9"] })).is_empty());

    // exited: codes of containers that ran; a created container's 0 does not count.
    assert_eq!(
        target.listed(json!({ "exited": ["3"] })),
        names(&target, plan.where_(|i| plan.exits_with(i) == Some(3)))
    );
    assert_eq!(target.listed(json!({ "exited": ["0"] })), names(&target, [2]));

    // status (which implies all).
    let ran = plan.where_(|i| plan.exits_with(i).is_some());
    assert_eq!(target.listed_with(json!({ "status": ["exited"] }), "all=0"), names(&target, ran.clone()));
    assert_eq!(target.listed(json!({ "status": ["running"] })), names(&target, running.clone()));
    let created = plan.where_(|i| !plan.runs_forever(i) && plan.exits_with(i).is_none());
    assert_eq!(target.listed(json!({ "status": ["created"] })), names(&target, created));

    // ancestor: an image by name or id prefix, and every image built on it.
    assert_eq!(target.listed(json!({ "ancestor": ["busybox"] })), everyone);
    let children = names(&target, plan.where_(|i| plan.child_image(i)));
    assert_eq!(target.listed(json!({ "ancestor": [child_repo] })), children);
    let child_short = child_id.trim_start_matches("sha256:")[..12].to_string();
    assert_eq!(target.listed(json!({ "ancestor": [child_short] })), children);
    assert!(target.listed(json!({ "ancestor": ["no-such-image-here"] })).is_empty());

    // before / since: creation order, by name or id.
    assert_eq!(target.listed(json!({ "before": [target.name(10)] })), names(&target, 0..10));
    let last = plan.count - 1;
    assert_eq!(target.listed(json!({ "since": [&ids[last - 3]] })), names(&target, last - 2..=last));
    assert_eq!(
        target.listed(json!({ "since": [target.name(100)], "before": [target.name(104)] })),
        names(&target, 101..104)
    );

    // volume: by volume name, bind source or destination.
    let with_volume = names(&target, plan.where_(|i| plan.has_volume(i)));
    assert_eq!(target.listed(json!({ "volume": [volume] })), with_volume);
    assert_eq!(target.listed(json!({ "volume": ["/data"] })), with_volume);
    assert_eq!(target.listed(json!({ "volume": ["/hostdir"] })), names(&target, [42]));
    assert_eq!(target.listed(json!({ "volume": ["/tmp"] })), names(&target, [42]));

    // network: by name or id prefix.
    let on_network = names(&target, plan.where_(|i| plan.on_user_network(i)));
    assert_eq!(target.listed(json!({ "network": [network_name] })), on_network);
    // dockerd (20.10 at least) fills a container's NetworkID only once it starts; Berth knows it from create.
    if !target.reference {
        assert_eq!(target.listed(json!({ "network": [&network_id[..10]] })), on_network);
    }
    assert_eq!(target.listed(json!({ "network": ["bridge"] })), names(&target, [11]));
    let on_none = names(&target, plan.where_(|i| !plan.on_user_network(i) && !plan.on_bridge(i)));
    assert_eq!(target.listed(json!({ "network": ["none"] })), on_none);

    // expose (ports, ranges, protocols) and publish (the host port of a running container).
    // dockerd (20.10 at least) lists no ports for a container that never started, so only the running one
    // exposes there; Berth lists a created container's exposed ports, and filters on what it lists.
    let exposing = names(&target, plan.where_(|i| plan.exposes_80(i) && (!target.reference || i == 11)));
    assert_eq!(target.listed(json!({ "expose": ["80"] })), exposing);
    assert_eq!(target.listed(json!({ "expose": ["79-81/tcp"] })), exposing);
    if !target.reference {
        assert_eq!(target.listed(json!({ "expose": ["5000-6000/udp"] })), names(&target, [1001]));
    }
    assert!(target.listed(json!({ "expose": ["5353"] })).is_empty(), "5353/udp is not 5353/tcp");
    let inspect = target.ok("GET", &format!("/containers/{}/json", ids[11]), None);
    let host_port = inspect["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"].as_str().expect("a host port");
    assert_eq!(target.listed(json!({ "publish": [host_port] })), names(&target, [11]));
    assert!(target.listed(json!({ "publish": [format!("{host_port}/udp")] })).is_empty());

    // health: the one with a healthcheck turns healthy; everyone else has none.
    let deadline = Instant::now() + Duration::from_secs(30);
    while target.listed(json!({ "health": ["healthy"] })) != names(&target, [77]) {
        assert!(Instant::now() < deadline, "container 77 never turned healthy");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(target.listed(json!({ "health": ["none"] })), names(&target, plan.where_(|i| i != 77)));

    // is-task (no swarm tasks here) and isolation (Windows only: no effect).
    assert!(target.listed(json!({ "is-task": ["true"] })).is_empty());
    assert_eq!(target.listed(json!({ "is-task": ["false"], "isolation": ["default"] })), everyone);

    // Both wire forms say the same.
    let current = format!(r#"{{"label":{{"group=g3":true,"scaletag={tag}":true}},"status":{{"created":true}}}}"#);
    let legacy = format!(r#"{{"label":["group=g3","scaletag={tag}"],"status":["created"]}}"#);
    let by_current = target.listed_raw(&current, "all=1");
    assert_eq!(by_current, target.listed_raw(&legacy, "all=1"));
    assert!(!by_current.is_empty());

    // The docker CLI's --filter, several at once (they AND across keys, OR within one).
    assert_eq!(target.cli_listed(&["status=running", "network=bridge"]), names(&target, [11]));
    assert_eq!(
        target.cli_listed(&["exited=3", "exited=0"]),
        names(&target, plan.where_(|i| plan.exits_with(i).is_some()))
    );
    assert_eq!(target.cli_listed(&[&format!("ancestor={child_repo}"), "label=group=g1"]), {
        names(&target, plan.where_(|i| plan.child_image(i) && i % 4 == 1))
    });
    assert_eq!(target.cli_listed(&[&format!("before={}", target.name(3))]), names(&target, 0..3));
    assert_eq!(target.cli_listed(&["expose=80", "volume=/data"]), BTreeSet::new());
    assert_eq!(target.cli_listed(&["name=s000[5-7]$"]), names(&target, 5..8));

    // Refusals: before any container is looked at, in dockerd's words (Berth's: moby's current wording).
    for (filter, message) in [
        ("colour=red", "invalid filter 'colour'"),
        ("exited=abc", r#"invalid filter 'exited=abc': strconv.Atoi: parsing "abc": invalid syntax"#),
        ("status=foo", "invalid filter 'status=foo': invalid value for state (foo)"),
        ("health=sick", "invalid filter 'health=sick': invalid value for health (sick)"),
        ("is-task=maybe", "invalid filter 'is-task=[maybe]'"),
        ("publish=80:80", "filter for 'publish' should not contain ':': 80:80"),
        ("expose=90-80", "error while looking up for expose 90-80"),
        ("before=no-such-container", "No such container: no-such-container"),
    ] {
        let refused = daemon.docker(&["ps", "-a", "--filter", filter]);
        assert!(!refused.success(), "{filter} was accepted: {refused:?}");
        if !target.reference {
            assert!(refused.stderr.contains(message), "{filter}: {}", refused.stderr);
        }
    }
    let (status, _) =
        target.request("GET", &format!("/containers/json?filters={}", encode("{\"colour\":[\"x\"]}")), None);
    assert_eq!(status, 400);
    let (status, answer) = target.request("GET", "/containers/json?filters=not-json", None);
    assert!(status == 400 || (target.reference && status == 500), "{status} {answer}");
}

/// A reference daemon is shared: what a run made there goes when it ends, passed or failed.
struct ReferenceCleanup {
    socket: Option<PathBuf>,
    tag: String,
}

impl Drop for ReferenceCleanup {
    fn drop(&mut self) {
        let Some(socket) = &self.socket else { return };
        let filters = encode(&format!(r#"{{"label":["scaletag={}"]}}"#, self.tag));
        let listed = unix_request(socket, "GET", &format!("/containers/json?all=1&filters={filters}"), None);
        let list: Value = listed.and_then(|(_, body)| serde_json::from_str(&body).ok()).unwrap_or(Value::Null);
        for container in list.as_array().into_iter().flatten() {
            let id = container["Id"].as_str().unwrap_or_default();
            unix_request(socket, "DELETE", &format!("/containers/{id}?force=1&v=1"), None);
        }
        let tag = &self.tag;
        unix_request(socket, "DELETE", &format!("/images/{tag}-child:latest"), None);
        unix_request(socket, "DELETE", &format!("/networks/{tag}-net"), None);
        unix_request(socket, "DELETE", &format!("/volumes/{tag}-vol"), None);
    }
}

/// The first free address of the bridge's subnet is gone: create says so, nothing hangs or panics.
#[test]
fn a_full_subnet_and_a_full_bridge_are_refused_clearly() {
    let daemon = Daemon::start_with_args(&["--max-containers-per-bridge", "3"]);
    let port: u16 = daemon.http_addr().rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
    // A /29 (five addresses after the gateway), on a range no other test daemon derives its bridge from.
    let subnet = format!("10.253.{}.{}/29", port & 0xff, (port >> 8 & 0x1f) << 3);
    daemon.ok(&["network", "create", "--subnet", &subnet, "tiny"]);
    for n in 0..5 {
        daemon.ok(&["create", "--name", &format!("tiny{n}"), "--network", "tiny", "busybox", "sleep", "600"]);
    }
    let refused = daemon.docker(&["create", "--name", "tiny5", "--network", "tiny", "busybox", "true"]);
    assert!(!refused.success(), "a sixth address on a /29: {refused:?}");
    assert!(
        refused.stderr.contains("no available IPv4 addresses on this network's address pools: tiny"),
        "{}",
        refused.stderr
    );
    assert!(daemon.docker(&["inspect", "tiny5"]).code != Some(0), "a refused create leaves no container");

    // Three running containers fill a bridge under --max-containers-per-bridge 3; the fourth start names it.
    for n in 0..3 {
        daemon.ok(&["start", &format!("tiny{n}")]);
    }
    let bridge =
        daemon.ok(&["network", "inspect", "tiny", "--format", "{{index .Options \"com.docker.network.bridge.name\"}}"]);
    let full = daemon.docker(&["start", "tiny3"]);
    assert!(!full.success(), "a fourth container on a bridge limited to 3: {full:?}");
    assert!(
        full.stderr.contains("is full") && full.stderr.contains("--max-containers-per-bridge 3"),
        "{}",
        full.stderr
    );
    assert!(full.stderr.contains("network tiny"), "{}", full.stderr);
    let bridge = bridge.trim();
    if !bridge.is_empty() && bridge != "<no value>" {
        assert!(full.stderr.contains(bridge), "{}", full.stderr);
    }
    let id = daemon.ok(&["inspect", "--format", "{{.Id}}", "tiny3"]);
    assert!(!daemon.root().join("netns").join(id.trim()).exists(), "refused before its namespace was made");
    assert_eq!(daemon.ok(&["inspect", "--format", "{{.State.Status}}", "tiny3"]).trim(), "created");

    // The default bridge is limited the same way, and a stop frees a place.
    for n in 0..3 {
        daemon.ok(&["run", "-d", "--name", &format!("b{n}"), "busybox", "sleep", "600"]);
    }
    let full = daemon.docker(&["run", "-d", "--name", "b3", "busybox", "sleep", "600"]);
    assert!(!full.success(), "{full:?}");
    let expected = format!("bridge {} of network bridge is full", daemon.bridge_name());
    assert!(full.stderr.contains(&expected), "{}", full.stderr);
    daemon.ok(&["rm", "-f", "b0"]);
    daemon.ok(&["start", "b3"]);
    assert_eq!(daemon.ok(&["inspect", "--format", "{{.State.Running}}", "b3"]).trim(), "true");

    // `docker network connect` of a running container counts too (an address freed first, so the bridge is
    // what refuses).
    daemon.ok(&["rm", "tiny4"]);
    let connect = daemon.docker(&["network", "connect", "tiny", "b1"]);
    assert!(!connect.success() && connect.stderr.contains("is full"), "{connect:?}");
}
