//! [`load`]: compose files in, a resolved [`Project`] (or every error, positioned) out.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;

use super::decode::{Decoder, Positions};
use super::decode_project::ProjectFile;
use super::dotenv::parse_dotenv;
use super::error::{ComposeError, Diagnostic, Severity};
use super::interpolate::interpolate_tree;
use super::merge::{merge_maps, merge_service};
use super::model::{Network, Project, Service};
use super::paths;
use super::project_name::normalize_project_name;
use super::validate::Validator;
use super::yaml;
use crate::dockerfile::span::Span;

/// Where the loader gets the files a compose file names (env_file, extends' file): the daemon reads the disk,
/// the playground its in-memory editor tabs. Paths arrive joined to the naming file's folder.
pub trait FileSource {
    /// The file's text, or `None` when there is no such file.
    fn read(&self, path: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> FileSource for F {
    fn read(&self, path: &str) -> Option<String> {
        self(path)
    }
}

/// A [`FileSource`] with no files: every env_file or extends file is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}

pub struct LoadOptions<'source> {
    /// The environment interpolation reads; it wins over `.env`.
    pub env: BTreeMap<String, String>,
    /// Overrides `COMPOSE_PROJECT_NAME`, the files' `name:` and the first file's folder name.
    pub project_name: Option<String>,
    /// Active profiles; empty means `COMPOSE_PROFILES` from the environment, if set.
    pub profiles: Vec<String>,
    /// The project's `.env` text, if it has one.
    pub dotenv: Option<String>,
    pub files: &'source dyn FileSource,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions { env: BTreeMap::new(), project_name: None, profiles: Vec::new(), dotenv: None, files: &NoFiles }
    }
}

/// A project that loaded, and what compose would have warned about on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Diagnostic>,
}

/// The `.env` file's name in diagnostics.
const DOTENV_FILE: &str = ".env";

/// Loads `files` (path, contents), later files overriding earlier ones. On failure, every diagnostic (errors and
/// warnings) is returned, errors first.
pub fn load(files: &[(&str, &str)], options: &LoadOptions<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let Some((first_file, _)) = files.first() else {
        let error = Diagnostic {
            severity: Severity::Error,
            file: String::new(),
            span: Span::default(),
            path: String::new(),
            kind: ComposeError::NoFiles,
        };
        return Err(vec![error]);
    };
    let mut diagnostics = Vec::new();
    let variables = variables(options, &mut diagnostics);
    let lookup = |name: &str| variables.get(name).cloned();
    let mut loader = Loader {
        lookup: &lookup,
        files: options.files,
        diagnostics,
        positions: Positions::default(),
        decoded: HashMap::new(),
    };
    for (path, contents) in files {
        if !loader.decoded.contains_key(*path) {
            loader.decode_file(path, contents, true);
        }
    }

    let mut project = Project::default();
    let mut defined: IndexMap<String, Service> = IndexMap::new();
    let mut name_from_files = None;
    for (path, _) in files {
        let service_names: Vec<String> = match loader.decoded.get(*path) {
            Some(Some(file)) => file.services.keys().cloned().collect(),
            _ => continue,
        };
        for name in service_names {
            let Some(service) = loader.resolve_service(path, &name, &mut vec![format!("{name} ({path})")]) else {
                continue;
            };
            match defined.get_mut(&name) {
                Some(existing) => merge_service(existing, service),
                None => {
                    defined.insert(name, service);
                }
            }
        }
        if let Some(Some(file)) = loader.decoded.get_mut(*path) {
            merge_maps(&mut project.networks, core::mem::take(&mut file.networks));
            merge_maps(&mut project.volumes, core::mem::take(&mut file.volumes));
            merge_maps(&mut project.secrets, core::mem::take(&mut file.secrets));
            merge_maps(&mut project.configs, core::mem::take(&mut file.configs));
            if file.name.is_some() {
                name_from_files = file.name.clone();
            }
        }
    }
    let Loader { mut diagnostics, positions, .. } = loader;

    let requested_name = options
        .project_name
        .clone()
        .or_else(|| lookup("COMPOSE_PROJECT_NAME"))
        .or(name_from_files)
        .unwrap_or_else(|| folder_name(first_file));
    match normalize_project_name(&requested_name) {
        Ok(name) => project.name = name,
        Err(error) => {
            let location = positions.get("name");
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                file: location.map_or_else(|| first_file.to_string(), |location| location.file.clone()),
                span: location.map(|location| location.span).unwrap_or_default(),
                path: "name".to_string(),
                kind: error,
            });
        }
    }

    let active_profiles = if options.profiles.is_empty() {
        lookup("COMPOSE_PROFILES")
            .map(|profiles| profiles.split(',').map(|profile| profile.trim().to_string()).collect())
            .unwrap_or_default()
    } else {
        options.profiles.clone()
    };
    project.services = defined
        .iter()
        .filter(|(_, service)| is_active(service, &active_profiles))
        .map(|(name, service)| (name.clone(), service.clone()))
        .collect();
    apply_defaults(&mut project);

    Validator { positions: &positions, diagnostics: &mut diagnostics }.check(&project, &defined);

    let diagnostics = deduplicate_unset_variables(diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        let (mut errors, warnings): (Vec<_>, Vec<_>) = diagnostics.into_iter().partition(Diagnostic::is_error);
        errors.extend(warnings);
        return Err(errors);
    }
    Ok(Loaded { project, warnings: diagnostics })
}

