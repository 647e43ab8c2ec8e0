//! HEALTHCHECK: a monitor task per running, unpaused container with a healthcheck, as dockerd's daemon/health.go.
//!
//! Each probe is an exec inside the container (the engine's exec machinery, unregistered: no id, not in ExecIDs).
//! `CMD-SHELL` runs through the container's shell (`/bin/sh -c` unless SHELL said otherwise), `CMD` as given. A probe
//! past its timeout is killed and counts as a failure with exit code -1. Failures while the container is still
//! `starting` and inside its start period do not count toward the retries. The result goes into State.Health (the
//! last five, output cut at 4096 bytes), which is persisted with the record; a change of status is an event
//! (`health_status: healthy`).
//!
//! The monitor lives with the process: it starts with the container (status back to `starting`, streak 0), stops at
//! exit and at pause, and when it stops the status becomes `unhealthy` — dockerd does the same "for compatibility",
//! so a stopped container reads unhealthy. After a daemon crash, recovery applies the same rule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::{ContainerConfig, ExecConfig, Health, HealthConfig, HealthStatusEnum, HealthcheckResult};
use chrono::{DateTime, SecondsFormat, Utc};

use super::container::{Container, Output, Status};
use super::exec::Exec;
use super::live::HealthProbes;
use super::{Engine, EngineError};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// dockerd keeps this many results in State.Health.Log.
const MAX_LOG_ENTRIES: usize = 5;
/// dockerd keeps this much of a probe's output (stdout and stderr together), then appends "...".
const MAX_OUTPUT_LEN: usize = 4096;
/// The smallest non-zero duration dockerd accepts in a healthcheck.
const MINIMUM_DURATION: Duration = Duration::from_millis(1);

/// A healthcheck with dockerd's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    command: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    start_interval: Duration,
    retries: i64,
}

fn duration_or(nanos: Option<i64>, default: Duration) -> Duration {
    match nanos {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The probe of a container's (merged) config; None without a healthcheck, with `NONE`, or with an unknown type.
fn probe_for(config: &ContainerConfig) -> Option<Probe> {
    let check = config.healthcheck.as_ref()?;
    let test = check.test.as_deref().unwrap_or_default();
    // As dockerd's getProbe: the words after the type are the command, behind the shell for CMD-SHELL.
    let command = match test.split_first()? {
        (kind, rest) if kind == "CMD" => rest.to_vec(),
        (kind, rest) if kind == "CMD-SHELL" => {
            let mut shell = config
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
            shell.extend(rest.iter().cloned());
            shell
        }
        (kind, _) => {
            if kind != "NONE" {
                tracing::warn!(kind = %kind, "unknown healthcheck type; no health monitor");
            }
            return None;
        }
    };
    Some(Probe {
        command,
        interval: duration_or(check.interval, DEFAULT_INTERVAL),
        timeout: duration_or(check.timeout, DEFAULT_TIMEOUT),
        start_period: duration_or(check.start_period, Duration::ZERO),
        start_interval: duration_or(check.start_interval, DEFAULT_START_INTERVAL),
        retries: check.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES),
    })
}

/// dockerd's checks on a healthcheck at create (daemon/container.go validateHealthCheck), with its wording.
pub fn validate(check: Option<&HealthConfig>) -> Result<(), EngineError> {
    let Some(check) = check else { return Ok(()) };
    let minimum = go_duration(MINIMUM_DURATION);
    for (name, value) in [
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        ("StartPeriod", check.start_period),
        ("StartInterval", check.start_interval),
    ] {
        let nanos = value.unwrap_or(0);
        if nanos != 0 && nanos < MINIMUM_DURATION.as_nanos() as i64 {
            return Err(EngineError::InvalidArgument(format!("{name} in Healthcheck cannot be less than {minimum}")));
        }
    }
    if check.retries.unwrap_or(0) < 0 {
        return Err(EngineError::InvalidArgument("Retries in Healthcheck cannot be negative".into()));
    }
    Ok(())
}

/// dockerd's merge of a create request's healthcheck over the image's (daemon/commit.go `merge`): no healthcheck
/// takes the image's; a partial one takes the image's value for each field it leaves at zero.
pub fn merge(user: Option<HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else { return user };
    let Some(mut user) = user else { return Some(image.clone()) };
    if user.test.as_ref().is_none_or(Vec::is_empty) {
        user.test = image.test.clone();
    }
    let zero = |value: Option<i64>| value.unwrap_or(0) == 0;
    if zero(user.interval) {
        user.interval = image.interval;
    }
    if zero(user.timeout) {
        user.timeout = image.timeout;
    }
    if zero(user.start_period) {
        user.start_period = image.start_period;
    }
    if zero(user.start_interval) {
        user.start_interval = image.start_interval;
    }
    if zero(user.retries) {
        user.retries = image.retries;
    }
    Some(user)
}

/// Go's time.Duration String() for the durations a healthcheck uses ("300ms", "30s", "1m30s"), which dockerd puts
/// in its timeout message.
fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let trim = |whole: u128, fraction: u128, digits: usize| {
        let fraction = format!("{fraction:0digits$}");
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{fraction}")
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim(nanos / 1_000_000, nanos % 1_000_000, 6));
    }
    let seconds = nanos / 1_000_000_000;
    let text_seconds = format!("{}s", trim(seconds % 60, nanos % 1_000_000_000, 9));
    let (hours, minutes) = (seconds / 3600, (seconds / 60) % 60);
    match (hours, minutes) {
        (0, 0) => text_seconds,
        (0, m) => format!("{m}m{text_seconds}"),
        (h, m) => format!("{h}h{m}m{text_seconds}"),
    }
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Collects output up to dockerd's limit and remembers whether there was more.
#[derive(Default)]
struct LimitedOutput {
    bytes: Vec<u8>,
    truncated: bool,
}

