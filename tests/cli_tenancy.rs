//! A shared daemon (`--auth accounts`): two sessions through the real docker CLI, each with its token in its
//! config.json's HttpHeaders, cannot see or touch each other's containers by name, id or prefix; options that
//! reach the host are refused; tokens are checked; an ended session's containers are gone from the host.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::Daemon;

fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| {
        let daemon = Daemon::start_with_args(&["--auth", "accounts"]).stop_at_exit();
        daemon.admin(&["create-class", "lab", "--seats", "20"]);
        daemon
    })
}

/// A seat in the class, with a docker config directory whose HttpHeaders carry its token.
struct Seat {
    id: String,
    token: String,
    config: PathBuf,
}

impl Seat {
    fn new(daemon: &Daemon, class: &str) -> Seat {
        let printed = daemon.admin(&["new-session", "--class", class]);
        let field = |name: &str| {
            printed
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
                .unwrap_or_else(|| panic!("no {name} in {printed:?}"))
        };
        let (id, token) = (field("session"), field("token"));
        let config = daemon.scratch_dir(&format!("docker-config-{id}"));
        write_config(&config, &token);
        Seat { id, token, config }
    }

    fn docker(&self, args: &[&str]) -> support::DockerOutput {
        daemon().docker_over_http_as(&self.config, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(
            output.success(),
            "docker {} as {}: {}\n{}",
            args.join(" "),
            self.id,
            output.stderr,
            daemon().log_tail()
        );
        output.stdout
    }

    /// A command that must fail, and its error output.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(!output.success(), "docker {} as {} succeeded: {}", args.join(" "), self.id, output.stdout);
        output.stderr
    }
}

fn write_config(dir: &Path, token: &str) {
    let config = serde_json::json!({ "HttpHeaders": { "Authorization": format!("Bearer {token}") } });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("writing config.json");
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect()
}

#[test]
fn two_sessions_cannot_reach_each_others_containers() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    // Names are per session: both may call a container `web`.
    let alice_web = alice.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]).trim().to_string();
    let bob_web = bob.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]).trim().to_string();
    assert_ne!(alice_web, bob_web);
    assert_eq!(lines(&alice.ok(&["ps", "-aq", "--no-trunc"])), vec![alice_web.clone()]);
    assert_eq!(
        lines(&bob.ok(&["ps", "-a", "--format", "{{.ID}} {{.Names}}", "--no-trunc"])),
        vec![format!("{bob_web} web")]
    );
    assert_eq!(bob.ok(&["inspect", "-f", "{{.Id}}", "web"]).trim(), bob_web);
    assert_eq!(alice.ok(&["exec", "web", "hostname"]).trim(), &alice_web[..12]);

    // Alice's container by full id, by prefix: to Bob it does not exist, with the words a missing one gets.
    for reference in [alice_web.as_str(), &alice_web[..12], &alice_web[..5]] {
        let missing = format!("No such container: {reference}");
        for command in [
            vec!["inspect", "--type", "container", reference],
            vec!["exec", reference, "true"],
            vec!["stop", "-t", "0", reference],
            vec!["kill", reference],
            // (`rm -f` of a missing container succeeds quietly, as with dockerd; the container is checked below.)
            vec!["rm", reference],
            vec!["logs", reference],
            vec!["cp", &format!("{reference}:/etc/hostname"), "-"],
            vec!["attach", reference],
            vec!["top", reference],
            vec!["rename", reference, "stolen"],
        ] {
            let stderr = bob.refused(&command);
            assert!(stderr.contains(&missing), "docker {} as bob: {stderr}", command.join(" "));
        }
    }
    // A container of another session named in a create is as unknown as in a path.
    let joined = bob.refused(&["run", "--rm", "--network", &format!("container:{alice_web}"), "busybox", "true"]);
    assert!(joined.contains(&format!("No such container: {alice_web}")), "{joined}");
    let volumes_from = bob.refused(&["run", "--rm", "--volumes-from", &alice_web, "busybox", "true"]);
    assert!(volumes_from.contains("No such container"), "{volumes_from}");
    assert!(bob.docker(&["rm", "-f", &alice_web]).success(), "rm -f of a missing container is quiet");
    // Nothing of this touched Alice's container; the operator sees both.
    assert_eq!(alice.ok(&["inspect", "-f", "{{.State.Running}}", "web"]).trim(), "true");
    let everything = daemon.ok(&["ps", "-q", "--no-trunc"]);
    assert!(everything.contains(&alice_web) && everything.contains(&bob_web), "{everything}");

    // Bob's event history names Bob's containers only.
    let events = bob.ok(&["events", "--since", "0", "--until", "0s", "--format", "{{.Actor.ID}}"]);
    assert!(events.contains(&bob_web), "{events}");
    assert!(!events.contains(&alice_web), "bob saw alice's events: {events}");
    // docker info counts the caller's containers.
    assert_eq!(bob.ok(&["info", "-f", "{{.Containers}}"]).trim(), "1");
    // Prune as Bob leaves Alice's stopped containers alone.
    alice.ok(&["create", "--name", "stopped", "busybox", "true"]);
    bob.ok(&["container", "prune", "-f"]);
    assert_eq!(alice.ok(&["inspect", "-f", "{{.State.Status}}", "stopped"]).trim(), "created");

    for seat in [&alice, &bob] {
        daemon.admin(&["end-session", &seat.id]);
    }
}

#[test]
fn two_sessions_through_docker_py() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/docker_py_tenancy.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .env("BERTH_URL", format!("tcp://{}", daemon.http_addr()))
        .env("ALICE_CONFIG", &alice.config)
        .env("BOB_CONFIG", &bob.config)
        .output()
        .expect("python3 runs (xtask setup installs docker-py)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}\n{}", daemon.log_tail());
    assert!(stdout.contains("docker-py tenancy: ok"), "{stdout}");
    for seat in [&alice, &bob] {
        daemon.admin(&["end-session", &seat.id]);
    }
}

#[test]
fn options_that_reach_the_host_are_refused() {
    let daemon = daemon();
    let seat = Seat::new(daemon, "lab");
    for (args, reason) in [
        (vec!["--privileged"], "--privileged"),
        (vec!["--network", "host"], "--network host"),
        (vec!["--pid", "host"], "--pid host"),
        (vec!["--ipc", "host"], "--ipc host"),
        (vec!["--uts", "host"], "--uts host"),
        (vec!["-v", "/:/host"], "bind mounts of host paths"),
        (vec!["-v", &format!("{}:/docker.sock", daemon.socket().display())], "bind mounts of host paths"),
        (vec!["--mount", "type=bind,source=/etc,target=/etc2"], "type=bind"),
        (vec!["--device", "/dev/null:/dev/x"], "--device"),
        (vec!["--cap-add", "SYS_ADMIN"], "SYS_ADMIN"),
        (vec!["--security-opt", "seccomp=unconfined"], "seccomp=unconfined"),
        (vec!["--cgroup-parent", "/"], "--cgroup-parent"),
    ] {
        let mut command = vec!["create"];
        command.extend(args.iter().copied());
        command.extend(["busybox", "true"]);
        let stderr = seat.refused(&command);
        assert!(stderr.contains(reason) && stderr.contains("not allowed in a session"), "{command:?}: {stderr}");
    }
    let closed = seat.refused(&["system", "df"]);
    assert!(closed.contains("not open to sessions"), "{closed}");
    assert!(lines(&seat.ok(&["ps", "-aq"])).is_empty(), "a refused create made something");
    // What stays inside the box is fine: Docker's default capabilities, a tmpfs, limits.
    seat.ok(&["run", "--rm", "--cap-add", "NET_BIND_SERVICE", "--tmpfs", "/scratch", "-m", "64m", "busybox", "true"]);
    let audit = daemon.admin(&["audit", "--limit", "200"]);
    assert!(audit.contains(&format!("session:{}", seat.id)) && audit.contains("refused"), "{audit}");
    daemon.admin(&["end-session", &seat.id]);
}

