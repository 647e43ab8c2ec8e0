//! How a container looks to clients: `docker inspect` and `docker ps` shapes, and the filters' wire form that
//! every listing shares (the `ps` filters themselves are in `container_filter`).

use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryHostConfig,
    ContainerSummaryNetworkSettings, ContainerSummaryStateEnum, DriverData, HealthStatusEnum, MountPoint, MountType,
    NetworkSettings,
};
use chrono::{DateTime, SecondsFormat, Utc};

use berth_engine::{Container, ContainerRecord, NetworkView, Status};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(value: Option<DateTime<Utc>>) -> String {
    value.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true)).unwrap_or_else(|| ZERO_TIME.into())
}

fn state_enum(status: Status) -> ContainerStateStatusEnum {
    match status {
        Status::Created => ContainerStateStatusEnum::CREATED,
        Status::Running => ContainerStateStatusEnum::RUNNING,
        Status::Paused => ContainerStateStatusEnum::PAUSED,
        Status::Restarting => ContainerStateStatusEnum::RESTARTING,
        Status::Removing => ContainerStateStatusEnum::REMOVING,
        Status::Exited => ContainerStateStatusEnum::EXITED,
        Status::Dead => ContainerStateStatusEnum::DEAD,
    }
}

fn summary_state(status: Status) -> ContainerSummaryStateEnum {
    match status {
        Status::Created => ContainerSummaryStateEnum::CREATED,
        Status::Running => ContainerSummaryStateEnum::RUNNING,
        Status::Paused => ContainerSummaryStateEnum::PAUSED,
        Status::Restarting => ContainerSummaryStateEnum::RESTARTING,
        Status::Removing => ContainerSummaryStateEnum::REMOVING,
        Status::Exited => ContainerSummaryStateEnum::EXITED,
        Status::Dead => ContainerSummaryStateEnum::DEAD,
    }
}

/// Docker's humanized durations ("Less than a second", "5 seconds", "About a minute", "3 hours"...).
pub fn human_duration(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds();
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if seconds / 60 == 1 {
        "About a minute".into()
    } else if seconds < 3600 {
        format!("{} minutes", seconds / 60)
    } else if (seconds as f64 / 3600.0).round() == 1.0 {
        "About an hour".into()
    } else if seconds < 48 * 3600 {
        format!("{} hours", (seconds as f64 / 3600.0).round() as i64)
    } else if seconds < 7 * 24 * 3600 * 2 {
        format!("{} days", seconds / 86400)
    } else {
        format!("{} weeks", seconds / (7 * 86400))
    }
}

/// The `Status` column of `docker ps`.
pub fn status_text(record: &ContainerRecord) -> String {
    let now = Utc::now();
    let state = &record.state;
    match state.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = human_duration(now - state.started_at.unwrap_or(now));
            match state.health.as_ref().and_then(|h| h.status) {
                Some(HealthStatusEnum::STARTING) => format!("Up {up} (health: starting)"),
                Some(status @ (HealthStatusEnum::HEALTHY | HealthStatusEnum::UNHEALTHY)) => {
                    format!("Up {up} ({status})")
                }
                _ => format!("Up {up}"),
            }
        }
        Status::Paused => format!("Up {} (Paused)", human_duration(now - state.started_at.unwrap_or(now))),
        Status::Restarting => {
            format!("Restarting ({}) {} ago", state.exit_code, human_duration(now - state.finished_at.unwrap_or(now)))
        }
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => {
            format!("Exited ({}) {} ago", state.exit_code, human_duration(now - state.finished_at.unwrap_or(now)))
        }
    }
}

fn mount_point(container: &Container, source: &str, destination: &str, read_only: bool, mode: &str) -> MountPoint {
    let is_volume = !source.starts_with('/');
    MountPoint {
        typ: Some(if is_volume { "volume".to_string() } else { "bind".to_string() }),
        name: is_volume.then(|| source.to_string()),
        source: Some(if is_volume {
            container.volume_data(source).to_string_lossy().into_owned()
        } else {
            source.to_string()
        }),
        destination: Some(destination.to_string()),
        driver: is_volume.then(|| "local".to_string()),
        mode: Some(mode.to_string()),
        rw: Some(!read_only),
        propagation: Some(if is_volume { String::new() } else { "rprivate".into() }),
    }
}

