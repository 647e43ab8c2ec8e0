//! `cargo xtask bench [--quick] [--only FIGURE,...]`: Berth beside a reference dockerd on this machine, both driven
//! by the same docker CLI and the same busybox image, figure by figure, written to `<target>/bench/report.json` and
//! printed as a table. Performance is reported, never asserted. `--only` measures the named figures (and whatever
//! else their step measures); the others stay null with a note.
//!
//! - [`daemons`]: a private `berth serve` (release build) and a private dockerd ([`install`] brings Debian's
//!   docker.io when missing), everything under `<target>/bench/run-<pid>/`, each with a bridge and subnet of the
//!   bench's own ([`bridges`]); [`busybox_image`] gives dockerd Berth's busybox.
//! - [`cleanup`]: whatever way the bench ends (success, error, Ctrl-C), the daemons are stopped, their mounts
//!   undone and the run directory removed.
//! - [`docker_cli`], [`http`], [`procfs`]: driving the engines and reading the kernel's numbers.
//! - The figures, one file each: [`run_latency`], [`userns_latency`] (its own remapped daemons), [`idle_containers`], [`ps_listing`], [`build`],
//!   [`websocket_echo`], [`layer_summary`], [`in_process`] (with backend/examples/bench_in_process.rs), [`pull`]
//!   and [`push`] (with a private [`registry`] serving [`big_image`]), [`stats_metrics`] (stats of 100 containers
//!   on both engines, `GET /metrics` on Berth), [`route_throughput`] (a route against a direct connection and an
//!   nginx of its own, which [`install`] brings too).
//! - [`stats`] (median, p95, p99) and [`report`] (the JSON and the table), the parts with unit tests.

mod big_image;
mod bridges;
mod build;
mod busybox_image;
mod cleanup;
mod daemons;
mod docker_cli;
mod http;
mod idle_containers;
mod in_process;
mod install;
mod layer_summary;
mod procfs;
mod ps_listing;
mod pull;
mod push;
mod registry;
mod report;
mod route_throughput;
mod classroom;
mod restart_adopt;
mod run_latency;
mod stats;
mod stats_metrics;
mod userns_latency;
mod websocket_echo;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::command::{self, probe};
use crate::workspace::Workspace;
use daemons::Daemon;
use report::Report;

/// The in-process example's name under backend/examples/.
const IN_PROCESS_EXAMPLE: &str = "bench_in_process";

/// Warm-up runs (discarded) and measured runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeats {
    pub warmup: usize,
    pub runs: usize,
}

const fn repeats(warmup: usize, runs: usize) -> Repeats {
    Repeats { warmup, runs }
}

/// How many times each figure is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub run_rm_true: Repeats,
    /// Cycles of 20 × `run -d`, memory reading, `rm -f`.
    pub idle_cycles: usize,
    pub ps_100: Repeats,
    /// `docker ps -a` and `GET /containers/json?all=1` with 1,000 containers.
    pub ps_1000: Repeats,
    /// 0: builds skipped.
    pub build_cold_runs: usize,
    pub build_cached_runs: usize,
    /// Keystrokes; p99 needs a few hundred to mean something.
    pub ws_echo: Repeats,
    pub layer_summary: Option<Repeats>,
    pub start_in_process: Repeats,
    pub unshare_floor: Repeats,
    pub lint: Repeats,
    /// Each run pulls and pushes 200 MB per engine: a few are enough for a figure measured in seconds.
    pub pull_200mb: Repeats,
    pub push_200mb: Repeats,
    /// Kill -9 and restart cycles with 100 containers.
    pub restart_adopt: usize,
    /// Rounds of 100 concurrent `stats?stream=false` (each a second or more).
    pub stats_100: Repeats,
    /// `GET /metrics` with 100 running containers.
    pub metrics_scrape: Repeats,
    /// Seconds of load on each path of the route figures (direct, route, nginx).
    pub route_seconds: u64,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            run_rm_true: repeats(3, 30),
            idle_cycles: 5,
            ps_100: repeats(3, 20),
            ps_1000: repeats(2, 10),
            build_cold_runs: 3,
            build_cached_runs: 5,
            ws_echo: repeats(20, 500),
            layer_summary: Some(repeats(2, 10)),
            start_in_process: repeats(5, 50),
            unshare_floor: repeats(5, 50),
            lint: repeats(5, 100),
            pull_200mb: repeats(1, 5),
            push_200mb: repeats(1, 5),
            restart_adopt: 5,
            stats_100: repeats(1, 5),
            metrics_scrape: repeats(3, 30),
            route_seconds: 5,
        }
    }

    /// Under two minutes: fewer runs, no builds and no 10,000-file layer, one pull and one push per engine.
    fn quick() -> Plan {
        Plan {
            run_rm_true: repeats(2, 10),
            idle_cycles: 1,
            ps_100: repeats(1, 5),
            ps_1000: repeats(1, 3),
            build_cold_runs: 0,
            build_cached_runs: 0,
            ws_echo: repeats(5, 100),
            layer_summary: None,
            start_in_process: repeats(3, 20),
            unshare_floor: repeats(3, 20),
            lint: repeats(3, 20),
            pull_200mb: repeats(0, 1),
            push_200mb: repeats(0, 1),
            restart_adopt: 1,
            stats_100: repeats(0, 1),
            metrics_scrape: repeats(1, 5),
            route_seconds: 2,
        }
    }
}