#[test]
fn tokens_are_checked_and_an_ended_session_leaves_nothing() {
    let daemon = daemon();
    let nobody = daemon.scratch_dir("docker-config-nobody");
    let output = daemon.docker_over_http_as(&nobody, &["ps"]);
    assert!(!output.success() && output.stderr.contains("authentication required"), "{output:?}");
    let forged = daemon.scratch_dir("docker-config-forged");
    write_config(&forged, "bt_forgedforgedforgedforgedforgedforgedforge");
    let output = daemon.docker_over_http_as(&forged, &["ps"]);
    assert!(!output.success() && output.stderr.contains("not valid"), "{output:?}");

    let seat = Seat::new(daemon, "lab");
    let id = seat.ok(&["run", "-d", "-p", "127.0.0.1::80", "busybox", "httpd", "-f"]).trim().to_string();
    let pid = seat.ok(&["inspect", "-f", "{{.State.Pid}}", &id]).trim().to_string();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo").contains(&id));
    let ended = daemon.admin(&["end-session", &seat.id]);
    assert!(ended.contains("1 containers removed"), "{ended}");
    let output = seat.docker(&["ps"]);
    assert!(
        !output.success() && output.stderr.contains("not valid"),
        "the ended session's token still works: {output:?}"
    );
    assert!(!daemon.ok(&["ps", "-aq", "--no-trunc"]).contains(&id));
    // On the host: no process, no mount, no cgroup, no veth of it is left.
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the container's process survived its session");
    assert!(!std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo").contains(&id));
    assert!(!daemon.root().join("containers").join(&id).exists());
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/berth/{id}")).exists());
    assert!(!daemon.root().join("netns").join(&id).exists(), "its network namespace (and so its veth) is left");
    let _ = seat.token;
}

#[test]
fn each_session_has_its_own_volumes() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    alice.ok(&["volume", "create", "--label", "owner=alice", "data"]);
    alice.ok(&["run", "--rm", "-v", "data:/d", "busybox", "sh", "-c", "echo alice-secret > /d/note"]);
    assert_eq!(alice.ok(&["run", "--rm", "-v", "data:/d:ro", "busybox", "cat", "/d/note"]).trim(), "alice-secret");

    // Bob sees none of it: not in his list, not by name, and his own `data` is another, empty volume.
    assert!(lines(&bob.ok(&["volume", "ls", "-q"])).is_empty(), "bob lists alice's volume");
    let missing = bob.refused(&["volume", "inspect", "data"]);
    assert!(missing.contains("no such volume"), "{missing}");
    let missing = bob.refused(&["volume", "rm", "data"]);
    assert!(missing.contains("no such volume"), "{missing}");
    let listing = bob.ok(&["run", "--rm", "--mount", "type=volume,src=data,dst=/d", "busybox", "ls", "-A", "/d"]);
    assert!(listing.trim().is_empty(), "bob's data holds alice's files: {listing}");
    assert_eq!(lines(&bob.ok(&["volume", "ls", "-q"])), ["data"]);
    assert_eq!(alice.ok(&["volume", "inspect", "-f", "{{.Labels.owner}}", "data"]).trim(), "alice");
    // Nor does the operator's namespace hold either: a name means the daemon's own volume there.
    assert!(!lines(&daemon.ok(&["volume", "ls", "-q"])).contains(&"data".to_string()));

    // The local driver's options would mount what the host has.
    let refused =
        alice.refused(&["volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", "etc"]);
    assert!(refused.contains("not allowed in a session"), "{refused}");
    let refused = alice.refused(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=etc2,dst=/x,volume-opt=device=/etc,volume-opt=o=bind",
        "busybox",
        "true",
    ]);
    assert!(refused.contains("not allowed in a session"), "{refused}");
    assert_eq!(lines(&alice.ok(&["volume", "ls", "-q"])), ["data"], "a refused request made a volume");

    // A volume in use is kept; prune takes only the session's own unused ones.
    alice.ok(&["volume", "create", "spare"]);
    let pruned = bob.ok(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("data") && !pruned.contains("spare"), "{pruned}");
    assert_eq!(lines(&alice.ok(&["volume", "ls", "-q"])), ["data", "spare"]);

    // An ended session's volumes are gone from the host.
    let inspected = alice.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    let mountpoint = PathBuf::from(inspected.trim());
    assert!(mountpoint.join("note").is_file(), "{mountpoint:?}");
    daemon.admin(&["end-session", &alice.id]);
    assert!(!mountpoint.exists(), "the ended session's volume is left at {mountpoint:?}");
    assert!(!daemon.root().join("tenants").join(&alice.id).exists());
    daemon.admin(&["end-session", &bob.id]);
}

/// A build context holding only `dockerfile`.
fn context(name: &str, dockerfile: &str) -> PathBuf {
    let dir = daemon().scratch_dir(name);
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("writing the Dockerfile");
    dir
}

