//! `compose up`: networks and volumes, images for services with `build:`, then containers in startup order, each
//! after its `depends_on` conditions hold. A container whose config-hash label still matches the service is kept
//! (started if stopped); one whose hash changed is replaced.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_shared::api::compose::ServiceStep;
use berth_shared::compose::{DependencyCondition, MountType, Service};
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig,
    NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListNetworksOptions, RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use clap::Args;
use futures_util::StreamExt;

use super::client::{is_not_found, ProjectContainer, Session, LABEL_NETWORK, LABEL_VOLUME};
use super::progress::ProgressMode;

/// How long a `service_healthy` dependency may take.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);
const HEALTH_POLL: Duration = Duration::from_millis(100);
/// Seconds a replaced or stopped container gets between its stop signal and SIGKILL, as compose's default.
pub const STOP_TIMEOUT_SECONDS: i32 = 10;

#[derive(Args)]
pub struct UpArgs {
    /// Start in the background and return.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Build images before starting.
    #[arg(long)]
    build: bool,
    /// Recreate containers even if their configuration did not change.
    #[arg(long)]
    force_recreate: bool,
    /// Do not start the services the named ones depend on.
    #[arg(long)]
    no_deps: bool,
    /// `SERVICE=N`: run N containers of SERVICE.
    #[arg(long, value_name = "SERVICE=N")]
    scale: Vec<String>,
    /// Remove containers of services the files no longer define.
    #[arg(long)]
    remove_orphans: bool,
    services: Vec<String>,
}

pub async fn up(session: &Session, args: UpArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    let scales = parse_scales(&args.scale)?;
    let selected = selected_services(session, &args.services, !args.no_deps);
    if args.remove_orphans {
        remove_orphans(session).await?;
    }
    ensure_networks(session).await?;
    ensure_volumes(session).await?;
    super::pull::pull_services(session, &selected, true).await?;
    super::build::build_services(session, &selected, args.build).await?;
    let order = session.project.startup_order().map_err(|error| anyhow::anyhow!("{error}"))?;
    for service in order.into_iter().filter(|service| selected.iter().any(|name| name == service)) {
        let replicas = scales.get(service).copied().unwrap_or(1);
        let converged = async {
            wait_for_dependencies(session, service).await?;
            converge_service(session, service, replicas, args.force_recreate).await
        };
        if let Err(error) = converged.await {
            session.progress.service(service, None, ServiceStep::Error, &format!("{error:#}"));
            return Err(error);
        }
    }
    super::routes::ensure(session).await?;
    if args.detach {
        return Ok(());
    }
    let attached: Vec<String> = if args.services.is_empty() { Vec::new() } else { selected.clone() };
    let follow_logs = super::logs::follow(session, &attached);
    tokio::select! {
        result = follow_logs => result?,
        _ = tokio::signal::ctrl_c() => eprintln!("Gracefully stopping... (press Ctrl+C again to force)"),
    }
    let stop = super::lifecycle::StopArgs { timeout: STOP_TIMEOUT_SECONDS, services: attached };
    super::lifecycle::stop(session, stop).await
}

fn parse_scales(scales: &[String]) -> anyhow::Result<HashMap<String, u32>> {
    let mut parsed = HashMap::new();
    for scale in scales {
        let parsed_scale = scale.split_once('=').and_then(|(service, count)| Some((service, count.parse().ok()?)));
        let Some((service, count)) = parsed_scale else {
            anyhow::bail!("--scale {scale:?}: expected SERVICE=N");
        };
        parsed.insert(service.to_string(), count);
    }
    Ok(parsed)
}

/// The named services (all when none is named) and, with `with_dependencies`, everything they depend on.
pub fn selected_services(session: &Session, services: &[String], with_dependencies: bool) -> Vec<String> {
    if services.is_empty() {
        return session.project.services.keys().cloned().collect();
    }
    let mut selected: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<String> = services.to_vec();
    while let Some(service) = pending.pop() {
        if !selected.insert(service.clone()) || !with_dependencies {
            continue;
        }
        pending.extend(session.project.dependencies(&service).into_iter().map(str::to_string));
    }
    selected.into_iter().collect()
}

