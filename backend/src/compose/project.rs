//! The I/O side of loading a project: which files, their text, the project's `.env` and the environment, handed
//! to `berth_shared::compose::load`; its diagnostics printed as `file:line:col: error: path: message`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_shared::compose::{load, LoadOptions, Project};

/// Files `compose` looks for in the current directory when no -f or COMPOSE_FILE names one, in compose's order.
const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// A resolved project and where it came from (for the working_dir and config_files labels).
pub struct LoadedProject {
    pub project: Project,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
}

pub fn load_project(
    files: &[PathBuf],
    project_name: Option<&str>,
    profiles: &[String],
) -> anyhow::Result<LoadedProject> {
    let current_dir = std::env::current_dir().context("the current directory")?;
    let config_files = compose_files(files, &current_dir)?;
    let working_dir = config_files
        .first()
        .and_then(|file| file.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| current_dir.clone());
    let mut texts = Vec::new();
    for file in &config_files {
        let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
        texts.push((file.display().to_string(), text));
    }
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let dotenv = std::fs::read_to_string(working_dir.join(".env")).ok();
    let read_file = |path: &str| std::fs::read_to_string(path).ok();
    let options = LoadOptions {
        env,
        project_name: project_name.map(str::to_string),
        profiles: profiles.to_vec(),
        dotenv,
        files: &read_file,
    };
    let file_refs: Vec<(&str, &str)> = texts.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    match load(&file_refs, &options) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            Ok(LoadedProject { project: loaded.project, working_dir, config_files })
        }
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            let errors = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count();
            anyhow::bail!("the compose files have {errors} error(s)")
        }
    }
}

/// -f files, else COMPOSE_FILE (split on `:`), else the first default file in the current directory; absolute, so
/// that bind mounts and build contexts resolve against the file's folder.
fn compose_files(files: &[PathBuf], current_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let named: Vec<PathBuf> = if !files.is_empty() {
        files.to_vec()
    } else if let Ok(list) = std::env::var("COMPOSE_FILE") {
        list.split(':').filter(|part| !part.is_empty()).map(PathBuf::from).collect()
    } else {
        let found = DEFAULT_FILES.iter().map(|name| current_dir.join(name)).find(|path| path.is_file());
        match found {
            Some(path) => vec![path],
            None => anyhow::bail!(
                "no compose file in {} (looked for {}); name one with -f",
                current_dir.display(),
                DEFAULT_FILES.join(", ")
            ),
        }
    };
    Ok(named.into_iter().map(|path| if path.is_absolute() { path } else { current_dir.join(path) }).collect())
}
