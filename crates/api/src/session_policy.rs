//! What a session may ask of `docker create`: nothing that reaches the host (403 with the reason), and references
//! to other containers (`--network container:`, `--pid container:`, `--ipc container:`, `--volumes-from`,
//! `--link`) only to its own, rewritten to their full ids so the engine can no longer mistake them for another
//! session's or the operator's. And of `docker volume create`: the local driver without options (its options
//! mount host devices and paths).

use axum::http::StatusCode;
use berth_engine::{Engine, Scope, DEFAULT_CAPABILITIES};
use bollard_stubs::models::{ContainerCreateBody, HostConfig, MountType};

use super::ApiError;

fn refuse(reason: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, format!("{}: not allowed in a session", reason.into()))
}

/// Checks a session's volume create: options of the local driver (`type`, `device`, `o`) would mount what the
/// host has.
pub(crate) fn check_volume_create(request: &bollard_stubs::models::VolumeCreateRequest) -> Result<(), ApiError> {
    if request.driver_opts.as_ref().is_some_and(|options| !options.is_empty()) {
        return Err(refuse("volume create --opt (driver options mount host devices)"));
    }
    Ok(())
}

/// Checks a session's network create: a bridge of the daemon's choosing. A subnet of its own could cover the
/// host's addresses (its routes would then lead into the bridge), and driver options name host interfaces.
pub(crate) fn check_network_create(request: &bollard_stubs::models::NetworkCreateRequest) -> Result<(), ApiError> {
    // The pre-defined names ("bridge", "host", ...) get the network store's own answer, dockerd's 403.
    if request.options.as_ref().is_some_and(|options| !options.is_empty()) {
        return Err(refuse("network create --opt (driver options name host interfaces)"));
    }
    let ipam = request.ipam.as_ref();
    if ipam.and_then(|ipam| ipam.config.as_ref()).is_some_and(|config| !config.is_empty())
        || ipam.and_then(|ipam| ipam.options.as_ref()).is_some_and(|options| !options.is_empty())
    {
        return Err(refuse("network create --subnet, --gateway or --ip-range (the daemon picks a session's subnets)"));
    }
    Ok(())
}

/// Checks `body` for a session (`tenant`) and rewrites its container references; an error creates nothing.
pub(crate) fn confine_create(engine: &Engine, tenant: &str, body: &mut ContainerCreateBody) -> Result<(), ApiError> {
    let scope = Scope::Tenant(tenant);
    let own = |reference: &str| -> Result<String, ApiError> {
        engine.container_in(scope, reference).map(|container| container.id.clone()).map_err(ApiError::from)
    };
    let own_network = |reference: &str| -> Result<String, ApiError> {
        engine.network_in(scope, reference).map(|network| network.id).map_err(ApiError::from)
    };
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    check_host_reach(host)?;
    for (field, mode) in
        [("--network", &mut host.network_mode), ("--pid", &mut host.pid_mode), ("--ipc", &mut host.ipc_mode)]
    {
        if let Some(value) = mode.as_deref() {
            match value.split_once(':') {
                Some(("container", reference)) => *mode = Some(format!("container:{}", own(reference)?)),
                // One of the session's own networks, by its id from here on: the engine's names are the daemon's.
                _ if field == "--network" && !matches!(value, "" | "default" | "bridge" | "none") => {
                    *mode = Some(own_network(value)?)
                }
                _ => {}
            }
        }
    }
    if let Some(endpoints) = body.networking_config.as_mut().and_then(|n| n.endpoints_config.as_mut()) {
        let named: Vec<String> =
            endpoints.keys().filter(|k| !matches!(k.as_str(), "default" | "bridge" | "none")).cloned().collect();
        for name in named {
            if let Some(settings) = endpoints.remove(&name) {
                endpoints.insert(own_network(&name)?, settings);
            }
        }
    }
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    if let Some(sources) = host.volumes_from.as_mut() {
        for source in sources.iter_mut() {
            let (reference, mode) = match source.split_once(':') {
                Some((reference, mode)) => (reference, Some(mode)),
                None => (source.as_str(), None),
            };
            let id = own(reference)?;
            *source = match mode {
                Some(mode) => format!("{id}:{mode}"),
                None => id,
            };
        }
    }
    if let Some(links) = host.links.as_mut() {
        for link in links.iter_mut() {
            let (reference, alias) = link.split_once(':').unwrap_or((link.as_str(), link.as_str()));
            let (reference, alias) = (reference.trim_start_matches('/').to_string(), alias.to_string());
            let id = own(&reference)?;
            *link = format!("{id}:{alias}");
        }
    }
    Ok(())
}

