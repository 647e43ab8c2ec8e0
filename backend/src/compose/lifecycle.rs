//! start, stop, restart, kill, rm, and down (stop and remove containers, networks and, with -v, volumes).

use std::collections::HashMap;

use anyhow::Context;
use berth_shared::api::compose::ServiceStep;
use bollard::query_parameters::{
    KillContainerOptions, ListNetworksOptions, RemoveContainerOptions, RemoveImageOptions, RestartContainerOptions,
    StopContainerOptions,
};
use clap::{Args, ValueEnum};

use super::client::{is_not_found, ProjectContainer, Session, LABEL_PROJECT};
use super::progress::ProgressMode;
use super::up::STOP_TIMEOUT_SECONDS;

#[derive(Args)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait for a container to stop before SIGKILL.
    #[arg(short = 't', long, default_value_t = STOP_TIMEOUT_SECONDS)]
    pub timeout: i32,
    pub services: Vec<String>,
}

#[derive(Args)]
pub struct KillArgs {
    #[arg(short = 's', long, default_value = "SIGKILL")]
    signal: String,
    services: Vec<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Do not ask (Berth never asks: accepted for compatibility).
    #[arg(short = 'f', long)]
    force: bool,
    /// Stop the containers first.
    #[arg(short = 's', long)]
    stop: bool,
    /// Remove anonymous volumes too.
    #[arg(short = 'v')]
    volumes: bool,
    services: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RemoveImages {
    /// Images built for services without an `image:` name.
    Local,
    /// Every image a service uses.
    All,
}

#[derive(Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the files and anonymous volumes of the containers.
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(long, value_enum)]
    rmi: Option<RemoveImages>,
    /// Remove containers of services the files no longer define.
    #[arg(long)]
    remove_orphans: bool,
    #[arg(short = 't', long, default_value_t = STOP_TIMEOUT_SECONDS)]
    timeout: i32,
}

pub async fn start(session: &Session, services: &[String]) -> anyhow::Result<()> {
    session.check_services(services)?;
    for container in session.containers(services, false).await? {
        if !container.running {
            eprintln!("Starting {}", container.name);
            session
                .docker
                .start_container(&container.id, None)
                .await
                .with_context(|| format!("start {}", container.name))?;
        }
    }
    Ok(())
}

pub async fn stop(session: &Session, args: StopArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    // Dependents first, as compose does: the reverse of the startup order, by depth; the services of one depth do
    // not depend on each other, so they stop together (two services take one grace period, not two).
    let containers = session.containers(&args.services, false).await?;
    let depths = session.project.startup_depths().unwrap_or_default();
    let depth_of = |service: &str| depths.iter().find(|(name, _)| *name == service).map_or(0, |(_, depth)| *depth);
    let deepest = containers.iter().map(|container| depth_of(&container.service)).max().unwrap_or(0);
    for depth in (0..=deepest).rev() {
        let stops = containers
            .iter()
            .filter(|container| container.running && depth_of(&container.service) == depth)
            .map(|container| stop_one(session, container, args.timeout));
        for outcome in futures_util::future::join_all(stops).await {
            outcome?;
        }
    }
    Ok(())
}

/// Stops one container, reporting Stopping and Stopped.
async fn stop_one(session: &Session, container: &ProjectContainer, timeout: i32) -> anyhow::Result<()> {
    let (service, name) = (&container.service, &container.name);
    session.progress.service(service, Some(name), ServiceStep::Stopping, &format!("Stopping {name}"));
    let options = StopContainerOptions { t: Some(timeout), ..Default::default() };
    if let Err(error) = session.docker.stop_container(&container.id, Some(options)).await {
        // Gone, or stopped meanwhile (304: killed while its dependents stopped): either way it is down.
        let stopped_meanwhile =
            matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 304, .. });
        if !is_not_found(&error) && !stopped_meanwhile {
            return Err(error).context(format!("stop {name}"));
        }
    }
    if session.progress == ProgressMode::Json {
        session.progress.service(service, Some(name), ServiceStep::Stopped, &format!("Stopped {name}"));
    }
    Ok(())
}

