//! /_ping, /version, /info and /events.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    EventMessageTypeEnum as EventType, IndexInfo, RegistryServiceConfig, SystemInfo, SystemInfoCgroupDriverEnum,
    SystemInfoCgroupVersionEnum, SystemVersion, SystemVersionComponents, SystemVersionPlatform,
};
use bytes::Bytes;
use serde::Deserialize;

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::event_filter::EventFilter;
use super::event_time;
use super::streams::channel_body;
use super::{API_VERSION, MIN_API_VERSION};
use berth_engine::Engine;

fn ping_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Builder-Version", HeaderValue::from_static("1"));
    headers.insert("Swarm", HeaderValue::from_static("inactive"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

pub async fn ping() -> Response {
    (StatusCode::OK, ping_headers(), "OK").into_response()
}

pub async fn ping_head() -> Response {
    let mut headers = ping_headers();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    (StatusCode::OK, headers).into_response()
}

fn kernel_version() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_else(|| "Linux".into())
}

pub async fn version() -> Json<SystemVersion> {
    let engine_version = env!("CARGO_PKG_VERSION").to_string();
    Json(SystemVersion {
        platform: Some(SystemVersionPlatform { name: "Berth".into() }),
        components: Some(vec![SystemVersionComponents {
            name: "Engine".into(),
            version: engine_version.clone(),
            details: Some(std::collections::HashMap::from([
                ("ApiVersion".to_string(), API_VERSION.to_string()),
                ("MinAPIVersion".to_string(), MIN_API_VERSION.to_string()),
                ("Os".to_string(), "linux".to_string()),
                ("Arch".to_string(), "amd64".to_string()),
                ("KernelVersion".to_string(), kernel_version()),
            ])),
        }]),
        version: Some(engine_version),
        api_version: Some(API_VERSION.into()),
        min_api_version: Some(MIN_API_VERSION.into()),
        git_commit: Some("berth".into()),
        go_version: Some(format!("rust (berth {})", env!("CARGO_PKG_VERSION"))),
        os: Some("linux".into()),
        arch: Some("amd64".into()),
        kernel_version: Some(kernel_version()),
        experimental: Some(false),
        build_time: Some(String::new()),
    })
}

fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("MemTotal:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub async fn info(State(engine): State<Arc<Engine>>, caller: Caller) -> Json<SystemInfo> {
    let containers = engine.containers_in(caller.scope());
    let count = |pred: fn(berth_engine::Status) -> bool| containers.iter().filter(|c| pred(c.status())).count() as i64;
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    Json(SystemInfo {
        id: Some(format!(
            "berth-{}",
            nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()
        )),
        containers: Some(containers.len() as i64),
        containers_running: Some(count(|s| s == berth_engine::Status::Running)),
        containers_paused: Some(count(|s| s == berth_engine::Status::Paused)),
        containers_stopped: Some(count(|s| !s.is_running())),
        images: Some(engine.images().len() as i64),
        driver: Some("overlay2".into()),
        driver_status: Some(vec![vec!["Backing Filesystem".into(), "extfs".into()]]),
        docker_root_dir: Some(engine.root().to_string_lossy().into_owned()),
        memory_limit: Some(true),
        swap_limit: Some(true),
        cpu_cfs_period: Some(true),
        cpu_cfs_quota: Some(true),
        cpu_shares: Some(true),
        cpu_set: Some(false),
        pids_limit: Some(true),
        oom_kill_disable: Some(false),
        debug: Some(false),
        nfd: Some(std::fs::read_dir("/proc/self/fd").map(|d| d.count() as i64).unwrap_or(0)),
        n_goroutines: Some(0),
        system_time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        logging_driver: Some("json-file".into()),
        cgroup_driver: Some(SystemInfoCgroupDriverEnum::CGROUPFS),
        cgroup_version: Some(if v2 { SystemInfoCgroupVersionEnum::_2 } else { SystemInfoCgroupVersionEnum::_1 }),
        n_events_listener: Some(0),
        kernel_version: Some(kernel_version()),
        operating_system: Some(operating_system()),
        os_version: Some(String::new()),
        os_type: Some("linux".into()),
        architecture: Some(std::env::consts::ARCH.into()),
        ncpu: Some(std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1)),
        mem_total: Some(mem_total()),
        index_server_address: Some("https://index.docker.io/v1/".into()),
        registry_config: Some(registry_config(engine.registry_config())),
        name: Some(nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()),
        server_version: Some(env!("CARGO_PKG_VERSION").into()),
        default_runtime: Some(berth_engine::DEFAULT_RUNTIME.into()),
        runtimes: Some(
            berth_engine::KNOWN_RUNTIMES
                .iter()
                .map(|name| {
                    let runtime = bollard_stubs::models::Runtime { path: Some("berth".into()), ..Default::default() };
                    (name.to_string(), runtime)
                })
                .collect(),
        ),
        live_restore_enabled: Some(engine.live_restore()),
        isolation: None,
        init_binary: Some("berth init".into()),
        security_options: Some(security_options(&engine)),
        // As dockerd on a node in no swarm (`docker info` prints "Swarm: inactive"; see swarm.rs).
        swarm: Some(bollard_stubs::models::SwarmInfo {
            node_id: Some(String::new()),
            node_addr: Some(String::new()),
            local_node_state: Some(bollard_stubs::models::LocalNodeState::INACTIVE),
            control_available: Some(false),
            error: Some(String::new()),
            remote_managers: None,
            ..Default::default()
        }),
        warnings: Some(Vec::new()),
        ..Default::default()
    })
}