impl LimitedOutput {
    fn push(&mut self, chunk: &[u8]) {
        let keep = MAX_OUTPUT_LEN.saturating_sub(self.bytes.len()).min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..keep]);
        self.truncated |= keep < chunk.len();
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.truncated {
            text.push_str("...");
        }
        text
    }
}

/// The status a probe result leads to, and the new failing streak (daemon/health.go handleProbeResult).
fn next_status(
    health: &Health,
    probe: &Probe,
    exit_code: i64,
    probe_started: DateTime<Utc>,
    container_started: Option<DateTime<Utc>>,
) -> (HealthStatusEnum, i64) {
    let status = health.status.unwrap_or(HealthStatusEnum::STARTING);
    let streak = health.failing_streak.unwrap_or(0);
    if exit_code == 0 {
        return (HealthStatusEnum::HEALTHY, 0);
    }
    if status == HealthStatusEnum::STARTING {
        let since_start = container_started.map(|started| probe_started - started).unwrap_or_default();
        if since_start.to_std().unwrap_or_default() < probe.start_period {
            return (status, streak);
        }
    }
    let streak = streak + 1;
    if streak >= probe.retries {
        (HealthStatusEnum::UNHEALTHY, streak)
    } else {
        (status, streak)
    }
}

impl Engine {
    /// Starts the health monitor of a container that just started (`reset`: back to `starting`, streak 0) or was
    /// unpaused (status kept). Nothing happens without a healthcheck.
    pub(super) fn start_health(self: &Arc<Self>, container: &Arc<Container>, reset: bool) {
        let record = container.snapshot();
        let Some(probe) = probe_for(&record.config) else { return };
        self.stop_health(container);
        if reset {
            container.update_or_log("reset its health", |r| {
                let health = r.state.health.get_or_insert_with(Health::default);
                health.status = Some(HealthStatusEnum::STARTING);
                health.failing_streak = Some(0);
                health.log.get_or_insert_with(Vec::new);
            });
        }
        let stopped = Arc::new(AtomicBool::new(false));
        let engine = self.clone();
        let task = tokio::spawn(engine.monitor(container.clone(), probe, stopped.clone()));
        container.live().health = Some(HealthProbes { stopped, task: task.abort_handle() });
    }