/// What every figure gets: the plan, the engines, where to put files.
pub struct Bench<'a> {
    pub plan: &'a Plan,
    pub berth: &'a Daemon,
    pub dockerd: Option<&'a Daemon>,
    pub run_dir: &'a Path,
    pub in_process_example: PathBuf,
    /// The release `berth`, for daemons a figure starts of its own (`run_rm_userns_ms`).
    pub berth_binary: PathBuf,
    /// The remapped Berth's bridge.
    pub userns_bridge: bridges::Bridge,
    /// The bridge of the Berth that `daemon_restart_adopt_100_ms` kills and restarts.
    pub adopt_bridge: bridges::Bridge,
    /// For what the bench starts along the way, such as registries.
    pub cleanup: &'a cleanup::Cleanup,
    /// The pull and push figures' registry and image, made by the first of them to ask.
    source_image: OnceCell<Result<big_image::Source, String>>,
}

impl Bench<'_> {
    /// Berth first, then dockerd when it runs.
    pub fn daemons(&self) -> Vec<&Daemon> {
        std::iter::once(self.berth).chain(self.dockerd).collect()
    }

    /// `big:1` in a private registry, seeded once per run, independently of either engine.
    pub fn source_image(&self) -> Result<&big_image::Source, String> {
        let seeded = self.source_image.get_or_init(|| {
            let started = Instant::now();
            let seeded = big_image::seed(self.cleanup, self.run_dir).map_err(|error| format!("{error:#}"));
            if let Ok(source) = &seeded {
                let (image, seconds) = (&source.image, started.elapsed().as_secs_f32());
                println!("xtask bench: {image} written and pushed with skopeo in {seconds:.1} s");
            }
            seeded
        });
        seeded.as_ref().map_err(Clone::clone)
    }
}

/// What one step measures, and which figures it fills.
struct Step {
    what: &'static str,
    figures: &'static [&'static str],
    measure: fn(&Bench, &mut Report),
}

const USAGE: &str = "usage: cargo xtask bench [--quick] [--only FIGURE,...]";

/// Whether `--quick` was given, and the figures `--only` names (None without it).
fn parse_args(args: &[String]) -> Result<(bool, Option<Vec<String>>)> {
    let mut quick = false;
    let mut only = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => {
                let Some(list) = args.next() else { bail!("--only needs a comma-separated list of figures\n{USAGE}") };
                let names: Vec<String> =
                    list.split(',').map(str::trim).filter(|name| !name.is_empty()).map(String::from).collect();
                let known: Vec<&str> = report::FIGURES.iter().map(|(name, _, _)| *name).collect();
                if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
                    bail!("--only: no figure called {unknown}; the figures are {}", known.join(", "));
                }
                if names.is_empty() {
                    bail!("--only needs at least one figure\n{USAGE}");
                }
                only = Some(names);
            }
            _ => bail!("{USAGE}"),
        }
    }
    Ok((quick, only))
}

