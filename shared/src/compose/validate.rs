//! Checks across the merged project: every service has an image or a build, every service, network, volume,
//! secret and config that a service names exists, and no service waits for itself through a cycle. Each finding
//! points at the line that wrote the reference (through the recorded [`Positions`]).

use indexmap::IndexMap;

use super::decode::Positions;
use super::error::{ComposeError, Diagnostic, Severity};
use super::model::{MountType, Project, Service};
use super::order::{service_dependencies, Relation};

pub(crate) struct Validator<'check> {
    pub(crate) positions: &'check Positions,
    pub(crate) diagnostics: &'check mut Vec<Diagnostic>,
}

impl Validator<'_> {
    fn report(&mut self, severity: Severity, path: String, kind: ComposeError) {
        let (file, span) = match self.positions.nearest(&path) {
            Some(location) => (location.file.clone(), location.span),
            None => (String::new(), Default::default()),
        };
        self.diagnostics.push(Diagnostic { severity, file, span, path, kind });
    }

    /// `defined` holds every service of the files, including those whose profiles are not active.
    pub(crate) fn check(&mut self, project: &Project, defined: &IndexMap<String, Service>) {
        for (name, service) in &project.services {
            let service_path = format!("services.{name}");
            if service.image.is_none() && service.build.is_none() {
                self.report(
                    Severity::Error,
                    service_path.clone(),
                    ComposeError::InvalidValue {
                        value: name.clone(),
                        reason: "service has neither an image nor a build context specified".to_string(),
                    },
                );
            }
            for (target, relation, suffix) in service_dependencies(service) {
                if project.services.contains_key(&target) {
                    continue;
                }
                let path = format!("{service_path}.{suffix}");
                let optional = relation == Relation::DependsOn
                    && service.depends_on.get(&target).is_some_and(|dependency| !dependency.required);
                let (severity, kind) = if defined.contains_key(&target) {
                    let kind =
                        ComposeError::InactiveService { service: name.clone(), relation: relation.verb(), target };
                    (if optional { Severity::Warning } else { Severity::Error }, kind)
                } else {
                    let kind =
                        ComposeError::UndefinedService { service: name.clone(), relation: relation.verb(), target };
                    (if optional { Severity::Warning } else { Severity::Error }, kind)
                };
                self.report(severity, path, kind);
            }
            for network in service.networks.keys() {
                if !project.networks.contains_key(network) {
                    self.undefined(name, format!("{service_path}.networks.{network}"), "network", network);
                }
            }
            for (index, volume) in service.volumes.iter().enumerate() {
                if let (MountType::Volume, Some(source)) = (volume.mount_type, &volume.source) {
                    if !project.volumes.contains_key(source) {
                        self.undefined(name, format!("{service_path}.volumes[{index}]"), "volume", source);
                    }
                }
            }
            for (index, secret) in service.secrets.iter().enumerate() {
                if !project.secrets.contains_key(&secret.source) {
                    self.undefined(name, format!("{service_path}.secrets[{index}]"), "secret", &secret.source);
                }
            }
            for (index, config) in service.configs.iter().enumerate() {
                if !project.configs.contains_key(&config.source) {
                    self.undefined(name, format!("{service_path}.configs[{index}]"), "config", &config.source);
                }
            }
        }
        if let Err(ComposeError::DependencyCycle(cycle)) = project.startup_order() {
            let path = cycle_edge_path(project, &cycle);
            self.report(Severity::Error, path, ComposeError::DependencyCycle(cycle));
        }
    }

    fn undefined(&mut self, service: &str, path: String, kind: &'static str, name: &str) {
        let error = ComposeError::UndefinedResource { service: service.to_string(), kind, name: name.to_string() };
        self.report(Severity::Error, path, error);
    }
}

/// The path of the entry by which the cycle's first service waits for the second.
fn cycle_edge_path(project: &Project, cycle: &[String]) -> String {
    let (Some(first), Some(second)) = (cycle.first(), cycle.get(1)) else { return String::new() };
    let suffix = project
        .services
        .get(first)
        .and_then(|service| {
            service_dependencies(service).into_iter().find(|(target, _, _)| target == second).map(|(_, _, path)| path)
        })
        .unwrap_or_default();
    if suffix.is_empty() {
        format!("services.{first}")
    } else {
        format!("services.{first}.{suffix}")
    }
}