    /// Stops the monitor, if any; the status becomes `unhealthy` as in dockerd.
    pub(super) fn stop_health(&self, container: &Container) {
        let Some(monitor) = container.live().health.take() else { return };
        monitor.stopped.store(true, Ordering::SeqCst);
        monitor.task.abort();
        container.update_or_log("mark its stopped monitor unhealthy", |r| {
            if let Some(health) = r.state.health.as_mut() {
                health.status = Some(HealthStatusEnum::UNHEALTHY);
            }
        });
    }

    async fn monitor(self: Arc<Self>, container: Arc<Container>, probe: Probe, stopped: Arc<AtomicBool>) {
        let started = container.record().state.started_at;
        loop {
            // During the start period, a container not yet healthy is probed at the start interval.
            let in_start_period =
                started.map(|s| (Utc::now() - s).to_std().unwrap_or_default() < probe.start_period).unwrap_or(false);
            let starting =
                container.record().state.health.as_ref().and_then(|h| h.status) == Some(HealthStatusEnum::STARTING);
            let wait = if in_start_period && starting { probe.start_interval } else { probe.interval };
            tokio::time::sleep(wait).await;
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let probe_started = Utc::now();
            let (exit_code, output) = self.run_probe(&container, &probe).await;
            let result = HealthcheckResult {
                start: Some(timestamp(probe_started)),
                end: Some(timestamp(Utc::now())),
                exit_code: Some(exit_code),
                output: Some(output),
            };
            let change = container.update(|r| {
                // A result that finishes after the monitor was stopped is dropped, as dockerd does.
                if stopped.load(Ordering::SeqCst) {
                    return None;
                }
                let health = r.state.health.get_or_insert_with(Health::default);
                let before = health.status;
                let (status, streak) = next_status(health, &probe, exit_code, probe_started, started);
                health.status = Some(status);
                health.failing_streak = Some(streak);
                let log = health.log.get_or_insert_with(Vec::new);
                log.push(result);
                let excess = log.len().saturating_sub(MAX_LOG_ENTRIES);
                log.drain(..excess);
                (before != Some(status)).then_some(status)
            });
            match change {
                Ok(Some(status)) => {
                    tracing::debug!(id = %container.id, %status, "health status changed");
                    self.emit(&container, &format!("health_status: {status}"));
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(id = %container.id, %err, "could not record a health probe"),
            }
        }
    }

    /// One probe: its exit code (-1 when it could not run or timed out) and output, as dockerd reports them.
    async fn run_probe(self: &Arc<Self>, container: &Arc<Container>, probe: &Probe) -> (i64, String) {
        if container.status() != Status::Running {
            return (-1, format!("container {} is not running", container.id));
        }
        let config = ExecConfig {
            cmd: Some(probe.command.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = Exec::unregistered(container.clone(), config);
        let mut streams = match self.run_exec(exec.clone()).await {
            Ok(streams) => streams,
            Err(err) => return (-1, err.to_string()),
        };
        let mut output = LimitedOutput::default();
        let collect = async {
            while let Some(message) = streams.output.recv().await {
                match message {
                    Output::Chunk(_, chunk) => output.push(&chunk),
                    Output::End => break,
                }
            }
            exec.wait_done().await;
        };
        let finished = tokio::time::timeout(probe.timeout, collect).await.is_ok();
        if !finished {
            tracing::debug!(id = %container.id, "health check taking too long");
            exec.kill();
            // Wait for the killed probe so that dying probes never pile up; its readers give up after 2 s.
            exec.wait_done().await;
            let limit = go_duration(probe.timeout);
            let message = match output.text() {
                text if text.is_empty() => format!("Health check exceeded timeout ({limit})"),
                text => format!("Health check exceeded timeout ({limit}): {text}"),
            };
            return (-1, message);
        }
        match exec.exit_code() {
            Some(code) => (code, output.text()),
            None => (-1, format!("healthcheck for container {} has no exit code!", container.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(test: &[&str]) -> HealthConfig {
        HealthConfig { test: Some(test.iter().map(|s| s.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1)), "1ms");
    }

    #[test]
    fn probes_run_through_the_shell_or_as_given() {
        let mut config = ContainerConfig { healthcheck: Some(check(&["CMD-SHELL", "exit 0"])), ..Default::default() };
        let probe = probe_for(&config).unwrap();
        assert_eq!(probe.command, ["/bin/sh", "-c", "exit 0"]);
        assert_eq!((probe.interval, probe.timeout, probe.retries), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3));
        config.shell = Some(vec!["/bin/ash".into(), "-ec".into()]);
        assert_eq!(probe_for(&config).unwrap().command, ["/bin/ash", "-ec", "exit 0"]);
        config.healthcheck = Some(check(&["CMD", "true", "x"]));
        assert_eq!(probe_for(&config).unwrap().command, ["true", "x"]);
        config.healthcheck = Some(check(&["NONE"]));
        assert!(probe_for(&config).is_none());
        config.healthcheck = Some(check(&[]));
        assert!(probe_for(&config).is_none());
    }

    #[test]
    fn merge_fills_what_the_user_left_zero() {
        let image = HealthConfig { interval: Some(5), retries: Some(7), ..check(&["CMD", "img"]) };
        assert_eq!(merge(None, Some(&image)), Some(image.clone()));
        let user = HealthConfig { interval: Some(9), ..Default::default() };
        let merged = merge(Some(user), Some(&image)).unwrap();
        assert_eq!(merged.test, image.test);
        assert_eq!((merged.interval, merged.retries), (Some(9), Some(7)));
        // NONE is a test like any other: kept, with the image's other fields beside it (dockerd does the same).
        let none = check(&["NONE"]);
        let merged = merge(Some(none.clone()), Some(&image)).unwrap();
        assert_eq!((merged.test, merged.interval, merged.retries), (none.test.clone(), Some(5), Some(7)));
        assert_eq!(merge(Some(none.clone()), None), Some(none));
    }

    #[test]
    fn validation_uses_dockerd_wording() {
        let bad = HealthConfig { interval: Some(10), ..Default::default() };
        assert_eq!(validate(Some(&bad)).unwrap_err().to_string(), "Interval in Healthcheck cannot be less than 1ms");
        let negative = HealthConfig { retries: Some(-1), ..Default::default() };
        assert!(validate(Some(&negative)).is_err());
        assert!(validate(None).is_ok());
    }

    #[test]
    fn output_is_cut_like_dockerd() {
        let mut output = LimitedOutput::default();
        output.push(&[b'a'; 4000]);
        output.push(&[b'b'; 200]);
        let text = output.text();
        assert_eq!(text.len(), 4096 + 3);
        assert!(text.ends_with("bbb..."));
    }

    #[test]
    fn failures_count_after_the_start_period_or_once_healthy() {
        let probe = Probe {
            command: vec![],
            interval: Duration::from_millis(100),
            timeout: DEFAULT_TIMEOUT,
            start_period: Duration::from_secs(60),
            start_interval: DEFAULT_START_INTERVAL,
            retries: 2,
        };
        let now = Utc::now();
        let starting = Health { status: Some(HealthStatusEnum::STARTING), failing_streak: Some(0), log: None };
        // Inside the start period: not counted.
        assert_eq!(next_status(&starting, &probe, 1, now, Some(now)), (HealthStatusEnum::STARTING, 0));
        // After it: counted, and unhealthy at `retries`.
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(next_status(&starting, &probe, 1, later, Some(now)), (HealthStatusEnum::STARTING, 1));
        let one = Health { failing_streak: Some(1), ..starting.clone() };
        assert_eq!(next_status(&one, &probe, 1, later, Some(now)), (HealthStatusEnum::UNHEALTHY, 2));
        // Once healthy, the start period no longer protects.
        let healthy = Health { status: Some(HealthStatusEnum::HEALTHY), failing_streak: Some(0), log: None };
        assert_eq!(next_status(&healthy, &probe, 1, now, Some(now)), (HealthStatusEnum::HEALTHY, 1));
        assert_eq!(next_status(&one, &probe, 0, now, Some(now)), (HealthStatusEnum::HEALTHY, 0));
    }
}
