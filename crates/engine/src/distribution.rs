//! Images to and from registries: `docker pull`, `push` and `login`, with dockerd's events.

use std::collections::HashMap;
use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::Image;
use berth_registry::{Credentials, Platform, PreparedPull, ProgressSink, Registries};
use bollard_stubs::models::EventMessageTypeEnum;

use super::{Engine, EngineError};

/// A pull resolved to its manifest, ready to fetch layers.
#[derive(Debug)]
pub struct PendingPull {
    reference: Reference,
    prepared: PreparedPull,
}

impl Engine {
    pub(crate) fn registries(&self) -> &Registries {
        &self.registries
    }

    /// `--registry-mirror` and `--insecure-registry`, for `docker info`.
    pub fn registry_config(&self) -> &berth_registry::RegistryConfig {
        self.registries.config()
    }

    /// Resolves `reference` (`name[:tag][@digest]`) at its registry, for `platform` (`os/arch[/variant]`) or the
    /// host's. Fails, before any layer is fetched, when the registry does not have it.
    pub async fn prepare_pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        credentials: Option<&Credentials>,
    ) -> Result<PendingPull, EngineError> {
        let reference = Reference::parse(reference)?;
        let platform = platform.filter(|p| !p.is_empty()).map(Platform::parse).transpose()?;
        let prepared = self.registries().prepare_pull(&reference, platform.as_ref(), credentials).await?;
        Ok(PendingPull { reference, prepared })
    }

    /// Fetches the layers of a prepared pull and records the image.
    pub async fn finish_pull(
        self: &Arc<Self>,
        pull: PendingPull,
        progress: &ProgressSink,
    ) -> Result<Image, EngineError> {
        let shown = match &pull.reference.digest {
            Some(digest) => format!("{}@{digest}", pull.reference.familiar_name()),
            None => pull.reference.familiar_tagged(),
        };
        let image = pull.prepared.run(self.images.clone(), progress).await?;
        self.events.emit(EventMessageTypeEnum::IMAGE, "pull", &shown, HashMap::new());
        Ok(image)
    }

    /// Pulls `reference` (a build's FROM, compose's `pull`): [`Engine::prepare_pull`] then
    /// [`Engine::finish_pull`].
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: &str,
        platform: Option<&str>,
        credentials: Option<&Credentials>,
        progress: &ProgressSink,
    ) -> Result<Image, EngineError> {
        let pull = self.prepare_pull(reference, platform, credentials).await?;
        self.finish_pull(pull, progress).await
    }

    /// What `docker push name[:tag]` sends: the image of that tag, or of every tag of the repository when no tag
    /// is given. Fails with dockerd's wording when there is none.
    pub fn push_targets(&self, name: &str, tag: Option<&str>) -> Result<Vec<(Image, Reference)>, EngineError> {
        let repository = Reference::parse(name)?;
        let not_found = || berth_registry::RegistryError::NoLocalImage(repository.familiar_name());
        let tagged = |tag: &str| -> Result<(Image, Reference), EngineError> {
            let reference = Reference { tag: Some(tag.to_string()), digest: None, ..repository.clone() };
            let image = self.images.get(&reference.familiar_tagged()).map_err(|_| not_found())?;
            Ok((image, reference))
        };
        match tag.filter(|t| !t.is_empty()).or(repository.tag.as_deref()) {
            Some(tag) => Ok(vec![tagged(tag)?]),
            None => {
                let prefix = format!("{}:", repository.familiar_name());
                let mut tags: Vec<String> = self
                    .images
                    .list()
                    .iter()
                    .flat_map(|image| image.repo_tags.iter())
                    .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
                    .collect();
                tags.sort();
                if tags.is_empty() {
                    return Err(not_found().into());
                }
                tags.iter().map(|t| tagged(t)).collect()
            }
        }
    }

    /// Pushes each target in turn, recording the digest the registry now has it under.
    pub async fn push_images(
        self: &Arc<Self>,
        targets: Vec<(Image, Reference)>,
        credentials: Option<&Credentials>,
        progress: &ProgressSink,
    ) -> Result<(), EngineError> {
        for (image, reference) in targets {
            let digest = self.registries().push(self.images.clone(), &image, &reference, credentials, progress).await?;
            let images = self.images.clone();
            let repo_digest = format!("{}@{digest}", reference.familiar_name());
            tokio::task::spawn_blocking(move || images.add_repo_digest(&image, &repo_digest))
                .await
                .map_err(|e| EngineError::io("record a pushed image", std::io::Error::other(e)))??;
            self.events.emit(EventMessageTypeEnum::IMAGE, "push", &reference.familiar_tagged(), HashMap::new());
        }
        Ok(())
    }

    /// `docker login`: whether the registry accepts these credentials.
    pub async fn login(&self, credentials: &Credentials) -> Result<(), EngineError> {
        Ok(self.registries().login(credentials).await?)
    }
}
