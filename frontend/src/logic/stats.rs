//! What `docker stats` shows, computed from the Engine API's stats objects: CPU percent from the difference
//! between two samples, memory without the page cache; the network rate between consecutive samples.

use berth_shared::api::models::ContainerStatsResponse;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsSample {
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit: u64,
    pub pids: u64,
    pub network_rx: u64,
    pub network_tx: u64,
    /// When the daemon read it: seconds into its UTC day (from `read`), for the time between two samples.
    pub read_seconds: Option<f64>,
}

/// One point from one stats object (which carries the previous CPU reading in `precpu_stats`).
pub fn sample(stats: &ContainerStatsResponse) -> StatsSample {
    StatsSample {
        cpu_percent: cpu_percent(stats),
        memory_bytes: memory_bytes(stats),
        memory_limit: stats.memory_stats.as_ref().and_then(|memory| memory.limit).unwrap_or(0),
        pids: stats.pids_stats.as_ref().and_then(|pids| pids.current).unwrap_or(0),
        network_rx: networks(stats).map(|network| network.0).sum(),
        network_tx: networks(stats).map(|network| network.1).sum(),
        read_seconds: stats.read.as_deref().and_then(seconds_of_day),
    }
}

/// `2026-12-08T02:57:17.123456789Z` → seconds since that day's midnight (UTC, as the daemon writes it).
fn seconds_of_day(timestamp: &str) -> Option<f64> {
    let (_, time) = timestamp.split_once('T')?;
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '-']).next()?;
    let mut parts = time.splitn(3, ':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

/// Bytes a second received plus sent, one figure per sample after the first: the change in the counters over the
/// time between the two readings (one second when the readings carry no usable time, as Docker sends one a second).
/// A counter that went down (the container restarted) counts from zero.
pub fn network_rates(samples: &[StatsSample]) -> Vec<f64> {
    samples
        .windows(2)
        .map(|pair| {
            let (before, now) = (pair[0], pair[1]);
            let total = |sample: StatsSample| sample.network_rx.saturating_add(sample.network_tx);
            let bytes = if total(now) >= total(before) { total(now) - total(before) } else { total(now) };
            let seconds = match (before.read_seconds, now.read_seconds) {
                // Across midnight the time of day starts again.
                (Some(then), Some(later)) => (later - then).rem_euclid(86_400.0),
                _ => 1.0,
            };
            bytes as f64 / if seconds > 0.0 { seconds } else { 1.0 }
        })
        .collect()
}

fn networks(stats: &ContainerStatsResponse) -> impl Iterator<Item = (u64, u64)> + '_ {
    stats
        .networks
        .iter()
        .flat_map(|networks| networks.values())
        .map(|network| (network.rx_bytes.unwrap_or(0), network.tx_bytes.unwrap_or(0)))
}

/// Docker's formula (cli/command/container/stats_helpers.go): container CPU time over system CPU time between the
/// two readings, times the number of CPUs.
fn cpu_percent(stats: &ContainerStatsResponse) -> f64 {
    let total = |cpu: &Option<berth_shared::api::models::ContainerCpuStats>| {
        let cpu = cpu.as_ref();
        (
            cpu.and_then(|cpu| cpu.cpu_usage.as_ref()).and_then(|usage| usage.total_usage).unwrap_or(0),
            cpu.and_then(|cpu| cpu.system_cpu_usage).unwrap_or(0),
        )
    };
    let (container_now, system_now) = total(&stats.cpu_stats);
    let (container_before, system_before) = total(&stats.precpu_stats);
    let container_delta = container_now.saturating_sub(container_before) as f64;
    let system_delta = system_now.saturating_sub(system_before) as f64;
    // Without online_cpus the CLI counts the per-CPU figures; one CPU only when neither is there.
    let per_cpu = stats
        .cpu_stats
        .as_ref()
        .and_then(|cpu| cpu.cpu_usage.as_ref())
        .and_then(|usage| usage.percpu_usage.as_ref())
        .map_or(0, |per_cpu| per_cpu.len() as u32);
    let cpus = stats
        .cpu_stats
        .as_ref()
        .and_then(|cpu| cpu.online_cpus)
        .filter(|&cpus| cpus > 0)
        .or(Some(per_cpu).filter(|&cpus| cpus > 0))
        .unwrap_or(1);
    if system_delta <= 0.0 || container_delta <= 0.0 {
        return 0.0;
    }
    container_delta / system_delta * f64::from(cpus) * 100.0
}

/// Usage minus inactive file pages, as `docker stats` shows (cli's calculateMemUsageUnixNoCache): cgroup v1's
/// `total_inactive_file` when it has one, else v2's `inactive_file`, each only when below the usage.
fn memory_bytes(stats: &ContainerStatsResponse) -> u64 {
    let Some(memory) = stats.memory_stats.as_ref() else { return 0 };
    let usage = memory.usage.unwrap_or(0);
    let detail = memory.stats.as_ref();
    let inactive = match detail.and_then(|detail| detail.get("total_inactive_file")) {
        Some(&v1) => Some(v1),
        None => detail.and_then(|detail| detail.get("inactive_file")).copied(),
    };
    match inactive {
        Some(inactive) if inactive < usage => usage - inactive,
        _ => usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn cpu_and_memory_like_docker_stats() {
        let stats: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 5000, "limit": 10000, "stats": {"inactive_file": 1000}},
            "pids_stats": {"current": 3},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}}
        }))
        .unwrap();
        let point = sample(&stats);
        assert!((point.cpu_percent - 40.0).abs() < 1e-9);
        assert_eq!(point.memory_bytes, 4000);
        assert_eq!(point.pids, 3);
        assert_eq!((point.network_rx, point.network_tx), (10, 20));
    }

    #[wasm_bindgen_test]
    fn network_rate_is_the_change_over_the_time_between_readings() {
        let at = |read: &str, rx: u64, tx: u64| {
            sample(
                &serde_json::from_value(serde_json::json!({
                    "read": read, "networks": {"eth0": {"rx_bytes": rx, "tx_bytes": tx}}
                }))
                .unwrap(),
            )
        };
        let samples = [
            at("2026-12-08T23:59:59.5Z", 1000, 0),
            at("2026-12-09T00:00:01.5Z", 5000, 2000),
            at("2026-12-09T00:00:02.5Z", 300, 0),
        ];
        assert_eq!(samples[0].read_seconds, Some(86_399.5));
        assert_eq!(network_rates(&samples), vec![3000.0, 300.0], "two seconds across midnight, then a restart");
        assert!(network_rates(&samples[..1]).is_empty());
    }

    #[wasm_bindgen_test]
    fn cgroup_v1_figures_and_a_missing_cpu_count_read_as_the_cli_reads_them() {
        let stats: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300, "percpu_usage": [150, 150]}, "system_cpu_usage": 2000},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 5000, "stats": {"inactive_file": 100, "total_inactive_file": 1500}}
        }))
        .unwrap();
        let point = sample(&stats);
        assert!((point.cpu_percent - 40.0).abs() < 1e-9, "two per-CPU figures, two CPUs: {}", point.cpu_percent);
        assert_eq!(point.memory_bytes, 3500, "v1's hierarchical total_inactive_file comes first");
        let over: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "memory_stats": {"usage": 1000, "stats": {"total_inactive_file": 4000}}
        }))
        .unwrap();
        assert_eq!(sample(&over).memory_bytes, 1000, "an inactive figure above the usage is not taken off");
    }
}
