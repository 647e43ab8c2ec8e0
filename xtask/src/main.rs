//! `cargo xtask`: the project's own commands. Each one first installs what a fresh Debian 12 machine lacks, then
//! does its job, so that a clean clone needs exactly two commands: `cargo xtask run` and `cargo xtask test`.
//!
//! - [`workspace`]: where things are (repo root, cargo's target dir, versions pinned in Cargo.lock).
//! - [`command`]: running tools with their command line echoed, and the PATH they are looked up on.
//! - [`setup`]: apt packages, the wasm target, trunk, wasm-bindgen-cli, npm packages. Quick when all present.
//! - [`web`]: builds the playground (frontend/) into `<target>/web`, where the daemon serves it from.
//! - [`run`]: setup, web, release daemon, then becomes `berth serve`.
//! - [`test`]: setup, web, fmt, arch, clippy (native and wasm), the whole test suite including end-to-end tests,
//!   then a short run of each fuzz target.
//! - [`arch`]: ARCHITECTURE.md's crate table and folder names checked against the workspace.
//! - [`bench`]: Berth beside a private reference dockerd, figure by figure, into `<target>/bench/report.json`.
//! - [`fuzz`]: the coverage-guided fuzz targets of fuzz/ (cargo-fuzz, nightly), each for a set time.

mod arch;
mod bench;
mod command;
mod fuzz;
mod run;
mod setup;
mod test;
mod web;
mod workspace;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  setup            install what is missing (apt packages, wasm target, trunk, wasm-bindgen-cli, npm packages)
  web              build the web app into <target>/web (trunk build --release)
  run [-- ARGS]    setup, web, build the daemon, then run `berth serve ARGS` (e.g. -- --http 0.0.0.0:8080)
  test             setup, web, fmt, arch, clippy, cargo test (end-to-end tests need root), a short fuzz run
  arch             check the crate arrows and folder names ARCHITECTURE.md states
  bench [--quick] [--only FIGURE,...]
                   Berth beside a private dockerd: latency, memory, builds, pull and push;
                   <target>/bench/report.json (root)
  fuzz [--seconds N] [--target NAME]...
                   coverage-guided fuzzing (cargo-fuzz, nightly) of the Dockerfile parser, the compose
                   loader, the layer tar reader and the API's JSON bodies: N seconds each (default 300)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(error) = dispatch(&args) {
        eprintln!("xtask: error: {error:#}");
        std::process::exit(1);
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no command given");
    };
    let workspace = workspace::Workspace::locate()?;
    command::put_cargo_bin_on_path();
    match command.as_str() {
        "setup" => setup::setup(&workspace),
        "web" => web::web(&workspace),
        "run" => run::run(&workspace, rest),
        "test" => test::test(&workspace),
        "arch" => arch::arch(&workspace),
        "bench" => bench::bench(&workspace, rest),
        "fuzz" => fuzz::fuzz(&workspace, rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown command {other:?}")
        }
    }
}
