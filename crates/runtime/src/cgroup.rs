//! One cgroup per container, `berth/<id>` in every hierarchy (cgroup v1) or in the unified tree (v2), managed
//! with `cgroups-rs`. Limits come from an OCI `LinuxResources`; statistics are read from the controller files.
//! Device rules (Docker's defaults unless the spec says otherwise) go to the v1 devices controller, or on v2 into
//! an eBPF program attached to the cgroup ([`super::device_filter`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cgroups_rs::cpu::CpuController;
use cgroups_rs::cpuset::CpuSetController;
use cgroups_rs::freezer::{FreezerController, FreezerState};
use cgroups_rs::memory::MemController;
use cgroups_rs::pid::PidController;
use cgroups_rs::{Controllers, MaxValue};
use nix::sys::signal::Signal;
use oci_spec::runtime::{LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources};

use super::device_filter::{self, Access, DeviceKind, DeviceRule};
use super::RuntimeError;

/// The parent of every container's cgroup.
const PARENT: &str = "berth";

/// A container's cgroup.
#[derive(Debug)]
pub struct Cgroup {
    id: String,
    inner: cgroups_rs::Cgroup,
}

/// Resource usage of a cgroup, as `docker stats` needs it. Counters that cannot be read are 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CgroupStats {
    /// Total CPU time consumed, nanoseconds.
    pub cpu_total_ns: u64,
    /// Per-CPU time, nanoseconds (empty where the kernel does not say, e.g. cgroup v2).
    pub cpu_per_cpu_ns: Vec<u64>,
    /// CPU time in user mode, nanoseconds.
    pub cpu_user_ns: u64,
    /// CPU time in kernel mode, nanoseconds.
    pub cpu_system_ns: u64,
    /// CFS periods elapsed / throttled, and throttled time in nanoseconds.
    pub throttling_periods: u64,
    /// Periods in which the group was throttled.
    pub throttled_periods: u64,
    /// Total throttled time, nanoseconds.
    pub throttled_time_ns: u64,
    /// Memory in use, bytes (including page cache, as the kernel reports it).
    pub memory_usage: u64,
    /// Peak memory use, bytes (0 where unknown).
    pub memory_max_usage: u64,
    /// Memory limit in bytes; the host's total memory when unlimited (like Docker).
    pub memory_limit: u64,
    /// Inactive page cache (`total_inactive_file` in v1, `inactive_file` in v2), for Docker's "usage - cache".
    pub memory_inactive_file: u64,
    /// `memory.stat` as key/value pairs.
    pub memory_stat: BTreeMap<String, u64>,
    /// Times the limit was hit (v1 `memory.failcnt`).
    pub memory_failcnt: u64,
    /// Processes (tasks) in the group.
    pub pids_current: u64,
    /// The pids limit, `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// OOM kills in the group.
    pub oom_kills: u64,
    /// Read from the unified (v2) hierarchy, whose `memory.stat` keys and block I/O files differ from v1's.
    pub unified: bool,
    /// Bytes moved per device and operation (v1 `blkio.throttle.io_service_bytes_recursive`, v2 `io.stat`).
    pub blkio_service_bytes: Vec<BlkioEntry>,
    /// Requests per device and operation (v1 `blkio.throttle.io_serviced_recursive`; empty on v2, as dockerd).
    pub blkio_serviced: Vec<BlkioEntry>,
}

/// One line of a v1 blkio statistics file (`8:0 Read 4096`), or one counter of v2's `io.stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard` or `Total` on v1; `read` or `write` on v2.
    pub op: String,
    /// Bytes or requests.
    pub value: u64,
}

/// Whether `id` can be used as one cgroup path component.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `berth/<id>`, or `berth/<group>/<id>` for a container in a group (a tenant's, whose totals the group holds).
fn rel_path(group: Option<&str>, id: &str) -> String {
    match group {
        Some(group) => format!("{PARENT}/{group}/{id}"),
        None => format!("{PARENT}/{id}"),
    }
}

fn cg_err(id: &str, op: &'static str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Cgroup { id: id.to_string(), op, message: e.to_string() }
}

impl Cgroup {
    /// Creates `berth/<id>` (in every v1 hierarchy) and applies `resources`.
    pub fn create(id: &str, resources: Option<&LinuxResources>) -> Result<Self, RuntimeError> {
        Cgroup::create_in(None, id, resources)
    }

