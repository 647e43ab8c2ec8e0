//! `cargo xtask fuzz`: the coverage-guided fuzz targets in fuzz/, each for a set time. They are cargo-fuzz targets
//! (libFuzzer, with AddressSanitizer, debug assertions and overflow checks), so they build with a nightly
//! toolchain; cargo-fuzz itself comes from crates.io. Each target starts from the committed seeds
//! (fuzz/seeds/NAME/) and the corpus earlier runs grew (`<target>/fuzz/corpus/NAME/`, the only one libFuzzer
//! writes to, so a run leaves the repository clean, and which a long run merges down to the inputs that add
//! coverage); an input that fails is written to `<target>/fuzz/artifacts/NAME/` and the run fails naming it.
//!
//! `cargo xtask test` runs [`checks`]: the fuzz crate's formatting and clippy, and a few seconds of each target.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::command::{self, probe};
use crate::workspace::Workspace;

/// The toolchain cargo-fuzz builds with: `-Zsanitizer` is nightly only.
const TOOLCHAIN: &str = "nightly";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// libFuzzer's triple; cargo-fuzz always passes `--target`, so its binaries sit in `<target>/<triple>/release`,
/// apart from the workspace's own builds.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// Per target for `cargo xtask fuzz` without `--seconds`.
const DEFAULT_SECONDS: u64 = 300;
/// Per target in `cargo xtask test`: enough to run every seed and some thousands of mutations.
const TEST_SECONDS: u64 = 5;
/// A run this long ends by merging its corpus down to the inputs that each add coverage. Every run first replays
/// the whole corpus (which is the test run's regression check), so it must not keep every input a long run kept.
const MERGE_AFTER_SECONDS: u64 = 60;

/// A fuzz target (a `[[bin]]` of fuzz/Cargo.toml) and the longest input libFuzzer may make for it.
struct Target {
    name: &'static str,
    max_len: usize,
}

const TARGETS: &[Target] = &[
    Target { name: "dockerfile", max_len: 4096 },
    Target { name: "compose", max_len: 8192 },
    // Real tars are whole 512-byte blocks, a few of them per entry.
    Target { name: "layer_tar", max_len: 16384 },
    Target { name: "api_json", max_len: 4096 },
];

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--target NAME]...";

/// What one target did.
struct Outcome {
    name: &'static str,
    runs: Option<u64>,
    seconds: f32,
    corpus: usize,
    failure: Option<String>,
}

pub fn fuzz(workspace: &Workspace, args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut chosen: Vec<&Target> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context(USAGE)?;
                seconds = value.parse().with_context(|| format!("--seconds {value:?}: not a number"))?;
            }
            "--target" => {
                let value = args.next().context(USAGE)?;
                for name in value.split(',') {
                    let known = TARGETS.iter().find(|target| target.name == name);
                    let names: Vec<&str> = TARGETS.iter().map(|target| target.name).collect();
                    chosen.push(known.with_context(|| format!("no fuzz target {name:?}; there are {names:?}"))?);
                }
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if chosen.is_empty() {
        chosen = TARGETS.iter().collect();
    }

    tools()?;
    let started = Instant::now();
    // One build for every target: they share the instrumented crates.
    let mut build = nightly_cargo();
    build.arg("fuzz").arg("build").arg("--fuzz-dir").arg(fuzz_dir(workspace));
    build.arg("--target-dir").arg(&workspace.target);
    command::run(&mut build)?;

    let mut outcomes = Vec::new();
    for target in chosen {
        println!("\nxtask fuzz: {} for {seconds} s", target.name);
        outcomes.push(run_target(workspace, target, seconds)?);
    }

    println!("\nxtask fuzz: {:.0} s in all (build included)", started.elapsed().as_secs_f32());
    for outcome in &outcomes {
        let runs = outcome.runs.map_or("?".to_string(), |runs| runs.to_string());
        let rate = outcome.runs.map_or(0.0, |runs| runs as f32 / outcome.seconds.max(0.001));
        let result = outcome.failure.as_deref().unwrap_or("no failure");
        println!(
            "  {:<11} {runs:>10} runs in {:>4.0} s ({rate:>6.0}/s), corpus {:>5} inputs: {result}",
            outcome.name, outcome.seconds, outcome.corpus
        );
    }
    let failed: Vec<&str> = outcomes.iter().filter(|outcome| outcome.failure.is_some()).map(|o| o.name).collect();
    if !failed.is_empty() {
        bail!("fuzz target(s) failed: {}", failed.join(", "));
    }
    Ok(())
}

/// For `cargo xtask test`: the fuzz crate is its own workspace, so the workspace's fmt and clippy do not see it;
/// then a short run of every target.
pub fn checks(workspace: &Workspace) -> Vec<(&'static str, Command)> {
    let manifest = fuzz_dir(workspace).join("Cargo.toml");
    let mut fmt = command::cargo();
    fmt.arg("fmt").arg("--manifest-path").arg(&manifest).args(["--", "--check"]);
    // Stable clippy, into the shared target dir: fuzz/Cargo.lock began as a copy of the workspace's, so the
    // dependencies checked for the workspace's clippy serve here too.
    let mut clippy = command::cargo();
    clippy.arg("clippy").arg("--manifest-path").arg(&manifest).arg("--target-dir").arg(&workspace.target);
    clippy.args(["--all-targets", "--", "-D", "warnings"]);
    let mut run = command::cargo();
    run.args(["xtask", "fuzz", "--seconds", &TEST_SECONDS.to_string()]).current_dir(&workspace.root);
    vec![("fuzz fmt", fmt), ("fuzz clippy", clippy), ("fuzz", run)]
}