async fn remove_orphans(session: &Session) -> anyhow::Result<()> {
    for container in session.containers(&[], false).await? {
        if !session.project.services.contains_key(&container.service) {
            eprintln!("Removing orphan container {}", container.name);
            remove_container(session, &container).await?;
        }
    }
    Ok(())
}

/// Creates the project's networks that do not exist yet (external ones must exist).
pub async fn ensure_networks(session: &Session) -> anyhow::Result<()> {
    for (key, network) in &session.project.networks {
        let name = network.name.clone().unwrap_or_else(|| format!("{}_{key}", session.project.name));
        let filters = HashMap::from([("name".to_string(), vec![name.clone()])]);
        let existing = session
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
            .await
            .context("list networks")?;
        if existing.iter().any(|found| found.name.as_deref() == Some(name.as_str())) {
            continue;
        }
        if network.external {
            anyhow::bail!("network {name} declared as external, but could not be found");
        }
        eprintln!("Creating network {name:?} with the default driver");
        let mut labels = session.project_labels();
        labels.insert(LABEL_NETWORK.to_string(), key.clone());
        labels.extend(network.labels.iter().map(|(label, value)| (label.clone(), value.clone())));
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: network.driver.clone(),
            internal: Some(network.internal),
            attachable: Some(network.attachable),
            labels: Some(labels),
            options: Some(network.driver_opts.iter().map(|(key, value)| (key.clone(), value.clone())).collect()),
            ..Default::default()
        };
        session.docker.create_network(request).await.with_context(|| format!("create network {name}"))?;
    }
    Ok(())
}

/// Creates the project's named volumes (the daemon keeps an existing one as it is).
pub async fn ensure_volumes(session: &Session) -> anyhow::Result<()> {
    for (key, volume) in &session.project.volumes {
        let name = volume.name.clone().unwrap_or_else(|| format!("{}_{key}", session.project.name));
        if volume.external {
            session
                .docker
                .inspect_volume(&name)
                .await
                .with_context(|| format!("volume {name} declared as external, but could not be found"))?;
            continue;
        }
        if session.docker.inspect_volume(&name).await.is_ok() {
            continue;
        }
        eprintln!("Creating volume {name:?} with default driver");
        let mut labels = session.project_labels();
        labels.insert(LABEL_VOLUME.to_string(), key.clone());
        labels.extend(volume.labels.iter().map(|(label, value)| (label.clone(), value.clone())));
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            driver: volume.driver.clone(),
            driver_opts: Some(volume.driver_opts.iter().map(|(key, value)| (key.clone(), value.clone())).collect()),
            labels: Some(labels),
            ..Default::default()
        };
        session.docker.create_volume(request).await.with_context(|| format!("create volume {name}"))?;
    }
    Ok(())
}