#[test]
fn each_session_builds_its_own_images() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    let recipe = "FROM busybox\nRUN echo alice > /who && cat /proc/self/cgroup > /cgroup\nCMD cat /who\n";
    let alices = context(&format!("alice-app-{}", alice.id), recipe);
    let alices = alices.to_str().expect("utf-8 path");
    alice.ok(&["build", "-t", "app", alices]);
    assert_eq!(alice.ok(&["run", "--rm", "app"]).trim(), "alice");
    // Its step ran as the session: in the session's cgroup group.
    let cgroup = alice.ok(&["run", "--rm", "app", "cat", "/cgroup"]);
    assert!(cgroup.contains(&format!("session-{}", alice.id)), "the RUN step ran outside the session: {cgroup}");
    let id = alice.ok(&["image", "inspect", "-f", "{{.Id}}", "app"]).trim().to_string();
    assert_eq!(alice.ok(&["image", "inspect", "-f", "{{json .RepoTags}}", "app"]).trim(), r#"["app:latest"]"#);
    assert!(lines(&alice.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])).contains(&"app:latest".into()));

    // Bob sees none of it, by name or id, and the same Dockerfile is no cache hit for him.
    let missing = bob.refused(&["image", "inspect", "app"]);
    assert!(missing.contains("No such image"), "{missing}");
    let missing = bob.refused(&["image", "inspect", &id]);
    assert!(missing.contains("No such image"), "{missing}");
    assert!(!bob.ok(&["images", "-a", "-q", "--no-trunc"]).contains(&id), "bob lists alice's image");
    let bobs_copy = context(&format!("bob-copy-{}", bob.id), recipe);
    let output = bob.ok(&["build", "-t", "copy", bobs_copy.to_str().expect("utf-8 path")]);
    assert!(!output.contains("Using cache"), "bob's build used alice's cache:\n{output}");
    let bobs = context(&format!("bob-app-{}", bob.id), "FROM busybox\nRUN echo bob > /who\nCMD cat /who\n");
    bob.ok(&["build", "-t", "app", bobs.to_str().expect("utf-8 path")]);
    assert_eq!(bob.ok(&["run", "--rm", "app"]).trim(), "bob");
    assert_eq!(alice.ok(&["run", "--rm", "app"]).trim(), "alice", "bob's build replaced alice's tag");
    // An image of one's own builds on another: FROM names the session's own first.
    let derived = context(&format!("bob-derived-{}", bob.id), "FROM app\nCMD echo derived; cat /who\n");
    bob.ok(&["build", "-t", "derived", derived.to_str().expect("utf-8 path")]);
    assert_eq!(lines(&bob.ok(&["run", "--rm", "derived"])), ["derived", "bob"]);

    // Tags are the session's; shared images are read-only.
    alice.ok(&["tag", "app", "app:v2"]);
    assert!(bob.refused(&["image", "inspect", "app:v2"]).contains("No such image"));
    let refused = alice.refused(&["rmi", "busybox"]);
    assert!(refused.contains("shared"), "{refused}");
    // A session's own `busybox` shadows the shared one for it alone, until removed.
    alice.ok(&["tag", "app", "busybox:latest"]);
    assert_eq!(alice.ok(&["run", "--rm", "busybox"]).trim(), "alice");
    assert_eq!(bob.ok(&["run", "--rm", "busybox", "echo", "still"]).trim(), "still");
    alice.ok(&["rmi", "busybox"]);
    assert_eq!(alice.ok(&["run", "--rm", "busybox", "echo", "shared"]).trim(), "shared");
    alice.ok(&["rmi", "app:v2"]);
    assert!(alice.refused(&["image", "inspect", "app:v2"]).contains("No such image"));

    // A commit is the session's: of its own container, tagged in its namespace.
    alice.ok(&["run", "--name", "scribble", "busybox", "sh", "-c", "echo committed > /mark"]);
    alice.ok(&["commit", "--author", "alice", "scribble", "snapshot:1"]);
    assert_eq!(alice.ok(&["run", "--rm", "snapshot:1", "cat", "/mark"]).trim(), "committed");
    assert!(bob.refused(&["image", "inspect", "snapshot:1"]).contains("No such image"));
    assert!(bob.refused(&["commit", "scribble", "stolen"]).contains("No such container"));

    // What would reach the host from a build is refused.
    let hosty = context(&format!("alice-host-{}", alice.id), "FROM busybox\nRUN --network=host true\n");
    let refused = alice.refused(&["build", hosty.to_str().expect("utf-8 path")]);
    assert!(refused.contains("not allowed in a session"), "{refused}");

    // An untagged build result is the session's by id.
    let untagged = context(&format!("alice-untagged-{}", alice.id), "FROM busybox\nRUN echo plain > /p\n");
    let plain = alice.ok(&["build", "-q", untagged.to_str().expect("utf-8 path")]).trim().to_string();
    assert_eq!(alice.ok(&["run", "--rm", &plain, "cat", "/p"]).trim(), "plain");
    assert!(bob.refused(&["image", "inspect", &plain]).contains("No such image"));

    // An ended session's images go with it; the shared base stays.
    daemon.admin(&["end-session", &alice.id]);
    assert!(!daemon.docker(&["image", "inspect", &id]).success(), "alice's image outlived her session");
    assert!(!daemon.docker(&["image", "inspect", &plain]).success(), "alice's untagged image outlived her session");
    daemon.ok(&["image", "inspect", "busybox"]);
    assert_eq!(bob.ok(&["run", "--rm", "app"]).trim(), "bob");
    daemon.admin(&["end-session", &bob.id]);
}

#[test]
fn typing_in_a_terminal_keeps_a_session_from_idling_out() {
    use berth_shared::api::terminal::ClientMessage;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let daemon = daemon();
    daemon.admin(&["create-class", "typing", "--seats", "1", "--idle", "20s"]);
    let seat = Seat::new(daemon, "typing");
    seat.ok(&["run", "-d", "--name", "shell", "busybox", "sleep", "300"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let url = format!("ws://{}/berth/terminals/ws?container=shell", daemon.http_addr());
        let mut request = url.into_client_request().expect("request");
        let bearer = format!("Bearer {}", seat.token).parse().expect("header value");
        request.headers_mut().insert("Authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the terminal websocket");
        // 32 s of typing and no other request: past the 20 s idle limit, unless keystrokes count.
        let started = std::time::Instant::now();
        let mut round = 0;
        while started.elapsed() < std::time::Duration::from_secs(32) {
            round += 1;
            let line = format!("echo typed-{round}\r");
            support::terminal::send(&mut socket, &ClientMessage::Input { data: line }).await;
            support::terminal::read_until(&mut socket, &format!("typed-{round}\r\n")).await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
    let ps = seat.docker(&["ps", "-q"]);
    assert!(ps.success() && lines(&ps.stdout).len() == 1, "the typing session idled out: {ps:?}");
    daemon.admin(&["end-session", &seat.id]);
}

#[test]
fn each_session_has_its_own_networks() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    let network = alice.ok(&["network", "create", "--label", "owner=alice", "app"]).trim().to_string();
    alice.ok(&["run", "-d", "--name", "web", "--network", "app", "busybox", "httpd", "-f", "-h", "/etc"]);
    // On its own network a session's containers find each other by name.
    let fetched = alice.ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        "busybox",
        "sh",
        "-c",
        "timeout 5 wget -q -O - http://web/hostname",
    ]);
    assert!(!fetched.trim().is_empty(), "nothing fetched from web");
    assert_eq!(alice.ok(&["network", "inspect", "-f", "{{.Labels.owner}}", "app"]).trim(), "alice");
    assert_eq!(lines(&alice.ok(&["network", "ls", "-q", "--no-trunc"])), [network.as_str()]);
    let ip = alice.ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"]);
    let ip = ip.trim().to_string();

    // Bob sees none of it, and his own `app` is another network that cannot reach alice's.
    assert!(lines(&bob.ok(&["network", "ls", "-q"])).is_empty(), "bob lists alice's network");
    for reference in ["app", network.as_str(), &network[..12]] {
        let missing = bob.refused(&["network", "inspect", reference]);
        assert!(missing.contains("not found"), "{reference}: {missing}");
    }
    let missing = bob.refused(&["network", "rm", "app"]);
    assert!(missing.contains("not found"), "{missing}");
    let bobs = bob.ok(&["network", "create", "app"]).trim().to_string();
    assert_ne!(bobs, network);
    bob.ok(&["run", "-d", "--name", "peer", "--network", "app", "busybox", "sleep", "300"]);
    let probe = bob.docker(&["exec", "peer", "sh", "-c", &format!("timeout 3 wget -q -O - http://{ip}/hostname")]);
    assert!(!probe.success(), "bob reached alice's container at {ip}: {probe:?}");
    let refused = bob.refused(&["network", "connect", "app", "web"]);
    assert!(refused.contains("No such container"), "{refused}");
    let refused = bob.refused(&["network", "connect", &network, "peer"]);
    assert!(refused.contains("not found"), "{refused}");
    // The daemon picks a session's subnets and bridges.
    let refused = bob.refused(&["network", "create", "--subnet", "10.0.0.0/8", "wide"]);
    assert!(refused.contains("not allowed in a session"), "{refused}");
    let refused = bob.refused(&["network", "create", "-o", "com.docker.network.bridge.name=eth0", "eth"]);
    assert!(refused.contains("not allowed in a session"), "{refused}");
    // A pre-defined name gets dockerd's answer, as outside a session.
    let refused = bob.refused(&["network", "create", "bridge"]);
    assert!(refused.contains("operation is not permitted on predefined bridge network"), "{refused}");
    assert_eq!(lines(&bob.ok(&["network", "ls", "-q", "--no-trunc"])), [bobs.as_str()]);

    // An ended session's networks are gone, bridges and all.
    let bridge = format!("br-{}", &network[..12]);
    assert!(std::process::Command::new("ip").args(["link", "show", &bridge]).output().expect("ip").status.success());
    daemon.admin(&["end-session", &alice.id]);
    let left = std::process::Command::new("ip").args(["link", "show", &bridge]).output().expect("ip");
    assert!(!left.status.success(), "alice's bridge {bridge} outlived her session");
    assert!(!daemon.ok(&["network", "ls", "-q", "--no-trunc"]).contains(&network));
    daemon.admin(&["end-session", &bob.id]);
    assert!(!daemon.ok(&["network", "ls", "-q", "--no-trunc"]).contains(&bobs));
}