fn mounts(container: &Container, record: &ContainerRecord) -> Vec<MountPoint> {
    let mut list = Vec::new();
    for bind in record.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = bind.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let read_only = parts.get(2).is_some_and(|o| o.split(',').any(|x| x == "ro"));
        list.push(mount_point(container, parts[0], parts[1], read_only, parts.get(2).unwrap_or(&"")));
    }
    for mount in record.host_config.mounts.iter().flatten() {
        let (Some(source), Some(target)) = (mount.source.as_deref(), mount.target.as_deref()) else { continue };
        if matches!(mount.typ, Some(MountType::BIND) | Some(MountType::VOLUME)) {
            list.push(mount_point(container, source, target, mount.read_only.unwrap_or(false), ""));
        }
    }
    for extra in &record.extra_mounts {
        list.push(mount_point(container, &extra.source, &extra.destination, extra.read_only, ""));
    }
    for (path, _) in record.host_config.tmpfs.iter().flatten() {
        list.push(MountPoint {
            typ: Some("tmpfs".to_string()),
            destination: Some(path.clone()),
            rw: Some(true),
            ..Default::default()
        });
    }
    list
}

pub fn inspect(container: &Container, network: NetworkView) -> ContainerInspectResponse {
    let record = container.snapshot();
    let state = &record.state;
    let dir = container.dir.to_string_lossy().into_owned();
    let mut host_config = record.host_config.clone();
    host_config.console_size.get_or_insert_with(|| vec![0, 0]);
    ContainerInspectResponse {
        id: Some(record.id.clone()),
        created: Some(time(Some(record.created))),
        path: Some(record.path.clone()),
        args: Some(record.args.clone()),
        state: Some(ContainerState {
            status: Some(state_enum(state.status)),
            running: Some(state.status.is_running() && state.status != Status::Restarting),
            paused: Some(state.status == Status::Paused),
            restarting: Some(state.status == Status::Restarting),
            oom_killed: Some(state.oom_killed),
            dead: Some(state.status == Status::Dead),
            pid: Some(state.pid as i64),
            exit_code: Some(state.exit_code as i64),
            error: Some(state.error.clone()),
            started_at: Some(time(state.started_at)),
            finished_at: Some(time(state.finished_at)),
            health: state.health.clone(),
        }),
        image: Some(record.image_id.clone()),
        resolv_conf_path: Some(format!("{dir}/resolv.conf")),
        hostname_path: Some(format!("{dir}/hostname")),
        hosts_path: Some(format!("{dir}/hosts")),
        log_path: Some(container.log_path().to_string_lossy().into_owned()),
        name: Some(format!("/{}", record.name)),
        restart_count: Some(state.restart_count),
        driver: Some("overlay2".into()),
        platform: Some("linux".into()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        exec_ids: (!record.exec_ids.is_empty()).then(|| record.exec_ids.clone()),
        host_config: Some(host_config),
        graph_driver: Some(DriverData {
            name: "overlay2".into(),
            data: HashMap::from([
                ("UpperDir".to_string(), format!("{dir}/upper")),
                ("WorkDir".to_string(), format!("{dir}/work")),
                ("MergedDir".to_string(), format!("{dir}/merged")),
            ]),
        }),
        mounts: Some(mounts(container, &record)),
        config: Some(record.config.clone()),
        network_settings: Some(NetworkSettings {
            sandbox_key: Some(if state.pid > 0 { format!("/proc/{}/ns/net", state.pid) } else { String::new() }),
            ports: Some(network.ports),
            networks: Some(network.networks),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// [`inspect`] as dockerd answers it up to API 1.51, which every client still asks: NetworkSettings also carries
/// the default bridge's endpoint at its top level (`docker inspect -f '{{.NetworkSettings.IPAddress}}'`,
/// docker-py's `['NetworkSettings']['MacAddress']`), empty strings when the container is not on it.
pub fn inspect_json(container: &Container, network: NetworkView) -> serde_json::Value {
    let mut answer = serde_json::to_value(inspect(container, network)).unwrap_or_default();
    let Some(settings) = answer.get_mut("NetworkSettings").and_then(|s| s.as_object_mut()) else { return answer };
    let bridge = settings.get("Networks").and_then(|n| n.get("bridge")).cloned().unwrap_or_default();
    let text = |key: &str| bridge.get(key).cloned().unwrap_or_else(|| serde_json::Value::String(String::new()));
    let number = |key: &str| bridge.get(key).cloned().unwrap_or_else(|| serde_json::json!(0));
    let legacy = [
        ("Bridge", serde_json::Value::String(String::new())),
        ("HairpinMode", serde_json::Value::Bool(false)),
        ("LinkLocalIPv6Address", serde_json::Value::String(String::new())),
        ("LinkLocalIPv6PrefixLen", serde_json::json!(0)),
        ("SecondaryIPAddresses", serde_json::Value::Null),
        ("SecondaryIPv6Addresses", serde_json::Value::Null),
        ("EndpointID", text("EndpointID")),
        ("Gateway", text("Gateway")),
        ("GlobalIPv6Address", text("GlobalIPv6Address")),
        ("GlobalIPv6PrefixLen", number("GlobalIPv6PrefixLen")),
        ("IPAddress", text("IPAddress")),
        ("IPPrefixLen", number("IPPrefixLen")),
        ("IPv6Gateway", text("IPv6Gateway")),
        ("MacAddress", text("MacAddress")),
    ];
    for (key, value) in legacy {
        settings.entry(key).or_insert(value);
    }
    settings.entry("SandboxID").or_insert_with(|| serde_json::Value::String(String::new()));
    answer
}

/// `record` is the container's snapshot, taken once by the caller (a listing copies each record once).
pub fn summary(container: &Container, record: &ContainerRecord, network: NetworkView) -> ContainerSummary {
    let mut command = vec![record.path.clone()];
    command.extend(record.args.iter().cloned());
    ContainerSummary {
        id: Some(record.id.clone()),
        names: Some(vec![format!("/{}", record.name)]),
        image: Some(record.image_ref.clone()),
        image_id: Some(record.image_id.clone()),
        command: Some(command.join(" ")),
        created: Some(record.created.timestamp()),
        ports: Some(network.summary_ports),
        labels: Some(record.config.labels.clone().unwrap_or_default()),
        state: Some(summary_state(record.state.status)),
        status: Some(status_text(record)),
        host_config: Some(ContainerSummaryHostConfig {
            network_mode: record.host_config.network_mode.clone(),
            annotations: None,
        }),
        network_settings: Some(ContainerSummaryNetworkSettings { networks: Some(network.networks) }),
        mounts: Some(mounts(container, record)),
        ..Default::default()
    }
}

/// Listing filters of images, networks, volumes and events, in either wire form: `{"status":["running"]}` or
/// `{"status":{"running":true}}`.
pub fn parse_filters(raw: Option<&str>) -> Result<HashMap<String, Vec<String>>, String> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(HashMap::new()) };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| format!("invalid filter: {e}"))?;
    let mut filters = HashMap::new();
    let serde_json::Value::Object(map) = value else { return Err("invalid filter: not an object".into()) };
    for (key, values) in map {
        let list = match values {
            serde_json::Value::Array(items) => {
                items.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            serde_json::Value::Object(items) => {
                items.into_iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k).collect()
            }
            _ => return Err(format!("invalid filter for {key}")),
        };
        filters.insert(key, list);
    }
    Ok(filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(chrono::Duration::milliseconds(300)), "Less than a second");
        assert_eq!(human_duration(chrono::Duration::seconds(5)), "5 seconds");
        assert_eq!(human_duration(chrono::Duration::seconds(70)), "About a minute");
        assert_eq!(human_duration(chrono::Duration::seconds(600)), "10 minutes");
    }

    #[test]
    fn filters_accept_both_wire_forms() {
        let new = parse_filters(Some(r#"{"status":["running"],"name":["web"]}"#)).unwrap();
        assert_eq!(new["status"], vec!["running"]);
        let old = parse_filters(Some(r#"{"status":{"exited":true}}"#)).unwrap();
        assert_eq!(old["status"], vec!["exited"]);
        assert!(parse_filters(Some("[1]")).is_err());
    }
}
