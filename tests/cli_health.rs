//! HEALTHCHECK in the daemon, through the real docker CLI: `--health-*` flags, a Dockerfile HEALTHCHECK taken from
//! the built image, `--no-healthcheck`, State.Health in inspect (status, streak, log), the `docker ps` status text and
//! `health=` filter, the `health_status` event, and health across stop, start and a daemon crash.
//! Intervals are a few hundred milliseconds so that the tests stay fast.

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

/// State.Health of `name`, as docker inspect prints it.
fn health(daemon: &Daemon, name: &str) -> serde_json::Value {
    let text = daemon.ok(&["inspect", "-f", "{{json .State.Health}}", name]);
    serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// Waits until State.Health.Status of `name` is `want`; returns State.Health.
fn wait_for_status(daemon: &Daemon, name: &str, want: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let health = health(daemon, name);
        if health["Status"] == want {
            return health;
        }
        assert!(Instant::now() < deadline, "{name} never became {want}: {health}\n{}", daemon.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `docker ps` status text of the container named `name`.
fn ps_status(daemon: &Daemon, name: &str) -> String {
    let lines = daemon.ok(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"]);
    let line = lines.lines().find(|line| line.split('|').next() == Some(name));
    line.and_then(|line| line.split_once('|')).map(|(_, status)| status.to_string()).unwrap_or_default()
}

fn ps_names(daemon: &Daemon, filter: &str) -> Vec<String> {
    let names = daemon.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = names.lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn health_cmd_becomes_healthy_with_log_ps_text_filter_and_event() {
    let daemon = Daemon::start();
    let until = (chrono::Utc::now() + chrono::Duration::seconds(8)).timestamp().to_string();
    std::thread::scope(|scope| {
        // Subscribed before the container exists, ended by --until.
        let events = scope.spawn(|| {
            daemon.ok(&["events", "--filter", "container=good", "--until", &until, "--format", "{{.Action}}"])
        });
        std::thread::sleep(Duration::from_millis(500));
        daemon.ok(&[
            "run",
            "-d",
            "--name",
            "good",
            "--health-cmd",
            "echo ok",
            "--health-interval",
            "200ms",
            "busybox",
            "sleep",
            "300",
        ]);
        // An interval of an hour: it stays `starting` for the whole test.
        daemon.ok(&[
            "run",
            "-d",
            "--name",
            "slow",
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
            "busybox",
            "sleep",
            "300",
        ]);
        daemon.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);

        let good = wait_for_status(&daemon, "good", "healthy");
        assert_eq!(good["FailingStreak"], 0, "{good}");
        let log = good["Log"].as_array().expect("a Log array");
        assert!(!log.is_empty() && log.len() <= 5, "{good}");
        let last = &log[log.len() - 1];
        assert_eq!(last["ExitCode"], 0, "{good}");
        assert_eq!(last["Output"], "ok\n", "{good}");
        for field in ["Start", "End"] {
            let time = last[field].as_str().expect("a timestamp");
            assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{field}: {time}");
        }
        // After more probes the log keeps only the last five.
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(health(&daemon, "good")["Log"].as_array().map(Vec::len), Some(5));

        assert_eq!(health(&daemon, "slow")["Status"], "starting");
        assert_eq!(health(&daemon, "plain"), serde_json::Value::Null);

        let status = ps_status(&daemon, "good");
        assert!(status.starts_with("Up ") && status.ends_with(" (healthy)"), "{status}");
        let status = ps_status(&daemon, "slow");
        assert!(status.ends_with(" (health: starting)"), "{status}");
        let status = ps_status(&daemon, "plain");
        assert!(status.starts_with("Up ") && !status.contains('('), "{status}");

        assert_eq!(ps_names(&daemon, "health=healthy"), ["good"]);
        assert_eq!(ps_names(&daemon, "health=starting"), ["slow"]);
        assert_eq!(ps_names(&daemon, "health=none"), ["plain"]);
        assert!(ps_names(&daemon, "health=unhealthy").is_empty());
        let bad = daemon.docker(&["ps", "--filter", "health=bogus"]);
        assert!(
            !bad.success() && bad.stderr.contains("invalid filter 'health=bogus': invalid value for health (bogus)"),
            "{bad:?}"
        );

        let events = events.join().expect("the events thread");
        let health_events: Vec<&str> = events.lines().filter(|l| l.starts_with("health_status")).collect();
        // Only changes are events: starting -> healthy once.
        assert_eq!(health_events, ["health_status: healthy"], "{events}");
    });

    // Health goes with the process: a stopped container reads unhealthy (as dockerd says), and a start begins
    // again at `starting`.
    daemon.ok(&["stop", "-t", "1", "good"]);
    let stopped = health(&daemon, "good");
    assert_eq!(stopped["Status"], "unhealthy", "{stopped}");
    let status = ps_status(&daemon, "good");
    assert!(status.starts_with("Exited ("), "{status}");
    daemon.ok(&["start", "good"]);
    wait_for_status(&daemon, "good", "healthy");
    daemon.ok(&["rm", "-f", "good", "slow", "plain"]);
}

#[test]
fn failing_and_timed_out_probes_make_a_container_unhealthy() {
    let daemon = Daemon::start();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "failing",
        "--health-cmd",
        "echo bad >&2; exit 1",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "hanging",
        "--health-cmd",
        "echo started; sleep 31",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);

    let failing = wait_for_status(&daemon, "failing", "unhealthy");
    assert!(failing["FailingStreak"].as_i64().is_some_and(|streak| streak >= 2), "{failing}");
    let log = failing["Log"].as_array().expect("a Log array");
    assert!(log.iter().all(|entry| entry["ExitCode"] == 1 && entry["Output"] == "bad\n"), "{failing}");
    let status = ps_status(&daemon, "failing");
    assert!(status.starts_with("Up ") && status.ends_with(" (unhealthy)"), "{status}");

    let hanging = wait_for_status(&daemon, "hanging", "unhealthy");
    let entry = &hanging["Log"][0];
    assert_eq!(entry["ExitCode"], -1, "{hanging}");
    assert_eq!(entry["Output"], "Health check exceeded timeout (300ms): started\n", "{hanging}");
    // The killed probe is gone: only the container's own process and no `sleep 31` is left.
    let top = daemon.ok(&["top", "hanging"]);
    assert!(!top.contains("sleep 31"), "{top}");

    assert_eq!(ps_names(&daemon, "health=unhealthy"), ["failing", "hanging"]);
    let bad = daemon.docker(&["run", "--health-cmd", "true", "--health-interval", "10us", "busybox", "true"]);
    assert!(!bad.success() && bad.stderr.contains("Interval in Healthcheck cannot be less than 1ms"), "{bad:?}");
    daemon.ok(&["rm", "-f", "failing", "hanging"]);
}

const HEALTHY_DOCKERFILE: &str = r#"FROM busybox
HEALTHCHECK --interval=200ms --timeout=2s --retries=1 CMD ["test", "-f", "/tmp/ready"]
CMD ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 300"]
"#;

#[test]
fn dockerfile_healthcheck_is_taken_from_the_image_and_can_be_switched_off() {
    let mut daemon = Daemon::start();
    let dir = daemon.scratch_dir("checked");
    std::fs::write(dir.join("Dockerfile"), HEALTHY_DOCKERFILE).expect("writing the Dockerfile");
    daemon.ok(&["build", "-t", "checked", dir.to_str().expect("a UTF-8 path")]);
    let from_image = daemon.ok(&["image", "inspect", "-f", "{{json .Config.Healthcheck.Test}}", "checked"]);
    assert_eq!(from_image.trim(), r#"["CMD","test","-f","/tmp/ready"]"#);

    daemon.ok(&["run", "-d", "--name", "from-image", "checked"]);
    let config = daemon.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "from-image"]);
    let config: serde_json::Value = serde_json::from_str(config.trim()).expect("Config.Healthcheck as JSON");
    assert_eq!(config["Test"], serde_json::json!(["CMD", "test", "-f", "/tmp/ready"]), "{config}");
    assert_eq!(config["Interval"], 200_000_000, "{config}");
    assert_eq!(config["Retries"], 1, "{config}");
    // Not ready for a second, so unhealthy first (one retry, no start period), then healthy once the file exists.
    wait_for_status(&daemon, "from-image", "healthy");

    // A flag overrides one field; the rest comes from the image.
    daemon.ok(&["run", "-d", "--name", "merged", "--health-retries", "5", "checked"]);
    let config = daemon.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "merged"]);
    let config: serde_json::Value = serde_json::from_str(config.trim()).expect("Config.Healthcheck as JSON");
    assert_eq!(config["Test"], serde_json::json!(["CMD", "test", "-f", "/tmp/ready"]), "{config}");
    assert_eq!((config["Interval"].clone(), config["Retries"].clone()), (200_000_000.into(), 5.into()), "{config}");

    daemon.ok(&["run", "-d", "--name", "unchecked", "--no-healthcheck", "checked"]);
    assert_eq!(health(&daemon, "unchecked"), serde_json::Value::Null);
    let test = daemon.ok(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", "unchecked"]);
    assert_eq!(test.trim(), r#"["NONE"]"#);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(health(&daemon, "unchecked"), serde_json::Value::Null);
    assert!(!ps_status(&daemon, "unchecked").contains('('));
    assert_eq!(ps_names(&daemon, "health=none"), ["unchecked"]);

    // The daemon killed: the container runs on under its monitor, and the next daemon adopts it and probes again.
    let restarted_at = chrono::Utc::now();
    daemon.crash_and_restart();
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "from-image"]).trim(), "true");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = health(&daemon, "from-image");
        let newest = state["Log"].as_array().and_then(|log| log.last()).and_then(|entry| entry["Start"].as_str());
        let probed_since = newest
            .and_then(|start| chrono::DateTime::parse_from_rfc3339(start).ok())
            .is_some_and(|start| start > restarted_at);
        if probed_since && state["Status"] == "healthy" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no probe after the restart: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.ok(&["rm", "-f", "from-image", "merged", "unchecked"]);
}