pub async fn restart(session: &Session, args: StopArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    for container in session.containers(&args.services, false).await? {
        eprintln!("Restarting {}", container.name);
        let options = RestartContainerOptions { t: Some(args.timeout), ..Default::default() };
        session
            .docker
            .restart_container(&container.id, Some(options))
            .await
            .with_context(|| format!("restart {}", container.name))?;
    }
    Ok(())
}

pub async fn kill(session: &Session, args: KillArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    for container in session.containers(&args.services, false).await?.into_iter().filter(|container| container.running)
    {
        eprintln!("Killing {}", container.name);
        let options = KillContainerOptions { signal: args.signal.clone() };
        session
            .docker
            .kill_container(&container.id, Some(options))
            .await
            .with_context(|| format!("kill {}", container.name))?;
    }
    Ok(())
}

pub async fn rm(session: &Session, args: RmArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    let _ = args.force;
    if args.stop {
        stop(session, StopArgs { timeout: STOP_TIMEOUT_SECONDS, services: args.services.clone() }).await?;
    }
    for container in session.containers(&args.services, false).await? {
        if container.running {
            eprintln!("{} is running: stop it first (or use rm -s)", container.name);
            continue;
        }
        eprintln!("Removing {}", container.name);
        let options = RemoveContainerOptions { v: args.volumes, ..Default::default() };
        session
            .docker
            .remove_container(&container.id, Some(options))
            .await
            .with_context(|| format!("remove {}", container.name))?;
    }
    Ok(())
}

pub async fn down(session: &Session, args: DownArgs) -> anyhow::Result<()> {
    super::routes::remove(session).await?;
    stop(session, StopArgs { timeout: args.timeout, services: Vec::new() }).await?;
    let mut containers = session.containers(&[], false).await?;
    containers.extend(session.containers(&[], true).await?);
    for container in containers {
        let orphan = !session.project.services.contains_key(&container.service);
        if orphan && !args.remove_orphans {
            eprintln!("warning: found orphan container {} (remove it with --remove-orphans)", container.name);
            continue;
        }
        let (service, name) = (&container.service, &container.name);
        session.progress.service(service, Some(name), ServiceStep::Removing, &format!("Removing {name}"));
        let options = RemoveContainerOptions { v: args.volumes, force: true, ..Default::default() };
        match session.docker.remove_container(&container.id, Some(options)).await {
            Err(error) if !is_not_found(&error) => return Err(error).context(format!("remove {name}")),
            _ => {}
        }
        if session.progress == ProgressMode::Json {
            session.progress.service(service, Some(name), ServiceStep::Removed, &format!("Removed {name}"));
        }
    }
    remove_networks(session).await?;
    if args.volumes {
        for (key, volume) in session.project.volumes.iter().filter(|(_, volume)| !volume.external) {
            let name = volume.name.clone().unwrap_or_else(|| format!("{}_{key}", session.project.name));
            eprintln!("Removing volume {name}");
            match session.docker.remove_volume(&name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
                Err(error) if !is_not_found(&error) => return Err(error).context(format!("remove volume {name}")),
                _ => {}
            }
        }
    }
    if let Some(which) = args.rmi {
        for (service, definition) in &session.project.services {
            let local = definition.image.is_none();
            if matches!(which, RemoveImages::Local) && !local {
                continue;
            }
            let image = session.image_name(service);
            eprintln!("Removing image {image}");
            match session.docker.remove_image(&image, None::<RemoveImageOptions>, None).await {
                Err(error) if !is_not_found(&error) => eprintln!("warning: remove image {image}: {error}"),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Removes the project's networks: those declared (not external) and any other labelled with the project.
async fn remove_networks(session: &Session) -> anyhow::Result<()> {
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_PROJECT}={}", session.project.name)])]);
    let labelled = session
        .docker
        .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
        .await
        .context("list the project's networks")?;
    let mut names: Vec<String> = labelled.into_iter().filter_map(|network| network.name).collect();
    for (key, network) in session.project.networks.iter().filter(|(_, network)| !network.external) {
        let name = network.name.clone().unwrap_or_else(|| format!("{}_{key}", session.project.name));
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        match session.docker.remove_network(&name).await {
            Ok(()) => eprintln!("Removing network {name}"),
            Err(error) if is_not_found(&error) => {}
            Err(error) => return Err(error).context(format!("remove network {name}")),
        }
    }
    Ok(())
}