pub fn bench(workspace: &Workspace, args: &[String]) -> Result<()> {
    let (quick, only) = parse_args(args)?;
    if probe("id", &["-u"]).as_deref() != Some("0") {
        bail!("the bench starts daemons and containers: run it as root");
    }
    let plan = if quick { Plan::quick() } else { Plan::full() };

    let build_started = Instant::now();
    command::run(
        command::cargo()
            .args(["build", "--release", "-p", "berth", "--bin", "berth", "--bin", "berth-monitor"])
            .args(["--example", IN_PROCESS_EXAMPLE])
            .current_dir(&workspace.root),
    )?;
    let release = workspace.target.join("release");
    let build_seconds = build_started.elapsed().as_secs_f32();
    let started = Instant::now();

    let bench_dir = workspace.target.join("bench");
    std::fs::create_dir_all(&bench_dir).with_context(|| format!("creating {}", bench_dir.display()))?;
    remove_abandoned_run_dirs(&bench_dir);
    let run_dir = bench_dir.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;

    let guard = cleanup::Cleanup::install()?;
    let cleanup = guard.cleanup();
    {
        let (run_dir, bench_dir) = (run_dir.clone(), bench_dir.clone());
        cleanup.push("remove the run directory", move || {
            // The logs outlive the run, for a look at what the daemons said.
            for (from, to) in [("berth/berth.log", "berth.log"), ("dockerd/dockerd.log", "dockerd.log")] {
                let _ = std::fs::copy(run_dir.join(from), bench_dir.join(to));
            }
            daemons::remove_run_dir(&run_dir);
        });
    }

    // Runs after both daemons stopped: what a crashed Berth would leave of its network.
    let owner = std::process::id();
    cleanup.push("bridges and chains left behind", move || bridges::remove_left_behind(owner));
    let bridges = bridges::choose(owner)?;

    print_environment();
    let berth = daemons::start_berth(cleanup, &release.join("berth"), &run_dir, &bridges.berth)?;
    let dockerd = start_reference(cleanup, &berth, &run_dir, &bridges.dockerd);
    let mut report = Report::default();
    if let Err(reason) = &dockerd {
        println!("xtask bench: continuing with Berth alone: dockerd: {reason}");
        for figure in &mut report.figures {
            figure.note(format!("dockerd: {reason}"));
        }
    }

    let bench = Bench {
        plan: &plan,
        berth: &berth,
        dockerd: dockerd.as_ref().ok(),
        run_dir: &run_dir,
        in_process_example: release.join("examples").join(IN_PROCESS_EXAMPLE),
        berth_binary: release.join("berth"),
        userns_bridge: bridges.berth_userns.clone(),
        adopt_bridge: bridges.berth_adopt.clone(),
        cleanup,
        source_image: OnceCell::new(),
    };
    let builds: &[&str] = &["build_cold_s", "build_cached_s"];
    let mut steps = vec![
        Step { what: "docker run --rm busybox true", figures: &["run_rm_true_ms"], measure: run_latency::measure },
        Step {
            what: "20 idle containers",
            figures: &["run_d_20_s", "rm_f_20_s", "idle_mem_per_container_mb"],
            measure: idle_containers::measure,
        },
        Step {
            what: "docker ps -a with 100 and 1,000 containers",
            figures: &["ps_100_ms", "ps_1000_ms"],
            measure: ps_listing::measure,
        },
        Step { what: "docker build, cold and cached", figures: builds, measure: build::measure },
        Step { what: "websocket keystroke echo", figures: &["ws_echo_p99_ms"], measure: websocket_echo::measure },
        Step {
            what: "layer summary of 10,000 files",
            figures: &["layer_summary_10k_ms"],
            measure: layer_summary::measure,
        },
        Step {
            what: "in process: start, unshare floor, lint",
            figures: &["start_in_process_ms", "unshare_floor_ms", "lint_1000_lines_ms"],
            measure: in_process::measure,
        },
        Step {
            what: "stats and /metrics of 100 running containers",
            figures: &["stats_100_containers_ms", "metrics_scrape_100_ms"],
            measure: stats_metrics::measure,
        },
        // Starts two more daemons, left idle until the end: after the figures that count the engines' memory.
        Step {
            what: "docker run --rm with --userns-remap default",
            figures: &["run_rm_userns_ms"],
            measure: userns_latency::measure,
        },
        Step {
            what: "kill -9 and restart with 100 running containers",
            figures: &["daemon_restart_adopt_100_ms"],
            measure: restart_adopt::measure,
        },
        // On the bridge the restart figure's Berth gave back.
        Step {
            what: "a class: 50 sessions with 10 idle containers each",
            figures: &["class_ps_p99_ms", "class_join_to_shell_p99_ms"],
            measure: classroom::measure,
        },
        // Last: 200 MB through each engine's store and the page cache could slow the figures after it.
        Step {
            what: "docker pull of 200 MB from a local registry",
            figures: &["pull_200mb_s"],
            measure: pull::measure,
        },
        Step { what: "docker push of 200 MB to a fresh registry", figures: &["push_200mb_s"], measure: push::measure },
        Step {
            what: "requests through an 80/20 route, straight to a backend, and through nginx",
            figures: &["route_rps", "route_p99_ms"],
            measure: route_throughput::measure,
        },
    ];
    if plan.build_cold_runs == 0 {
        steps.retain(|step| step.figures != builds);
        for name in builds {
            report.figure(name).note("skipped in --quick");
        }
    }
    if let Some(only) = &only {
        steps.retain(|step| {
            let selected = step.figures.iter().any(|name| only.iter().any(|wanted| wanted == name));
            if !selected {
                for name in step.figures {
                    report.figure(name).note(format!("not measured: --only {}", only.join(",")));
                }
            }
            selected
        });
    }
    for step in steps {
        let step_started = Instant::now();
        println!("xtask bench: {}", step.what);
        (step.measure)(&bench, &mut report);
        println!("xtask bench: {}: {:.1} s", step.what, step_started.elapsed().as_secs_f32());
    }

    let report_path = bench_dir.join("report.json");
    std::fs::write(&report_path, report.to_json_text())
        .with_context(|| format!("writing {}", report_path.display()))?;
    println!();
    print!("{}", report.table());
    println!();

    drop(bench);
    drop(dockerd);
    drop(berth);
    drop(guard);
    println!(
        "xtask bench: report written to {} ({} bench: {:.0} s, after {:.0} s of cargo build)",
        report_path.display(),
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f32(),
        build_seconds
    );
    if let Some([one, five, _]) = procfs::load_average() {
        println!("xtask bench: load average at the end {one:.2} (1 min), {five:.2} (5 min)");
    }
    Ok(())
}