/// A project a class might run: a built service, a named volume, the project's own network, and a dependency.
const CLASS_PROJECT: &str = r#"
services:
  web:
    build: ./web
    depends_on: [store]
  store:
    image: busybox
    command: ["sh", "-c", "hostname > /data/who && exec httpd -f -p 80 -h /data"]
    volumes:
      - data:/data
volumes:
  data:
"#;

#[test]
fn two_sessions_run_the_same_compose_project_side_by_side() {
    let daemon = daemon();
    let seats = [Seat::new(daemon, "lab"), Seat::new(daemon, "lab")];
    let compose = |seat: &Seat, dir: &Path, args: &[&str]| {
        let output = std::process::Command::new("/usr/bin/docker-compose")
            .args(["-p", "shop"])
            .args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", format!("tcp://{}", daemon.http_addr()))
            .env("DOCKER_CONFIG", &seat.config)
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .output()
            .expect("running docker-compose (cargo xtask setup installs it)");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "docker-compose {args:?} as {}: {stdout}\n{stderr}", seat.id);
        stdout
    };
    let mut dirs = Vec::new();
    for (n, seat) in seats.iter().enumerate() {
        let dir = daemon.scratch_dir(&format!("compose-{}", seat.id));
        std::fs::write(dir.join("docker-compose.yml"), CLASS_PROJECT).expect("compose file");
        std::fs::create_dir_all(dir.join("web")).expect("web dir");
        let dockerfile = format!("FROM busybox\nRUN echo seat-{n} > /seat\nCMD [\"sleep\", \"300\"]\n");
        std::fs::write(dir.join("web/Dockerfile"), dockerfile).expect("Dockerfile");
        compose(seat, &dir, &["up", "-d", "--build"]);
        dirs.push(dir);
    }
    for (n, (seat, dir)) in seats.iter().zip(&dirs).enumerate() {
        // Each session has its own project: its containers, its image, its volume, its network.
        let services = compose(seat, dir, &["ps", "--services"]);
        assert_eq!(lines(&services).len(), 2, "{services}");
        assert_eq!(lines(&seat.ok(&["ps", "-q"])).len(), 2);
        let built = seat.ok(&["exec", "shop_web_1", "cat", "/seat"]);
        assert_eq!(built.trim(), format!("seat-{n}"));
        // The web container reaches the store by its service name on the session's project network.
        let fetched = seat.ok(&["exec", "shop_web_1", "sh", "-c", "timeout 5 wget -q -O - http://store/who"]);
        let store_host = seat.ok(&["exec", "shop_store_1", "hostname"]);
        assert_eq!(fetched.trim(), store_host.trim());
        assert!(lines(&seat.ok(&["volume", "ls", "-q"])).contains(&"shop_data".to_string()));
        assert!(lines(&seat.ok(&["network", "ls", "--format", "{{.Name}}"])).contains(&"shop_default".to_string()));
    }
    for (seat, dir) in seats.iter().zip(&dirs) {
        compose(seat, dir, &["down", "-v", "--rmi", "local"]);
        assert!(lines(&seat.ok(&["ps", "-aq"])).is_empty());
        assert!(lines(&seat.ok(&["volume", "ls", "-q"])).is_empty());
        assert!(lines(&seat.ok(&["network", "ls", "-q"])).is_empty());
        daemon.admin(&["end-session", &seat.id]);
    }
}

/// One HTTP/1.0 request to the daemon's port: the status, the headers (lower-case names) and the body.
fn http(method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    http_with_body(method, path, headers, "")
}

