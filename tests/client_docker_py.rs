//! docker-py (the Python SDK that docker-compose 1.x is built on) against Berth.

mod support;

use support::Daemon;

#[test]
fn docker_py_runs_execs_attaches_and_lists() {
    let daemon = Daemon::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/docker_py_smoke.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .env("BERTH_HTTP", daemon.http_addr())
        .output()
        .expect("python3 runs (xtask setup installs docker-py)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}\n{}", daemon.log_tail());
    assert!(stdout.contains("docker-py smoke: ok"), "{stdout}");
}

#[test]
fn docker_py_pushes_and_pulls_through_a_real_registry() {
    let registry = support::registry::Registry::anonymous();
    let daemon = Daemon::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/docker_py_registry.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .env("REGISTRY", registry.address())
        .output()
        .expect("python3 runs (xtask setup installs docker-py)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}\n{}", daemon.log_tail());
    assert!(stdout.contains("docker-py registry: ok"), "{stdout}");
}

#[test]
fn docker_py_network_calls_get_dockerds_answers() {
    let daemon = Daemon::start();
    run_script(&daemon, "docker_py_networks.py", "docker-py networks: ok");
}

/// docker-py's container, exec and image calls that its own suite makes, checked against what dockerd answers.
#[test]
fn docker_py_container_exec_and_image_calls_get_dockerds_answers() {
    let daemon = Daemon::start();
    run_script(&daemon, "docker_py_containers.py", "docker-py containers: ok");
}

/// docker-py's build calls that its own suite makes, checked against what dockerd answers.
#[test]
fn docker_py_build_calls_get_dockerds_answers() {
    let daemon = Daemon::start();
    run_script(&daemon, "docker_py_build.py", "docker-py build: ok");
}

/// Runs tests/clients/`script` against `daemon`; it must exit 0 and print `done`.
fn run_script(daemon: &Daemon, script: &str, done: &str) {
    let path = format!("{}/../tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("python3")
        .arg(path)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .output()
        .expect("python3 runs (xtask setup installs docker-py)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}\n{}", daemon.log_tail());
    assert!(stdout.contains(done), "{stdout}");
}
