//! Executing a Dockerfile, one instruction at a time: every instruction produces an image (kept, untagged, so a
//! failed build can be debugged from the last good step), RUN in a real container, COPY/ADD/WORKDIR through a
//! container's mounted root, metadata instructions as a new config with an `empty_layer` history entry. Each step is
//! looked up in the build cache first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use berth_shared::api::build::{BuildEvent, OutputStream};
use berth_shared::dockerfile::{
    self, print, substitute_with_escape, ArgDeclaration, Command, CommandLine, CopyCommand, Dockerfile, Healthcheck,
    Instruction, NetworkMode, SecurityMode, Stage,
};
use bollard_stubs::models::{ContainerCreateBody, HealthConfig, HostConfig};
use oci_spec::image::Config;
use sha2::{Digest, Sha256};

use super::cache::{cache_key, hash_tree, BuildCache};
use super::copy::{self, CopyError, Ownership};
use super::error::BuildError;
use super::progress::{Progress, Utf8Chunker};
use super::BuildOptions;
use berth_engine::{Engine, EngineError, Output, StreamKind, WaitCondition};
use berth_fs::id_shift::IdShift;
use berth_image::archive::clean_abs;
use berth_image::{HistoryEntry, Image, ImageConfigChanges};
use berth_image::{ImageMeta, MetaStore};

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Build arguments Docker accepts without an ARG, and never warns about.
const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn join_error(error: tokio::task::JoinError) -> BuildError {
    BuildError::io("build task", std::io::Error::other(error))
}

/// What one step produced.
struct StepOutcome {
    image_id: String,
    cached: bool,
    layer_size: Option<u64>,
}

/// The state of the stage being built.
struct StageState {
    image: Option<Image>,
    meta: ImageMeta,
    /// ARGs declared in this stage and their values.
    args: BTreeMap<String, Option<String>>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
}

impl StageState {
    fn config(&self) -> Config {
        self.image.as_ref().and_then(|image| image.config.config().clone()).unwrap_or_default()
    }

    fn parent_id(&self) -> Option<&str> {
        self.image.as_ref().map(|image| image.id.as_str())
    }

    fn shell(&self) -> Vec<String> {
        self.meta.shell.clone().unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
    }

    /// The values variables expand to: ARGs, overridden by ENV.
    fn variables(&self) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> =
            self.args.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone()))).collect();
        for pair in self.config().env().clone().unwrap_or_default() {
            if let Some((key, value)) = pair.split_once('=') {
                vars.insert(key.to_string(), value.to_string());
            }
        }
        vars
    }

    /// Build arguments that a RUN sees in its environment: declared, with a value, not shadowed by ENV.
    fn run_args(&self) -> Vec<(String, String)> {
        let env: Vec<String> = self.config().env().clone().unwrap_or_default();
        self.args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .filter(|(k, _)| !env.iter().any(|e| e.split('=').next() == Some(k.as_str())))
            .collect()
    }
}

/// A finished stage, for `FROM <stage>` and `COPY --from=<stage>`.
struct FinishedStage {
    name: Option<String>,
    image: Option<Image>,
}

/// A root filesystem to change: a container's mounted overlay (its upper dir becomes the layer), or an empty
/// directory for a step on `scratch`.
struct Workspace {
    container: Option<String>,
    rootfs: PathBuf,
    upper: PathBuf,
    temp: Option<PathBuf>,
    /// The container's user namespace ids (`--userns-remap`): what is written in is shifted, the layer unshifted.
    ids: Option<IdShift>,
}

pub(super) struct Executor<'a> {
    engine: &'a Arc<Engine>,
    context: &'a Path,
    options: &'a BuildOptions,
    progress: &'a Progress,
    cache: BuildCache,
    metas: MetaStore,
    work: PathBuf,
    escape: char,
    step: usize,
    total: usize,
    stages: Vec<FinishedStage>,
    meta_args: BTreeMap<String, Option<String>>,
    consumed: BTreeSet<String>,
    /// The last image a step produced, named in failure messages.
    pub(super) last_image: Option<String>,
    /// Walk without running: a cache hit moves on as in a build, a miss stops with [`BuildError::WouldRun`]
    /// before anything is created (the cache prediction, `predict.rs`).
    predict_only: bool,
}