    /// [`Cgroup::create`] under a group made by [`Cgroup::ensure_group`] (`berth/<group>/<id>`): the group's limits
    /// bound it and every sibling together.
    pub fn create_in(group: Option<&str>, id: &str, resources: Option<&LinuxResources>) -> Result<Self, RuntimeError> {
        if !valid_id(id) || group.is_some_and(|group| !valid_id(group)) {
            return Err(RuntimeError::InvalidId { id: id.to_string() });
        }
        let hier = cgroups_rs::hierarchies::auto();
        let inner = cgroups_rs::Cgroup::new(hier, rel_path(group, id)).map_err(|e| cg_err(id, "create", e))?;
        let cg = Cgroup { id: id.to_string(), inner };
        tracing::debug!(id, v2 = cg.inner.v2(), "cgroup created");
        if let Some(r) = resources {
            cg.update(r)?;
        }
        if resources.and_then(|r| r.devices().as_ref()).is_none_or(|d| d.is_empty()) {
            cg.apply_device_rules(&device_rules(&[])?)?;
        }
        Ok(cg)
    }

    /// A handle on an existing cgroup (after a daemon restart). Nothing is checked or created.
    pub fn load(id: &str) -> Self {
        Cgroup::load_in(None, id)
    }

    /// [`Cgroup::load`] of a container in a group.
    pub fn load_in(group: Option<&str>, id: &str) -> Self {
        let safe = |text: &str| -> String {
            text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
        };
        let group = group.map(safe);
        let hier = cgroups_rs::hierarchies::auto();
        Cgroup { id: id.to_string(), inner: cgroups_rs::Cgroup::load(hier, rel_path(group.as_deref(), &safe(id))) }
    }

    /// Creates (or updates) the group `berth/<group>` with `resources` as the totals of everything under it: a
    /// tenant's memory, CPU and pids, so a fork bomb or a memory hog in one tenant stays inside that tenant.
    pub fn ensure_group(group: &str, resources: &LinuxResources) -> Result<(), RuntimeError> {
        if !valid_id(group) {
            return Err(RuntimeError::InvalidId { id: group.to_string() });
        }
        let hier = cgroups_rs::hierarchies::auto();
        let path = format!("{PARENT}/{group}");
        let inner = cgroups_rs::Cgroup::new(hier, path).map_err(|e| cg_err(group, "create group", e))?;
        Cgroup { id: group.to_string(), inner }.update(resources)
    }

    /// Removes the group `berth/<group>` once nothing is left under it.
    pub fn remove_group(group: &str) -> Result<(), RuntimeError> {
        if !valid_id(group) {
            return Err(RuntimeError::InvalidId { id: group.to_string() });
        }
        let hier = cgroups_rs::hierarchies::auto();
        let inner = cgroups_rs::Cgroup::load(hier, format!("{PARENT}/{group}"));
        Cgroup { id: group.to_string(), inner }.remove()
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the host uses the unified (v2) hierarchy.
    pub fn is_v2(&self) -> bool {
        self.inner.v2()
    }

    /// The `cgroup.procs` files a process writes its pid into to join (one per hierarchy; one on v2).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> =
            self.inner.subsystems().iter().map(|s| s.to_controller().path().join("cgroup.procs")).collect();
        out.sort();
        out.dedup();
        out
    }

    fn dir(&self, kind: Controllers) -> Option<PathBuf> {
        self.inner
            .subsystems()
            .iter()
            .map(|s| s.to_controller())
            .find(|c| c.control_type() == kind)
            .map(|c| c.path().to_path_buf())
    }

    /// Applies new limits (`docker update`, or at creation).
    pub fn update(&self, resources: &LinuxResources) -> Result<(), RuntimeError> {
        if let Some(devices) = resources.devices().as_deref().filter(|d| !d.is_empty()) {
            self.apply_device_rules(&device_rules(devices)?)?;
        }
        if let Some(mem) = resources.memory() {
            self.update_memory(mem)?;
        }
        if let Some(cpu) = resources.cpu() {
            self.update_cpu(cpu)?;
        }
        if let Some(pids) = resources.pids() {
            if let Some(c) = self.inner.controller_of::<PidController>() {
                let v = if pids.limit() > 0 { MaxValue::Value(pids.limit()) } else { MaxValue::Max };
                c.set_pid_max(v).map_err(|e| cg_err(&self.id, "set pids limit", e))?;
            }
        }
        Ok(())
    }

