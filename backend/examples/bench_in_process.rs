//! In-process figures for `cargo xtask bench`: what Berth costs with no docker CLI and no HTTP in front, measured
//! the way a library user would call it. Prints one JSON object of samples (milliseconds) on stdout.
//!
//! - `bench_in_process start --root DIR [--warmup N] [--runs N]`: create + start + wait of `busybox true` through
//!   `berth_engine::Engine` on its own state root; create, start, exit and remove are also timed apart.
//! - `bench_in_process lint [--warmup N] [--runs N]`: parse and lint of a generated 1000-line Dockerfile with
//!   berth-shared, as the playground does in the browser.
//!
//! Like the `berth` binary, this program is re-executed as `berth init` to become each container's first process
//! (the runtime spawns `/proc/self/exe init`), so it needs no path to a daemon binary.

use std::path::PathBuf;
use std::time::Instant;

use berth_engine::{Engine, WaitCondition};
use berth_shared::dockerfile::lint::{lint, LintConfig};
use bollard_stubs::models::ContainerCreateBody;
use serde_json::json;

const USAGE: &str = "usage: bench_in_process start --root DIR [--warmup N] [--runs N] | lint [--warmup N] [--runs N]";

struct Options {
    root: Option<PathBuf>,
    warmup: usize,
    runs: usize,
}

fn main() -> anyhow::Result<()> {
    // As in berth's main: `init` must be handled before anything else, while the process is single-threaded.
    if std::env::args().nth(1).as_deref() == Some("init") {
        berth_runtime::init_main();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else { anyhow::bail!("{USAGE}") };
    let options = parse_options(rest)?;
    let samples = match command.as_str() {
        "start" => start(&options)?,
        "lint" => lint_figure(&options)?,
        other => anyhow::bail!("unknown command {other:?}\n{USAGE}"),
    };
    println!("{samples}");
    Ok(())
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options { root: None, warmup: 3, runs: 20 };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--root" => options.root = Some(PathBuf::from(value)),
            "--warmup" => options.warmup = value.parse()?,
            "--runs" => options.runs = value.parse()?,
            other => anyhow::bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    Ok(options)
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// create + start + wait of `true`, the engine's share of `docker run --rm busybox true`.
fn start(options: &Options) -> anyhow::Result<serde_json::Value> {
    let root = options.root.clone().ok_or_else(|| anyhow::anyhow!("start needs --root\n{USAGE}"))?;
    std::fs::create_dir_all(&root)?;
    // Containers re-parent to their engine when `berth init` exits; the engine reaps them.
    berth_runtime::become_subreaper()?;
    // Beside berth in <target>/release, one folder up from this example.
    let exe = std::env::current_exe()?;
    if let Some(release) = exe.parent().and_then(|examples| examples.parent()) {
        berth_runtime::set_monitor_executable(release.join("berth-monitor"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Its own bridge, so the measurement never meets a daemon running beside it.
        let network = berth_network::NetworkConfig {
            bridge_name: "btbench".into(),
            bridge_subnet: "10.254.78.0/24".parse().map_err(|e| anyhow::anyhow!("{e}"))?,

            ..Default::default()
        };
        let engine = Engine::open(&root, network).await?;
        let (mut total, mut create, mut start, mut exit, mut remove) = (vec![], vec![], vec![], vec![], vec![]);
        for run in 0..options.warmup + options.runs {
            let body = ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: Some(vec!["true".into()]),
                ..Default::default()
            };
            let began = Instant::now();
            let (id, _warnings) = engine.create(None, body).await?;
            let created = millis(began);
            // Registered before the start, as the docker CLI does, so a fast exit cannot be missed.
            let exited = engine.wait(&id, WaitCondition::NextExit)?;
            let starting = Instant::now();
            engine.start(&id).await?;
            let started = millis(starting);
            let waiting = Instant::now();
            let (exit_code, _) = exited.await;
            let waited = millis(waiting);
            let whole = millis(began);
            anyhow::ensure!(exit_code == 0, "busybox true exited with {exit_code}");
            let removing = Instant::now();
            engine.remove(&id, true, true).await?;
            let removed = millis(removing);
            if run >= options.warmup {
                total.push(whole);
                create.push(created);
                start.push(started);
                exit.push(waited);
                remove.push(removed);
            }
        }
        engine.shutdown().await;
        Ok(json!({
            "total_ms": total,
            "create_ms": create,
            "start_ms": start,
            "exit_ms": exit,
            "remove_ms": remove,
        }))
    })
}

fn lint_figure(options: &Options) -> anyhow::Result<serde_json::Value> {
    let source = thousand_line_dockerfile();
    let config = LintConfig::default();
    let (mut parse, mut lint_only, mut total) = (vec![], vec![], vec![]);
    let mut diagnostics = 0;
    for run in 0..options.warmup + options.runs {
        let began = Instant::now();
        let dockerfile = berth_shared::dockerfile::parse(&source)?;
        let parsed = millis(began);
        let linting = Instant::now();
        let found = lint(&dockerfile, &config);
        let linted = millis(linting);
        let whole = millis(began);
        diagnostics = std::hint::black_box(found).len();
        if run >= options.warmup {
            parse.push(parsed);
            lint_only.push(linted);
            total.push(whole);
        }
    }
    Ok(json!({
        "lines": source.lines().count(),
        "diagnostics": diagnostics,
        "total_ms": total,
        "parse_ms": parse,
        "lint_ms": lint_only,
    }))
}

/// Exactly 1000 lines: ten 100-line stages, each with the mistakes a linter exists for (an untagged base image,
/// MAINTAINER, apt-get without -y, `cd` in RUN, ADD of a URL, a relative WORKDIR, shell-form CMD) and a body of
/// comments, continuation lines, COPY and LABEL with variables for the parser.
fn thousand_line_dockerfile() -> String {
    let mut lines: Vec<String> = Vec::with_capacity(1000);
    for stage in 0..10 {
        lines.push(format!("FROM busybox AS stage{stage}"));
        lines.push("MAINTAINER bench@example.com".into());
        lines.push(format!("ARG VERSION_{stage}=1.{stage}"));
        lines.push(format!("ENV STAGE={stage} PATH=/opt/stage{stage}/bin:$PATH"));
        lines.push("WORKDIR app".into());
        lines.push("RUN apt-get update && apt-get install curl".into());
        lines.push(format!("ADD https://example.com/archive-{stage}.tar.gz /tmp/"));
        lines.push("RUN cd /tmp && tar xzf archive.tar.gz".into());
        // 90 lines in cycles of five, so the body never ends inside a continuation.
        for line in 0..90 {
            let n = stage * 100 + line;
            lines.push(match line % 5 {
                0 => format!("# step {n}: a comment the parser skips"),
                1 => format!("RUN echo line-{n} \\"),
                2 => format!("    && echo continued-{n} > /tmp/f{n}"),
                3 => format!("COPY file-{n}.txt /app/file-{n}.txt"),
                _ => format!("LABEL line.{n}=\"value ${{VERSION_{stage}}}\""),
            });
        }
        lines.push("EXPOSE 8080".into());
        lines.push("CMD run-stage --verbose".into());
    }
    lines.join("\n") + "\n"
}
