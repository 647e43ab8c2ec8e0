//! `cargo xtask setup`: installs what this machine lacks and skips what is already there at the right version, so
//! it costs well under a second on a machine that is ready. Tools come from Debian, crates.io and npm only: GitHub
//! downloads are unreachable on the machines Berth is built on.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::command::{self, probe};
use crate::workspace::Workspace;

/// Debian packages the daemon and the tests use: busybox-static is the default image's only binary; skopeo and
/// umoci move OCI images around; iptables, nftables and iproute2 are for container networking; chromium and its
/// driver run the browser tests; docker-compose (1.29, on Debian's python3-docker) checks compose compatibility;
/// docker-registry (the CNCF distribution registry) serves the bench's pull and push figures. Under systemd its
/// package also enables and starts docker-registry.service on port 5000, which the bench leaves alone. postgresql
/// is the server the identity store is tested on beside SQLite (each test runs a cluster of its own on a socket).
/// prometheus brings promtool too: tests/cli_metrics.rs checks `GET /metrics` with both (its own Prometheus on a
/// loopback port, not the package's service on 9090).
const APT_PACKAGES: &[&str] = &[
    "busybox-static",
    "skopeo",
    "umoci",
    "iptables",
    "nftables",
    "iproute2",
    "chromium",
    "chromium-driver",
    "docker-compose",
    "docker-registry",
    "libseccomp-dev",
    "postgresql",
    "prometheus",
];

/// The Python clients the end-to-end tests drive Berth with: docker-py (what docker-compose 1.x is built on) and
/// a websocket client for the attach endpoint. Pinned so the tests see the same client everywhere.
const PYTHON_CLIENTS: &[&str] = &["docker==7.1.0", "websocket-client==1.9.0"];

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// trunk 0.22 needs a newer rustc than these machines have.
const TRUNK_VERSION: &str = "0.21.14";

/// The binaryen release frontend/package.json pins; Trunk.toml's `wasm_opt = "version_132"` must agree.
const WASM_OPT_VERSION: &str = "version 132";

pub fn setup(workspace: &Workspace) -> Result<()> {
    let started = Instant::now();
    let mut installed = Vec::new();

    // Debian 12's nodejs and npm are new enough for the frontend's few packages; a machine with its own Node keeps it.
    let node_packages: &[&str] = if probe("npm", &["--version"]).is_none() { &["nodejs", "npm"] } else { &[] };
    installed.extend(apt_packages(node_packages)?);
    if wasm_target()? {
        installed.push(format!("rust target {WASM_TARGET}"));
    }
    if trunk()? {
        installed.push(format!("trunk {TRUNK_VERSION}"));
    }
    let wasm_bindgen_version = workspace.locked_version("wasm-bindgen")?;
    if wasm_bindgen_cli(&wasm_bindgen_version)? {
        installed.push(format!("wasm-bindgen-cli {wasm_bindgen_version}"));
    }
    if npm_packages(&workspace.frontend())? {
        installed.push("npm packages (frontend/package-lock.json)".to_string());
    }
    if python_clients()? {
        installed.push(format!("python packages {}", PYTHON_CLIENTS.join(" ")));
    }

    let elapsed = started.elapsed().as_secs_f32();
    if installed.is_empty() {
        println!("xtask setup: everything already installed ({elapsed:.1} s)");
    } else {
        println!("xtask setup: installed {} ({elapsed:.1} s)", installed.join(", "));
    }
    Ok(())
}

/// Installs APT_PACKAGES and `extra` where missing. Returns the packages it installed.
fn apt_packages(extra: &[&str]) -> Result<Vec<String>> {
    let missing: Vec<String> = APT_PACKAGES
        .iter()
        .chain(extra)
        .filter(|package| !dpkg_installed(package))
        .map(|package| package.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    println!("xtask setup: installing Debian packages: {}", missing.join(" "));
    // The package lists of a fresh machine are often empty or stale; refresh them once, only when installing.
    command::run(Command::new("apt-get").args(["update", "-q"]))
        .context("apt-get needs root: run cargo xtask as root")?;
    command::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    Ok(missing)
}

fn dpkg_installed(package: &str) -> bool {
    probe("dpkg-query", &["--show", "--showformat=${Status}", package])
        .is_some_and(|status| status == "install ok installed")
}

/// Returns whether it installed the target.
fn wasm_target() -> Result<bool> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (the wasm target is installed with rustup)")?;
    if String::from_utf8_lossy(&installed.stdout).lines().any(|target| target.trim() == WASM_TARGET) {
        return Ok(false);
    }
    command::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    Ok(true)
}

/// Returns whether it installed trunk.
fn trunk() -> Result<bool> {
    // Prints "trunk 0.21.14".
    if probe("trunk", &["--version"]).as_deref() == Some(&format!("trunk {TRUNK_VERSION}")) {
        return Ok(false);
    }
    println!("xtask setup: installing trunk {TRUNK_VERSION} (about 8 minutes on 2 cores)");
    // rustls instead of the default native-tls: no OpenSSL headers needed.
    command::run(command::cargo().args([
        "install",
        "trunk",
        "--version",
        TRUNK_VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        "rustls",
    ]))?;
    Ok(true)
}

/// Returns whether it installed wasm-bindgen-cli.
fn wasm_bindgen_cli(version: &str) -> Result<bool> {
    // Prints "wasm-bindgen 0.2.130".
    if probe("wasm-bindgen", &["--version"]).as_deref() == Some(&format!("wasm-bindgen {version}")) {
        return Ok(false);
    }
    println!("xtask setup: installing wasm-bindgen-cli {version} (the version Cargo.lock pins; about 2 minutes)");
    // No --locked: wasm-bindgen-cli's own lock file names a crate version missing from the registry index.
    // --force replaces a wasm-bindgen of another version.
    command::run(command::cargo().args(["install", "wasm-bindgen-cli", "--version", version, "--force"]))?;
    Ok(true)
}

/// Runs `npm ci` unless node_modules already holds exactly what package-lock.json pins. Returns whether it ran.
fn npm_packages(frontend: &Path) -> Result<bool> {
    let lock = std::fs::read(frontend.join("package-lock.json")).context("reading frontend/package-lock.json")?;
    // npm ci wipes node_modules and reinstalls (seconds, plus registry round trips); a copy of the lock file it
    // installed from tells whether that is needed.
    let stamp = frontend.join("node_modules/.berth-installed-package-lock.json");
    let wasm_opt = frontend.join("node_modules/.bin/wasm-opt");
    let up_to_date = std::fs::read(&stamp).is_ok_and(|installed| installed == lock)
        && probe(&wasm_opt, &["--version"]).is_some_and(|version| version.contains(WASM_OPT_VERSION));
    if up_to_date {
        return Ok(false);
    }
    command::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(frontend))?;
    let version = probe(&wasm_opt, &["--version"]).unwrap_or_default();
    if !version.contains(WASM_OPT_VERSION) {
        bail!("after npm ci, {} reports {version:?}, expected {WASM_OPT_VERSION}", wasm_opt.display());
    }
    std::fs::write(&stamp, lock).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(true)
}

/// Installs PYTHON_CLIENTS with pip unless python3 already imports them at those versions. Returns whether it ran.
fn python_clients() -> Result<bool> {
    let check = "import docker, websocket; print(docker.__version__, websocket.__version__)";
    let wanted = "7.1.0 1.9.0";
    if probe("python3", &["-c", check]).is_some_and(|versions| versions.trim() == wanted) {
        return Ok(false);
    }
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore"]);
    pip.args(PYTHON_CLIENTS);
    command::run(&mut pip)?;
    Ok(true)
}
