//! The docker CLI against a fresh daemon: the calls every docker command starts with.

mod support;

use support::Daemon;

/// The Engine API version Berth implements.
const API_VERSION: &str = "1.50";

#[test]
fn docker_version_reports_the_engine_api_version() {
    let daemon = Daemon::start();
    let stdout = daemon.ok(&["version", "--format", "{{json .Server}}"]);
    let server: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error} in {stdout:?}"));
    assert_eq!(server["ApiVersion"], API_VERSION, "server section: {server:#}");
}

#[test]
fn docker_info_answers_without_server_errors() {
    let daemon = Daemon::start();
    let stdout = daemon.ok(&["info", "--format", "{{json .}}"]);
    let info: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error} in {stdout:?}"));
    // `docker info` prints what it could and lists failures here instead of always exiting non-zero.
    let server_errors = info["ServerErrors"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(server_errors, 0, "docker info: {info:#}");
    assert_eq!(info["OSType"], "linux", "docker info: {info:#}");
    assert!(info["ServerVersion"].as_str().is_some_and(|version| !version.is_empty()), "docker info: {info:#}");
}

#[test]
fn the_http_port_serves_the_same_engine_api() {
    let daemon = Daemon::start();
    let output = daemon.docker_over_http(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(output.success(), "{output:#?}\n{}", daemon.log_tail());
    assert_eq!(output.stdout.trim(), API_VERSION);
}

#[test]
fn swarm_calls_answer_as_a_node_in_no_swarm() {
    let daemon = Daemon::start();
    let not_a_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to \
                         connect this node to swarm and try again.";
    for args in [
        &["node", "ls"][..],
        &["service", "ls"],
        &["secret", "ls"],
        &["config", "ls"],
        &["service", "create", "busybox"],
        &["secret", "rm", "nope"],
        &["swarm", "unlock-key"],
    ] {
        let output = daemon.docker(args);
        assert_eq!(output.code, Some(1), "{args:?}: {output:?}");
        assert!(output.stderr.contains(not_a_manager), "{args:?}: {output:?}");
    }
    let leave = daemon.docker(&["swarm", "leave", "--force"]);
    assert!(leave.stderr.contains("This node is not part of a swarm"), "{leave:?}");
    let (status, body) = daemon.get("/swarm").expect("GET /swarm");
    assert_eq!(status, 503, "{body}");
    let init = daemon.docker(&["swarm", "init"]);
    assert!(!init.success() && init.stderr.contains("Berth does not run swarm mode"), "{init:?}");
    assert_eq!(daemon.ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]), "inactive\n");
}
