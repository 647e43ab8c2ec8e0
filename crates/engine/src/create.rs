//! `docker create`: name checks, the merge of the user's config with the image's, and the container's directory.

use std::sync::Arc;

use bollard_stubs::models::{ContainerConfig, ContainerCreateBody, HostConfig, HostConfigLogConfig};
use chrono::Utc;

use super::container::{Container, ContainerRecord, StateRecord};
use super::{names, spec, Engine, EngineError};
use berth_fs::atomic;
use berth_image::Image;
use berth_image::ImageMeta;

impl Engine {
    /// Creates a container of the operator's; returns its id and Docker-style warnings.
    pub async fn create(
        self: &Arc<Self>,
        name: Option<&str>,
        body: ContainerCreateBody,
    ) -> Result<(String, Vec<String>), EngineError> {
        self.create_owned(None, name, body).await
    }

    /// Creates a container belonging to `owner` (a tenant: its name is unique among the owner's containers only).
    /// The caller has checked every reference in `body` to another container against the same owner.
    pub async fn create_owned(
        self: &Arc<Self>,
        owner: Option<&str>,
        name: Option<&str>,
        body: ContainerCreateBody,
    ) -> Result<(String, Vec<String>), EngineError> {
        // Held until the container is in the table: the count below must include every create that passed it.
        let _quota = match owner {
            Some(tenant) => {
                let guard = self.tenant_creates.lock(tenant).await;
                self.check_tenant_quota(tenant)?;
                self.check_tenant_disk(tenant).await?;
                Some(guard)
            }
            None => None,
        };
        let id = names::new_id();
        // Held until the container is in the table, so that a concurrent create of the same name fails here.
        let (name, _claim) = match name.filter(|n| !n.is_empty()) {
            Some(requested) => {
                let name = names::validate_name(requested).map_err(EngineError::InvalidArgument)?;
                let claim = self.claim_name(owner, &name, &id)?;
                (name, claim)
            }
            None => loop {
                let candidate = names::generate_name();
                if let Ok(claim) = self.claim_name(owner, &candidate, &id) {
                    break (candidate, claim);
                }
            },
        };
        let image_ref = body.image.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
            EngineError::InvalidArgument("Config cannot be empty in order to create a container".into())
        })?;
        let lookup = image_ref.clone();
        let engine = self.clone();
        let scope_owner = owner.map(str::to_string);
        let image =
            tokio::task::spawn_blocking(move || engine.image_in(super::Scope::of(scope_owner.as_deref()), &lookup))
                .await
                .map_err(|e| EngineError::io("image lookup", std::io::Error::other(e)))??;

        let mut host_config = body.host_config.clone().unwrap_or_default();
        let log_default = self.log_default.read().unwrap_or_else(|p| p.into_inner()).clone();
        normalize_host_config(&mut host_config, &log_default);
        // A fork bomb in one container must not take the host's pids: unset (or 0) means the daemon's default,
        // recorded so inspect shows it and `docker update --pids-limit` changes it; -1 stays unlimited.
        if let Some(default) = self.limits.default_pids.filter(|_| host_config.pids_limit.is_none_or(|p| p == 0)) {
            host_config.pids_limit = Some(default);
        }
        spec::validate_host_config(&host_config)?;
        let remap = match &self.userns {
            Some(remap) if !super::userns::wants_host(&host_config)? => {
                super::userns::check_host_config(&host_config)?;
                Some(remap)
            }
            _ => None,
        };
        let mut warnings = Vec::new();
        if host_config.memory.unwrap_or(0) > 0 && host_config.memory_swap.unwrap_or(0) == 0 {
            // Nothing to warn about: swap defaults to twice the memory as in Docker.
        }
        if host_config.cpu_shares.is_some_and(|s| s > 0 && s < 2) {
            warnings.push("Your kernel does not support CPU shares below 2; shares set to 2.".to_string());
        }

        super::health::validate(body.healthcheck.as_ref())?;
        // HEALTHCHECK and SHELL have no field in the OCI image config; the builder keeps them beside the image.
        let image_meta = self.image_meta().get(&image.id);
        let config = merge_config(&body, &image, &image_meta);
        if let Some(tenant) = owner {
            let wanted =
                super::tenants::published_ports(&host_config, config.exposed_ports.as_deref().unwrap_or_default());
            self.check_tenant_ports(tenant, wanted)?;
        }
        let mut command: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        command.extend(config.cmd.clone().unwrap_or_default());
        let Some((path, args)) = command.split_first() else {
            return Err(EngineError::InvalidArgument("No command specified".into()));
        };

        // Networks and volumes first: they check the request (unknown network, bad volume name) before anything
        // is written, and are undone if a later step fails.
        let mut networking = body.networking_config.clone();
        if let Some(tenant) = owner {
            // A tenant's default network is its own bridge, isolated from every other tenant's.
            if host_config.network_mode.as_deref() == Some("bridge") {
                let network = self.tenant_network(tenant).await?;
                if let Some(endpoints) = networking.as_mut().and_then(|n| n.endpoints_config.as_mut()) {
                    if let Some(settings) = endpoints.remove("bridge").or_else(|| endpoints.remove("default")) {
                        endpoints.insert(network.clone(), settings);
                    }
                }
                host_config.network_mode = Some(network);
            }
        }
        self.attach_networks(&id, &name, &host_config, networking.as_ref())?;
        let image_volumes = config.volumes.clone().unwrap_or_default();
        let (extra_mounts, anonymous_volumes) = match self.plan_volumes(owner, &mut host_config, &image_volumes) {
            Ok(planned) => planned,
            Err(err) => {
                self.networks.disconnect_all(&id);
                return Err(err);
            }
        };
        let dir = self.containers_dir().join(&id);
        let id_shift = match remap.map(|r| r.allocate()).transpose() {
            Ok(ids) => ids,
            Err(err) => {
                self.networks.disconnect_all(&id);
                for volume in &anonymous_volumes {
                    let _ = self.volume_remove(owner, volume, true);
                }
                return Err(err);
            }
        };
        let undo = |err: EngineError| {
            if let (Some(remap), Some(ids)) = (remap, &id_shift) {
                remap.release(ids);
            }
            self.networks.disconnect_all(&id);
            for volume in &anonymous_volumes {
                let _ = self.volume_remove(owner, volume, true);
            }
            let _ = std::fs::remove_dir_all(&dir);
            err
        };
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| undo(EngineError::io(format!("create {sub} dir"), e)))?;
        }
        let init_etc = dir.join("init/etc");
        std::fs::create_dir_all(&init_etc).map_err(|e| undo(EngineError::io("create init layer", e)))?;
        for file in ["hostname", "hosts", "resolv.conf"] {
            std::fs::write(init_etc.join(file), b"").map_err(|e| undo(EngineError::io("create init layer", e)))?;
        }
        let hostname = config.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| id[..12].to_string());
        write_etc_files(&dir, &hostname, host_config.network_mode.as_deref()).map_err(undo)?;
        if let Some(ids) = &id_shift {
            // Bind-mounted in: the container's root edits them (as in dockerd, which gives them to the remapped root).
            for file in ["hostname", "hosts", "resolv.conf"] {
                std::os::unix::fs::lchown(dir.join(file), Some(ids.host_uid(0)), Some(ids.host_gid(0)))
                    .map_err(|e| undo(EngineError::io(format!("give {file} to the remapped root"), e)))?;
            }
        }

        let record = ContainerRecord {
            id: id.clone(),
            name,
            created: Utc::now(),
            image_ref,
            image_id: image.id.clone(),
            path: path.clone(),
            args: args.to_vec(),
            config: ContainerConfig { hostname: Some(hostname), ..config },
            host_config,
            state: StateRecord::default(),
            exec_ids: Vec::new(),
            extra_mounts,
            anonymous_volumes: anonymous_volumes.clone(),
            id_shift,
            owner: owner.map(str::to_string),
        };
        atomic::write_json(&dir.join(super::container::RECORD_FILE), &record).map_err(|e| undo(e.into()))?;
        let container = Container::new(dir, record);
        self.insert(container.clone());
        self.emit(&container, "create");
        Ok((id, warnings))
    }
}