/// [`http`] with a JSON body.
fn http_with_body(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let address = daemon().http_addr().to_string();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect to the daemon's port");
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

#[test]
fn a_join_link_seats_a_browser_with_a_strict_cookie() {
    let daemon = daemon();
    let made = daemon.admin(&["create-class", "browsers", "--seats", "1"]);
    let link = made.lines().find_map(|l| l.strip_prefix("join ")).expect("a join link");
    let path = &link[link.find("/berth/join/").expect("a join path")..];
    let (status, headers, _) = http("GET", path, &[]);
    assert_eq!(status, 303);
    let cookie = headers.iter().find(|(name, _)| name == "set-cookie").map(|(_, v)| v.clone()).expect("a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().expect("name=value").to_string();
    let (status, _, body) = http("GET", "/containers/json", &[("Cookie", &pair)]);
    assert_eq!((status, body.trim()), (200, "[]"));
    // With the cookie, a change needs the playground's header (a forged cross-site form cannot add it).
    let (status, _, body) = http("POST", "/containers/prune", &[("Cookie", &pair)]);
    assert_eq!(status, 403, "{body}");
    assert!(body.to_ascii_lowercase().contains("x-berth-client"), "{body}");
    let (status, _, _) = http("POST", "/containers/prune", &[("Cookie", &pair), ("X-Berth-Client", "playground")]);
    assert_eq!(status, 200);
    // The page learns its session and gets a token for the docker CLI, with the lines to paste.
    let (status, _, body) = http("GET", "/berth/session", &[("Cookie", &pair)]);
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).expect("session JSON");
    assert_eq!(info["class"], "browsers");
    let (status, _, body) =
        http("POST", "/berth/session/tokens", &[("Cookie", &pair), ("X-Berth-Client", "playground")]);
    assert_eq!(status, 201, "{body}");
    let access: serde_json::Value = serde_json::from_str(&body).expect("CLI access JSON");
    let cli = daemon.scratch_dir("docker-config-browser-cli");
    std::fs::write(cli.join("config.json"), access["config_json"].as_str().expect("config_json")).expect("write");
    assert_eq!(access["docker_host"].as_str(), Some(format!("tcp://{}", daemon.http_addr()).as_str()));
    let info_again = daemon.docker_over_http_as(&cli, &["info", "-f", "{{.Containers}}"]);
    assert_eq!(info_again.stdout.trim(), "0", "{info_again:?}");
    // The class had one seat; a second opening is turned away, and a forged link finds nothing.
    let (status, _, body) = http("GET", path, &[]);
    assert_eq!(status, 409, "{body}");
    let (status, _, _) = http("GET", "/berth/join/bj_forged", &[]);
    assert_eq!(status, 404);
    // The app's own page needs no session; the API does.
    assert_eq!(http("GET", "/", &[]).0, 200);
    assert_eq!(http("GET", "/_ping", &[]).0, 401);
}

fn cookie_of(headers: &[(String, String)]) -> String {
    let cookie = headers.iter().find(|(name, _)| name == "set-cookie").map(|(_, v)| v.clone()).expect("a cookie");
    cookie.split(';').next().expect("name=value").to_string()
}

#[test]
fn an_instructor_signs_in_runs_a_class_and_watches_it() {
    let daemon = daemon();
    daemon.admin_with_input(&["create-user", "ada", "--role", "instructor"], b"analytical engine\n");
    daemon.admin_with_input(&["create-user", "bob", "--role", "instructor"], b"difference engine\n");
    let client = ("X-Berth-Client", "playground");
    let sign_in = |name: &str, password: &str| {
        let body = serde_json::json!({ "name": name, "password": password }).to_string();
        http_with_body("POST", "/berth/login", &[client], &body)
    };
    // Without the client header a foreign form cannot sign a browser in; a wrong password is 401.
    let body = serde_json::json!({ "name": "ada", "password": "analytical engine" }).to_string();
    assert_eq!(http_with_body("POST", "/berth/login", &[], &body).0, 403);
    assert_eq!(sign_in("ada", "not the password").0, 401);
    let (status, headers, body) = sign_in("ada", "analytical engine");
    assert_eq!(status, 200, "{body}");
    let ada = cookie_of(&headers);
    let as_ada = [("Cookie", ada.as_str()), client];
    let (status, _, body) = http("GET", "/berth/account", &as_ada);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"role\":\"instructor\""), "{body}");
    // The class view runs no containers.
    let (status, _, body) = http("GET", "/containers/json", &as_ada);
    assert_eq!(status, 403, "{body}");
    // Ada makes a class with a short life and gets a join link.
    let class = serde_json::json!({ "name": "ada-101", "seats": 3, "max_age_secs": 600 }).to_string();
    let (status, _, body) = http_with_body("POST", "/berth/classes", &as_ada, &class);
    assert_eq!(status, 201, "{body}");
    let link: serde_json::Value = serde_json::from_str(&body).expect("link JSON");
    let join = link["path"].as_str().expect("a join path").to_string();
    let (status, headers, _) = http("GET", &join, &[]);
    assert_eq!(status, 303);
    let student = cookie_of(&headers);
    let as_student = [("Cookie", student.as_str()), client];
    let session: serde_json::Value = serde_json::from_str(&http("GET", "/berth/session", &as_student).2).expect("JSON");
    let id = session["id"].as_str().expect("session id").to_string();
    // The student extends within the class's limit: 600 s of age and an hour past it at most.
    let (status, _, body) = http("POST", "/berth/session/extend", &as_student);
    assert_eq!(status, 200, "{body}");
    let extended: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(extended["expires"].as_i64() <= extended["extend_until"].as_i64(), "{body}");
    // A busy container in the student's session shows in the instructor's view with its CPU and memory.
    let token: serde_json::Value =
        serde_json::from_str(&http("POST", "/berth/session/tokens", &as_student).2).expect("token JSON");
    let config = daemon.scratch_dir("docker-config-ada-student");
    std::fs::write(config.join("config.json"), token["config_json"].as_str().expect("config")).expect("write");
    let run = daemon
        .docker_over_http_as(&config, &["run", "-d", "--name", "spin", "busybox", "sh", "-c", "while :; do :; done"]);
    assert!(run.success(), "{run:?}");
    let usage = |cookie: &[(&str, &str)]| {
        let (status, _, body) = http("GET", "/berth/classes/ada-101/sessions", cookie);
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap_or(serde_json::Value::Null), body)
    };
    let (status, first, body) = usage(&as_ada);
    assert_eq!(status, 200, "{body}");
    let mine =
        |list: &serde_json::Value| list.as_array().and_then(|l| l.iter().find(|s| s["id"] == id.as_str()).cloned());
    let seen = mine(&first).expect("the student's session in the view");
    assert_eq!((seen["containers"].as_u64(), seen["running"].as_u64()), (Some(1), Some(1)), "{seen}");
    assert!(seen["memory_bytes"].as_u64() > Some(0), "{seen}");
    support::compose::eventually("the busy loop's CPU time grows", || {
        let now = mine(&usage(&as_ada).1).ok_or("session gone")?;
        let grew = now["cpu_nanos"].as_u64() > seen["cpu_nanos"].as_u64();
        grew.then_some(()).ok_or(format!("{} then {}", seen["cpu_nanos"], now["cpu_nanos"]))
    });
    // The student's terminal is listed, and the instructor watches it without being able to type into it.
    let bearer = format!("Bearer {}", token["token"].as_str().expect("token"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use berth_shared::api::terminal::ClientMessage;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let open = |query: String, name: &'static str, value: String| {
            let mut request = format!("ws://{}/berth/terminals/ws?{query}", daemon.http_addr())
                .into_client_request()
                .expect("request");
            request.headers_mut().insert(name, value.parse().expect("header value"));
            tokio_tungstenite::connect_async(request)
        };
        let (mut typing, _) = open("container=spin".into(), "Authorization", bearer.clone()).await.expect("terminal");
        support::terminal::send(&mut typing, &ClientMessage::Input { data: "echo first-$((6*7))\r".into() }).await;
        support::terminal::read_until(&mut typing, "first-42").await;
        let listed = mine(&usage(&as_ada).1).expect("session");
        let terminal = listed["terminals"][0]["id"].as_str().expect("a terminal listed").to_string();
        let (mut watching, _) = open(format!("session={terminal}"), "Cookie", ada.clone()).await.expect("watch");
        support::terminal::read_until(&mut watching, "first-42").await;
        support::terminal::send(&mut watching, &ClientMessage::Input { data: "echo sneaky-$((1+1))\r".into() }).await;
        support::terminal::send(&mut typing, &ClientMessage::Input { data: "echo second-$((7*8))\r".into() }).await;
        let seen = support::terminal::read_until(&mut watching, "second-56").await;
        assert!(!seen.contains("sneaky-2"), "the watcher's keys reached the shell: {seen:?}");
        // Opening a terminal of its own is not the class view's to do, nor watching another class's.
        assert!(open("container=spin".into(), "Cookie", ada.clone()).await.is_err());
    });
    // Another instructor sees neither the class nor its sessions.
    let (_, headers, _) = sign_in("bob", "difference engine");
    let bob = cookie_of(&headers);
    let as_bob = [("Cookie", bob.as_str()), client];
    assert_eq!(usage(&as_bob).0, 404);
    let (_, _, body) = http("GET", "/berth/classes", &as_bob);
    assert_eq!(body.trim(), "[]");
    // A broadcast reaches the student's page; the audit shows who did what.
    let (status, _, body) =
        http_with_body("POST", "/berth/classes/ada-101/broadcast", &as_ada, r#"{"text":"break until 11:00"}"#);
    assert_eq!(status, 201, "{body}");
    let (_, _, body) = http("GET", "/berth/session", &as_student);
    assert!(body.contains("break until 11:00") && body.contains("\"author\":\"ada\""), "{body}");
    // Ada ends the session: its container is gone and its cookie stops working.
    let (status, _, body) = http("POST", &format!("/berth/classes/ada-101/sessions/{id}/end"), &as_ada);
    assert_eq!(status, 204, "{body}");
    assert_eq!(http("GET", "/berth/session", &as_student).0, 401);
    assert!(daemon.ok(&["ps", "-aq", "--filter", "name=spin"]).trim().is_empty());
    let (_, _, audit) = http("GET", "/berth/classes/ada-101/audit", &as_ada);
    for action in ["create-class", "extend-session", "broadcast", "end-session"] {
        assert!(audit.contains(action), "{action} not in {audit}");
    }
    // Signing out ends the login; five wrong passwords lock the name even against the right one.
    assert_eq!(http("POST", "/berth/logout", &as_bob).0, 204);
    assert_eq!(http("GET", "/berth/account", &as_bob).0, 401);
    for _ in 0..5 {
        assert_eq!(sign_in("bob", "a wrong guess").0, 401);
    }
    let (status, headers, body) = sign_in("bob", "difference engine");
    assert_eq!(status, 429, "{body}");
    assert!(headers.iter().any(|(name, _)| name == "retry-after"), "{headers:?}");
}

