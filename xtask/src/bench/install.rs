//! Debian's docker.io, the reference engine, installed only when missing and never left running or enabled as a
//! system service: the bench starts its own private dockerd and nothing else may answer on the system socket.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::command::{self, probe};

/// Debian's rule for maintainer scripts: when this program exits 101, invoke-rc.d starts no service.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";
const DENY_ALL_SERVICES: &str = "#!/bin/sh\n# Written by cargo xtask bench while installing docker.io.\nexit 101\n";

/// The units docker.io and containerd install and enable.
const SYSTEM_UNITS: &[&str] = &["docker.service", "docker.socket", "containerd.service"];

/// Installs docker.io (dockerd, containerd, runc) unless dockerd is already there. Returns whether it installed.
pub fn ensure_docker_engine() -> Result<bool> {
    if probe("dockerd", &["--version"]).is_some() && probe("containerd", &["--version"]).is_some() {
        return Ok(false);
    }
    println!("xtask bench: installing Debian's docker.io for the reference dockerd (services stay stopped)");
    // With a policy-rc.d that denies everything, the package's scripts do not start dockerd or containerd.
    let wrote_policy = !Path::new(POLICY_RC_D).exists();
    if wrote_policy {
        write_executable(POLICY_RC_D, DENY_ALL_SERVICES)?;
    }
    let installed = install_packages();
    if wrote_policy {
        if let Err(error) = std::fs::remove_file(POLICY_RC_D) {
            eprintln!("xtask bench: removing {POLICY_RC_D}: {error}");
        }
    }
    installed?;
    disable_system_services();
    Ok(true)
}

fn install_packages() -> Result<()> {
    command::run(Command::new("apt-get").args(["update", "-q"]))
        .context("apt-get needs root: run the bench as root")?;
    command::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "docker.io"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Stops and disables what the package enabled, under systemd and SysV init alike. Where systemd is not running,
/// `systemctl disable` still removes the enablement links and the stop is a no-op.
fn disable_system_services() {
    if probe("systemctl", &["--version"]).is_some() {
        let systemd_running = Path::new("/run/systemd/system").exists();
        let mut disable = Command::new("systemctl");
        disable.arg("disable");
        if systemd_running {
            disable.arg("--now");
        }
        disable.args(SYSTEM_UNITS);
        if let Err(error) = command::run(&mut disable) {
            eprintln!("xtask bench: warning: {error:#}");
        }
    }
    if Path::new("/etc/init.d/docker").exists() && Path::new("/usr/sbin/update-rc.d").exists() {
        if let Err(error) = command::run(Command::new("update-rc.d").args(["docker", "disable"])) {
            eprintln!("xtask bench: warning: {error:#}");
        }
    }
}

fn write_executable(path: &str, content: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).with_context(|| format!("writing {path}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).with_context(|| format!("chmod {path}"))
}
