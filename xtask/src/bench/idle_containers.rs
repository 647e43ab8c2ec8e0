//! Twenty idle containers: how long `docker run -d busybox sleep 1000` takes twenty times in a row
//! (run_d_20_s), what they cost in host memory while they idle (idle_mem_per_container_mb), and how long one
//! `docker rm -f` of all twenty takes (rm_f_20_s).
//!
//! Memory is the drop in MemAvailable while the twenty idle (averaged readings after a pause to settle, against
//! the mean of the readings before the starts and after the removal), divided by 20. MemAvailable sees everything (page tables, kernel objects, the
//! daemon's own growth, helper processes) but also whatever else the machine does meanwhile, so the report adds
//! what can be attributed exactly: the RSS and PSS of per-container helper processes the engine keeps (dockerd's
//! containerd-shim-runc-v2; Berth should have none), the engine's own RSS growth and the containers' cgroups.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::daemons::Daemon;
use super::procfs::{self, ProcessInfo};
use super::report::{rounded, Report, Side};
use super::stats::summarize;
use super::Bench;

const CONTAINERS: usize = 20;
/// Lets shims and daemons finish their post-start work before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// One cycle on one engine.
struct Cycle {
    start_all: Duration,
    remove_all: Duration,
    mem_available_drop_kib: f64,
    helpers: HelperUsage,
    engine_rss_growth_kib: f64,
    cgroup_kib: f64,
    /// Growth of each of [`procfs::KERNEL_MEMORY_FIELDS`].
    kernel_growth_kib: [f64; 5],
}

#[derive(Default)]
struct HelperUsage {
    processes: usize,
    rss_kib: u64,
    pss_kib: u64,
}

pub fn measure(bench: &Bench, report: &mut Report) {
    for daemon in bench.daemons() {
        let side = daemon.side;
        let mut cycles = Vec::new();
        for _ in 0..bench.plan.idle_cycles {
            match cycle(daemon) {
                Ok(cycle) => cycles.push(cycle),
                Err(error) => {
                    let note = format!("{}: {error:#}", side.key());
                    for name in ["run_d_20_s", "rm_f_20_s", "idle_mem_per_container_mb"] {
                        report.figure(name).note(note.clone());
                    }
                    let _ = daemon.docker.remove_all_containers();
                    break;
                }
            }
        }
        record(report, side, &cycles);
    }
    let memory = report.figure("idle_mem_per_container_mb");
    if memory.berth.is_some() || memory.dockerd.is_some() {
        memory.note(
            "MemAvailable drop per container; it also moves with anything else the machine does meanwhile \
             (see *_accounted_per_container_mb for the part attributable to the engine)",
        );
    }
}

fn cycle(daemon: &Daemon) -> Result<Cycle> {
    daemon.docker.remove_all_containers()?;
    thread::sleep(SETTLE);
    let engine_rss_before = engine_rss_kib(daemon);
    let available_before = procfs::steady_mem_available_kib()?;
    let kernel_before = procfs::kernel_memory_kib()?;

    let started = Instant::now();
    let mut ids = Vec::with_capacity(CONTAINERS);
    for _ in 0..CONTAINERS {
        ids.push(daemon.docker.output(&["run", "-d", "busybox", "sleep", "1000"])?);
    }
    let start_all = started.elapsed();

    thread::sleep(SETTLE);
    let available_running = procfs::steady_mem_available_kib()?;
    let kernel_running = procfs::kernel_memory_kib()?;
    let engine_rss_running = engine_rss_kib(daemon);
    let container_pids = container_pids(daemon, &ids)?;
    let helpers = helper_usage(daemon, &container_pids);
    let cgroup_kib =
        container_pids.iter().filter_map(|&pid| procfs::cgroup_memory_bytes(pid)).sum::<u64>() as f64 / 1024.0;

    let mut remove = vec!["rm", "-f"];
    remove.extend(ids.iter().map(String::as_str));
    let remove_all = daemon.docker.run(&remove)?.elapsed;

    // The baseline is the mean of the readings before the starts and after the removal: memory the rest of the
    // machine takes or frees at a steady pace meanwhile cancels out.
    thread::sleep(SETTLE);
    let available_after = procfs::steady_mem_available_kib()?;
    let kernel_after = procfs::kernel_memory_kib()?;
    let baseline = |before: f64, after: f64| (before + after) / 2.0;
    Ok(Cycle {
        start_all,
        remove_all,
        mem_available_drop_kib: baseline(available_before, available_after) - available_running,
        helpers,
        engine_rss_growth_kib: engine_rss_running - engine_rss_before,
        cgroup_kib,
        kernel_growth_kib: std::array::from_fn(|field| {
            kernel_running[field] as f64 - baseline(kernel_before[field] as f64, kernel_after[field] as f64)
        }),
    })
}