#[test]
fn an_open_port_off_loopback_needs_accounts_or_a_clear_choice() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--root", "/nonexistent/berth-never", "--http", "0.0.0.0:1"])
        .output()
        .expect("running berth serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not a loopback address") && stderr.contains("--auth accounts"), "{stderr}");
}

#[test]
fn sessions_cannot_reach_each_other_over_the_network() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    let www = alice.ok(&["run", "-d", "--name", "www", "busybox", "httpd", "-f", "-h", "/etc"]).trim().to_string();
    let ip = alice.ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "www"]);
    let ip = ip.trim();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip:?}");
    alice.ok(&["exec", "www", "sh", "-c", "until wget -q -O /dev/null http://127.0.0.1/hostname; do sleep 0.1; done"]);
    // The session's own containers reach it, by address and by name (its network has DNS).
    // (busybox's own `wget -T` crashes on this host: `timeout` bounds the waits instead.)
    let by_ip = alice.ok(&["run", "--rm", "busybox", "wget", "-q", "-O-", &format!("http://{ip}/hostname")]);
    assert_eq!(by_ip.trim(), &www[..12]);
    let by_name = alice.ok(&["run", "--rm", "busybox", "wget", "-q", "-O-", "http://www/hostname"]);
    assert_eq!(by_name.trim(), &www[..12]);
    // Another session's do not, by either.
    // (In a shell that outlives it: as PID 1, wget would ignore timeout's SIGTERM.)
    for url in [format!("http://{ip}/hostname"), "http://www/hostname".to_string()] {
        let probe = format!("timeout 3 wget -q -O- {url} || echo unreachable");
        let answer = bob.ok(&["run", "--rm", "busybox", "sh", "-c", &probe]);
        assert_eq!(answer.trim(), "unreachable", "bob reached alice's container at {url}");
    }
    for seat in [&alice, &bob] {
        daemon.admin(&["end-session", &seat.id]);
    }
    // Ending the session took its network (and bridge) too.
    let networks = daemon.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains(&alice.id) && !networks.contains(&bob.id), "{networks}");
}

/// A cgroup v1 file of a session's group, as the kernel has it.
fn group_file(session: &str, controller: &str, file: &str) -> String {
    let path = format!("/sys/fs/cgroup/{controller}/berth/session-{session}/{file}");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}")).trim().to_string()
}

