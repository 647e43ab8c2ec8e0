//! What `docker stats` shows, computed from the Engine API's stats objects: CPU percent from the difference
//! between two samples, memory without the page cache.

use berth_shared::api::models::ContainerStatsResponse;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsSample {
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit: u64,
    pub pids: u64,
    pub network_rx: u64,
    pub network_tx: u64,
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
    }
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
    let cpus = stats.cpu_stats.as_ref().and_then(|cpu| cpu.online_cpus).filter(|&cpus| cpus > 0).unwrap_or(1);
    if system_delta <= 0.0 || container_delta <= 0.0 {
        return 0.0;
    }
    container_delta / system_delta * f64::from(cpus) * 100.0
}

/// Usage minus inactive file pages, as `docker stats` shows (cgroup v2 `inactive_file`, v1 `total_inactive_file`).
fn memory_bytes(stats: &ContainerStatsResponse) -> u64 {
    let Some(memory) = stats.memory_stats.as_ref() else { return 0 };
    let usage = memory.usage.unwrap_or(0);
    let cache = memory
        .stats
        .as_ref()
        .and_then(|detail| detail.get("inactive_file").or_else(|| detail.get("total_inactive_file")).copied())
        .unwrap_or(0);
    usage.saturating_sub(cache)
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
}
