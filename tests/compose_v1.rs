//! Debian's docker-compose 1.29 (python, on docker-py; `cargo xtask setup` installs it) against Berth: the same shop
//! project and `service_healthy` scenario as `berth compose` (support/compose.rs), through the Engine API as
//! docker-compose speaks it.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{compose, Daemon};

const DOCKER_COMPOSE: &str = "/usr/bin/docker-compose";

/// `docker-compose ARGS` in `project_dir` against `daemon`.
fn docker_compose(daemon: &Daemon, project_dir: &Path, args: &[&str]) -> Output {
    Command::new(DOCKER_COMPOSE)
        .args(args)
        .current_dir(project_dir)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        // Its build goes through the docker CLI: the legacy builder, without asking for buildx.
        .env("DOCKER_BUILDKIT", "0")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .env_remove("DOCKER_CONTEXT")
        .output()
        .unwrap_or_else(|error| panic!("running {DOCKER_COMPOSE} (cargo xtask setup installs it): {error}"))
}

#[test]
fn docker_compose_1_29_runs_the_shop_project_and_leaves_nothing_behind() {
    let daemon = Daemon::start();
    let client = |dir: &Path, args: &[&str]| docker_compose(&daemon, dir, args);
    let version = compose::ok(&daemon, &client, Path::new("/"), &["version", "--short"]);
    assert!(version.starts_with("1.29."), "{version}");
    compose::shop_scenario(&daemon, &client, "shopv1");
}

#[test]
fn docker_compose_1_29_waits_for_a_healthy_dependency() {
    let daemon = Daemon::start();
    let client = |dir: &Path, args: &[&str]| docker_compose(&daemon, dir, args);
    let (no_healthcheck, unhealthy) = compose::healthy_dependency_scenario(&daemon, &client, "waitsv1");
    // docker-compose 1.29's own wording, driven by what the daemon reports in State.Health.
    assert!(no_healthcheck.contains(r#"Service "db" is missing a healthcheck configuration"#), "{no_healthcheck}");
    assert!(unhealthy.contains("is unhealthy"), "{unhealthy}");
}