/// Waits until every `depends_on` condition of `service` holds.
async fn wait_for_dependencies(session: &Session, service: &str) -> anyhow::Result<()> {
    let Some(definition) = session.project.services.get(service) else { return Ok(()) };
    for (dependency, requirement) in &definition.depends_on {
        let containers = session.containers(std::slice::from_ref(dependency), false).await?;
        match requirement.condition {
            DependencyCondition::ServiceStarted => {}
            DependencyCondition::ServiceHealthy => {
                for container in &containers {
                    wait_healthy(session, container).await?;
                }
            }
            DependencyCondition::ServiceCompletedSuccessfully => {
                for container in &containers {
                    let mut waits = session.docker.wait_container(&container.id, None::<WaitContainerOptions>);
                    let code = match waits.next().await {
                        Some(Ok(response)) => response.status_code,
                        // bollard reports a non-zero exit as an error carrying the code.
                        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                        Some(Err(error)) => return Err(error).context(format!("wait for {}", container.name)),
                        None => 0,
                    };
                    if code != 0 {
                        anyhow::bail!("service {dependency:?} didn't complete successfully: exit {code}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Waits for a `service_healthy` dependency the way docker compose v2 does (isServiceHealthy), with its wording:
/// an exited container, one without a healthcheck and an unhealthy one are errors.
async fn wait_healthy(session: &Session, container: &ProjectContainer) -> anyhow::Result<()> {
    let deadline = Instant::now() + HEALTHY_TIMEOUT;
    let name = &container.name;
    loop {
        let inspected = session.docker.inspect_container(&container.id, None).await?;
        let state = inspected.state.unwrap_or_default();
        if state.status == Some(ContainerStateStatusEnum::EXITED) {
            let code = state.exit_code.unwrap_or_default();
            anyhow::bail!("dependency failed to start: container {name} exited ({code})");
        }
        match state.health.and_then(|health| health.status) {
            None | Some(HealthStatusEnum::EMPTY | HealthStatusEnum::NONE) => {
                anyhow::bail!("dependency failed to start: container {name} has no healthcheck configured")
            }
            Some(HealthStatusEnum::HEALTHY) => return Ok(()),
            Some(HealthStatusEnum::UNHEALTHY) => {
                anyhow::bail!("dependency failed to start: container {name} is unhealthy")
            }
            Some(HealthStatusEnum::STARTING) => {}
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "dependency failed to start: container {name} did not become healthy within {HEALTHY_TIMEOUT:?}"
            );
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

/// Brings `service` to `replicas` running containers with its current configuration.
async fn converge_service(session: &Session, service: &str, replicas: u32, force_recreate: bool) -> anyhow::Result<()> {
    let wanted_hash = session.project.config_hash(service).unwrap_or_default();
    let existing = session.containers(&[service.to_string()], false).await?;
    for container in &existing {
        if container.number > replicas {
            eprintln!("Stopping and removing {}", container.name);
            remove_container(session, container).await?;
        }
    }
    for number in 1..=replicas {
        let current = existing.iter().find(|container| container.number == number);
        let progress = session.progress;
        let (id, name) = match current {
            Some(container) if container.config_hash == wanted_hash && !force_recreate => {
                if container.running {
                    let text = format!("{} is up-to-date", container.name);
                    progress.service(service, Some(&container.name), ServiceStep::UpToDate, &text);
                    continue;
                }
                let text = format!("Starting {}", container.name);
                progress.service(service, Some(&container.name), ServiceStep::Starting, &text);
                (container.id.clone(), container.name.clone())
            }
            Some(container) => {
                let text = format!("Recreating {}", container.name);
                progress.service(service, Some(&container.name), ServiceStep::Recreating, &text);
                remove_container(session, container).await?;
                (create_container(session, service, number, None, false).await?, container.name.clone())
            }
            None => {
                let name = session.container_name(service, number);
                progress.service(service, Some(&name), ServiceStep::Creating, &format!("Creating {name}"));
                (create_container(session, service, number, None, false).await?, name)
            }
        };
        session.docker.start_container(&id, None).await.with_context(|| format!("start {service}_{number}"))?;
        if progress == ProgressMode::Json {
            progress.service(service, Some(&name), ServiceStep::Started, &format!("Started {name}"));
        }
    }
    Ok(())
}

pub async fn remove_container(session: &Session, container: &ProjectContainer) -> anyhow::Result<()> {
    if container.running {
        // No timeout of our own: the daemon uses the container's StopTimeout (stop_grace_period) or its default,
        // as docker compose does when it replaces a container.
        let options = StopContainerOptions { t: None, ..Default::default() };
        match session.docker.stop_container(&container.id, Some(options)).await {
            Err(error) if !is_not_found(&error) => {
                return Err(error).context(format!("stop {}", container.name));
            }
            _ => {}
        }
    }
    let options = RemoveContainerOptions { force: true, ..Default::default() };
    match session.docker.remove_container(&container.id, Some(options)).await {
        Err(error) if !is_not_found(&error) => Err(error).context(format!("remove {}", container.name)),
        _ => Ok(()),
    }
}

/// Creates container `number` of `service` (a one-off `run` container when `oneoff`, with `command` replacing the
/// service's) and connects it to the service's networks; returns its id.
pub async fn create_container(
    session: &Session,
    service: &str,
    number: u32,
    command: Option<Vec<String>>,
    oneoff: bool,
) -> anyhow::Result<String> {
    let definition = session.project.services.get(service).with_context(|| format!("no such service: {service}"))?;
    let name = if oneoff {
        format!("{}_{}_run_{number}", session.project.name, service)
    } else if let Some(fixed_name) = &definition.container_name {
        fixed_name.clone()
    } else {
        session.container_name(service, number)
    };
    let mut networks: Vec<(String, EndpointSettings)> = Vec::new();
    for (key, attachment) in &definition.networks {
        let engine_name = session
            .project
            .networks
            .get(key)
            .and_then(|network| network.name.clone())
            .unwrap_or_else(|| format!("{}_{key}", session.project.name));
        let mut aliases = vec![service.to_string(), name.clone()];
        aliases.extend(attachment.aliases.iter().cloned());
        let endpoint = EndpointSettings { aliases: Some(aliases), ipam_config: None, ..Default::default() };
        networks.push((engine_name, endpoint));
    }
    let network_mode = match &definition.network_mode {
        Some(mode) => Some(network_mode(session, mode)),
        None => networks.first().map(|(engine_name, _)| engine_name.clone()),
    };
    let mut body = container_body(session, service, definition, number, oneoff)?;
    if let Some(command) = command {
        body.cmd = Some(command);
    }
    if let Some(host_config) = body.host_config.as_mut() {
        host_config.network_mode = network_mode;
    }
    body.networking_config = networks.first().map(|(engine_name, endpoint)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(engine_name.clone(), endpoint.clone())])),
    });
    let options = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
    let created =
        session.docker.create_container(Some(options), body).await.with_context(|| format!("create {name}"))?;
    for (engine_name, endpoint) in networks.into_iter().skip(1) {
        let request = NetworkConnectRequest { container: created.id.clone(), endpoint_config: Some(endpoint) };
        session
            .docker
            .connect_network(&engine_name, request)
            .await
            .with_context(|| format!("connect {name} to {engine_name}"))?;
    }
    Ok(created.id)
}

/// `service:web` means the network namespace of web's first container.
fn network_mode(session: &Session, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(service) => format!("container:{}", session.container_name(service, 1)),
        None => mode.to_string(),
    }
}

/// The Engine API shape of a service's container (networks aside).
fn container_body(
    session: &Session,
    service: &str,
    definition: &Service,
    number: u32,
    oneoff: bool,
) -> anyhow::Result<ContainerCreateBody> {
    let mut labels = session.container_labels(service, number, oneoff);
    labels.extend(definition.labels.iter().map(|(label, value)| (label.clone(), value.clone())));
    let env: Vec<String> = definition
        .environment
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name}={value}")))
        .collect();
    let mut exposed_ports: Vec<String> = definition.expose.iter().map(|port| with_protocol(port)).collect();
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &definition.ports {
        let key = format!("{}/{}", port.target, port.protocol);
        exposed_ports.push(key.clone());
        let binding = PortBinding { host_ip: port.host_ip.clone(), host_port: port.published.clone() };
        port_bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(binding);
    }
    let mut binds = Vec::new();
    let mut anonymous_volumes = Vec::new();
    let mut tmpfs = HashMap::new();
    for volume in &definition.volumes {
        let mode = if volume.read_only { ":ro" } else { "" };
        match (volume.mount_type, &volume.source) {
            (MountType::Bind, Some(source)) => binds.push(format!("{source}:{}{mode}", volume.target)),
            (MountType::Volume, Some(source)) => {
                let engine_name = session
                    .project
                    .volumes
                    .get(source)
                    .and_then(|declared| declared.name.clone())
                    .unwrap_or_else(|| source.clone());
                binds.push(format!("{engine_name}:{}{mode}", volume.target));
            }
            (MountType::Tmpfs, _) => {
                let options = match volume.tmpfs.as_ref().and_then(|options| options.size) {
                    Some(size) => format!("size={size}"),
                    None => String::new(),
                };
                tmpfs.insert(volume.target.clone(), options);
            }
            (_, None) => anonymous_volumes.push(volume.target.clone()),
        }
    }
    for target in &definition.tmpfs {
        tmpfs.insert(target.clone(), String::new());
    }
    let volumes_from = definition
        .volumes_from
        .iter()
        .map(|source| match source.strip_prefix("container:") {
            Some(container) => container.to_string(),
            None => {
                let (service, mode) = source.split_once(':').unwrap_or((source.as_str(), "rw"));
                format!("{}:{mode}", session.container_name(service, 1))
            }
        })
        .collect::<Vec<_>>();
    let restart_policy = match definition.restart.as_deref() {
        None | Some("no") => None,
        Some(policy) => {
            let (name, retries) = policy.split_once(':').unwrap_or((policy, ""));
            let name = match name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                other => anyhow::bail!("services.{service}.restart: unknown policy {other:?}"),
            };
            Some(RestartPolicy { name: Some(name), maximum_retry_count: retries.parse().ok() })
        }
    };
    let nanos = |duration: Option<berth_shared::compose::Duration>| {
        duration.map(|duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX))
    };
    let healthcheck = definition.healthcheck.as_ref().map(|check| {
        if check.disable {
            HealthConfig { test: Some(vec!["NONE".to_string()]), ..Default::default() }
        } else {
            HealthConfig {
                test: (!check.test.is_empty()).then(|| check.test.clone()),
                interval: nanos(check.interval),
                timeout: nanos(check.timeout),
                retries: check.retries.and_then(|retries| i64::try_from(retries).ok()),
                start_period: nanos(check.start_period),
                start_interval: nanos(check.start_interval),
            }
        }
    });
    let limits = definition.deploy.as_ref().and_then(|deploy| deploy.resources.limits.as_ref());
    let memory = definition.mem_limit.or(limits.and_then(|limits| limits.memory));
    let cpus = definition.cpus.or(limits.and_then(|limits| limits.cpus));
    let host_config = HostConfig {
        binds: Some(binds),
        port_bindings: Some(port_bindings),
        restart_policy,
        volumes_from: Some(volumes_from),
        tmpfs: Some(tmpfs),
        cap_add: Some(definition.cap_add.clone()),
        cap_drop: Some(definition.cap_drop.clone()),
        privileged: definition.privileged,
        init: definition.init,
        readonly_rootfs: definition.read_only,
        dns: Some(definition.dns.clone()),
        dns_search: Some(definition.dns_search.clone()),
        extra_hosts: Some(definition.extra_hosts.clone()),
        security_opt: Some(definition.security_opt.clone()),
        sysctls: Some(definition.sysctls.iter().map(|(key, value)| (key.clone(), value.clone())).collect()),
        memory: memory.and_then(|bytes| i64::try_from(bytes).ok()),
        memory_swap: definition.memswap_limit,
        nano_cpus: cpus.map(|cpus| (cpus * 1e9) as i64),
        cpu_shares: definition.cpu_shares.and_then(|shares| i64::try_from(shares).ok()),
        pids_limit: definition.pids_limit.or(limits.and_then(|limits| limits.pids)),
        shm_size: definition.shm_size.and_then(|bytes| i64::try_from(bytes).ok()),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(session.image_name(service)),
        cmd: definition.command.clone(),
        entrypoint: definition.entrypoint.clone(),
        env: Some(env),
        labels: Some(labels),
        exposed_ports: Some(exposed_ports),
        volumes: Some(anonymous_volumes),
        hostname: definition.hostname.clone(),
        user: definition.user.clone(),
        working_dir: definition.working_dir.clone(),
        // Explicit, as compose sends them: the daemon's inspect omits what create left unset, and docker-compose
        // 1.29 reads Config.Tty of every container it logs.
        tty: Some(definition.tty.unwrap_or(false)),
        open_stdin: Some(definition.stdin_open.unwrap_or(false)),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        stop_signal: definition.stop_signal.clone(),
        stop_timeout: definition
            .stop_grace_period
            .map(|period| i64::try_from(period.to_std().as_secs()).unwrap_or(i64::MAX)),
        healthcheck,
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// `3000` -> `3000/tcp`; `8125/udp` stays.
fn with_protocol(port: &str) -> String {
    if port.contains('/') {
        port.to_string()
    } else {
        format!("{port}/tcp")
    }
}