fn normalize_host_config(host: &mut HostConfig, log_default: &super::log_drivers::DaemonDefault) {
    if matches!(host.network_mode.as_deref(), None | Some("") | Some("default")) {
        host.network_mode = Some("bridge".into());
    }
    super::log_drivers::apply_default(host.log_config.get_or_insert_with(HostConfigLogConfig::default), log_default);
    // dockerd records its default runtime's name; every runtime name Berth takes runs the container the same way.
    if host.runtime.as_deref().is_none_or(str::is_empty) {
        host.runtime = Some(spec::DEFAULT_RUNTIME.into());
    }
    if host.restart_policy.as_ref().is_none_or(|p| p.name.is_none()) {
        host.restart_policy = Some(bollard_stubs::models::RestartPolicy {
            name: Some(bollard_stubs::models::RestartPolicyNameEnum::NO),
            maximum_retry_count: Some(0),
        });
    }
}

/// Docker's merge of the create request with the image config (moby daemon/commit.go `merge`).
fn merge_config(body: &ContainerCreateBody, image: &Image, image_meta: &ImageMeta) -> ContainerConfig {
    let image_config = image.config.config().clone().unwrap_or_default();
    let mut env = body.env.clone().unwrap_or_default();
    for image_env in image_config.env().clone().unwrap_or_default() {
        let key = image_env.split('=').next().unwrap_or("");
        if !env.iter().any(|e| e.split('=').next() == Some(key)) {
            env.push(image_env);
        }
    }
    let user_entrypoint = body.entrypoint.clone().filter(|e| !e.is_empty());
    let (entrypoint, cmd) = match user_entrypoint {
        // `--entrypoint ""` arrives as [""]: it clears the image's entrypoint.
        Some(entrypoint) if entrypoint.len() == 1 && entrypoint[0].is_empty() => (None, body.cmd.clone()),
        Some(entrypoint) => (Some(entrypoint), body.cmd.clone()),
        None => {
            let cmd = body.cmd.clone().filter(|c| !c.is_empty()).or_else(|| image_config.cmd().clone());
            (image_config.entrypoint().clone(), cmd)
        }
    };
    let mut labels = image_config.labels().clone().unwrap_or_default();
    labels.extend(body.labels.clone().unwrap_or_default());
    let mut exposed: Vec<String> = image_config.exposed_ports().clone().unwrap_or_default();
    for port in body.exposed_ports.clone().unwrap_or_default() {
        if !exposed.contains(&port) {
            exposed.push(port);
        }
    }
    let mut volumes: Vec<String> = image_config.volumes().clone().unwrap_or_default();
    for volume in body.volumes.clone().unwrap_or_default() {
        if !volumes.contains(&volume) {
            volumes.push(volume);
        }
    }
    let pick = |user: &Option<String>, image: &Option<String>| {
        user.clone().filter(|v| !v.is_empty()).or_else(|| image.clone()).filter(|v| !v.is_empty())
    };
    ContainerConfig {
        hostname: body.hostname.clone().filter(|h| !h.is_empty()),
        domainname: body.domainname.clone(),
        user: pick(&body.user, image_config.user()),
        attach_stdin: Some(body.attach_stdin.unwrap_or(false)),
        attach_stdout: Some(body.attach_stdout.unwrap_or(false)),
        attach_stderr: Some(body.attach_stderr.unwrap_or(false)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: Some(body.tty.unwrap_or(false)),
        open_stdin: Some(body.open_stdin.unwrap_or(false)),
        stdin_once: Some(body.stdin_once.unwrap_or(false)),
        env: Some(env),
        cmd,
        healthcheck: super::health::merge(body.healthcheck.clone(), image_meta.healthcheck.as_ref()),
        args_escaped: body.args_escaped,
        image: body.image.clone(),
        volumes: (!volumes.is_empty()).then_some(volumes),
        working_dir: pick(&body.working_dir, image_config.working_dir()),
        entrypoint,
        network_disabled: body.network_disabled,
        on_build: None,
        labels: Some(labels),
        stop_signal: pick(&body.stop_signal, image_config.stop_signal()),
        stop_timeout: body.stop_timeout,
        shell: body.shell.clone().filter(|s| !s.is_empty()).or_else(|| image_meta.shell.clone()),
    }
}

/// /etc/hostname, /etc/hosts and /etc/resolv.conf live beside the container and are bind-mounted in, as Docker does.
fn write_etc_files(dir: &std::path::Path, hostname: &str, network_mode: Option<&str>) -> Result<(), EngineError> {
    let io = |what: &str, e| EngineError::io(format!("write {what}"), e);
    std::fs::write(dir.join("hostname"), format!("{hostname}\n")).map_err(|e| io("hostname", e))?;
    let hosts = if network_mode == Some("host") {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
        )
    };
    std::fs::write(dir.join("hosts"), hosts).map_err(|e| io("hosts", e))?;
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(dir.join("resolv.conf"), resolv).map_err(|e| io("resolv.conf", e))?;
    Ok(())
}