fn fuzz_dir(workspace: &Workspace) -> PathBuf {
    workspace.root.join("fuzz")
}

/// `cargo` of the nightly toolchain. The variables the stable cargo that runs xtask set would point cargo-fuzz at
/// stable again.
fn nightly_cargo() -> Command {
    let mut cargo = Command::new("rustup");
    cargo.args(["run", TOOLCHAIN, "cargo"]);
    for variable in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        cargo.env_remove(variable);
    }
    cargo
}

/// Installs the nightly toolchain and cargo-fuzz where missing.
fn tools() -> Result<()> {
    if probe("rustup", &["run", TOOLCHAIN, "rustc", "--version"]).is_none() {
        println!("xtask fuzz: installing the {TOOLCHAIN} toolchain (cargo-fuzz needs -Zsanitizer)");
        command::run(Command::new("rustup").args(["toolchain", "install", TOOLCHAIN, "--profile", "minimal"]))?;
    }
    // Prints "cargo-fuzz 0.13.2".
    if probe("cargo-fuzz", &["--version"]).as_deref() != Some(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}")) {
        println!("xtask fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (about a minute)");
        command::run(command::cargo().args(["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION, "--locked"]))?;
    }
    Ok(())
}

fn run_target(workspace: &Workspace, target: &Target, seconds: u64) -> Result<Outcome> {
    let corpus = workspace.target.join("fuzz/corpus").join(target.name);
    let artifacts = workspace.target.join("fuzz/artifacts").join(target.name);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let seeds = fuzz_dir(workspace).join("seeds").join(target.name);
    let binary = workspace.target.join(TRIPLE).join("release").join(target.name);
    let mut fuzzer = Command::new(&binary);
    fuzzer
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", target.max_len))
        // An input that takes this long is a hang, reported as a failure like a crash.
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // New inputs go to the first directory only; the seeds are read, never written.
        .arg(&corpus)
        .arg(&seeds)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    println!("$ {} {}", binary.display(), fuzzer.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
    let started = Instant::now();
    let mut child = fuzzer.spawn().with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().context("the fuzzer's stderr")?;
    let (mut runs, mut failure_input) = (None, None);
    let mut in_dictionary = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading the fuzzer's output")?;
        // libFuzzer's final stats and the file it wrote a failing input to.
        if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
            runs = count.trim().parse().ok();
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            failure_input = Some(path.trim().to_string());
        }
        // Kept out of the log: lines per new coverage point or function, and the dictionary it recommends at the end.
        in_dictionary = in_dictionary || line.starts_with("###### Recommended dictionary");
        let progress = line.starts_with('#') && ["\tNEW ", "\tREDUCE ", "\tRELOAD "].iter().any(|w| line.contains(w))
            || line.starts_with("\tNEW_FUNC");
        if !in_dictionary && !progress {
            eprintln!("{line}");
        }
        in_dictionary = in_dictionary && !line.starts_with("###### End of recommended dictionary");
    }
    let status = child.wait().context("waiting for the fuzzer")?;
    let failure = (!status.success()).then(|| match &failure_input {
        Some(input) => format!("FAILED ({status}): replay with {} {input}", binary.display()),
        None => format!("FAILED ({status})"),
    });
    let seconds_taken = started.elapsed().as_secs_f32();
    if let Some(failure) = &failure {
        println!("xtask fuzz: {}: {failure}", target.name);
    } else if seconds >= MERGE_AFTER_SECONDS {
        merge(&binary, target, &corpus)?;
    }
    Ok(Outcome { name: target.name, runs, seconds: seconds_taken, corpus: count_files(&corpus), failure })
}

/// libFuzzer's `-merge=1`: the inputs of `corpus` that each add coverage, into a fresh directory that then
/// replaces it.
fn merge(binary: &Path, target: &Target, corpus: &Path) -> Result<()> {
    let merged = corpus.with_extension("merged");
    if merged.exists() {
        std::fs::remove_dir_all(&merged).with_context(|| format!("removing {}", merged.display()))?;
    }
    std::fs::create_dir(&merged).with_context(|| format!("creating {}", merged.display()))?;
    let before = count_files(corpus);
    let output = Command::new(binary)
        .args(["-merge=1", "-timeout=10", &format!("-max_len={}", target.max_len)])
        .arg(&merged)
        .arg(corpus)
        .output()
        .with_context(|| format!("starting {}", binary.display()))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        bail!("merging the {} corpus failed ({}):\n{}", target.name, output.status, tail.join("\n"));
    }
    std::fs::remove_dir_all(corpus).with_context(|| format!("removing {}", corpus.display()))?;
    std::fs::rename(&merged, corpus).with_context(|| format!("renaming {}", merged.display()))?;
    println!("xtask fuzz: {}: corpus merged from {before} to {} inputs", target.name, count_files(corpus));
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|entries| entries.count()).unwrap_or(0)
}
