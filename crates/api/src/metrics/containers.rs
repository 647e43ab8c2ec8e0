//! Per-container figures and containers by state, read from the engine at each scrape. Each running container is
//! read once through [`Engine::stats_of`], the reading behind `docker stats` (one sample: counters need no second
//! one, the rate is the scraper's), a few containers per thread so that a scrape of many is not one long walk.

use std::collections::BTreeMap;
use std::sync::Arc;

use bollard_stubs::models::ContainerStatsResponse;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use berth_engine::{Container, Engine, Status};

const STATES: [Status; 7] = [
    Status::Created,
    Status::Running,
    Status::Paused,
    Status::Restarting,
    Status::Removing,
    Status::Exited,
    Status::Dead,
];

/// Fewer containers than this are read on the scraping thread: a thread costs more than they do.
const PER_THREAD: usize = 16;
const MAX_THREADS: usize = 8;

type Labels = Vec<(&'static str, String)>;

/// One running container's figures.
struct Sample {
    labels: Labels,
    cpu_seconds: f64,
    memory_usage: u64,
    memory_limit: u64,
    pids: u64,
    rx_bytes: u64,
    tx_bytes: u64,
    read_bytes: u64,
    write_bytes: u64,
}

fn labels(container: &Container) -> Labels {
    let record = container.record();
    let label =
        |key: &str| record.config.labels.as_ref().and_then(|labels| labels.get(key)).cloned().unwrap_or_default();
    vec![
        ("id", container.id.clone()),
        ("name", record.name.clone()),
        ("image", record.image_ref.clone()),
        ("compose_project", label("com.docker.compose.project")),
        ("compose_service", label("com.docker.compose.service")),
    ]
}

fn sample(container: &Container) -> Sample {
    let stats: ContainerStatsResponse = Engine::stats_of(container);
    let cpu_ns = stats.cpu_stats.as_ref().and_then(|cpu| cpu.cpu_usage.as_ref()).and_then(|u| u.total_usage);
    let memory = stats.memory_stats.unwrap_or_default();
    let usage = memory.usage.unwrap_or(0);
    // As `docker stats` shows it: without the inactive page cache the kernel would drop first (the docker CLI's
    // calculateMemUsageUnixNoCache; `total_inactive_file` on cgroup v1, `inactive_file` on v2).
    let inactive = memory
        .stats
        .as_ref()
        .and_then(|stat| stat.get("total_inactive_file").or_else(|| stat.get("inactive_file")).copied())
        .unwrap_or(0);
    let (mut rx_bytes, mut tx_bytes) = (0, 0);
    for network in stats.networks.iter().flat_map(|networks| networks.values()) {
        rx_bytes += network.rx_bytes.unwrap_or(0);
        tx_bytes += network.tx_bytes.unwrap_or(0);
    }
    let (mut read_bytes, mut write_bytes) = (0, 0);
    let entries = stats.blkio_stats.and_then(|blkio| blkio.io_service_bytes_recursive).unwrap_or_default();
    for entry in entries {
        // v1 says `Read`/`Write` (beside `Sync`, `Async` and `Total`, which count the same bytes again), v2 lowercase.
        match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read_bytes += entry.value.unwrap_or(0),
            Some("write") => write_bytes += entry.value.unwrap_or(0),
            _ => {}
        }
    }
    Sample {
        labels: labels(container),
        cpu_seconds: cpu_ns.unwrap_or(0) as f64 / 1e9,
        memory_usage: usage.saturating_sub(if inactive < usage { inactive } else { 0 }),
        memory_limit: memory.limit.unwrap_or(0),
        pids: stats.pids_stats.and_then(|pids| pids.current).unwrap_or(0),
        rx_bytes,
        tx_bytes,
        read_bytes,
        write_bytes,
    }
}

/// Every container's sample, read concurrently in chunks: cgroupfs reads are cheap one by one, but a hundred
/// containers make a couple of thousand of them.
fn samples(containers: &[Arc<Container>]) -> Vec<Sample> {
    if containers.len() <= PER_THREAD {
        return containers.iter().map(|c| sample(c)).collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(2, MAX_THREADS);
    let chunk = containers.len().div_ceil(threads).max(PER_THREAD);
    std::thread::scope(|scope| {
        let handles: Vec<_> = containers
            .chunks(chunk)
            .map(|chunk| scope.spawn(move || chunk.iter().map(|c| sample(c)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    tracing::error!("reading containers' stats for /metrics panicked; their figures are left out");
                    Vec::new()
                })
            })
            .collect()
    })
}

pub(super) struct Containers {
    engine: Arc<Engine>,
}

impl Containers {
    pub(super) fn new(engine: Arc<Engine>) -> Self {
        Containers { engine }
    }
}

impl std::fmt::Debug for Containers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Containers")
    }
}

/// One metric with a value per sample.
fn per_container<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[Sample],
    value: impl Fn(&Sample) -> M,
) -> Result<(), std::fmt::Error> {
    let Some(first) = samples.first() else { return Ok(()) };
    let mut metric = encoder.encode_descriptor(name, help, unit, value(first).metric_type())?;
    for sample in samples {
        value(sample).encode(metric.encode_family(&sample.labels)?)?;
    }
    Ok(())
}

impl Collector for Containers {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let all = self.engine.containers();
        let mut by_state: BTreeMap<&'static str, i64> = STATES.iter().map(|s| (s.as_str(), 0)).collect();
        for container in &all {
            *by_state.entry(container.status().as_str()).or_default() += 1;
        }
        let mut states =
            encoder.encode_descriptor("berth_containers", "Containers by state", None, MetricType::Gauge)?;
        for (state, count) in by_state {
            ConstGauge::new(count).encode(states.encode_family(&[("state", state)])?)?;
        }

        // Only those with a cgroup: a restarting container has a process no more, a paused one still has both.
        let running: Vec<Arc<Container>> =
            all.into_iter().filter(|c| c.status().is_running() && c.cgroup().is_some()).collect();
        let samples = samples(&running);
        let e = &mut encoder;
        per_container(e, "berth_container_cpu", "CPU time used", Some(&Unit::Seconds), &samples, |s| {
            ConstCounter::new(s.cpu_seconds)
        })?;
        per_container(
            e,
            "berth_container_memory_usage",
            "Memory in use less the inactive page cache, as docker stats shows it",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstGauge::new(s.memory_usage),
        )?;
        per_container(
            e,
            "berth_container_memory_limit",
            "Memory limit (the host's memory when unlimited)",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstGauge::new(s.memory_limit),
        )?;
        per_container(e, "berth_container_pids", "Processes and threads in the container", None, &samples, |s| {
            ConstGauge::new(s.pids)
        })?;
        per_container(
            e,
            "berth_container_network_receive",
            "Bytes received on the container's interfaces (all but lo)",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstCounter::new(s.rx_bytes),
        )?;
        per_container(
            e,
            "berth_container_network_transmit",
            "Bytes sent on the container's interfaces (all but lo)",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstCounter::new(s.tx_bytes),
        )?;
        per_container(
            e,
            "berth_container_blkio_read",
            "Bytes read from block devices",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstCounter::new(s.read_bytes),
        )?;
        per_container(
            e,
            "berth_container_blkio_write",
            "Bytes written to block devices",
            Some(&Unit::Bytes),
            &samples,
            |s| ConstCounter::new(s.write_bytes),
        )?;
        Ok(())
    }
}