/// What dockerd lists under "Security Options"; `name=userns` when it remaps (the docker CLI then prints it).
fn security_options(engine: &Engine) -> Vec<String> {
    let mut options: Vec<String> =
        ["name=seccomp,profile=builtin", "name=no-new-privileges", "name=cgroupns"].map(String::from).to_vec();
    if engine.userns_remap().is_some() {
        options.push("name=userns".into());
    }
    options
}

/// `docker info`'s "Insecure Registries" and "Registry Mirrors", as dockerd reports them: CIDR ranges apart,
/// named insecure hosts as non-secure index entries, mirrors with a trailing slash.
fn registry_config(config: &berth_engine::RegistryConfig) -> RegistryServiceConfig {
    let mirrors: Vec<String> = config.mirrors.iter().map(|m| format!("{}/", m.trim_end_matches('/'))).collect();
    let mut cidrs = vec!["127.0.0.0/8".to_string()];
    cidrs.extend(config.insecure.iter().filter(|entry| entry.contains('/')).cloned());
    let mut index_configs = HashMap::from([(
        "docker.io".to_string(),
        IndexInfo {
            name: Some("docker.io".into()),
            mirrors: Some(mirrors.clone()),
            secure: Some(true),
            official: Some(true),
        },
    )]);
    for host in config.insecure.iter().filter(|entry| !entry.contains('/')) {
        let info = IndexInfo {
            name: Some(host.clone()),
            mirrors: Some(Vec::new()),
            secure: Some(false),
            official: Some(false),
        };
        index_configs.insert(host.clone(), info);
    }
    RegistryServiceConfig {
        insecure_registry_cidrs: Some(cidrs),
        index_configs: Some(index_configs),
        mirrors: Some(mirrors),
    }
}

#[derive(Deserialize)]
pub struct EventsQuery {
    since: Option<String>,
    until: Option<String>,
    filters: Option<String>,
}

/// dockerd's `GET /events`: without `since` or `until`, live events only; with either, the kept history from
/// `since` (or its start) up to `until`, then live events until `until` (none when it has passed).
pub async fn events(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Response> {
    let now = chrono::Utc::now();
    let since_raw = query.since.as_deref().unwrap_or_default();
    let until_raw = query.until.as_deref().unwrap_or_default();
    let since = event_time::parse(since_raw, now).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let until = event_time::parse(until_raw, now).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let (Some(since), Some(until)) = (since, until) {
        if until < since {
            return Err(ApiError::bad_request(format!(
                "`since` time ({since_raw}) cannot be after `until` time ({until_raw})"
            )));
        }
    }
    let mut filter = EventFilter::parse(query.filters.as_deref()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(tenant) = caller.tenant() {
        filter.confine_to(tenant);
    }
    let now_nanos = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
    let only_past = until.is_some_and(|until| until < now_nanos);
    let mut subscription = engine.subscribe_events(since.or(until.map(|_| i64::MIN)));
    let backlog = subscription.take_backlog();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let after_until =
            |event: &berth_engine::Event| until.is_some_and(|until| event.message.time_nano.unwrap_or(0) > until);
        for event in backlog {
            if after_until(&event) || !filter.matches(&event.message) {
                continue;
            }
            if tx.send(encode_event(&event.message)).await.is_err() {
                return;
            }
        }
        if only_past {
            return;
        }
        let deadline = until.map(|until| std::time::Duration::from_nanos(until.saturating_sub(now_nanos) as u64));
        let sleep = tokio::time::sleep(deadline.unwrap_or(std::time::Duration::from_secs(u64::MAX / 4)));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return,
                _ = tx.closed() => return,
                event = subscription.recv() => {
                    let Some(event) = event else { return };
                    if after_until(&event) {
                        return;
                    }
                    if !filter.matches(&event.message) {
                        continue;
                    }
                    if tx.send(encode_event(&event.message)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(super::streams::streaming("application/json", channel_body(rx)))
}

/// One JSON line, with the deprecated flat fields dockerd still fills for container and image events (older
/// clients read them): `status` and `id`, and `from` (the image) for containers.
fn encode_event(message: &bollard_stubs::models::EventMessage) -> Bytes {
    let mut value = serde_json::to_value(message).unwrap_or_default();
    let typ = message.typ;
    if let (Some(object), true) = (value.as_object_mut(), matches!(typ, Some(EventType::CONTAINER | EventType::IMAGE)))
    {
        let actor = message.actor.as_ref();
        object.insert("id".into(), actor.and_then(|a| a.id.clone()).unwrap_or_default().into());
        object.insert("status".into(), message.action.clone().unwrap_or_default().into());
        if typ == Some(EventType::CONTAINER) {
            let image = actor.and_then(|a| a.attributes.as_ref()).and_then(|a| a.get("image")).cloned();
            object.insert("from".into(), image.unwrap_or_default().into());
        }
    }
    let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}