    fn update_memory(&self, mem: &LinuxMemory) -> Result<(), RuntimeError> {
        let Some(c) = self.inner.controller_of::<MemController>() else {
            tracing::warn!(id = %self.id, "no memory controller: memory limits ignored");
            return Ok(());
        };
        let v2 = self.inner.v2();
        let limits = MemoryLimits::of(mem, v2);
        if v2 {
            if let Some(l) = limits.memory {
                c.set_limit(l).map_err(|e| cg_err(&self.id, "set memory.max", e))?;
            }
            if let Some(s) = limits.swap {
                if let Err(e) = c.set_memswap_limit(s) {
                    tracing::warn!(id = %self.id, error = %e, "memory.swap.max not set");
                }
            }
        } else {
            let has_memsw = self.dir(Controllers::Mem).is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists());
            let set_limit = || -> Result<(), RuntimeError> {
                match limits.memory {
                    Some(l) => c.set_limit(l).map_err(|e| cg_err(&self.id, "set memory.limit_in_bytes", e)),
                    None => Ok(()),
                }
            };
            let set_swap = || -> Result<(), RuntimeError> {
                match limits.swap {
                    Some(s) if has_memsw => {
                        c.set_memswap_limit(s).map_err(|e| cg_err(&self.id, "set memory.memsw.limit_in_bytes", e))
                    }
                    _ => Ok(()),
                }
            };
            // memsw must stay >= limit at every step: raising goes swap first, lowering limit first.
            if set_limit().and_then(|_| set_swap()).is_err() {
                set_swap()?;
                set_limit()?;
            }
            if let Some(sw) = mem.swappiness() {
                if sw <= 100 {
                    let _ = c.set_swappiness(sw);
                }
            }
            if mem.disable_oom_killer() == Some(true) {
                let _ = c.disable_oom_killer();
            }
        }
        if let Some(r) = mem.reservation() {
            if r > 0 {
                c.set_soft_limit(r).map_err(|e| cg_err(&self.id, "set memory reservation", e))?;
            }
        }
        Ok(())
    }

    fn update_cpu(&self, cpu: &LinuxCpu) -> Result<(), RuntimeError> {
        if let Some(c) = self.inner.controller_of::<CpuController>() {
            if let Some(shares) = cpu.shares().filter(|s| *s > 0) {
                let v = if self.inner.v2() { shares_to_weight(shares) } else { shares.max(2) };
                c.set_shares(v).map_err(|e| cg_err(&self.id, "set cpu shares", e))?;
            }
            if cpu.quota().is_some() || cpu.period().is_some() {
                c.set_cfs_quota_and_period(cpu.quota(), cpu.period())
                    .map_err(|e| cg_err(&self.id, "set cpu quota", e))?;
            }
        }
        if let Some(c) = self.inner.controller_of::<CpuSetController>() {
            if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
                c.set_cpus(cpus).map_err(|e| cg_err(&self.id, "set cpuset.cpus", e))?;
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
                c.set_mems(mems).map_err(|e| cg_err(&self.id, "set cpuset.mems", e))?;
            }
        }
        Ok(())
    }

    /// Device access rules: cgroup v1 `devices.allow`/`devices.deny` lines, in order; on cgroup v2, which has no
    /// devices controller, an eBPF program attached to the cgroup that decides each mknod and open the same way.
    /// Called before the container's first process joins, so it never runs unguarded.
    fn apply_device_rules(&self, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        if self.inner.v2() {
            let Some(dir) = self.inner.subsystems().first().map(|x| x.to_controller().path().to_path_buf()) else {
                return Err(cg_err(&self.id, "set device rules", "no cgroup v2 directory"));
            };
            return device_filter::install(&dir, rules).inspect_err(|e| {
                tracing::error!(id = %self.id, error = %e, "device filter not installed");
            });
        }
        let Some(dir) = self.dir(Controllers::Devices) else {
            tracing::warn!(id = %self.id, "no devices controller: device rules not enforced");
            return Ok(());
        };
        for rule in rules {
            let file = dir.join(if rule.allow { "devices.allow" } else { "devices.deny" });
            std::fs::write(&file, rule.to_string())
                .map_err(|e| cg_err(&self.id, "set device rule", format!("{rule}: {e}")))?;
        }
        Ok(())
    }

    /// Freezes every process (`docker pause`), waiting up to a second for the kernel to finish.
    pub fn freeze(&self) -> Result<(), RuntimeError> {
        let c = self
            .inner
            .controller_of::<FreezerController>()
            .ok_or_else(|| cg_err(&self.id, "freeze", "no freezer controller"))?;
        c.freeze().map_err(|e| cg_err(&self.id, "freeze", e))?;
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if matches!(c.state(), Ok(FreezerState::Frozen)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Thaws (`docker unpause`).
    pub fn thaw(&self) -> Result<(), RuntimeError> {
        let c = self
            .inner
            .controller_of::<FreezerController>()
            .ok_or_else(|| cg_err(&self.id, "thaw", "no freezer controller"))?;
        c.thaw().map_err(|e| cg_err(&self.id, "thaw", e))
    }

    /// Every process in the cgroup (host pids), sorted.
    pub fn pids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.inner.procs().into_iter().filter_map(|p| i32::try_from(p.pid).ok()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Sends `sig` to every process in the cgroup; errors (process already gone) are ignored.
    pub fn kill_all(&self, sig: Signal) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }

    /// Kills what is left (SIGKILL, thawing first so frozen processes die) and removes the cgroup directories.
    pub fn destroy(self) -> Result<(), RuntimeError> {
        self.remove()
    }

    /// Like [`destroy`](Self::destroy), through a shared reference (when the handle sits in an `Arc`).
    pub fn remove(&self) -> Result<(), RuntimeError> {
        if !self.inner.exists() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            self.kill_all(Signal::SIGKILL);
            let _ = self.thaw();
            if Instant::now() > deadline {
                return Err(cg_err(&self.id, "destroy", format!("processes still alive: {pids:?}")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.inner.delete().map_err(|e| cg_err(&self.id, "remove", e))?;
        tracing::debug!(id = %self.id, "cgroup removed");
        Ok(())
    }

    /// Current usage.
    pub fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats { unified: self.inner.v2(), ..CgroupStats::default() };
        if self.inner.v2() {
            self.stats_v2(&mut s);
        } else {
            self.stats_v1(&mut s);
        }
        let host_total = host_memory_total();
        if s.memory_limit == 0 || (host_total > 0 && s.memory_limit > host_total) {
            s.memory_limit = host_total;
        }
        s
    }

    fn stats_v1(&self, s: &mut CgroupStats) {
        if let Some(d) = self.dir(Controllers::CpuAcct) {
            s.cpu_total_ns = read_u64(&d.join("cpuacct.usage")).unwrap_or(0);
            s.cpu_per_cpu_ns = read_string(&d.join("cpuacct.usage_percpu"))
                .map(|t| t.split_whitespace().filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_default();
            let stat = read_kv(&d.join("cpuacct.stat"));
            let ns_per_tick = 1_000_000_000 / clock_ticks();
            s.cpu_user_ns = stat.get("user").copied().unwrap_or(0) * ns_per_tick;
            s.cpu_system_ns = stat.get("system").copied().unwrap_or(0) * ns_per_tick;
        }
        if let Some(d) = self.dir(Controllers::Cpu) {
            let stat = read_kv(&d.join("cpu.stat"));
            s.throttling_periods = stat.get("nr_periods").copied().unwrap_or(0);
            s.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
            s.throttled_time_ns = stat.get("throttled_time").copied().unwrap_or(0);
        }
        if let Some(d) = self.dir(Controllers::Mem) {
            s.memory_usage = read_u64(&d.join("memory.usage_in_bytes")).unwrap_or(0);
            s.memory_max_usage = read_u64(&d.join("memory.max_usage_in_bytes")).unwrap_or(0);
            s.memory_limit = read_u64(&d.join("memory.limit_in_bytes")).unwrap_or(0);
            s.memory_failcnt = read_u64(&d.join("memory.failcnt")).unwrap_or(0);
            s.memory_stat = read_kv(&d.join("memory.stat"));
            s.memory_inactive_file = s.memory_stat.get("total_inactive_file").copied().unwrap_or(0);
            s.oom_kills = read_kv(&d.join("memory.oom_control")).get("oom_kill").copied().unwrap_or(0);
        }
        if let Some(d) = self.dir(Controllers::BlkIo) {
            // Without the CFQ/BFQ scheduler's blkio.io_* files (blk-mq hosts) the throttle files are the only
            // counters, and dockerd (containerd's cgroup1 blkio.go) falls back to them as well. The recursive ones
            // include child cgroups; kernels before 4.x lack them, hence the plain ones as a second choice.
            let read = |name: &str| {
                read_string(&d.join(format!("blkio.{name}_recursive")))
                    .or_else(|| read_string(&d.join(format!("blkio.{name}"))))
                    .map(|t| parse_blkio(&t))
                    .unwrap_or_default()
            };
            s.blkio_service_bytes = read("throttle.io_service_bytes");
            s.blkio_serviced = read("throttle.io_serviced");
        }
        self.pids_stats(s);
    }

    fn stats_v2(&self, s: &mut CgroupStats) {
        let Some(d) = self.inner.subsystems().first().map(|x| x.to_controller().path().to_path_buf()) else {
            return;
        };
        let cpu = read_kv(&d.join("cpu.stat"));
        s.cpu_total_ns = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
        s.cpu_user_ns = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
        s.cpu_system_ns = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
        s.throttling_periods = cpu.get("nr_periods").copied().unwrap_or(0);
        s.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
        s.throttled_time_ns = cpu.get("throttled_usec").copied().unwrap_or(0) * 1000;
        s.memory_usage = read_u64(&d.join("memory.current")).unwrap_or(0);
        s.memory_max_usage = read_u64(&d.join("memory.peak")).unwrap_or(0);
        s.memory_limit = read_u64(&d.join("memory.max")).unwrap_or(0);
        s.memory_stat = read_kv(&d.join("memory.stat"));
        s.memory_inactive_file = s.memory_stat.get("inactive_file").copied().unwrap_or(0);
        let events = read_kv(&d.join("memory.events"));
        s.oom_kills = events.get("oom_kill").copied().unwrap_or(0);
        // dockerd reports memory.events' `oom` as failcnt on v2 (daemon/stats_unix.go statsV2).
        s.memory_failcnt = events.get("oom").copied().unwrap_or(0);
        s.blkio_service_bytes = read_string(&d.join("io.stat")).map(|t| parse_io_stat(&t)).unwrap_or_default();
        self.pids_stats(s);
    }

    fn pids_stats(&self, s: &mut CgroupStats) {
        if let Some(d) = self.dir(Controllers::Pids) {
            s.pids_current = read_u64(&d.join("pids.current")).unwrap_or(0);
            s.pids_limit = read_u64(&d.join("pids.max"));
        } else {
            s.pids_current = self.inner.tasks().len() as u64;
        }
    }
}

/// Docker's default device rules (runc's `AllowedDevices`, after moby's deny-all): `mknod` of any device, so
/// an image's setup can create nodes, but no reading or writing except the standard character devices
/// (null, zero, full, random, urandom, tty, console, ptmx), ptys and `/dev/net/tun`.
pub(crate) const DEFAULT_DEVICE_RULES: &[DeviceRule] = {
    const fn allow(kind: DeviceKind, major: Option<u32>, minor: Option<u32>, access: Access) -> DeviceRule {
        DeviceRule::new(true, kind, major, minor, access)
    }
    use DeviceKind::{Block, Char};
    const RWM: Access = Access::ALL;
    &[
        allow(Char, None, None, Access::MKNOD),
        allow(Block, None, None, Access::MKNOD),
        allow(Char, Some(1), Some(3), RWM),
        allow(Char, Some(1), Some(5), RWM),
        allow(Char, Some(1), Some(7), RWM),
        allow(Char, Some(1), Some(8), RWM),
        allow(Char, Some(1), Some(9), RWM),
        allow(Char, Some(5), Some(0), RWM),
        allow(Char, Some(5), Some(1), RWM),
        allow(Char, Some(5), Some(2), RWM),
        allow(Char, Some(136), None, RWM),
        allow(Char, Some(10), Some(200), RWM),
    ]
};

/// The spec's device rules, in order. Unless the spec says something about all devices (a rule of type `a`, like
/// Docker's leading deny-all or `--privileged`'s allow-all), Docker's defaults come first: a spec that only adds
/// `--device` rules does not open everything else.
pub(crate) fn device_rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, RuntimeError> {
    let mut v = Vec::new();
    if !spec.iter().any(|d| matches!(d.typ(), None | Some(LinuxDeviceType::A))) {
        v.push(DeviceRule::new(false, DeviceKind::All, None, None, Access::ALL));
        v.extend_from_slice(DEFAULT_DEVICE_RULES);
    }
    for d in spec {
        let kind = match d.typ() {
            None | Some(LinuxDeviceType::A) => DeviceKind::All,
            Some(LinuxDeviceType::B) => DeviceKind::Block,
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => DeviceKind::Char,
            // The devices cgroup knows no FIFOs (they need no permission).
            Some(LinuxDeviceType::P) => continue,
        };
        let access = d.access().as_deref().filter(|a| !a.is_empty()).unwrap_or("rwm");
        // Negative is OCI's "any"; the kernel's numbers are 32 bits.
        let num = |n: Option<i64>| match n.filter(|n| *n >= 0) {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| RuntimeError::InvalidDeviceRule {
                rule: format!("{d:?}"),
                reason: format!("device number {n} is out of range"),
            }),
        };
        v.push(DeviceRule::new(d.allow(), kind, num(d.major())?, num(d.minor())?, Access::parse(access)?));
    }
    Ok(v)
}

/// cgroup v1 shares (2..262144) to v2 weight (1..10000), the formula runc and crun use.
/// The values written to the memory controller (-1: no limit): v1's `memory.limit_in_bytes` and
/// `memory.memsw.limit_in_bytes` (memory + swap, as OCI's `swap`), or v2's `memory.max` and `memory.swap.max`
/// (swap alone).
#[derive(Debug, PartialEq, Eq)]
struct MemoryLimits {
    memory: Option<i64>,
    swap: Option<i64>,
}

impl MemoryLimits {
    fn of(mem: &LinuxMemory, v2: bool) -> MemoryLimits {
        let limit = mem.limit();
        // Docker: `-m X` without `--memory-swap` means memory+swap = 2X; -1 means unlimited swap.
        let memory_and_swap = match (limit, mem.swap()) {
            (_, Some(s)) => Some(s),
            (Some(l), None) if l > 0 => Some(2 * l),
            _ => None,
        };
        let unlimited_below_one = |v: i64| if v > 0 { v } else { -1 };
        let swap = memory_and_swap.map(|s| match (v2, s, limit) {
            (_, s, _) if s < 0 => -1,
            (true, s, Some(l)) if l > 0 => (s - l).max(0),
            (true, s, _) => s,
            (false, s, _) => unlimited_below_one(s),
        });
        MemoryLimits { memory: limit.map(unlimited_below_one), swap }
    }
}

fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn read_string(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// A number; `max` and unparsable text give `None`.
fn read_u64(p: &Path) -> Option<u64> {
    read_string(p)?.trim().parse().ok()
}

/// `key value` lines.
pub(crate) fn parse_kv(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

fn read_kv(p: &Path) -> BTreeMap<String, u64> {
    read_string(p).map(|t| parse_kv(&t)).unwrap_or_default()
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn host_memory_total() -> u64 {
    read_string(Path::new("/proc/meminfo"))
        .and_then(|t| {
            t.lines().find_map(|l| {
                let rest = l.strip_prefix("MemTotal:")?;
                let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
                Some(kb * 1024)
            })
        })
        .unwrap_or(0)
}

/// The host's CPU time and CPU count, read together from /proc/stat as dockerd's `getSystemCPUUsage` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// Docker's `system_cpu_usage`: jiffies of the aggregate `cpu` line, in nanoseconds.
    pub usage_ns: u64,
    /// Docker's `online_cpus`: the `cpuN` lines (CPUs online now, not the daemon's affinity mask).
    pub online_cpus: u32,
}

/// Reads /proc/stat; `None` (logged) when it cannot be read or has no `cpu` line.
pub fn host_cpu() -> Option<HostCpu> {
    let text = match std::fs::read_to_string("/proc/stat") {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!(%error, "cannot read /proc/stat: no system_cpu_usage in stats");
            return None;
        }
    };
    let cpu = parse_proc_stat(&text, clock_ticks());
    if cpu.is_none() {
        tracing::warn!("/proc/stat has no usable cpu line: no system_cpu_usage in stats");
    }
    cpu
}

/// The aggregate line's user, nice, system, idle, iowait, irq and softirq, summed: dockerd's `readSystemCPUUsage`
/// takes fields 1..8 of that line (steal, guest and guest_nice are left out; guest time is already in user and
/// nice), so CPU percentages computed against it match `docker stats` on dockerd. CPUs are counted from the `cpuN`
/// lines, which like glibc's get_nprocs come first in the file.
pub(crate) fn parse_proc_stat(text: &str, ticks: u64) -> Option<HostCpu> {
    let mut usage_ns = None;
    let mut online_cpus = 0u32;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else { break };
        if rest.starts_with(' ') {
            let fields: Vec<u64> = rest.split_whitespace().take(7).map(str::parse).collect::<Result<_, _>>().ok()?;
            if fields.len() < 7 {
                return None;
            }
            let jiffies: u64 = fields.iter().sum();
            // Multiplied before dividing, as dockerd does, so a CLK_TCK that does not divide 1e9 loses nothing.
            usage_ns = Some(jiffies.saturating_mul(1_000_000_000) / ticks.max(1));
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            online_cpus += 1;
        }
    }
    Some(HostCpu { usage_ns: usage_ns?, online_cpus })
}

/// `MAJ:MIN Op value` lines of a v1 blkio file; the per-file `Total N` line and anything else are skipped.
pub(crate) fn parse_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (major, minor) = fields.next()?.split_once(':')?;
            let op = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some(BlkioEntry { major: major.parse().ok()?, minor: minor.parse().ok()?, op: op.to_string(), value })
        })
        .collect()
}

