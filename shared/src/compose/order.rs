//! Which services must start before which: `depends_on`, `links`, `volumes_from` and `network_mode: service:x`
//! all make a service wait for another, as in compose. Startup order is a depth-first topological order that
//! follows declaration order, so it is the same on every run.

use super::error::ComposeError;
use super::model::{Project, Service};

/// Why a service waits for another, worded for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    DependsOn,
    Links,
    VolumesFrom,
    NetworkMode,
}

impl Relation {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Relation::DependsOn => "depends on",
            Relation::Links => "links to",
            Relation::VolumesFrom => "uses volumes from",
            Relation::NetworkMode => "uses the network stack of",
        }
    }
}

/// The services `service` waits for, with the relation and the path suffix of the entry that says so.
pub(crate) fn service_dependencies(service: &Service) -> Vec<(String, Relation, String)> {
    let mut dependencies = Vec::new();
    for name in service.depends_on.keys() {
        dependencies.push((name.clone(), Relation::DependsOn, format!("depends_on.{name}")));
    }
    for (index, link) in service.links.iter().enumerate() {
        let name = link.split(':').next().unwrap_or(link);
        dependencies.push((name.to_string(), Relation::Links, format!("links[{index}]")));
    }
    for (index, source) in service.volumes_from.iter().enumerate() {
        if source.starts_with("container:") {
            continue;
        }
        let name = source.split(':').next().unwrap_or(source);
        dependencies.push((name.to_string(), Relation::VolumesFrom, format!("volumes_from[{index}]")));
    }
    if let Some(name) = service.network_mode.as_deref().and_then(|mode| mode.strip_prefix("service:")) {
        dependencies.push((name.to_string(), Relation::NetworkMode, "network_mode".to_string()));
    }
    dependencies
}

impl Project {
    /// The names of the services `name` waits for that exist in the project, in declaration order, once each.
    pub fn dependencies(&self, name: &str) -> Vec<&str> {
        let Some(service) = self.services.get(name) else { return Vec::new() };
        let mut result: Vec<&str> = Vec::new();
        for (dependency, _, _) in service_dependencies(service) {
            if let Some((key, _)) = self.services.get_key_value(dependency.as_str()) {
                if !result.contains(&key.as_str()) {
                    result.push(key.as_str());
                }
            }
        }
        result
    }

    /// Every service after the services it waits for; ties keep declaration order. A cycle is an error naming it.
    pub fn startup_order(&self) -> Result<Vec<&str>, ComposeError> {
        let names: Vec<&str> = self.services.keys().map(String::as_str).collect();
        let dependencies_of = |index: usize| -> Vec<usize> {
            self.dependencies(names[index]).into_iter().filter_map(|name| self.services.get_index_of(name)).collect()
        };
        let mut order = Vec::with_capacity(names.len());
        let mut state = vec![Visit::New; names.len()];
        // Depth-first with an explicit stack: a long depends_on chain must not overflow the call stack.
        let mut stack: Vec<(usize, Vec<usize>, usize)> = Vec::new();
        for root in 0..names.len() {
            if state[root] != Visit::New {
                continue;
            }
            state[root] = Visit::InProgress;
            stack.push((root, dependencies_of(root), 0));
            while let Some((index, dependencies, next)) = stack.last_mut() {
                let Some(&dependency) = dependencies.get(*next) else {
                    state[*index] = Visit::Done;
                    order.push(names[*index]);
                    stack.pop();
                    continue;
                };
                *next += 1;
                match state[dependency] {
                    Visit::Done => {}
                    Visit::InProgress => {
                        let start = stack.iter().position(|(entry, _, _)| *entry == dependency).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[start..].iter().map(|(entry, _, _)| names[*entry].to_string()).collect();
                        cycle.push(names[dependency].to_string());
                        return Err(ComposeError::DependencyCycle(cycle));
                    }
                    Visit::New => {
                        state[dependency] = Visit::InProgress;
                        stack.push((dependency, dependencies_of(dependency), 0));
                    }
                }
            }
        }
        Ok(order)
    }

    /// Each service with its depth, in startup order: 0 for a service that depends on nothing, else one more than
    /// its deepest dependency. Services of one depth do not depend on each other, so `down` stops them together,
    /// the deepest first.
    pub fn startup_depths(&self) -> Result<Vec<(&str, usize)>, ComposeError> {
        let order = self.startup_order()?;
        let mut depths: Vec<(&str, usize)> = Vec::with_capacity(order.len());
        for name in order {
            let depth = self
                .dependencies(name)
                .into_iter()
                .filter_map(|dependency| {
                    depths.iter().find(|(done, _)| *done == dependency).map(|(_, depth)| depth + 1)
                })
                .max()
                .unwrap_or(0);
            depths.push((name, depth));
        }
        Ok(depths)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    InProgress,
    Done,
}