fn engine_rss_kib(daemon: &Daemon) -> f64 {
    daemon.engine_pids().iter().filter_map(|&pid| procfs::rss_kib(pid)).sum::<u64>() as f64
}

fn container_pids(daemon: &Daemon, ids: &[String]) -> Result<Vec<u32>> {
    let mut args = vec!["inspect", "--format", "{{.State.Pid}}"];
    args.extend(ids.iter().map(String::as_str));
    let output = daemon.docker.output(&args)?;
    output
        .split_whitespace()
        .map(|pid| pid.parse::<u32>().with_context(|| format!("container pid {pid:?} from docker inspect")))
        .filter(|pid| !matches!(pid, Ok(0)))
        .collect()
}

/// Processes that exist because of the containers without being them: below the engine in the process tree, or
/// naming the engine's directory on their command line (shims re-parent away from containerd but keep
/// `-address <exec-root>/containerd/containerd.sock`), minus the engine's own processes and the containers' trees.
fn helper_usage(daemon: &Daemon, container_pids: &[u32]) -> HelperUsage {
    let table = procfs::processes();
    let engine: HashSet<u32> = daemon.engine_pids().into_iter().collect();
    let containers = procfs::descendants(&table, &container_pids.iter().copied().collect());
    let below_engine = procfs::descendants(&table, &engine);
    let marker = format!("{}/", daemon.dir.display());
    let helpers: Vec<&ProcessInfo> = table
        .iter()
        .filter(|process| below_engine.contains(&process.pid) || process.command_line.contains(&marker))
        .filter(|process| !engine.contains(&process.pid) && !containers.contains(&process.pid))
        .collect();
    HelperUsage {
        processes: helpers.len(),
        rss_kib: helpers.iter().filter_map(|process| procfs::rss_kib(process.pid)).sum(),
        pss_kib: helpers.iter().filter_map(|process| procfs::pss_kib(process.pid)).sum(),
    }
}

fn record(report: &mut Report, side: Side, cycles: &[Cycle]) {
    if cycles.is_empty() {
        return;
    }
    let key = side.key();
    let median = |values: Vec<f64>| summarize(&values).map(|summary| summary.median).unwrap_or(0.0);
    let mib = |kib: f64| kib / 1024.0;

    let run = report.figure("run_d_20_s");
    if let Some(summary) = summarize(&cycles.iter().map(|cycle| cycle.start_all.as_secs_f64()).collect::<Vec<_>>()) {
        run.set_summary(side, summary);
    }
    let remove = report.figure("rm_f_20_s");
    if let Some(summary) = summarize(&cycles.iter().map(|cycle| cycle.remove_all.as_secs_f64()).collect::<Vec<_>>()) {
        remove.set_summary(side, summary);
    }

    let per_container = |kib: f64| rounded(mib(kib) / CONTAINERS as f64);
    let memory = report.figure("idle_mem_per_container_mb");
    let drops: Vec<f64> = cycles.iter().map(|cycle| mib(cycle.mem_available_drop_kib) / CONTAINERS as f64).collect();
    if let Some(summary) = summarize(&drops) {
        memory.set_summary(side, summary);
    }
    if drops.iter().any(|&drop| drop < 0.0) {
        memory.note(format!(
            "{key}: MemAvailable rose while the containers ran in some cycles: the rest of the machine freed memory \
             meanwhile, so this run's MemAvailable figure is mostly noise"
        ));
    }
    let last = cycles.last().expect("cycles is not empty");
    memory.add_extra(format!("{key}_helper_processes"), last.helpers.processes);
    memory.add_extra(format!("{key}_helper_rss_mb"), rounded(mib(last.helpers.rss_kib as f64)));
    memory.add_extra(format!("{key}_helper_pss_mb"), rounded(mib(last.helpers.pss_kib as f64)));
    let engine_growth = median(cycles.iter().map(|cycle| cycle.engine_rss_growth_kib).collect());
    memory.add_extra(format!("{key}_engine_rss_growth_mb"), rounded(mib(engine_growth)));
    let cgroups = median(cycles.iter().map(|cycle| cycle.cgroup_kib).collect());
    memory.add_extra(format!("{key}_container_cgroups_mb"), rounded(mib(cgroups)));
    let accounted = engine_growth + last.helpers.pss_kib as f64 + cgroups;
    memory.add_extra(format!("{key}_accounted_per_container_mb"), per_container(accounted));
    // Where the rest goes: kernel objects, per container (noisy like MemAvailable: the whole machine's counters).
    let kernel: serde_json::Map<String, serde_json::Value> = procfs::KERNEL_MEMORY_FIELDS
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let growth = median(cycles.iter().map(|cycle| cycle.kernel_growth_kib[index]).collect());
            (field.to_string(), serde_json::json!(rounded(mib(growth) / CONTAINERS as f64)))
        })
        .collect();
    memory.add_extra(format!("{key}_kernel_growth_per_container_mb"), serde_json::Value::Object(kernel));
}
