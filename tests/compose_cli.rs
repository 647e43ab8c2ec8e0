//! `berth compose` against a real daemon: the shop project of support/compose.rs (a service built from a Dockerfile, a
//! published port, a bind-mounted site, a service that `extends` one from another file with a named volume, DNS by
//! service name, then ps, logs, stop and `down -v` leaving nothing behind), `service_healthy` dependencies,
//! positioned errors, and `down` stopping one dependency depth at a time in parallel.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{compose, Daemon};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// `berth compose ARGS` in `project_dir` against `daemon`.
fn berth_compose(daemon: &Daemon, project_dir: &Path, args: &[&str]) -> Output {
    Command::new(BERTH)
        .arg("compose")
        .args(args)
        .current_dir(project_dir)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("running berth compose")
}

#[test]
fn compose_project_runs_answers_and_leaves_nothing_behind() {
    let daemon = Daemon::start();
    let client = |dir: &Path, args: &[&str]| berth_compose(&daemon, dir, args);
    // `config` first: the resolved model names the project's volume.
    let (dir, _) = compose::write_shop(&daemon, "shopconfig");
    let config = compose::ok(&daemon, &client, &dir, &["config"]);
    assert!(config.contains("backend") && config.contains("shopconfig_data"), "{config}");
    compose::shop_scenario(&daemon, &client, "shop");
}

#[test]
fn service_healthy_waits_for_real_health() {
    let daemon = Daemon::start();
    let client = |dir: &Path, args: &[&str]| berth_compose(&daemon, dir, args);
    let (no_healthcheck, unhealthy) = compose::healthy_dependency_scenario(&daemon, &client, "waits");
    // docker compose v2's wording.
    assert!(
        no_healthcheck.contains("dependency failed to start: container waits_db_1 has no healthcheck configured"),
        "{no_healthcheck}"
    );
    assert!(unhealthy.contains("dependency failed to start: container waits_db_1 is unhealthy"), "{unhealthy}");
}

#[test]
fn compose_reports_positioned_errors_and_exits_1() {
    let daemon = Daemon::start();
    let project_dir = daemon.scratch_dir("broken");
    std::fs::write(project_dir.join("compose.yaml"), "services:\n  web:\n    image: busybox\n    portz: []\n")
        .expect("writing compose.yaml");
    let output = berth_compose(&daemon, &project_dir, &["up", "-d"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let file = project_dir.join("compose.yaml");
    assert!(stderr.contains(&format!("{}:4:5: error: services.web", file.display())), "{stderr}");
}

/// `down` stops the services of one dependency depth together, dependents first (#17): two services that ignore
/// SIGTERM under one that depends on both take two grace periods (web's, then db's and cache's together), not three.
#[test]
fn down_stops_one_depth_at_a_time_in_parallel() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("depths");
    let stubborn = "[\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 1; done\"]";
    let file = format!(
        "services:\n  db:\n    image: busybox\n    command: {stubborn}\n  cache:\n    image: busybox\n    command: {stubborn}\n  web:\n    image: busybox\n    command: {stubborn}\n    depends_on: [db, cache]\n"
    );
    std::fs::write(dir.join("compose.yaml"), file).expect("writing compose.yaml");
    let up = berth_compose(&daemon, &dir, &["up", "-d"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let started = std::time::Instant::now();
    let down = berth_compose(&daemon, &dir, &["--progress", "json", "down", "-t", "2"]);
    let took = started.elapsed();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    // Two grace periods of 2 s: one for web, one for db and cache together; one at a time would be 6 s.
    assert!(
        took >= std::time::Duration::from_secs(4) && took < std::time::Duration::from_millis(5_500),
        "down took {took:?}"
    );
    let stdout = String::from_utf8_lossy(&down.stdout);
    let stopping: Vec<String> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["step"] == "stopping")
        .filter_map(|event| event["service"].as_str().map(str::to_string))
        .collect();
    assert_eq!(stopping.first().map(String::as_str), Some("web"), "dependents first: {stopping:?}\n{stdout}");
    assert_eq!(stopping.len(), 3, "{stdout}");
}