/// `.env` values, overridden by the caller's environment (compose gives the shell's environment precedence).
fn variables(options: &LoadOptions<'_>, diagnostics: &mut Vec<Diagnostic>) -> HashMap<String, String> {
    let mut variables = HashMap::new();
    if let Some(dotenv) = &options.dotenv {
        let environment = |name: &str| options.env.get(name).cloned();
        match parse_dotenv(dotenv, &environment) {
            Ok(parsed) => {
                variables.extend(parsed.into_iter().filter_map(|(name, value)| Some((name, value?))));
            }
            Err(error) => diagnostics.push(Diagnostic {
                severity: Severity::Error,
                file: DOTENV_FILE.to_string(),
                span: Span::new(error.position, error.position),
                path: String::new(),
                kind: error.error,
            }),
        }
    }
    variables.extend(options.env.iter().map(|(name, value)| (name.clone(), value.clone())));
    variables
}

/// The folder name of the first compose file, compose's default project name.
fn folder_name(file: &str) -> String {
    let folder = paths::parent(file);
    let name = folder.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        "default".to_string()
    } else {
        name.to_string()
    }
}

/// A service without profiles is always active; one with profiles only when one of them is (`*` enables all).
fn is_active(service: &Service, active_profiles: &[String]) -> bool {
    service.profiles.is_empty()
        || active_profiles.iter().any(|profile| profile == "*" || service.profiles.contains(profile))
}

/// What compose fills in: services without networks join `default`, and networks and volumes get the names
/// the engine will know them by.
fn apply_defaults(project: &mut Project) {
    let mut uses_default = false;
    for service in project.services.values_mut() {
        if service.networks.is_empty() && service.network_mode.is_none() {
            service.networks.insert("default".to_string(), Default::default());
        }
        uses_default |= service.networks.contains_key("default");
    }
    if uses_default && !project.networks.contains_key("default") {
        project.networks.insert("default".to_string(), Network::default());
    }
    let project_name = project.name.clone();
    let engine_name = |key: &str, external: bool| {
        if external {
            key.to_string()
        } else {
            format!("{project_name}_{key}")
        }
    };
    for (key, network) in &mut project.networks {
        if network.name.is_none() {
            network.name = Some(engine_name(key, network.external));
        }
    }
    for (key, volume) in &mut project.volumes {
        if volume.name.is_none() {
            volume.name = Some(engine_name(key, volume.external));
        }
    }
}

/// Compose warns once per unset variable, however often it is used.
fn deduplicate_unset_variables(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = Vec::new();
    diagnostics
        .into_iter()
        .filter(|diagnostic| match &diagnostic.kind {
            ComposeError::VariableNotSet(name) => {
                if seen.contains(name) {
                    false
                } else {
                    seen.push(name.clone());
                    true
                }
            }
            _ => true,
        })
        .collect()
}

/// The state shared by the steps of one load.
pub(crate) struct Loader<'load> {
    pub(crate) lookup: &'load dyn Fn(&str) -> Option<String>,
    pub(crate) files: &'load dyn FileSource,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Positions in the files given to [`load`]; files read only for `extends` keep theirs apart, so their
    /// paths (`services.base...`) cannot shadow the main files'.
    pub(crate) positions: Positions,
    /// Every file decoded so far, by path; `None` when it did not parse.
    pub(crate) decoded: HashMap<String, Option<ProjectFile>>,
}

impl Loader<'_> {
    /// Parses, interpolates and decodes one file, keeping the result in `decoded`.
    pub(crate) fn decode_file(&mut self, path: &str, contents: &str, main_file: bool) {
        let mut tree = match yaml::parse(contents) {
            Ok(tree) => tree,
            Err(error) => {
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: path.to_string(),
                    span: error.span,
                    path: String::new(),
                    kind: error.error,
                });
                self.decoded.insert(path.to_string(), None);
                return;
            }
        };
        let mut findings = Vec::new();
        interpolate_tree(&mut tree, "", self.lookup, &mut findings);
        for finding in findings {
            let severity = match finding.error {
                ComposeError::VariableNotSet(_) => Severity::Warning,
                _ => Severity::Error,
            };
            self.diagnostics.push(Diagnostic {
                severity,
                file: path.to_string(),
                span: finding.span,
                path: finding.path,
                kind: finding.error,
            });
        }
        let mut extends_positions = Positions::default();
        let positions = if main_file { &mut self.positions } else { &mut extends_positions };
        let mut decoder = Decoder {
            file: path.to_string(),
            base_dir: paths::parent(path).to_string(),
            diagnostics: &mut self.diagnostics,
            positions,
            files: self.files,
            lookup: self.lookup,
        };
        let file = decoder.project_file(&tree);
        self.decoded.insert(path.to_string(), Some(file));
    }
}
