//! Debian's docker.io (the reference engine) and nginx (the route figures' reference proxy), installed only when
//! missing and never left running or enabled as system services: the bench starts its own private dockerd and
//! nginx, and nothing else may answer on the system socket or port 80.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::command::{self, probe};

/// Debian's rule for maintainer scripts: when this program exits 101, invoke-rc.d starts no service.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";
const DENY_ALL_SERVICES: &str = "#!/bin/sh\n# Written by cargo xtask bench while installing a package.\nexit 101\n";

/// The units docker.io and containerd install and enable, and their SysV script.
const DOCKER_UNITS: &[&str] = &["docker.service", "docker.socket", "containerd.service"];
/// nginx's.
const NGINX_UNITS: &[&str] = &["nginx.service"];

/// Installs docker.io (dockerd, containerd, runc) unless dockerd is already there. Returns whether it installed.
pub fn ensure_docker_engine() -> Result<bool> {
    if probe("dockerd", &["--version"]).is_some() && probe("containerd", &["--version"]).is_some() {
        return Ok(false);
    }
    println!("xtask bench: installing Debian's docker.io for the reference dockerd (services stay stopped)");
    install_stopped("docker.io", DOCKER_UNITS, "docker")?;
    Ok(true)
}

/// Installs nginx unless it is there. Returns whether it installed.
pub fn ensure_nginx() -> Result<bool> {
    if probe("nginx", &["-v"]).is_some() {
        return Ok(false);
    }
    println!(
        "xtask bench: installing Debian's nginx for the route figures' reference proxy (its service stays stopped)"
    );
    install_stopped("nginx", NGINX_UNITS, "nginx")?;
    Ok(true)
}

/// `package` installed with no service of it started (a policy-rc.d that denies everything keeps the package's
/// scripts from starting one), then its `units` and SysV `init_script` disabled.
fn install_stopped(package: &str, units: &[&str], init_script: &str) -> Result<()> {
    let wrote_policy = !Path::new(POLICY_RC_D).exists();
    if wrote_policy {
        write_executable(POLICY_RC_D, DENY_ALL_SERVICES)?;
    }
    let installed = install_package(package);
    if wrote_policy {
        if let Err(error) = std::fs::remove_file(POLICY_RC_D) {
            eprintln!("xtask bench: removing {POLICY_RC_D}: {error}");
        }
    }
    installed?;
    disable_system_services(units, init_script);
    Ok(())
}

fn install_package(package: &str) -> Result<()> {
    command::run(Command::new("apt-get").args(["update", "-q"]))
        .context("apt-get needs root: run the bench as root")?;
    command::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Stops and disables what the package enabled, under systemd and SysV init alike. Where systemd is not running,
/// `systemctl disable` still removes the enablement links and the stop is a no-op.
fn disable_system_services(units: &[&str], init_script: &str) {
    if probe("systemctl", &["--version"]).is_some() {
        let systemd_running = Path::new("/run/systemd/system").exists();
        let mut disable = Command::new("systemctl");
        disable.arg("disable");
        if systemd_running {
            disable.arg("--now");
        }
        disable.args(units);
        if let Err(error) = command::run(&mut disable) {
            eprintln!("xtask bench: warning: {error:#}");
        }
    }
    if Path::new(&format!("/etc/init.d/{init_script}")).exists() && Path::new("/usr/sbin/update-rc.d").exists() {
        if let Err(error) = command::run(Command::new("update-rc.d").args([init_script, "disable"])) {
            eprintln!("xtask bench: warning: {error:#}");
        }
    }
}

fn write_executable(path: &str, content: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).with_context(|| format!("writing {path}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).with_context(|| format!("chmod {path}"))
}
