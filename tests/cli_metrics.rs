//! `GET /metrics` (#15 item 3) against real containers made with the docker CLI: the values, not just the names
//! (a busy loop's CPU seconds grow, memory within its `-m` limit, the route histogram counts the requests made,
//! containers by state as `docker ps -a` tallies them), and the exposition checked by the real tools: `promtool
//! check metrics`, and a real Prometheus scraping the daemon's HTTP port.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use support::Daemon;

const BUSY: &str = "metrics-busy";
const MIB: f64 = 1024.0 * 1024.0;

/// One daemon for the binary, with a busy loop limited to 64 MiB and labelled as a compose service.
fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| {
        let daemon = Daemon::start().stop_at_exit();
        daemon.ok(&[
            "run",
            "-d",
            "--name",
            BUSY,
            "-m",
            "64m",
            "--label",
            "com.docker.compose.project=shop",
            "--label",
            "com.docker.compose.service=spin",
            "busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ]);
        daemon
    })
}

/// The tests count containers and requests on the shared daemon: one at a time, so none sees another's.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn scrape(daemon: &Daemon) -> String {
    match daemon.get("/metrics") {
        Some((200, body)) => body,
        other => panic!("GET /metrics: {other:?}\n{}", daemon.log_tail()),
    }
}

/// The value of the one sample of `name` whose labels include every `key="value"` of `labels`.
fn value(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            let label_text = match rest.chars().next() {
                None => "",
                Some('{') => rest,
                Some(_) => return None,
            };
            labels.iter().all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\""))).then(|| value.parse().ok())?
        })
        .collect();
    assert!(matching.len() <= 1, "{name} {labels:?} matches {} samples in\n{scrape}", matching.len());
    matching.first().copied()
}

fn busy_value(scrape: &str, name: &str) -> f64 {
    value(scrape, name, &[("name", BUSY)]).unwrap_or_else(|| panic!("no {name} for {BUSY} in\n{scrape}"))
}

#[test]
fn a_busy_loop_shows_cpu_memory_and_pids() {
    let _serial = serial();
    let daemon = daemon();
    let first = scrape(daemon);
    let cpu = busy_value(&first, "berth_container_cpu_seconds_total");
    // Counters need one read: two scrapes a moment apart differ by what the loop burnt between them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let grown = loop {
        let now = busy_value(&scrape(daemon), "berth_container_cpu_seconds_total");
        if now >= cpu + 0.2 {
            break now;
        }
        assert!(Instant::now() < deadline, "CPU seconds of a busy loop stayed at {now} (from {cpu})");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("cpu seconds: {cpu} then {grown}");

    let memory = busy_value(&first, "berth_container_memory_usage_bytes");
    let limit = busy_value(&first, "berth_container_memory_limit_bytes");
    assert_eq!(limit, 64.0 * MIB, "-m 64m");
    assert!(memory > 0.0 && memory <= limit, "memory {memory} of {limit}");
    assert!(busy_value(&first, "berth_container_pids") >= 1.0);
    let labelled = [("name", BUSY), ("image", "busybox"), ("compose_project", "shop"), ("compose_service", "spin")];
    assert!(value(&first, "berth_container_cpu_seconds_total", &labelled).is_some(), "{first}");
    let id = daemon.ok(&["inspect", "-f", "{{.Id}}", BUSY]);
    assert!(value(&first, "berth_container_pids", &[("id", id.trim())]).is_some(), "{first}");
    // Counters there, whatever their value: a loop in a shell moves no bytes.
    for name in [
        "berth_container_network_receive_bytes_total",
        "berth_container_network_transmit_bytes_total",
        "berth_container_blkio_read_bytes_total",
        "berth_container_blkio_write_bytes_total",
    ] {
        busy_value(&first, name);
    }
}

#[test]
fn network_bytes_count_what_the_container_sent() {
    let _serial = serial();
    let daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "metrics-net", "busybox", "sleep", "1000"]);
    let before = value(&scrape(daemon), "berth_container_network_transmit_bytes_total", &[("name", "metrics-net")])
        .expect("a transmit counter");
    // 20 pings of 1000 bytes to the gateway leave eth0 whether or not it answers.
    daemon.docker(&[
        "exec",
        "metrics-net",
        "sh",
        "-c",
        "ping -c 20 -i 0.05 -s 1000 -W 1 $(ip route | awk '/default/ {print $3}')",
    ]);
    let after = value(&scrape(daemon), "berth_container_network_transmit_bytes_total", &[("name", "metrics-net")])
        .expect("a transmit counter");
    daemon.ok(&["rm", "-f", "metrics-net"]);
    assert!(after - before >= 20_000.0, "sent {before} then {after} bytes");
}