/// v2's `io.stat` (`MAJ:MIN rbytes=N wbytes=N rios=N ...`) as dockerd reports it: a `read` and a `write` entry of
/// bytes per device.
pub(crate) fn parse_io_stat(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((Ok(major), Ok(minor))) =
            fields.next().and_then(|d| d.split_once(':')).map(|(a, b)| (a.parse::<u64>(), b.parse::<u64>()))
        else {
            continue;
        };
        let counters: BTreeMap<&str, u64> =
            fields.filter_map(|f| f.split_once('=')).filter_map(|(k, v)| Some((k, v.parse().ok()?))).collect();
        for (key, op) in [("rbytes", "read"), ("wbytes", "write")] {
            let value = counters.get(key).copied().unwrap_or(0);
            out.push(BlkioEntry { major, minor, op: op.to_string(), value });
        }
    }
    out
}

/// One interface's counters from `/proc/<pid>/net/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetDevStats {
    /// Interface name.
    pub iface: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
}

/// Network counters of the namespace `pid` is in (empty if it is gone).
pub fn net_dev_stats(pid: i32) -> Vec<NetDevStats> {
    read_string(Path::new(&format!("/proc/{pid}/net/dev"))).map(|t| parse_net_dev(&t)).unwrap_or_default()
}

pub(crate) fn parse_net_dev(text: &str) -> Vec<NetDevStats> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if f.len() < 16 {
                return None;
            }
            Some(NetDevStats {
                iface: name.trim().to_string(),
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("abc123_-x.y"));
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    /// Rules as (allow, v1 line), the form the kernel gets on v1.
    fn lines(spec: &[LinuxDeviceCgroup]) -> Vec<(bool, String)> {
        device_rules(spec).unwrap().iter().map(|r| (r.allow, r.to_string())).collect()
    }

    #[test]
    fn device_rules_from_spec_and_defaults() {
        let d = lines(&[]);
        assert_eq!(d[0], (false, "a *:* rwm".to_string()));
        assert_eq!(d[1], (true, "c *:* m".to_string()));
        assert_eq!(d[2], (true, "b *:* m".to_string()));
        assert!(d.contains(&(true, "c 1:3 rwm".to_string())));
        assert!(d.contains(&(true, "c 136:* rwm".to_string())));
        assert_eq!(d.len(), 13);
        let spec: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"}
        ]))
        .unwrap();
        assert_eq!(
            lines(&spec),
            vec![(false, "a *:* rwm".to_string()), (true, "c 1:3 rwm".to_string()), (true, "b 8:* r".to_string())]
        );
        let only_fuse: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
        ]))
        .unwrap();
        let r = lines(&only_fuse);
        assert_eq!(r[0], (false, "a *:* rwm".to_string()));
        assert_eq!(r.last(), Some(&(true, "c 10:229 rwm".to_string())));
        let privileged: Vec<LinuxDeviceCgroup> =
            serde_json::from_value(serde_json::json!([{"allow": true, "access": "rwm"}])).unwrap();
        assert_eq!(lines(&privileged), vec![(true, "a *:* rwm".to_string())]);
        let bad: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx"},
        ]))
        .unwrap();
        assert!(matches!(device_rules(&bad), Err(RuntimeError::InvalidDeviceRule { .. })));
        let huge: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": true, "type": "b", "major": 1_i64 << 40, "access": "r"},
        ]))
        .unwrap();
        assert!(matches!(device_rules(&huge), Err(RuntimeError::InvalidDeviceRule { .. })));
    }

    #[test]
    fn memory_limits_follow_docker_on_both_versions() {
        let mem = |limit: Option<i64>, swap: Option<i64>| {
            let mut builder = oci_spec::runtime::LinuxMemoryBuilder::default();
            if let Some(limit) = limit {
                builder = builder.limit(limit);
            }
            if let Some(swap) = swap {
                builder = builder.swap(swap);
            }
            builder.build().expect("memory")
        };
        let limits = |memory, swap| MemoryLimits { memory, swap };
        const M: i64 = 1 << 20;
        // -m 64m: memory+swap twice that, so v2's swap alone is 64m.
        assert_eq!(MemoryLimits::of(&mem(Some(64 * M), None), false), limits(Some(64 * M), Some(128 * M)));
        assert_eq!(MemoryLimits::of(&mem(Some(64 * M), None), true), limits(Some(64 * M), Some(64 * M)));
        // --memory-swap 100m with -m 64m.
        assert_eq!(MemoryLimits::of(&mem(Some(64 * M), Some(100 * M)), true), limits(Some(64 * M), Some(36 * M)));
        // --memory-swap -1: unlimited swap; --memory-swap equal to -m: no swap at all on v2.
        assert_eq!(MemoryLimits::of(&mem(Some(64 * M), Some(-1)), true), limits(Some(64 * M), Some(-1)));
        assert_eq!(MemoryLimits::of(&mem(Some(64 * M), Some(64 * M)), true), limits(Some(64 * M), Some(0)));
        // A limit of 0 (docker update -m 0) lifts it; nothing asked, nothing written.
        assert_eq!(MemoryLimits::of(&mem(Some(0), None), false), limits(Some(-1), None));
        assert_eq!(MemoryLimits::of(&mem(None, None), true), limits(None, None));
    }

    #[test]
    fn weight_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn proc_stat_like_dockerd() {
        let t = "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 9 18 27 36 45 54 63 72 81 90\n\
                 intr 12345 0 0\nctxt 99\ncpu9 this is not a cpu line\n";
        // user..softirq = 10+20+...+70 = 280 jiffies at 100 Hz; steal (80) and the guest fields are left out.
        assert_eq!(parse_proc_stat(t, 100), Some(HostCpu { usage_ns: 280 * 10_000_000, online_cpus: 2 }));
        // A CLK_TCK that does not divide 1e9.
        assert_eq!(parse_proc_stat("cpu  1 1 1 0 0 0 0\n", 300).map(|c| c.usage_ns), Some(10_000_000));
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4 5 6 7\n", 100), None, "no aggregate line");
        assert_eq!(parse_proc_stat("cpu  1 2 3\n", 100), None, "too few fields");
        assert_eq!(parse_proc_stat("cpu  1 2 x 4 5 6 7\n", 100), None);
        assert_eq!(parse_proc_stat("", 100), None);
    }

    #[test]
    fn blkio_v1_lines() {
        let t = "254:0 Read 4096\n254:0 Write 67108864\n254:0 Sync 67108864\n254:0 Async 4096\n\
                 254:0 Discard 0\n254:0 Total 67112960\nTotal 67112960\n";
        let v = parse_blkio(t);
        assert_eq!(v.len(), 6);
        assert_eq!(v[1], BlkioEntry { major: 254, minor: 0, op: "Write".into(), value: 64 << 20 });
        assert!(parse_blkio("Total 0\n").is_empty());
        assert!(parse_blkio("8:x Read 1\n8:0 Read\n").is_empty());
    }

    #[test]
    fn io_stat_v2() {
        let t = "259:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n8:0 wbytes=7\nbad line\n";
        let v = parse_io_stat(t);
        assert_eq!(
            v,
            vec![
                BlkioEntry { major: 259, minor: 0, op: "read".into(), value: 1024 },
                BlkioEntry { major: 259, minor: 0, op: "write".into(), value: 2048 },
                BlkioEntry { major: 8, minor: 0, op: "read".into(), value: 0 },
                BlkioEntry { major: 8, minor: 0, op: "write".into(), value: 7 },
            ]
        );
    }

    #[test]
    fn net_dev_parse() {
        let t = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                 lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  \
                 eth0: 5000 40 1 2 0 0 0 0 6000 50 3 4 0 0 0 0\n";
        let v = parse_net_dev(t);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].iface, "lo");
        assert_eq!(
            v[1],
            NetDevStats {
                iface: "eth0".into(),
                rx_bytes: 5000,
                rx_packets: 40,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 6000,
                tx_packets: 50,
                tx_errors: 3,
                tx_dropped: 4
            }
        );
    }

    #[test]
    fn kv_parse() {
        let m = parse_kv("cache 10\ntotal_inactive_file 4096\nbad\n");
        assert_eq!(m.get("total_inactive_file"), Some(&4096));
        assert_eq!(m.len(), 2);
    }
}
