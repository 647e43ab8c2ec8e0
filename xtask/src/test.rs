//! `cargo xtask test`: what CI runs (.ci/run). Setup and the web build are prerequisites and stop at the first
//! failure; the checks after them all run even when one fails, so one run shows every problem, and a summary line
//! at the end says which failed.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Result};

use crate::command::{self, probe};
use crate::workspace::Workspace;
use crate::{fuzz, setup, web};

/// The crate compiled to wasm; the native checks skip it (it is not a default member either) and the wasm check
/// covers it.
const WASM_CRATE: &str = "berth-web";

pub fn test(workspace: &Workspace) -> Result<()> {
    let started = Instant::now();
    if probe("id", &["-u"]).as_deref() != Some("0") {
        println!("xtask test: warning: not root; the end-to-end tests start the daemon and containers and will fail");
    }
    setup::setup(workspace)?;
    // The end-to-end tests fetch the web app from the daemon, which serves <target>/web.
    web::web(workspace)?;

    let mut checks: Vec<(&str, Command)> = vec![
        ("fmt", cargo(workspace, &["fmt", "--all", "--", "--check"])),
        ("arch", cargo(workspace, &["xtask", "arch"])),
        (
            "clippy",
            cargo(
                workspace,
                &["clippy", "--workspace", "--exclude", WASM_CRATE, "--all-targets", "--", "-D", "warnings"],
            ),
        ),
        (
            "clippy wasm",
            cargo(
                workspace,
                &["clippy", "-p", WASM_CRATE, "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"],
            ),
        ),
        ("tests", cargo(workspace, &["test", "--workspace", "--exclude", WASM_CRATE, "--no-fail-fast"])),
        ("wasm tests", wasm_tests(workspace)),
    ];
    checks.extend(fuzz::checks(workspace));

    let mut results = Vec::new();
    for (name, mut check) in checks {
        println!("\nxtask test: {name}");
        let check_started = Instant::now();
        let outcome = command::run(&mut check);
        if let Err(error) = &outcome {
            println!("xtask test: {name} FAILED: {error:#}");
        }
        results.push((name, outcome.is_ok(), check_started.elapsed().as_secs_f32()));
    }

    let report = results
        .iter()
        .map(|(name, passed, seconds)| format!("{name} {} {seconds:.0} s", if *passed { "ok" } else { "FAILED" }))
        .collect::<Vec<_>>()
        .join(", ");
    let failed: Vec<&str> = results.iter().filter(|(_, passed, _)| !passed).map(|(name, _, _)| *name).collect();
    let total = started.elapsed().as_secs_f32();
    println!();
    if failed.is_empty() {
        println!("xtask test: PASSED ({report}; {total:.0} s in all)");
        Ok(())
    } else {
        println!("xtask test: FAILED: {} ({report}; {total:.0} s in all)", failed.join(", "));
        bail!("{} of {} checks failed", failed.len(), results.len())
    }
}

/// The browser-side logic of berth-web (tar writer, build stream, log frames, lint positions) under
/// wasm-bindgen-test in headless Chromium (.cargo/config.toml names the runner). The JS bundles it imports exist
/// because the web build ran first.
fn wasm_tests(workspace: &Workspace) -> Command {
    let mut command = cargo(workspace, &["test", "-p", WASM_CRATE, "--target", "wasm32-unknown-unknown"]);
    command.env("CHROMEDRIVER", "/usr/bin/chromedriver");
    command
}

fn cargo(workspace: &Workspace, args: &[&str]) -> Command {
    let mut command = command::cargo();
    command.args(args).current_dir(&workspace.root);
    command
}