#[test]
fn a_session_is_held_to_its_class_quotas() {
    let daemon = daemon();
    daemon.admin(&[
        "create-class",
        "tight",
        "--seats",
        "2",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids",
        "40",
        "--containers",
        "3",
        "--ports",
        "2",
    ]);
    let (greedy, neighbour) = (Seat::new(daemon, "tight"), Seat::new(daemon, "lab"));
    // The group holds the class's totals.
    greedy.ok(&["run", "-d", "--name", "idle", "busybox", "sleep", "300"]);
    assert_eq!(group_file(&greedy.id, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(group_file(&greedy.id, "pids", "pids.max"), "40");
    assert_eq!(group_file(&greedy.id, "cpu", "cpu.cfs_quota_us"), "50000");
    // A fork bomb (a container with no pids limit of its own) stops at the session's pids: the kernel refuses
    // its forks beyond them, and the group's high-water mark is the cap; the neighbour's containers still run.
    let bomb = greedy.docker(&["run", "--rm", "busybox", "sh", "-c", "for i in $(seq 200); do sleep 300 & done; wait"]);
    assert!(bomb.stderr.contains("can't fork") || bomb.stdout.contains("can't fork"), "{bomb:?}");
    let peak: u64 = group_file(&greedy.id, "pids", "pids.peak").parse().expect("pids.peak");
    assert!((30..=40).contains(&peak), "the session's processes peaked at {peak} with a cap of 40");
    assert_eq!(neighbour.ok(&["run", "--rm", "busybox", "echo", "fine"]).trim(), "fine");
    // A memory hog without a limit of its own is killed at the session's limit.
    let hog =
        greedy.docker(&["run", "--rm", "busybox", "sh", "-c", "head -c 200m /dev/zero | tail -c 150m > /dev/null"]);
    assert_eq!(hog.code, Some(137), "the hog was not OOM-killed: {hog:?}");
    assert_eq!(neighbour.ok(&["run", "--rm", "busybox", "echo", "fine"]).trim(), "fine");
    // The published-port quota: two host ports in all, counted over the session's containers.
    greedy.ok(&["create", "--name", "second", "-p", "127.0.0.1::80", "busybox", "true"]);
    let over = greedy.refused(&["create", "-p", "127.0.0.1::80", "-p", "127.0.0.1::81", "busybox", "true"]);
    assert!(over.contains("session quota: 1 of 2 published ports in use"), "{over}");
    assert_eq!(lines(&greedy.ok(&["ps", "-aq"])).len(), 2, "a refused create made a container");
    // The container quota: a third is the last.
    greedy.ok(&["create", "--name", "third", "-p", "127.0.0.1::81", "busybox", "true"]);
    let over = greedy.refused(&["create", "--name", "fourth", "busybox", "true"]);
    assert!(over.contains("session quota: 3 of 3 containers"), "{over}");
    greedy.ok(&["rm", "third"]);
    greedy.ok(&["create", "--name", "fourth", "busybox", "true"]);
    for seat in [&greedy, &neighbour] {
        daemon.admin(&["end-session", &seat.id]);
    }
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/berth/session-{}", greedy.id)).exists(), "the group is left");
}

#[test]
fn a_session_over_its_disk_quota_makes_nothing_more_until_it_frees_some() {
    let daemon = daemon();
    daemon.admin(&["create-class", "small-disk", "--seats", "1", "--disk", "5m"]);
    let (filler, neighbour) = (Seat::new(daemon, "small-disk"), Seat::new(daemon, "lab"));
    filler.ok(&["run", "--name", "writer", "busybox", "sh", "-c", "head -c 6000000 /dev/urandom > /big"]);
    let over = filler.refused(&["create", "busybox", "true"]);
    assert!(over.contains("session quota: 6.0MB of 5.2MB disk in use"), "{over}");
    let recipe = context(&format!("over-quota-{}", filler.id), "FROM busybox\nRUN true\n");
    let over = filler.refused(&["build", recipe.to_str().expect("utf-8 path")]);
    assert!(over.contains("disk in use"), "{over}");
    // Another session is untouched; a volume counts as the writable layer did.
    assert_eq!(neighbour.ok(&["run", "--rm", "busybox", "echo", "fine"]).trim(), "fine");
    filler.ok(&["rm", "writer"]);
    filler.ok(&["run", "--rm", "-v", "store:/store", "busybox", "sh", "-c", "head -c 6000000 /dev/zero > /store/big"]);
    let over = filler.refused(&["create", "busybox", "true"]);
    assert!(over.contains("disk in use"), "{over}");
    filler.ok(&["volume", "rm", "store"]);
    filler.ok(&["create", "busybox", "true"]);
    for seat in [&filler, &neighbour] {
        daemon.admin(&["end-session", &seat.id]);
    }
}

#[test]
fn sessions_expire_and_everything_survives_a_restart_until_then() {
    let mut daemon =
        Daemon::start_with_args(&["--auth", "accounts", "--session-sweep-interval", "1", "--live-restore=true"]);
    daemon.admin(&["create-class", "long", "--seats", "2"]);
    daemon.admin(&["create-class", "short", "--seats", "2", "--max-age", "4s"]);
    daemon.admin_with_input(&["create-user", "ada", "--role", "instructor"], b"analytical engine\n");
    let printed = daemon.admin(&["new-session", "--class", "long"]);
    let token = printed.lines().find_map(|l| l.strip_prefix("token ")).expect("token").to_string();
    let config = daemon.scratch_dir("docker-config-long");
    write_config(&config, &token);
    let kept = daemon.docker_over_http_as(&config, &["run", "-d", "busybox", "sleep", "300"]);
    assert!(kept.success(), "{kept:?}");
    let kept = kept.stdout.trim().to_string();

    // A restart keeps accounts, classes, sessions and their tokens, and the session's running container.
    daemon.restart();
    let ps = daemon.docker_over_http_as(&config, &["ps", "-q", "--no-trunc"]);
    assert_eq!(ps.stdout.trim(), kept, "{ps:?}");
    assert!(daemon.admin(&["sessions"]).contains("long"));
    let audit = daemon.admin(&["audit"]);
    assert!(audit.contains("create-user ada"), "{audit}");

    // A session past its class's maximum age is ended and its containers removed, by the daemon itself.
    let printed = daemon.admin(&["new-session", "--class", "short"]);
    let short_token = printed.lines().find_map(|l| l.strip_prefix("token ")).expect("token").to_string();
    let short_config = daemon.scratch_dir("docker-config-short");
    write_config(&short_config, &short_token);
    let doomed = daemon.docker_over_http_as(&short_config, &["run", "-d", "busybox", "sleep", "300"]);
    assert!(doomed.success(), "{doomed:?}");
    let doomed = doomed.stdout.trim().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while daemon.ok(&["ps", "-aq", "--no-trunc"]).contains(&doomed) {
        assert!(std::time::Instant::now() < deadline, "the expired session's container is still there");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let refused = daemon.docker_over_http_as(&short_config, &["ps"]);
    assert!(!refused.success() && refused.stderr.contains("not valid"), "{refused:?}");
    assert!(daemon.admin(&["audit"]).contains("expire-session"));
    // The long session is untouched.
    assert!(daemon.ok(&["ps", "-q", "--no-trunc"]).contains(&kept));
    let long = daemon.admin(&["sessions"]);
    let long = long.lines().nth(1).and_then(|line| line.split_whitespace().next()).expect("the long session");
    daemon.admin(&["end-session", long]);
}

#[test]
fn the_port_speaks_tls_to_the_docker_cli() {
    let certs = tempfile::tempdir_in(support::target_dir()).expect("a directory for the certificates");
    support::registry::write_tls_files(certs.path());
    let cert = certs.path().join("server.crt");
    let key = certs.path().join("server.key");
    let daemon = Daemon::start_with_args(&[
        "--auth",
        "accounts",
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    daemon.admin(&["create-class", "secure", "--seats", "2"]);
    let printed = daemon.admin(&["new-session", "--class", "secure"]);
    let token = printed.lines().find_map(|l| l.strip_prefix("token ")).expect("token").to_string();
    let config = daemon.scratch_dir("docker-config-tls");
    write_config(&config, &token);
    let ca = certs.path().join("ca.crt");
    let ca = ca.to_str().expect("utf-8");
    // The docker CLI verifies the daemon's certificate against the class's CA and talks through it.
    let run = daemon.docker_over_http_as(
        &config,
        &["--tlsverify", "--tlscacert", ca, "run", "--rm", "busybox", "echo", "over tls"],
    );
    assert!(run.success() && run.stdout.trim() == "over tls", "{run:?}\n{}", daemon.log_tail());
    // Plain HTTP on the TLS port gets nowhere.
    let plain = daemon.docker_over_http_as(&config, &["ps"]);
    assert!(!plain.success(), "{plain:?}");
    let session = printed.lines().find_map(|l| l.strip_prefix("session ")).expect("session");
    daemon.admin(&["end-session", session]);
}

#[test]
fn concurrent_creates_cannot_pass_the_container_quota_together() {
    let daemon = daemon();
    daemon.admin(&["create-class", "racing", "--seats", "1", "--containers", "2"]);
    let seat = Seat::new(daemon, "racing");
    let outcomes: Vec<support::DockerOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6).map(|_| scope.spawn(|| seat.docker(&["create", "busybox", "true"]))).collect();
        handles.into_iter().map(|handle| handle.join().expect("a create thread")).collect()
    });
    let made = outcomes.iter().filter(|output| output.success()).count();
    assert_eq!(made, 2, "{outcomes:?}");
    for refused in outcomes.iter().filter(|output| !output.success()) {
        assert!(refused.stderr.contains("session quota: 2 of 2 containers"), "{refused:?}");
    }
    assert_eq!(lines(&seat.ok(&["ps", "-aq"])).len(), 2);
    daemon.admin(&["end-session", &seat.id]);
}

#[test]
fn metrics_are_the_operators_alone() {
    let daemon = daemon();
    let seat = Seat::new(daemon, "lab");
    // Every tenant's containers by name and image: a session is refused, the socket (the operator) served.
    let bearer = format!("Bearer {}", seat.token);
    let (status, _, body) = http("GET", "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not open to sessions"), "{body}");
    // Nor is it a page of the web app, served without a session.
    let (status, _, body) = http("GET", "/metrics", &[]);
    assert_eq!(status, 401, "{body}");
    let (status, body) = daemon.get("/metrics").expect("the socket answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("berth_containers{state=\"running\"}"), "{body}");
    daemon.admin(&["end-session", &seat.id]);
}

/// Writes `script` to `path` in the container, executable.
fn write_script(seat: &Seat, container: &str, path: &str, script: &str) {
    seat.ok(&["exec", container, "sh", "-c", &format!("cat > {path} <<'SCRIPT'\n{script}SCRIPT\nchmod +x {path}")]);
}

#[test]
fn a_session_reaches_its_published_ports_through_port_urls() {
    use std::io::{Read, Write};
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    let (page, headers, tunnel) = (support::free_port(), support::free_port(), support::free_port());
    let publish = |host: u16, container: u16| format!("{host}:{container}");
    alice.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "-p",
        &publish(page, 80),
        "-p",
        &publish(headers, 81),
        "-p",
        &publish(tunnel, 82),
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo hello-from-alice > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    // An app that answers with the request headers it got, and one that upgrades and then echoes.
    let read_head = "while read -r line; do [ \"${#line}\" -le 1 ] && break; head=\"$head$line\n\"; done\n";
    write_script(
        &alice,
        "app",
        "/headers.sh",
        &format!("#!/bin/sh\n{read_head}printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s' \"$head\"\n"),
    );
    write_script(
        &alice,
        "app",
        "/upgrade.sh",
        &format!("#!/bin/sh\n{read_head}printf 'HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n'\nexec cat\n"),
    );
    alice.ok(&["exec", "-d", "app", "nc", "-ll", "-p", "81", "-e", "/headers.sh"]);
    alice.ok(&["exec", "-d", "app", "nc", "-ll", "-p", "82", "-e", "/upgrade.sh"]);

    let bearer = |seat: &Seat| format!("Bearer {}", seat.token);
    let alices = bearer(&alice);
    let base = format!("/s/{}/p", alice.id);
    let get = |path: &str, auth: &str| http("GET", path, &[("Authorization", auth)]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answered = loop {
        let answer = get(&format!("{base}/{page}/"), &alices);
        if answer.0 == 200 || std::time::Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!((answered.0, answered.2.as_str()), (200, "hello-from-alice\n"), "{answered:?}");
    let (status, found, _) = get(&format!("{base}/{page}"), &alices);
    assert_eq!(status, 308);
    assert!(found.iter().any(|(name, value)| name == "location" && *value == format!("{base}/{page}/")), "{found:?}");

    // Another session finds nothing there, whether the port is published or not; no session at all is 401.
    assert_eq!(get(&format!("{base}/{page}/"), &bearer(&bob)).0, 404);
    assert_eq!(get(&format!("/s/{}/p/{page}/", bob.id), &bearer(&bob)).0, 404, "bob publishes no such port");
    assert_eq!(http("GET", &format!("{base}/{page}/"), &[]).0, 401);

    // The app gets its own cookies and where it is mounted, never Berth's credentials.
    let (status, _, seen) = http(
        "GET",
        &format!("{base}/{headers}/deep/path?x=1"),
        &[("Authorization", &alices), ("Cookie", &format!("app=1; berth_session={}", alice.token))],
    );
    assert_eq!(status, 200, "{seen}");
    assert!(seen.starts_with("GET /deep/path?x=1 HTTP/1.1"), "{seen}");
    let seen = seen.to_ascii_lowercase();
    assert!(seen.contains(&format!("x-forwarded-prefix: {base}/{headers}").to_ascii_lowercase()), "{seen}");
    assert!(seen.contains("cookie: app=1") && seen.contains("x-forwarded-host:"), "{seen}");
    assert!(!seen.contains(&alice.token.to_ascii_lowercase()), "Berth's token reached the app: {seen}");

    // An upgrade is tunnelled both ways.
    let mut stream = std::net::TcpStream::connect(daemon.http_addr()).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "GET {base}/{tunnel}/ HTTP/1.1\r\nHost: {}\r\nAuthorization: {alices}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        daemon.http_addr()
    )
    .expect("send");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).expect("the upgrade's answer");
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream.write_all(b"through the tunnel\n").expect("write into the tunnel");
    let mut echoed = [0u8; 19];
    stream.read_exact(&mut echoed).expect("the echo");
    assert_eq!(&echoed, b"through the tunnel\n");
    drop(stream);
    daemon.admin(&["end-session", &alice.id]);
    daemon.admin(&["end-session", &bob.id]);
}

#[test]
fn a_session_routes_only_to_its_own_containers_and_sees_only_its_own_routes() {
    let daemon = daemon();
    let (alice, bob) = (Seat::new(daemon, "lab"), Seat::new(daemon, "lab"));
    alice.ok(&[
        "run",
        "-d",
        "--name",
        "site",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo alice > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let id = alice.ok(&["inspect", "-f", "{{.Id}}", "site"]).trim().to_string();
    let port = support::free_port();
    let create = |name: &str, container: &str, port: u16| {
        serde_json::json!({
            "name": name, "host_port": port,
            "backends": [{"name": "a", "container": container, "port": 80}],
            "mode": {"kind": "blue_green", "live": "a"},
        })
        .to_string()
    };
    let as_seat = |seat: &Seat| format!("Bearer {}", seat.token);
    let (alice_auth, bob_auth) = (as_seat(&alice), as_seat(&bob));
    let client = ("X-Berth-Client", "test");

    // Bob names Alice's container by name and by id: not found, as if it did not exist.
    for reference in ["site", id.as_str()] {
        let (status, _, body) = http_with_body(
            "POST",
            "/berth/routes",
            &[("Authorization", &bob_auth), client],
            &create("steal", reference, port),
        );
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("No such container"), "{body}");
    }
    let (status, _, body) =
        http_with_body("POST", "/berth/routes", &[("Authorization", &alice_auth), client], &create("mine", "site", 80));
    assert_eq!(status, 403, "the host's low ports are not a session's: {body}");

    // httpd may still be starting: the create's port check retries nothing, so wait for it to answer first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let made = loop {
        let (status, _, body) = http_with_body(
            "POST",
            "/berth/routes",
            &[("Authorization", &alice_auth), client],
            &create("mine", "site", port),
        );
        if status == 201 || std::time::Instant::now() > deadline {
            break (status, body);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(made.0, 201, "{}", made.1);
    assert!(support::http_get(&format!("127.0.0.1:{port}"), "/").ends_with("alice\n"));

    let (status, _, body) = http("GET", "/berth/routes", &[("Authorization", &bob_auth)]);
    assert_eq!((status, body.trim()), (200, "[]"), "bob sees none of alice's routes");
    let (status, _, _) = http("GET", "/berth/routes/mine", &[("Authorization", &bob_auth)]);
    assert_eq!(status, 404);
    let (status, _, _) = http("DELETE", "/berth/routes/mine", &[("Authorization", &bob_auth), client]);
    assert_eq!(status, 404);
    let (status, _, body) = http("GET", "/berth/routes/mine", &[("Authorization", &alice_auth)]);
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http("DELETE", "/berth/routes/mine", &[("Authorization", &alice_auth), client]);
    assert_eq!(status, 204);
}