impl<'a> Executor<'a> {
    pub(super) fn new(
        engine: &'a Arc<Engine>,
        context: &'a Path,
        options: &'a BuildOptions,
        progress: &'a Progress,
    ) -> Executor<'a> {
        let build_dir = super::build_dir(engine);
        Executor {
            engine,
            context,
            options,
            progress,
            cache: BuildCache::new(&build_dir),
            metas: MetaStore::new(&build_dir),
            work: build_dir.join("tmp"),
            escape: '\\',
            step: 0,
            total: 0,
            stages: Vec::new(),
            meta_args: BTreeMap::new(),
            consumed: BTreeSet::new(),
            last_image: None,
            predict_only: false,
        }
    }

    /// An executor that only looks steps up in the cache (see `predict_only`).
    pub(super) fn predicting(
        engine: &'a Arc<Engine>,
        context: &'a Path,
        options: &'a BuildOptions,
        progress: &'a Progress,
    ) -> Executor<'a> {
        Executor { predict_only: true, ..Executor::new(engine, context, options, progress) }
    }

    /// Runs the whole Dockerfile; returns the final image (untagged: the caller tags it).
    pub(super) async fn execute(&mut self, dockerfile: &Dockerfile) -> Result<Image, BuildError> {
        self.escape = dockerfile.escape;
        let stages = dockerfile.stages();
        let last = target_stage(&stages, self.options)?;
        let meta_instructions: Vec<&Instruction> = dockerfile.meta_args().collect();
        self.total = plan(dockerfile, self.options)?.len();

        for instruction in meta_instructions {
            let started = self.begin_step(instruction, 0);
            if let Command::Arg(declarations) = &instruction.command {
                for declaration in declarations {
                    self.declare_meta_arg(declaration, instruction.span.start.line)?;
                }
            }
            self.end_step(started, StepOutcome { image_id: String::new(), cached: false, layer_size: None });
        }
        for (index, stage) in stages[..=last].iter().enumerate() {
            self.run_stage(stage, index == last).await?;
        }

        let unused: Vec<&str> = self
            .options
            .build_args
            .keys()
            .filter(|name| !self.consumed.contains(*name) && !PREDEFINED_ARGS.contains(&name.as_str()))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            self.progress.emit(BuildEvent::Warning {
                message: format!("One or more build-args [{}] were not consumed", unused.join(" ")),
            });
        }
        self.stages
            .get(last)
            .and_then(|stage| stage.image.clone())
            .ok_or_else(|| BuildError::Context("No image was generated. Is your Dockerfile empty?".into()))
    }

    fn begin_step(&mut self, instruction: &Instruction, stage: usize) -> Instant {
        self.step += 1;
        self.progress.emit(BuildEvent::Step {
            number: self.step,
            total: self.total,
            instruction: print::instruction_line(instruction),
            line: Some(instruction.span.start.line),
            stage,
        });
        Instant::now()
    }

    fn end_step(&mut self, started: Instant, outcome: StepOutcome) {
        if !outcome.image_id.is_empty() {
            self.last_image = Some(outcome.image_id.clone());
        }
        self.progress.emit(BuildEvent::StepDone {
            number: self.step,
            image_id: outcome.image_id,
            cached: outcome.cached,
            duration_ms: started.elapsed().as_millis() as u64,
            layer_size: outcome.layer_size,
        });
    }

    fn declare_meta_arg(&mut self, declaration: &ArgDeclaration, line: usize) -> Result<(), BuildError> {
        let vars: HashMap<String, String> =
            self.meta_args.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect();
        let name = self.expand(&declaration.name.raw, &vars, line)?;
        let default = match &declaration.default {
            Some(word) => Some(self.expand(&word.raw, &vars, line)?),
            None => None,
        };
        let value = match self.options.build_args.get(&name) {
            Some(Some(value)) => Some(value.clone()),
            _ => default,
        };
        if self.options.build_args.contains_key(&name) {
            self.consumed.insert(name.clone());
        }
        self.meta_args.insert(name, value);
        Ok(())
    }

    /// The image `reference` names where the build looks (its owner's scope), looked up on a blocking thread.
    async fn find_image(&self, reference: &str) -> Result<Result<Image, EngineError>, BuildError> {
        let engine = self.engine.clone();
        let reference = reference.to_string();
        let owner = self.options.owner.clone();
        tokio::task::spawn_blocking(move || engine.image_in(berth_engine::Scope::of(owner.as_deref()), &reference))
            .await
            .map_err(join_error)
    }

    /// A FROM image: the local one, or pulled when there is none (or always, with `--pull`), its progress in
    /// the build's stream as dockerd's classic builder shows it.
    async fn base_image(&self, name: &str, line: usize) -> Result<Image, BuildError> {
        if !self.options.pull {
            match self.find_image(name).await? {
                Ok(image) => return Ok(image),
                Err(EngineError::Image(berth_image::ImageError::NotFound { .. })) => {}
                Err(error) => return Err(BuildError::step(line, error.to_string())),
            }
        }
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<berth_engine::Progress>();
        let forward = {
            let progress = self.progress.clone();
            tokio::spawn(async move {
                while let Some(p) = receiver.recv().await {
                    progress.emit(BuildEvent::Pull { id: p.id, status: p.status, current: p.current, total: p.total });
                }
            })
        };
        let sink = berth_engine::ProgressSink::new(sender);
        let pulled = self.engine.pull_image(name, None, None, &sink).await;
        drop(sink);
        let _ = forward.await;
        pulled.map_err(|error| BuildError::step(line, error.to_string()))
    }

    fn expand(&self, raw: &str, vars: &HashMap<String, String>, line: usize) -> Result<String, BuildError> {
        substitute_with_escape(raw, self.escape, |name| vars.get(name).cloned())
            .map_err(|error| BuildError::step(line, error.to_string()))
    }

    async fn run_stage(&mut self, stage: &Stage<'_>, is_target: bool) -> Result<(), BuildError> {
        let from_instruction = stage.from_instruction;
        let line = from_instruction.span.start.line;
        let started = self.begin_step(from_instruction, stage.index);
        let meta_vars: HashMap<String, String> =
            self.meta_args.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect();
        let name = self.expand(&stage.from.image.raw, &meta_vars, line)?;
        if name.is_empty() {
            return Err(BuildError::step(line, "base name (FROM) should not be blank"));
        }
        let base = if name == "scratch" {
            None
        } else if let Some(previous) =
            self.stages.iter().find(|s| s.name.as_deref() == Some(name.to_ascii_lowercase().as_str()))
        {
            previous.image.clone()
        } else {
            Some(self.base_image(&name, line).await?)
        };
        let base_meta = base.as_ref().map(|image| self.metas.get(&image.id)).unwrap_or_default();
        let triggers = base_meta.on_build.clone();
        let mut state = StageState {
            image: base,
            meta: ImageMeta { on_build: Vec::new(), ..base_meta },
            args: BTreeMap::new(),
            cmd_set: false,
        };
        let image_id = state.image.as_ref().map(|i| i.id.clone()).unwrap_or_default();
        if !triggers.is_empty() {
            self.progress.emit(BuildEvent::Triggers { count: triggers.len() });
            for trigger in &triggers {
                let parsed = dockerfile::parse(&format!("FROM scratch\n{trigger}\n"))
                    .map_err(|error| BuildError::step(line, format!("invalid ONBUILD trigger {trigger:?}: {error}")))?;
                if let Some(instruction) = parsed.instructions.get(1) {
                    let outcome = self.dispatch(&mut state, instruction, line).await?;
                    self.last_image = Some(outcome.image_id);
                }
            }
        }
        let image_id = state.image.as_ref().map(|i| i.id.clone()).unwrap_or(image_id);
        self.end_step(started, StepOutcome { image_id, cached: false, layer_size: None });

        for instruction in stage.instructions {
            let started = self.begin_step(instruction, stage.index);
            let outcome = self.dispatch(&mut state, instruction, instruction.span.start.line).await?;
            self.end_step(started, outcome);
        }
        if is_target && !self.options.labels.is_empty() {
            // `docker build --label`: one more LABEL step at the end of the target stage, as moby adds it.
            let pairs: Vec<String> = self.options.labels.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
            let text = format!("LABEL {}", pairs.join(" "));
            let parsed = dockerfile::parse(&format!("FROM scratch\n{text}\n"))?;
            if let Some(instruction) = parsed.instructions.get(1) {
                self.step += 1;
                self.progress.emit(BuildEvent::Step {
                    number: self.step,
                    total: self.total,
                    instruction: text.clone(),
                    line: None,
                    stage: stage.index,
                });
                let started = Instant::now();
                let outcome = self.dispatch(&mut state, instruction, 0).await?;
                self.end_step(started, outcome);
            }
        }
        self.stages.push(FinishedStage { name: stage.name(), image: state.image });
        Ok(())
    }

    /// One instruction. `line` is the Dockerfile line errors name.
    async fn dispatch(
        &mut self,
        state: &mut StageState,
        instruction: &Instruction,
        line: usize,
    ) -> Result<StepOutcome, BuildError> {
        let known = instruction.command.known_flags();
        if let Some(flag) = instruction.flags.iter().find(|f| !known.contains(&f.name.as_str())) {
            return Err(BuildError::step(line, format!("Unknown flag: {}", flag.name)));
        }
        let vars = state.variables();
        let value = |word: &dockerfile::Word| self.expand(&word.raw, &vars, line);
        match &instruction.command {
            Command::From(_) => Err(BuildError::step(line, "FROM inside a stage")),
            Command::Run(run) => {
                if !run.mounts.is_empty() {
                    return Err(BuildError::step(line, "RUN --mount is not supported by Berth's builder"));
                }
                if run.security == Some(SecurityMode::Insecure) {
                    return Err(BuildError::step(line, "RUN --security=insecure is not supported by Berth's builder"));
                }
                let network = match run.network {
                    Some(NetworkMode::None) => Some("none"),
                    // The host's network is what a session's containers never get.
                    Some(NetworkMode::Host) if self.options.owner.is_some() => {
                        return Err(BuildError::step(line, "RUN --network=host: not allowed in a session"));
                    }
                    Some(NetworkMode::Host) => Some("host"),
                    _ => None,
                };
                let command = match &run.command {
                    CommandLine::Exec(words) => words.iter().map(|w| w.raw.clone()).collect(),
                    CommandLine::Shell(word) => {
                        let mut command = state.shell();
                        command.push(shell_script(&word.raw, &run.heredocs));
                        command
                    }
                };
                self.run(state, command, network, line).await
            }
            Command::Add(copy) => self.copy(state, copy, true, line).await,
            Command::Copy(copy) => self.copy(state, copy, false, line).await,
            Command::Workdir(word) => {
                let path = value(word)?;
                let current = state.config().working_dir().clone().unwrap_or_else(|| "/".into());
                let path = if path.starts_with('/') { path } else { format!("{current}/{path}") };
                let path = clean_abs(&path);
                self.workdir(state, path, line).await
            }
            Command::Env(pairs) => {
                let mut values = Vec::new();
                for pair in &pairs.pairs {
                    values.push((value(&pair.key)?, value(&pair.value)?));
                }
                let comment =
                    format!("ENV {}", values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
                self.commit_config(state, line, comment, move |config, _, _| {
                    let mut env = config.env().clone().unwrap_or_default();
                    for (key, val) in values {
                        let entry = format!("{key}={val}");
                        match env.iter_mut().find(|e| e.split('=').next() == Some(key.as_str())) {
                            Some(existing) => *existing = entry,
                            None => env.push(entry),
                        }
                    }
                    config.set_env(Some(env));
                })
                .await
            }
            Command::Label(pairs) => {
                let mut values = Vec::new();
                for pair in &pairs.pairs {
                    values.push((value(&pair.key)?, value(&pair.value)?));
                }
                let comment = format!(
                    "LABEL {}",
                    values.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect::<Vec<_>>().join(" ")
                );
                self.commit_config(state, line, comment, move |config, _, _| {
                    let mut labels = config.labels().clone().unwrap_or_default();
                    labels.extend(values);
                    config.set_labels(Some(labels));
                })
                .await
            }
            Command::Cmd(command_line) => {
                let command = self.command_line(state, command_line);
                state.cmd_set = true;
                let comment = format!("CMD {}", json(&command));
                self.commit_config(state, line, comment, move |config, _, _| {
                    config.set_cmd(Some(command));
                })
                .await
            }
            Command::Entrypoint(command_line) => {
                let command = self.command_line(state, command_line);
                let keep_cmd = state.cmd_set;
                let comment = format!("ENTRYPOINT {}", json(&command));
                self.commit_config(state, line, comment, move |config, _, _| {
                    config.set_entrypoint(Some(command));
                    if !keep_cmd {
                        config.set_cmd(None);
                    }
                })
                .await
            }
            Command::Expose(ports) => {
                let mut list = Vec::new();
                for port in ports {
                    for part in value(port)?.split_whitespace() {
                        list.push(if part.contains('/') { part.to_string() } else { format!("{part}/tcp") });
                    }
                }
                let comment = format!("EXPOSE {}", list.join(" "));
                self.commit_config(state, line, comment, move |config, _, _| {
                    let mut exposed = config.exposed_ports().clone().unwrap_or_default();
                    for port in list {
                        if !exposed.contains(&port) {
                            exposed.push(port);
                        }
                    }
                    config.set_exposed_ports(Some(exposed));
                })
                .await
            }
            Command::User(word) => {
                let user = value(word)?;
                let comment = format!("USER {user}");
                self.commit_config(state, line, comment, move |config, _, _| {
                    config.set_user(Some(user));
                })
                .await
            }
            Command::Volume(volume) => {
                let mut paths = Vec::new();
                for path in &volume.paths {
                    paths.push(value(path)?);
                }
                let comment = format!("VOLUME {}", json(&paths));
                self.commit_config(state, line, comment, move |config, _, _| {
                    let mut volumes = config.volumes().clone().unwrap_or_default();
                    for path in paths {
                        if !volumes.contains(&path) {
                            volumes.push(path);
                        }
                    }
                    config.set_volumes(Some(volumes));
                })
                .await
            }
            Command::StopSignal(word) => {
                let signal = value(word)?;
                let comment = format!("STOPSIGNAL {signal}");
                self.commit_config(state, line, comment, move |config, _, _| {
                    config.set_stop_signal(Some(signal));
                })
                .await
            }
            Command::Healthcheck(check) => {
                let health = match check {
                    Healthcheck::None => HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() },
                    Healthcheck::Check(check) => {
                        let test = match &check.test {
                            CommandLine::Exec(words) => {
                                let mut test = vec!["CMD".to_string()];
                                test.extend(words.iter().map(|w| w.raw.clone()));
                                test
                            }
                            CommandLine::Shell(word) => vec!["CMD-SHELL".to_string(), word.raw.clone()],
                        };
                        let nanos = |d: Option<core::time::Duration>| d.map(|d| d.as_nanos() as i64);
                        HealthConfig {
                            test: Some(test),
                            interval: nanos(check.interval),
                            timeout: nanos(check.timeout),
                            start_period: nanos(check.start_period),
                            start_interval: nanos(check.start_interval),
                            retries: check.retries.map(i64::from),
                        }
                    }
                };
                let comment = format!("HEALTHCHECK {}", json(health.test.as_deref().unwrap_or_default()));
                self.commit_config(state, line, comment, move |_, meta, _| meta.healthcheck = Some(health)).await
            }
            Command::Shell(words) => {
                let shell: Vec<String> = words.iter().map(|w| w.raw.clone()).collect();
                let comment = format!("SHELL {}", json(&shell));
                self.commit_config(state, line, comment, move |_, meta, _| meta.shell = Some(shell)).await
            }
            Command::Arg(declarations) => {
                let mut evaluated = Vec::new();
                for declaration in declarations {
                    let name = value(&declaration.name)?;
                    let default = match &declaration.default {
                        Some(word) => Some(value(word)?),
                        None => None,
                    };
                    evaluated.push((name, default));
                }
                let mut texts = Vec::new();
                for (name, default) in evaluated {
                    texts.push(match &default {
                        Some(default) => format!("{name}={default}"),
                        None => name.clone(),
                    });
                    let provided = self.options.build_args.get(&name);
                    if provided.is_some() {
                        self.consumed.insert(name.clone());
                    }
                    let resolved = match provided {
                        Some(Some(given)) => Some(given.clone()),
                        _ => default.or_else(|| self.meta_args.get(&name).cloned().flatten()),
                    };
                    state.args.insert(name, resolved);
                }
                let comment = format!("ARG {}", texts.join(" "));
                self.commit_config(state, line, comment, |_, _, _| {}).await
            }
            Command::Onbuild(trigger) => {
                let mut text = String::new();
                print::print_instruction(&mut text, trigger);
                let text = text.trim_end_matches('\n').to_string();
                let comment = format!("ONBUILD {}", print::instruction_line(trigger));
                self.commit_config(state, line, comment, move |_, meta, _| meta.on_build.push(text)).await
            }
            Command::Maintainer(word) => {
                let maintainer = value(word)?;
                let comment = format!("MAINTAINER {maintainer}");
                self.commit_config(state, line, comment, move |_, _, author| *author = Some(maintainer)).await
            }
        }
    }

    fn command_line(&self, state: &StageState, command_line: &CommandLine) -> Vec<String> {
        match command_line {
            CommandLine::Exec(words) => words.iter().map(|w| w.raw.clone()).collect(),
            CommandLine::Shell(word) => {
                let mut command = state.shell();
                command.push(word.raw.clone());
                command
            }
        }
    }

    /// Emits "Using cache" and moves the stage to the cached image, when the cache has this key. When only
    /// predicting, a miss ends the walk here, before the step would create anything.
    async fn try_cache(&mut self, state: &mut StageState, key: &str) -> Result<Option<StepOutcome>, BuildError> {
        let found = self.cached_image(key).await;
        if found.is_none() && self.predict_only {
            return Err(BuildError::WouldRun);
        }
        let Some(image) = found else {
            return Ok(None);
        };
        self.progress.emit(BuildEvent::Cached { image_id: image.id.clone() });
        let layer_size = image.size.checked_sub(state.image.as_ref().map(|i| i.size).unwrap_or(0));
        state.meta = self.metas.get(&image.id);
        let image_id = image.id.clone();
        state.image = Some(image);
        Ok(Some(StepOutcome { image_id, cached: true, layer_size }))
    }

    async fn cached_image(&self, key: &str) -> Option<Image> {
        if self.options.no_cache {
            return None;
        }
        let id = self.cache.lookup(key)?;
        let images = self.engine.image_store().clone();
        let image = tokio::task::spawn_blocking(move || images.get(&id)).await.ok()?.ok()?;
        if !self.options.cache_from.is_empty() && !self.in_cache_sources(&image).await {
            return None;
        }
        // A prediction looks without using: only a build's hit keeps the entry from `builder prune --filter until`.
        if !self.predict_only {
            if let Err(error) = self.cache.touch(key) {
                tracing::warn!(%error, "build cache use not recorded");
            }
        }
        Some(image)
    }

    /// Is `image` one of the `--cache-from` images or in one's history? Names that find no image are skipped,
    /// as dockerd skips them.
    async fn in_cache_sources(&self, image: &Image) -> bool {
        for name in &self.options.cache_from {
            if let Ok(Ok(source)) = self.find_image(name).await {
                if source.id == image.id || source.is_built_on(image) {
                    return true;
                }
            }
        }
        false
    }

    /// Records the line of the new history entry and stores the metadata of `image`.
    fn finish_image(
        &self,
        state: &mut StageState,
        image: Image,
        mut meta: ImageMeta,
        line: usize,
        key: &str,
    ) -> Result<StepOutcome, BuildError> {
        let history_len = image.config.history().as_ref().map(Vec::len).unwrap_or(0);
        meta.lines.resize(history_len.saturating_sub(1), None);
        meta.lines.push((line > 0).then_some(line));
        self.metas.put(&image.id, &meta)?;
        self.cache.insert(key, &image.id)?;
        let parent_size = state.image.as_ref().map(|i| i.size).unwrap_or(0);
        let layer_size = (image.diff_ids.len() > state.image.as_ref().map(|i| i.diff_ids.len()).unwrap_or(0))
            .then(|| image.size.saturating_sub(parent_size));
        let image_id = image.id.clone();
        state.meta = meta;
        state.image = Some(image);
        Ok(StepOutcome { image_id, cached: false, layer_size })
    }

    /// A metadata-only step: the parent's config changed by `change`, no layer.
    async fn commit_config(
        &mut self,
        state: &mut StageState,
        line: usize,
        comment: String,
        change: impl FnOnce(&mut Config, &mut ImageMeta, &mut Option<String>),
    ) -> Result<StepOutcome, BuildError> {
        let key = cache_key(state.parent_id(), &format!("#(nop) {comment}"), None);
        if let Some(outcome) = self.try_cache(state, &key).await? {
            return Ok(outcome);
        }
        let mut config = state.config();
        let mut meta = state.meta.clone();
        let mut author = None;
        change(&mut config, &mut meta, &mut author);
        let created_by = format!("{} #(nop)  {comment}", state.shell().join(" "));
        let images = self.engine.image_store().clone();
        let parent = state.image.clone();
        let history = HistoryEntry { created_by, author, ..Default::default() };
        let image =
            tokio::task::spawn_blocking(move || images.create_from(parent.as_ref(), None, config, history, &[]))
                .await
                .map_err(join_error)??;
        self.finish_image(state, image, meta, line, &key)
    }

    /// A container for a step on `image`, the build's owner's (so the tenant may use the step's image by id).
    async fn create_step_container(
        &self,
        image: &str,
        body: ContainerCreateBody,
    ) -> Result<(String, Vec<String>), BuildError> {
        let owner = self.options.owner.as_deref();
        if let Some(tenant) = owner {
            self.engine.record_tenant_image(tenant, image)?;
        }
        Ok(self.engine.create_owned(owner, None, body).await?)
    }

    /// A root filesystem to change on top of `image`.
    async fn open_workspace(&self, image: Option<&Image>) -> Result<Workspace, BuildError> {
        match image {
            Some(image) => {
                let body = ContainerCreateBody {
                    image: Some(image.id.clone()),
                    cmd: Some(vec!["/bin/sh".into()]),
                    entrypoint: Some(vec![String::new()]),
                    healthcheck: Some(no_healthcheck()),
                    labels: Some(step_label()),
                    host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
                    ..Default::default()
                };
                let (id, _) = self.create_step_container(&image.id, body).await?;
                let container = self.engine.container(&id)?;
                match self.engine.ensure_rootfs(&container).await {
                    Ok(rootfs) => Ok(Workspace {
                        container: Some(id),
                        rootfs,
                        upper: container.upper_dir(),
                        temp: None,
                        ids: container.record().id_shift,
                    }),
                    Err(error) => {
                        let _ = self.engine.remove(&id, true, true).await;
                        Err(error.into())
                    }
                }
            }
            None => {
                let dir = self.work.join(format!("scratch-{:016x}", rand::random::<u64>()));
                std::fs::create_dir_all(&dir).map_err(|e| BuildError::io(format!("create {}", dir.display()), e))?;
                Ok(Workspace { container: None, rootfs: dir.clone(), upper: dir.clone(), temp: Some(dir), ids: None })
            }
        }
    }

    async fn close_workspace(&self, workspace: Workspace) {
        if let Some(id) = workspace.container {
            if let Err(error) = self.engine.remove(&id, true, true).await {
                tracing::warn!(%id, %error, "cannot remove build container");
            }
        }
        if let Some(dir) = workspace.temp {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Commits the workspace's changes as a layer on the stage's image, with `config`.
    async fn commit_workspace(
        &self,
        state: &StageState,
        workspace: &Workspace,
        config: Config,
        created_by: String,
    ) -> Result<Image, BuildError> {
        let images = self.engine.image_store().clone();
        let parent = state.image.clone();
        let upper = workspace.upper.clone();
        let ids = workspace.ids;
        let changes = ImageConfigChanges { config: Some(config), changes: Vec::new() };
        let image = tokio::task::spawn_blocking(move || {
            images.commit(parent.as_ref(), &upper, ids, changes, None, None, None, &created_by)
        })
        .await
        .map_err(join_error)??;
        Ok(image)
    }

    async fn workdir(&mut self, state: &mut StageState, path: String, line: usize) -> Result<StepOutcome, BuildError> {
        let comment = format!("WORKDIR {path}");
        let key = cache_key(state.parent_id(), &format!("#(nop) {comment}"), None);
        if let Some(outcome) = self.try_cache(state, &key).await? {
            return Ok(outcome);
        }
        let mut config = state.config();
        config.set_working_dir(Some(path.clone()));
        let workspace = self.open_workspace(state.image.as_ref()).await?;
        let rootfs = workspace.rootfs.clone();
        let dir = path.clone();
        let owner = Ownership { ids: workspace.ids, ..Ownership::default() };
        let made = tokio::task::spawn_blocking(move || copy::mkdir_all(&rootfs, &dir, owner).map(|_| ()))
            .await
            .map_err(join_error);
        let created_by = format!("{} #(nop)  {comment}", state.shell().join(" "));
        let result = match made {
            Ok(Ok(())) => self.commit_workspace(state, &workspace, config, created_by).await,
            Ok(Err(source)) => Err(BuildError::Workdir { line, path, source }),
            Err(error) => Err(error),
        };
        self.close_workspace(workspace).await;
        let meta = state.meta.clone();
        self.finish_image(state, result?, meta, line, &key)
    }

    async fn run(
        &mut self,
        state: &mut StageState,
        command: Vec<String>,
        network: Option<&str>,
        line: usize,
    ) -> Result<StepOutcome, BuildError> {
        let Some(parent) = state.image.clone() else {
            return Err(BuildError::step(line, "RUN needs a base image: FROM scratch has no shell to run it"));
        };
        let args = state.run_args();
        let prefix = if args.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("|{} {} ", pairs.len(), pairs.join(" "))
        };
        let display = command.join(" ");
        let created_by = format!("{prefix}{display}");
        let mut key_text = match network {
            Some(mode) => format!("{created_by} network={mode}"),
            None => created_by.clone(),
        };
        // A command's result depends on more than its text (the network, the time): one tenant's must not be
        // another's cache hit, nor tell it what the other built.
        if let Some(tenant) = &self.options.owner {
            key_text.push_str(&format!(" tenant={tenant}"));
        }
        let key = cache_key(Some(&parent.id), &key_text, None);
        if let Some(outcome) = self.try_cache(state, &key).await? {
            return Ok(outcome);
        }
        let body = ContainerCreateBody {
            image: Some(parent.id.clone()),
            cmd: Some(command),
            entrypoint: Some(vec![String::new()]),
            env: Some(args.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            healthcheck: Some(no_healthcheck()),
            labels: Some(step_label()),
            host_config: Some(HostConfig {
                network_mode: network.map(str::to_string).or_else(|| self.options.network_mode.clone()),
                extra_hosts: Some(self.options.extra_hosts.clone()).filter(|hosts| !hosts.is_empty()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (id, _) = self.create_step_container(&parent.id, body).await?;
        self.progress.emit(BuildEvent::Running { container_id: id.clone() });
        let container = self.engine.container(&id)?;
        let mut output = container.output.subscribe();
        let wait = self.engine.wait(&id, WaitCondition::NextExit)?;
        let start_failure = match self.engine.start(&id).await {
            Ok(()) => None,
            Err(EngineError::StartFailed { exit_code, message }) => {
                self.progress.emit(BuildEvent::Output { stream: OutputStream::Stderr, text: format!("{message}\n") });
                Some(exit_code)
            }
            Err(error) => {
                let _ = self.engine.remove(&id, true, true).await;
                return Err(error.into());
            }
        };
        if start_failure.is_none() {
            let mut stdout = Utf8Chunker::default();
            let mut stderr = Utf8Chunker::default();
            loop {
                match output.recv().await {
                    Ok(Output::Chunk(kind, bytes)) => {
                        let (chunker, stream) = match kind {
                            StreamKind::Stderr => (&mut stderr, OutputStream::Stderr),
                            _ => (&mut stdout, OutputStream::Stdout),
                        };
                        let text = chunker.push(&bytes);
                        if !text.is_empty() {
                            self.progress.emit(BuildEvent::Output { stream, text });
                        }
                    }
                    Ok(Output::End) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(%id, skipped, "build output lagged");
                    }
                }
            }
            for (chunker, stream) in [(&mut stdout, OutputStream::Stdout), (&mut stderr, OutputStream::Stderr)] {
                let text = chunker.finish();
                if !text.is_empty() {
                    self.progress.emit(BuildEvent::Output { stream, text });
                }
            }
        }
        let (code, _) = wait.await;
        let code = start_failure.unwrap_or(code);
        if code != 0 {
            if self.options.force_remove {
                self.remove_container(&id).await;
            }
            return Err(BuildError::RunFailed { command: display, code, line: Some(line) });
        }
        let workspace = Workspace {
            container: None,
            rootfs: PathBuf::new(),
            upper: container.upper_dir(),
            temp: None,
            ids: container.record().id_shift,
        };
        let result = self.commit_workspace(state, &workspace, state.config(), created_by).await;
        if self.options.remove || self.options.force_remove || result.is_err() {
            self.remove_container(&id).await;
        }
        let meta = state.meta.clone();
        self.finish_image(state, result?, meta, line, &key)
    }

    async fn remove_container(&self, id: &str) {
        match self.engine.remove(id, true, true).await {
            Ok(()) => self.progress.emit(BuildEvent::ContainerRemoved { container_id: id.to_string() }),
            Err(error) => tracing::warn!(%id, %error, "cannot remove intermediate container"),
        }
    }

    async fn copy(
        &mut self,
        state: &mut StageState,
        instruction: &CopyCommand,
        add: bool,
        line: usize,
    ) -> Result<StepOutcome, BuildError> {
        let keyword = if add { "ADD" } else { "COPY" };
        if !instruction.heredocs.is_empty() {
            return Err(BuildError::step(line, format!("{keyword} with a here-document is not supported by Berth")));
        }
        if instruction.parents || !instruction.exclude.is_empty() {
            return Err(BuildError::step(
                line,
                format!("{keyword} --parents and --exclude are not supported by Berth"),
            ));
        }
        let vars = state.variables();
        let mut sources = Vec::new();
        for word in &instruction.sources {
            sources.push(self.expand(&word.raw, &vars, line)?);
        }
        let dest_written = self.expand(&instruction.destination.raw, &vars, line)?;
        if add {
            if let Some(url) = sources.iter().find(|s| s.contains("://") || s.starts_with("git@")) {
                return Err(BuildError::step(line, format!("ADD from a URL is not supported by Berth: {url}")));
            }
        }
        let workdir = state.config().working_dir().clone().unwrap_or_else(|| "/".into());
        let dest = if dest_written.starts_with('/') {
            dest_written.clone()
        } else {
            let trailing = dest_written.ends_with('/') || dest_written == "." || dest_written.ends_with("/.");
            let joined = clean_abs(&format!("{workdir}/{dest_written}"));
            if trailing && !joined.ends_with('/') {
                format!("{joined}/")
            } else {
                joined
            }
        };
        let force_dir = sources.iter().any(|s| s.contains(['*', '?', '[']));
        if (sources.len() > 1 || force_dir) && !dest.ends_with('/') {
            let resolved_multiple = sources.len() > 1;
            if resolved_multiple {
                return Err(BuildError::step(
                    line,
                    format!("When using {keyword} with more than one source file, the destination must be a directory and end with a /"),
                ));
            }
        }
        let mode = match &instruction.chmod {
            Some(value) => Some(copy::parse_chmod(value).map_err(|source| BuildError::CopyFlag { line, source })?),
            None => None,
        };
        let mut flags = String::new();
        if let Some(chown) = &instruction.chown {
            flags.push_str(&format!("--chown={chown} "));
        }
        if let Some(chmod) = &instruction.chmod {
            flags.push_str(&format!("--chmod={chmod} "));
        }

        // Where the sources come from: another stage or image, or the context.
        let from_image = match &instruction.from {
            Some(from) => Some(self.copy_source_image(from, line).await?),
            None => None,
        };
        let (checksum, context_sources) = match &from_image {
            Some(image) => (format!("from:{}", image.as_ref().map(|i| i.id.as_str()).unwrap_or("scratch")), None),
            None => {
                let root = self.context.to_path_buf();
                let written = sources.clone();
                let task = tokio::task::spawn_blocking(move || -> Result<_, BuildError> {
                    let copy_failed = |source| BuildError::Copy { line, instruction: keyword, source };
                    let resolved = copy::context_sources(&root, &written).map_err(copy_failed)?;
                    let mut hasher = Sha256::new();
                    for source in &resolved {
                        // A context file gone meanwhile: worded as the COPY that failed.
                        let failed = |e| BuildError::step(line, format!("{keyword} failed: {e}"));
                        hash_tree(&mut hasher, &source.path, &source.written).map_err(failed)?;
                    }
                    Ok((hex::encode(hasher.finalize()), resolved))
                });
                let (checksum, resolved) = task.await.map_err(join_error)??;
                (checksum, Some(resolved))
            }
        };
        let kind = match &context_sources {
            Some(list) if list.len() == 1 && list[0].path.is_file() => "file",
            Some(list) if list.len() == 1 => "dir",
            Some(_) => "multi",
            None => "from",
        };
        let short = checksum.strip_prefix("from:").unwrap_or(&checksum);
        let short = short.strip_prefix("sha256:").unwrap_or(short);
        let comment = format!("{keyword} {flags}{kind}:{} in {dest} ", &short[..short.len().min(64)]);
        let key_text = format!("{keyword} {flags}{} {dest}", sources.join(" "));
        let key = cache_key(state.parent_id(), &key_text, Some(&checksum));
        if let Some(outcome) = self.try_cache(state, &key).await? {
            return Ok(outcome);
        }

        let source_workspace = match &from_image {
            Some(image) => Some(self.open_workspace(image.as_ref()).await?),
            None => None,
        };
        let workspace = match self.open_workspace(state.image.as_ref()).await {
            Ok(workspace) => workspace,
            Err(error) => {
                if let Some(source) = source_workspace {
                    self.close_workspace(source).await;
                }
                return Err(error);
            }
        };
        let rootfs = workspace.rootfs.clone();
        let ids = workspace.ids;
        let source_root = source_workspace.as_ref().map(|w| w.rootfs.clone());
        let chown = instruction.chown.clone();
        let max_unpacked = Some(self.engine.limits().max_unpacked);
        let copied = tokio::task::spawn_blocking(move || -> Result<(), CopyError> {
            let sources = match (context_sources, source_root) {
                (Some(list), _) => list,
                (None, Some(root)) => copy::image_sources(&root, &sources)?,
                // Not reached: without context sources there is a source image, hence its workspace.
                (None, None) => return Err(CopyError::NoSources),
            };
            let (uid, gid) = match &chown {
                Some(spec) => copy::resolve_chown(&rootfs, spec)?,
                None => (0, 0),
            };
            copy::copy_into(&rootfs, &sources, &dest, force_dir, Ownership { uid, gid, mode, ids }, add, max_unpacked)
        })
        .await
        .map_err(join_error);
        let created_by = format!("{} #(nop) {comment}", state.shell().join(" "));
        let result = match copied {
            Ok(Ok(())) => self.commit_workspace(state, &workspace, state.config(), created_by).await,
            Ok(Err(source)) => Err(BuildError::Copy { line, instruction: keyword, source }),
            Err(error) => Err(error),
        };
        self.close_workspace(workspace).await;
        if let Some(source) = source_workspace {
            self.close_workspace(source).await;
        }
        let meta = state.meta.clone();
        self.finish_image(state, result?, meta, line, &key)
    }

    /// The image `COPY --from=<from>` reads: a stage by name or index, else an image by name.
    async fn copy_source_image(&self, from: &str, line: usize) -> Result<Option<Image>, BuildError> {
        let lower = from.to_ascii_lowercase();
        if let Some(stage) = self.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())) {
            return Ok(stage.image.clone());
        }
        if let Ok(index) = from.parse::<usize>() {
            return match self.stages.get(index) {
                Some(stage) => Ok(stage.image.clone()),
                None => Err(BuildError::step(line, format!("invalid from flag value {from}: stage not built yet"))),
            };
        }
        let found = self.find_image(from).await?;
        found.map(Some).map_err(|error| BuildError::step(line, format!("COPY --from={from}: {error}")))
    }
}

/// The stage `--target` names, or the last one.
fn target_stage(stages: &[Stage<'_>], options: &BuildOptions) -> Result<usize, BuildError> {
    match &options.target {
        Some(target) => {
            let wanted = target.to_ascii_lowercase();
            stages
                .iter()
                .position(|s| s.name().as_deref() == Some(wanted.as_str()))
                .ok_or_else(|| BuildError::NoTarget(target.clone()))
        }
        None => stages.len().checked_sub(1).ok_or_else(|| BuildError::NoTarget(String::new())),
    }
}

/// The steps a build of `dockerfile` takes, in order, as (instruction as the log prints it, Dockerfile line):
/// ARGs before the first FROM, each stage up to the target (FROM, then its instructions), and the LABEL step
/// `--label` adds.
pub(super) fn plan(
    dockerfile: &Dockerfile,
    options: &BuildOptions,
) -> Result<Vec<(String, Option<usize>)>, BuildError> {
    let stages = dockerfile.stages();
    let last = target_stage(&stages, options)?;
    let line = |instruction: &Instruction| (print::instruction_line(instruction), Some(instruction.span.start.line));
    let mut steps: Vec<(String, Option<usize>)> = dockerfile.meta_args().map(line).collect();
    for stage in &stages[..=last] {
        steps.push(line(stage.from_instruction));
        steps.extend(stage.instructions.iter().map(line));
    }
    if !options.labels.is_empty() {
        let pairs: Vec<String> = options.labels.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
        steps.push((format!("LABEL {}", pairs.join(" ")), None));
    }
    Ok(steps)
}

/// The script a shell-form RUN hands its shell. A RUN that is only a here-document (`RUN <<EOF`) runs the
/// document; otherwise the here-documents follow the command line, for the shell to read as it would in a script.
fn shell_script(command: &str, heredocs: &[dockerfile::Heredoc]) -> String {
    if heredocs.is_empty() {
        return command.to_string();
    }
    let trimmed = command.trim();
    if heredocs.len() == 1 && trimmed.starts_with("<<") && !trimmed.contains(char::is_whitespace) {
        return heredocs[0].effective_content();
    }
    let mut script = command.to_string();
    script.push('\n');
    for heredoc in heredocs {
        script.push_str(&heredoc.content);
        if !heredoc.content.is_empty() && !heredoc.content.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(&heredoc.name);
        script.push('\n');
    }
    script
}

fn json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

/// A label value as LABEL would need it written: quoted when it is not a plain word.
fn quote(value: &str) -> String {
    if !value.is_empty() && value.chars().all(|c| c.is_alphanumeric() || "-_./:@".contains(c)) {
        value.to_string()
    } else {
        serde_json::to_string(value).unwrap_or_default()
    }
}

/// Build containers (RUN, COPY workspaces) never run the image's HEALTHCHECK, as in Docker's builder.
/// Marks a step's container, so that a daemon restarted after a crash mid-build removes it.
fn step_label() -> HashMap<String, String> {
    HashMap::from([(berth_engine::BUILD_STEP_LABEL.to_string(), "1".to_string())])
}

fn no_healthcheck() -> HealthConfig {
    HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_only_run_runs_the_document() {
        let source = "FROM a\nRUN <<EOF\necho one\necho two\nEOF\n";
        let parsed = dockerfile::parse(source).unwrap();
        let Command::Run(run) = &parsed.instructions[1].command else { panic!() };
        let CommandLine::Shell(word) = &run.command else { panic!() };
        assert_eq!(shell_script(&word.raw, &run.heredocs), "echo one\necho two\n");
    }

    #[test]
    fn heredoc_after_a_command_stays_a_heredoc() {
        let source = "FROM a\nRUN cat <<EOF > /x\nhello\nEOF\n";
        let parsed = dockerfile::parse(source).unwrap();
        let Command::Run(run) = &parsed.instructions[1].command else { panic!() };
        let CommandLine::Shell(word) = &run.command else { panic!() };
        assert_eq!(shell_script(&word.raw, &run.heredocs), "cat <<EOF > /x\nhello\nEOF\n");
    }

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean_abs("/app/../srv/./x/"), "/srv/x");
        assert_eq!(clean_abs("/"), "/");
    }
}