#[test]
fn the_route_histogram_counts_each_inspect() {
    let _serial = serial();
    let daemon = daemon();
    let route = [("route", "/containers/{id}/json"), ("method", "GET"), ("status", "2xx")];
    let count = |scrape: &str| value(scrape, "berth_http_request_duration_seconds_count", &route).unwrap_or(0.0);
    let before = count(&scrape(daemon));
    const N: usize = 5;
    for _ in 0..N {
        daemon.ok(&["inspect", BUSY]);
    }
    let after = scrape(daemon);
    assert!(count(&after) >= before + N as f64, "{before} then {}", count(&after));
    let inf = [route.as_slice(), &[("le", "+Inf")]].concat();
    assert_eq!(value(&after, "berth_http_request_duration_seconds_bucket", &inf), Some(count(&after)));
    // The template, never a container's id or name.
    assert!(!after.contains(&format!("route=\"/containers/{BUSY}")), "{after}");
    // The HTTP port serves the same figures.
    let response = support::http_get(daemon.http_addr(), "/metrics");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{response}");
}

#[test]
fn containers_by_state_match_docker_ps() {
    let _serial = serial();
    let daemon = daemon();
    daemon.ok(&["create", "--name", "metrics-created", "busybox", "true"]);
    daemon.ok(&["run", "--name", "metrics-exited", "busybox", "true"]);
    daemon.ok(&["run", "-d", "--name", "metrics-paused", "busybox", "sleep", "1000"]);
    daemon.ok(&["pause", "metrics-paused"]);
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for state in daemon.ok(&["ps", "-a", "--format", "{{.State}}"]).split_whitespace() {
        *expected.entry(state.to_string()).or_default() += 1.0;
    }
    let scraped = scrape(daemon);
    daemon.ok(&["rm", "-f", "metrics-created", "metrics-exited", "metrics-paused"]);
    for state in ["created", "running", "paused", "exited"] {
        assert!(expected.contains_key(state), "docker ps -a shows no {state} container: {expected:?}");
    }
    for state in ["created", "running", "paused", "restarting", "removing", "exited", "dead"] {
        let want = expected.get(state).copied().unwrap_or(0.0);
        assert_eq!(value(&scraped, "berth_containers", &[("state", state)]), Some(want), "{state}: {scraped}");
    }
    // A paused container still has its cgroup and its figures.
    assert!(value(&scraped, "berth_container_pids", &[("name", "metrics-paused")]).is_some(), "{scraped}");
    assert!(value(&scraped, "berth_container_pids", &[("name", "metrics-exited")]).is_none(), "{scraped}");
}

#[test]
fn promtool_accepts_the_scrape() {
    let _serial = serial();
    let body = scrape(daemon());
    // Not skipped when missing: `cargo xtask setup` installs it (Debian's prometheus package).
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("running promtool (cargo xtask setup installs it): {error}"));
    promtool.stdin.take().expect("promtool's stdin").write_all(body.as_bytes()).expect("writing to promtool");
    let output = promtool.wait_with_output().expect("promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool check metrics: {:?}\n{said}\n{body}", output.status);
    // Lint findings (names, units, help) are printed even when nothing is malformed.
    assert!(said.trim().is_empty(), "promtool check metrics: {said}");
}

/// Kills the Prometheus it holds, whatever way the test ends.
struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_http_port() {
    let _serial = serial();
    let daemon = daemon();
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("prometheus is not installed (cargo xtask setup installs it): not checked against a real one");
        return;
    }
    let dir = daemon.scratch_dir("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: berth\n    static_configs:\n      - targets: [\"{}\"]\n",
            daemon.http_addr()
        ),
    )
    .expect("writing prometheus.yml");
    let listen = format!("127.0.0.1:{}", support::free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus.log");
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={listen}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting prometheus"),
    );
    let query = format!("/api/v1/query?query=berth_container_cpu_seconds_total%7Bname%3D%22{BUSY}%22%7D");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = support::http_get(&listen, &query);
        if response.contains("\"result\":[{") && response.contains(&format!("\"name\":\"{BUSY}\"")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has no {BUSY} CPU sample after 60 s: {response}\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
