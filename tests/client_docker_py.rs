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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/docker_py_networks.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
        .output()
        .expect("python3 runs (xtask setup installs docker-py)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}\n{}", daemon.log_tail());
    assert!(stdout.contains("docker-py networks: ok"), "{stdout}");
}