/// Installs docker.io if needed, starts the private dockerd and gives it Berth's busybox. An error here is not
/// fatal: the bench goes on with Berth alone and says why in every figure.
fn start_reference(
    cleanup: &cleanup::Cleanup,
    berth: &Daemon,
    run_dir: &Path,
    bridge: &bridges::Bridge,
) -> Result<Daemon, String> {
    let started = (|| -> Result<Daemon> {
        install::ensure_docker_engine()?;
        let dockerd = daemons::start_dockerd(cleanup, run_dir, bridge)?;
        let source = busybox_image::copy_to_dockerd(berth, &dockerd, &run_dir.join("image"))?;
        let driver = dockerd.docker.output(&["info", "--format", "{{.ServerVersion}} {{.Driver}}"])?;
        println!("xtask bench: reference dockerd {driver} (version, storage driver); busybox {source}");
        Ok(dockerd)
    })();
    started.map_err(|error| format!("{error:#}"))
}

/// Run directories whose bench is gone (killed before its cleanup ran): their daemons are stopped and the
/// directories removed. A directory whose xtask still runs belongs to a bench in progress and is left alone.
fn remove_abandoned_run_dirs(bench_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(bench_dir) else { return };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("run-").and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        let owner_runs = procfs::alive(pid)
            && std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("xtask"));
        if !owner_runs {
            println!("xtask bench: cleaning up {}, left by an interrupted run", entry.path().display());
            daemons::remove_run_dir(&entry.path());
            bridges::remove_left_behind(pid);
        }
    }
}

/// What the numbers depend on, printed first: a loaded machine makes every figure slower and noisier.
fn print_environment() {
    let load = procfs::load_average().map(|[one, five, _]| format!("{one:.2} (1 min), {five:.2} (5 min)"));
    let cores = std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(0);
    let kernel = probe("uname", &["-r"]).unwrap_or_default();
    let client = probe(docker_cli::docker_program(), &["--version"]).unwrap_or_else(|| "no docker CLI".into());
    println!("xtask bench: {cores} cores, kernel {kernel}, {client}");
    println!("xtask bench: load average {}", load.unwrap_or_else(|| "unknown".into()));
    if procfs::load_average().is_some_and(|[one, ..]| one > cores as f64 / 2.0) {
        println!("xtask bench: warning: the machine is busy; figures will be slower and noisier than on an idle one");
    }
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn only_takes_known_figures_in_any_order_with_quick() {
        let (quick, only) = parse_args(&args("--only pull_200mb_s,push_200mb_s --quick")).unwrap();
        assert!(quick);
        assert_eq!(only.unwrap(), ["pull_200mb_s", "push_200mb_s"]);
        assert_eq!(parse_args(&[]).unwrap(), (false, None));
    }

    #[test]
    fn only_refuses_unknown_figures_and_a_missing_list() {
        let unknown = parse_args(&args("--only pull_200mb_s,pul_200mb_s")).unwrap_err().to_string();
        assert!(unknown.contains("no figure called pul_200mb_s"), "{unknown}");
        assert!(parse_args(&args("--only")).is_err());
        assert!(parse_args(&args("--only ,")).is_err());
        assert!(parse_args(&args("--fast")).is_err());
    }
}
