//! The connection to the daemon, compose's labels and names, and the project's containers as the daemon lists them.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use berth_shared::compose::Project;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;

use super::progress::ProgressMode;
use super::project::LoadedProject;

/// Where the daemon listens when neither --host nor DOCKER_HOST says.
const DEFAULT_HOST: &str = "unix:///run/berth.sock";

// The labels docker-compose 1.29 and compose v2 put on what they create; both find a project by them.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const LABEL_VERSION: &str = "com.docker.compose.version";
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";
/// The compose version whose conventions (names with `_`, labels) Berth follows.
pub const COMPOSE_VERSION: &str = "1.29.2";

/// One compose command's view: the daemon and the resolved project.
pub struct Session {
    pub docker: Docker,
    pub project: Project,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    /// Where per-service progress goes (stderr for people, or JSON lines on stdout).
    pub progress: ProgressMode,
    /// The daemon's address (`unix:///run/berth.sock`): Berth's own endpoints (routes) are called on it directly.
    pub host: String,
}

/// A container of this project, from its labels.
#[derive(Debug, Clone)]
pub struct ProjectContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub running: bool,
    pub config_hash: String,
    pub summary: ContainerSummary,
}

impl ProjectContainer {
    /// `web_1`: the log prefix and what `ps` shows beside the full name.
    pub fn short_name(&self) -> String {
        format!("{}_{}", self.service, self.number)
    }
}

impl Session {
    pub fn connect(host: Option<&str>, loaded: LoadedProject) -> anyhow::Result<Session> {
        let host = host.map(str::to_string).or_else(|| std::env::var("DOCKER_HOST").ok());
        let host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
        let docker = Docker::connect_with_host(&host).with_context(|| format!("connect to the daemon at {host}"))?;
        Ok(Session {
            docker,
            project: loaded.project,
            working_dir: loaded.working_dir,
            config_files: loaded.config_files,
            progress: ProgressMode::default(),
            host,
        })
    }

    /// `<project>_<service>_<n>`, as docker-compose 1.29 names them.
    pub fn container_name(&self, service: &str, number: u32) -> String {
        format!("{}_{}_{}", self.project.name, service, number)
    }

    /// The image a service runs: its `image:`, or `<project>_<service>` for one built from `build:` alone.
    pub fn image_name(&self, service: &str) -> String {
        match self.project.services.get(service).and_then(|definition| definition.image.clone()) {
            Some(image) => image,
            None => format!("{}_{}", self.project.name, service),
        }
    }

    /// The labels every resource of this project carries.
    pub fn project_labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_PROJECT.to_string(), self.project.name.clone()),
            (LABEL_VERSION.to_string(), COMPOSE_VERSION.to_string()),
        ])
    }

    /// The labels of a container of `service`.
    pub fn container_labels(&self, service: &str, number: u32, oneoff: bool) -> HashMap<String, String> {
        let mut labels = self.project_labels();
        let config_files: Vec<String> = self.config_files.iter().map(|file| file.display().to_string()).collect();
        labels.extend([
            (LABEL_SERVICE.to_string(), service.to_string()),
            (LABEL_CONTAINER_NUMBER.to_string(), number.to_string()),
            (LABEL_ONEOFF.to_string(), if oneoff { "True" } else { "False" }.to_string()),
            (LABEL_WORKING_DIR.to_string(), self.working_dir.display().to_string()),
            (LABEL_CONFIG_FILES.to_string(), config_files.join(",")),
            (LABEL_CONFIG_HASH.to_string(), self.project.config_hash(service).unwrap_or_default()),
        ]);
        labels
    }

    /// The project's containers (one-off ones only when asked), running or not, ordered by service then number;
    /// limited to `services` unless it is empty.
    pub async fn containers(&self, services: &[String], oneoff: bool) -> anyhow::Result<Vec<ProjectContainer>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_PROJECT}={}", self.project.name),
                format!("{LABEL_ONEOFF}={}", if oneoff { "True" } else { "False" }),
            ],
        )]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        let summaries = self.docker.list_containers(Some(options)).await.context("list the project's containers")?;
        let mut containers: Vec<ProjectContainer> = summaries
            .into_iter()
            .filter_map(|summary| {
                let labels = summary.labels.clone().unwrap_or_default();
                let service = labels.get(LABEL_SERVICE)?.clone();
                let number = labels.get(LABEL_CONTAINER_NUMBER).and_then(|number| number.parse().ok()).unwrap_or(1);
                let name = summary
                    .names
                    .as_ref()
                    .and_then(|names| names.first())
                    .map(|name| name.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                Some(ProjectContainer {
                    id: summary.id.clone()?,
                    name,
                    service,
                    number,
                    running: matches!(
                        summary.state,
                        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING)
                    ),
                    config_hash: labels.get(LABEL_CONFIG_HASH).cloned().unwrap_or_default(),
                    summary,
                })
            })
            .filter(|container| services.is_empty() || services.contains(&container.service))
            .collect();
        containers.sort_by(|left, right| (&left.service, left.number).cmp(&(&right.service, right.number)));
        Ok(containers)
    }

    /// Fails on a service name the project does not define.
    pub fn check_services(&self, services: &[String]) -> anyhow::Result<()> {
        for service in services {
            if !self.project.services.contains_key(service) {
                anyhow::bail!("no such service: {service}");
            }
        }
        Ok(())
    }
}

/// Whether a daemon error is a 404 (the thing is already gone).
pub fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}
