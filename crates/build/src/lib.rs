//! The builder: runs a Dockerfile against a build context and produces an image, the way Docker's legacy
//! builder does (`POST /build`), reporting typed [`BuildEvent`]s as it goes.
//!
//! - [`context`]: where the files come from (tar stream, directory, archive, git), with `.dockerignore`.
//! - `dockerignore`: moby's pattern semantics.
//! - `executor`: stages and steps; RUN in real containers, COPY/ADD/WORKDIR through a container's mounted root.
//! - `copy`: COPY/ADD on the filesystem, sources confined to the context.
//! - `cache`: cache keys and the on-disk index; [`cache_usage`]: its records for `docker system df` and
//!   `docker builder prune`; `image_meta`: SHELL/ONBUILD/HEALTHCHECK and Dockerfile lines,
//!   which the OCI image config has no field for.
//! - `progress`: the event channel; [`jobs`]: builds that run detached from a request, their events recorded
//!   for any number of readers.
//! - `predict`: which steps the cache would answer, walked with the executor's own keys.
//! - [`error`]: the [`BuildError`] type.

mod cache;
pub mod cache_usage;
pub mod context;
mod copy;
pub mod dockerignore;
pub mod error;
mod executor;
pub mod jobs;
mod predict;
mod progress;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use berth_shared::api::build::BuildEvent;

pub use cache_usage::CachePruneOptions;
pub use context::{BuildContext, ContextSource};
pub use copy::CopyError;
pub use dockerignore::IgnoreRules;
pub use error::BuildError;
pub use jobs::{BuildJob, BuildJobs, BuildTotals};
pub use predict::predict;
pub use progress::Progress;

use berth_engine::Engine;
use berth_image::reference::Reference;

/// What `docker build` asks for.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// `-t`, repeatable.
    pub tags: Vec<String>,
    /// `--build-arg NAME=value`; `None` when given without a value and unset in the client's environment.
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    /// `--target`: the last stage to build.
    pub target: Option<String>,
    /// `--rm` (default true): remove intermediate containers after a successful step.
    pub remove: bool,
    /// `--force-rm`: remove them even when the step fails.
    pub force_remove: bool,
    /// `--pull`: pull every FROM image, even one the daemon has.
    pub pull: bool,
    /// `--add-host NAME:IP`: lines RUN steps find in /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `--network`: the network RUN steps are on (a RUN's own `--network` flag wins).
    pub network_mode: Option<String>,
    /// `--cache-from`: when given, a cache hit counts only if it is one of these images or in their history, as
    /// in dockerd's classic builder.
    pub cache_from: Vec<String>,
    /// The tenant (a session) the build is for: its step containers are the tenant's (its cgroup group, its
    /// quotas), its images and tags too, and its RUN steps share no cache with anyone else's.
    pub owner: Option<String>,
}

impl BuildOptions {
    /// Where the build's names are looked up and its results go.
    pub fn scope(&self) -> berth_engine::Scope<'_> {
        berth_engine::Scope::of(self.owner.as_deref())
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            dockerfile: "Dockerfile".into(),
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            no_cache: false,
            target: None,
            remove: true,
            force_remove: false,
            pull: false,
            extra_hosts: Vec::new(),
            network_mode: None,
            cache_from: Vec::new(),
            owner: None,
        }
    }
}

/// `<root>/build`: the cache index, image metadata and temporary contexts.
pub fn build_dir(engine: &Engine) -> PathBuf {
    engine.build_dir()
}

/// Where contexts are materialised.
pub fn work_dir(engine: &Engine) -> PathBuf {
    build_dir(engine).join("tmp")
}

/// Build contexts and scratch roots (`<root>/build/tmp/context-*`, `scratch-*`) of builds the old daemon was
/// running: no build survives a restart. Nothing is mounted there, but an entry with a mount under it is left
/// alone rather than deleted through.
pub fn remove_leftovers(engine: &Engine) {
    let Ok(work) = work_dir(engine).canonicalize() else { return };
    let Ok(entries) = std::fs::read_dir(&work) else { return };
    let mounts = berth_fs::mount_table::mount_points();
    for entry in entries.flatten() {
        let path = entry.path();
        if mounts.iter().any(|point| point.starts_with(&path)) {
            tracing::warn!(dir = %path.display(), "a build leftover has a mount under it; not removing it");
            continue;
        }
        if let Err(err) = std::fs::remove_dir_all(&path) {
            tracing::warn!(dir = %path.display(), %err, "cannot remove a build leftover");
        }
    }
}

/// Materialises a context from a directory, archive or git URL (blocking work on a blocking thread).
pub async fn open_context(engine: &Engine, source: ContextSource) -> Result<BuildContext, BuildError> {
    let work = work_dir(engine);
    tokio::task::spawn_blocking(move || BuildContext::from_source(&work, &source))
        .await
        .map_err(|e| BuildError::io("build context", std::io::Error::other(e)))?
}

/// Builds and tags; returns the image ID. Every outcome is also reported on `progress`, ending with `Built` (and
/// `Tagged`s) or `Failed`. A failed build tags nothing.
pub async fn build(
    engine: &Arc<Engine>,
    context: &BuildContext,
    options: &BuildOptions,
    progress: &Progress,
) -> Result<String, BuildError> {
    let mut executor = executor::Executor::new(engine, context.root(), options, progress);
    let result = match &options.owner {
        Some(tenant) => match engine.check_tenant_disk(tenant).await {
            Ok(()) => run(engine, context, options, progress, &mut executor).await,
            Err(error) => Err(error.into()),
        },
        None => run(engine, context, options, progress, &mut executor).await,
    };
    if let Err(error) = &result {
        let last_image_id = executor.last_image.clone();
        let message = match (&last_image_id, error) {
            (Some(id), error) if error.is_step_failure() => {
                format!("{error} (last successful step: {})", berth_image::short_id(id))
            }
            _ => error.to_string(),
        };
        tracing::info!(%message, "build failed");
        progress.emit(BuildEvent::Failed { message, line: error.line(), last_image_id, code: error.exit_code() });
    }
    result
}

async fn run(
    engine: &Arc<Engine>,
    context: &BuildContext,
    options: &BuildOptions,
    progress: &Progress,
    executor: &mut executor::Executor<'_>,
) -> Result<String, BuildError> {
    // Tags are checked before anything runs, as Docker does.
    let mut tags = Vec::new();
    for tag in &options.tags {
        tags.push(Reference::parse(tag)?.familiar_tagged());
    }
    std::fs::create_dir_all(work_dir(engine)).map_err(|e| BuildError::io("create build dir", e))?;
    let text = context.prepare(&options.dockerfile)?;
    let dockerfile = berth_shared::dockerfile::parse(&text)?;
    let image = executor.execute(&dockerfile).await?;
    if let Some(tenant) = &options.owner {
        engine.record_tenant_image(tenant, &image.id)?;
    }
    progress.emit(BuildEvent::Built { image_id: image.id.clone() });
    for tag in tags {
        engine.tag_image_in(options.scope(), &image.id, &tag)?;
        progress.emit(BuildEvent::Tagged { tag });
    }
    tracing::info!(id = %image.id, "build finished");
    Ok(image.id)
}