/// Everything in a host config that would give a session's container some of the host.
fn check_host_reach(host: &HostConfig) -> Result<(), ApiError> {
    if host.privileged == Some(true) {
        return Err(refuse("--privileged"));
    }
    for (flag, value) in [
        ("--network", &host.network_mode),
        ("--pid", &host.pid_mode),
        ("--ipc", &host.ipc_mode),
        ("--uts", &host.uts_mode),
        ("--userns", &host.userns_mode),
    ] {
        if value.as_deref() == Some("host") {
            return Err(refuse(format!("{flag} host")));
        }
    }
    if host.cgroupns_mode.as_ref().is_some_and(|mode| mode.to_string() == "host") {
        return Err(refuse("--cgroupns host"));
    }
    if host.oom_score_adj.is_some_and(|score| score < 0) {
        // Below 0 would have the host's OOM killer spare this container and take someone else's processes.
        return Err(refuse("--oom-score-adj below 0"));
    }
    if host.cgroup_parent.as_deref().is_some_and(|parent| !parent.is_empty()) {
        return Err(refuse("--cgroup-parent"));
    }
    // A named volume is the session's own (the engine keeps each owner's volumes apart); a path is the host's.
    for bind in host.binds.iter().flatten() {
        let source = bind.split(':').next().unwrap_or_default();
        if source.starts_with('/') {
            return Err(refuse(format!("-v {source}:... (bind mounts of host paths)")));
        }
    }
    for mount in host.mounts.iter().flatten() {
        match mount.typ {
            Some(MountType::BIND) => {
                let source = mount.source.clone().unwrap_or_default();
                return Err(refuse(format!("--mount type=bind,source={source} (bind mounts of host paths)")));
            }
            Some(MountType::VOLUME)
                if mount.volume_options.as_ref().and_then(|o| o.driver_config.as_ref()).is_some_and(|driver| {
                    driver.name.as_deref().is_some_and(|n| !n.is_empty())
                        || driver.options.as_ref().is_some_and(|o| !o.is_empty())
                }) =>
            {
                return Err(refuse("--mount volume-driver or volume-opt (driver options mount host devices)"));
            }
            Some(MountType::VOLUME) | Some(MountType::TMPFS) | None => {}
            Some(other) => return Err(refuse(format!("--mount type={other}"))),
        }
    }
    // The sending drivers run in the container's monitor, as host root in the host's network namespace: their
    // address would let a session write into any host socket or reach the host's own services. The operator's
    // default driver (`berth serve --log-driver`) still applies; a session may not point it elsewhere.
    if let Some(log) = &host.log_config {
        if let Some(driver) = log.typ.as_deref().filter(|t| !matches!(*t, "" | "json-file" | "none")) {
            return Err(refuse(format!("--log-driver {driver} (it sends from the host)")));
        }
        let sending = ["syslog-", "gelf-", "fluentd-"];
        if let Some(key) =
            log.config.iter().flatten().map(|(k, _)| k).find(|k| sending.iter().any(|p| k.starts_with(p)))
        {
            return Err(refuse(format!("--log-opt {key} (it sends from the host)")));
        }
    }
    if host.devices.as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(refuse("--device"));
    }
    if host.device_cgroup_rules.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(refuse("--device-cgroup-rule"));
    }
    if host.device_requests.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(refuse("--gpus"));
    }
    for capability in host.cap_add.iter().flatten() {
        let name = capability.trim_start_matches("CAP_").to_ascii_uppercase();
        if !DEFAULT_CAPABILITIES.contains(&name.as_str()) {
            return Err(refuse(format!("--cap-add {capability} (beyond Docker's default capabilities)")));
        }
    }
    for option in host.security_opt.iter().flatten() {
        let normalized = option.replace('=', ":");
        if ["seccomp:unconfined", "apparmor:unconfined", "label:disable", "systempaths:unconfined"]
            .contains(&normalized.as_str())
        {
            return Err(refuse(format!("--security-opt {option}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::Mount;

    fn refused(host: HostConfig) -> String {
        match check_host_reach(&host) {
            Err(error) => {
                assert_eq!(error.status, StatusCode::FORBIDDEN);
                error.message
            }
            Ok(()) => panic!("allowed: {host:?}"),
        }
    }

    #[test]
    fn options_that_reach_the_host_are_refused_with_the_reason() {
        assert!(refused(HostConfig { privileged: Some(true), ..Default::default() }).contains("--privileged"));
        assert!(
            refused(HostConfig { network_mode: Some("host".into()), ..Default::default() }).contains("--network host")
        );
        assert!(refused(HostConfig { pid_mode: Some("host".into()), ..Default::default() }).contains("--pid host"));
        assert!(refused(HostConfig { ipc_mode: Some("host".into()), ..Default::default() }).contains("--ipc host"));
        assert!(refused(HostConfig { uts_mode: Some("host".into()), ..Default::default() }).contains("--uts host"));
        let bind = refused(HostConfig { binds: Some(vec!["/var/run/docker.sock:/s".into()]), ..Default::default() });
        assert!(bind.contains("/var/run/docker.sock") && bind.contains("host paths"), "{bind}");
        let mount = Mount { typ: Some(MountType::BIND), source: Some("/etc".into()), ..Default::default() };
        assert!(refused(HostConfig { mounts: Some(vec![mount]), ..Default::default() }).contains("type=bind"));
        assert!(
            refused(HostConfig { cap_add: Some(vec!["SYS_ADMIN".into()]), ..Default::default() }).contains("SYS_ADMIN")
        );
        assert!(refused(HostConfig { security_opt: Some(vec!["seccomp=unconfined".into()]), ..Default::default() })
            .contains("seccomp=unconfined"));
        assert!(refused(HostConfig { cgroup_parent: Some("/".into()), ..Default::default() }).contains("cgroup"));
        assert!(refused(HostConfig { oom_score_adj: Some(-500), ..Default::default() }).contains("--oom-score-adj"));
        let log = |typ: &str, key: &str| HostConfig {
            log_config: Some(bollard_stubs::models::HostConfigLogConfig {
                typ: Some(typ.into()),
                config: Some([(key.to_string(), "udp://127.0.0.1:514".to_string())].into()),
            }),
            ..Default::default()
        };
        assert!(refused(log("syslog", "tag")).contains("--log-driver syslog"));
        assert!(refused(log("", "syslog-address")).contains("--log-opt syslog-address"));
        assert!(check_host_reach(&log("json-file", "max-size")).is_ok());
    }

    #[test]
    fn volume_driver_options_are_the_hosts() {
        use bollard_stubs::models::{MountVolumeOptions, MountVolumeOptionsDriverConfig};
        let mount = Mount {
            typ: Some(MountType::VOLUME),
            source: Some("data".into()),
            volume_options: Some(MountVolumeOptions {
                driver_config: Some(MountVolumeOptionsDriverConfig {
                    name: Some("local".into()),
                    options: Some([("device".to_string(), "/etc".to_string())].into()),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(refused(HostConfig { mounts: Some(vec![mount]), ..Default::default() }).contains("volume-opt"));
    }

    #[test]
    fn what_stays_inside_is_allowed() {
        let tmpfs = Mount { typ: Some(MountType::TMPFS), target: Some("/tmp".into()), ..Default::default() };
        let named = Mount {
            typ: Some(MountType::VOLUME),
            source: Some("cache".into()),
            target: Some("/cache".into()),
            ..Default::default()
        };
        let host = HostConfig {
            cap_add: Some(vec!["NET_BIND_SERVICE".into(), "CAP_CHOWN".into()]),
            mounts: Some(vec![tmpfs, named]),
            binds: Some(vec!["data:/data:ro".into()]),
            memory: Some(64 << 20),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        };
        assert!(check_host_reach(&host).is_ok());
    }
}
