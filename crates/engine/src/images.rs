//! Image operations as the Engine API asks for them: the store does the work, the engine adds what only it knows
//! (which containers use an image) and tells `GET /events` what happened.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::layer_tree::LayerEntry;
use berth_image::{ContainerUse, Image};
use bollard_stubs::models::{EventMessageTypeEnum, ImageDeleteResponseItem, ImageHistoryResponseItem};
use oci_spec::image::ImageConfiguration;

use super::{Engine, EngineError, PruneFilter};

impl Engine {
    /// Every image in the store.
    pub fn images(&self) -> Vec<Image> {
        self.images.list()
    }

    /// The image a reference (name, name:tag, full or short id) names.
    pub fn image(&self, reference: &str) -> Result<Image, EngineError> {
        Ok(self.images.get(reference)?)
    }

    /// `docker history`: the top entry carries the tags `image` has (as its viewer is shown them).
    pub fn image_history(&self, image: &Image) -> Vec<ImageHistoryResponseItem> {
        self.images.history(image)
    }

    /// Each layer's entries (diff id, files), oldest first: the playground's layer view (blocking).
    pub fn image_layer_entries(&self, image: &Image) -> Result<Vec<(String, Vec<LayerEntry>)>, EngineError> {
        Ok(self.images.layer_entries(image)?)
    }

    /// `docker tag`: `target` (repo or repo:tag) names the image `source` names.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), EngineError> {
        self.images.tag(source, target)?;
        let image = self.images.get(target)?;
        self.emit_tag(None, &image.id, target);
        Ok(())
    }

    /// dockerd's `tag` event; a tenant's carries the tenant, and names the tag as the tenant wrote it.
    pub(super) fn emit_tag(&self, owner: Option<&str>, image_id: &str, target: &str) {
        // dockerd names the tag in its familiar form (`app:latest`), whatever form the client sent.
        let name = berth_image::reference::Reference::parse(target)
            .map(|reference| reference.familiar_tagged())
            .unwrap_or_else(|_| target.to_string());
        let mut attributes = HashMap::from([("name".to_string(), name)]);
        super::mark_tenant(&mut attributes, owner);
        self.events.emit(EventMessageTypeEnum::IMAGE, "tag", image_id, attributes);
    }

    /// `docker rmi`: untags, and deletes what no tag and no container holds any more, with the untagged parents a
    /// build left unless `no_prune`. A running container's image cannot be removed, even with `force`.
    pub fn remove_image(
        &self,
        reference: &str,
        force: bool,
        no_prune: bool,
    ) -> Result<Vec<ImageDeleteResponseItem>, EngineError> {
        let users = |image_id: &str| {
            let users = self.image_users(image_id);
            // A running user matters most: it cannot be forced.
            users
                .iter()
                .find(|(_, running)| *running)
                .or(users.first())
                .map(|(id, running)| ContainerUse { container_id: id.clone(), running: *running })
        };
        let deleted = self.images.remove(reference, force, !no_prune, &users)?;
        self.emit_deletions(&deleted);
        Ok(deleted)
    }

    /// `docker image prune`: images no container uses that `filter` selects (only untagged ones when
    /// `dangling_only`; see the store's `prune`), and the bytes that freed.
    pub fn prune_images(
        &self,
        dangling_only: bool,
        filter: &PruneFilter,
    ) -> Result<(Vec<ImageDeleteResponseItem>, u64), EngineError> {
        let users = |image_id: &str| !self.image_users(image_id).is_empty();
        let pick = |config: &ImageConfiguration| {
            let labels = config.config().as_ref().and_then(|c| c.labels().clone()).unwrap_or_default();
            let created = config.created().as_deref().and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok());
            filter.matches(&labels, created.map(|c| c.with_timezone(&chrono::Utc)))
        };
        let (deleted, reclaimed) = self.images.prune(dangling_only, &pick, &users)?;
        self.emit_deletions(&deleted);
        self.emit_prune(None, EventMessageTypeEnum::IMAGE, reclaimed);
        Ok((deleted, reclaimed))
    }

    /// Deletes those of `ids` that are untagged and unused: the step images of build cache entries the builder
    /// dropped. Returns the bytes freed.
    pub fn remove_untagged_images(&self, ids: &[String]) -> Result<u64, EngineError> {
        let users = |image_id: &str| !self.image_users(image_id).is_empty();
        let (deleted, reclaimed) = self.images.remove_untagged(ids, &users)?;
        self.emit_deletions(&deleted);
        Ok(reclaimed)
    }

    /// dockerd's `prune` event after each prune, with the bytes it freed.
    /// dockerd's `prune` event; a tenant's carries the tenant, so only the tenant sees it.
    pub(super) fn emit_prune(&self, owner: Option<&str>, typ: EventMessageTypeEnum, reclaimed: u64) {
        let mut attributes = HashMap::from([("reclaimed".to_string(), reclaimed.to_string())]);
        super::mark_tenant(&mut attributes, owner);
        self.events.emit(typ, "prune", "", attributes);
    }

    fn emit_deletions(&self, deleted: &[ImageDeleteResponseItem]) {
        for item in deleted {
            if let Some(id) = &item.deleted {
                self.events.emit(EventMessageTypeEnum::IMAGE, "delete", id, HashMap::new());
            }
            if let Some(tag) = &item.untagged {
                self.events.emit(EventMessageTypeEnum::IMAGE, "untag", tag, HashMap::new());
            }
        }
    }

    /// `docker import`: a filesystem tarball as a one-layer image, with Dockerfile-style `changes` applied.
    pub async fn import_image(
        self: &Arc<Self>,
        tarball: impl Read + Send + 'static,
        repo_tag: Option<String>,
        changes: Vec<String>,
        message: Option<String>,
    ) -> Result<Image, EngineError> {
        let images = self.images.clone();
        let image = tokio::task::spawn_blocking(move || {
            images.import(tarball, repo_tag.as_deref(), &changes, message.as_deref())
        })
        .await
        .map_err(|e| EngineError::io("import an image", std::io::Error::other(e)))??;
        self.events.emit(EventMessageTypeEnum::IMAGE, "import", &image.id, HashMap::new());
        Ok(image)
    }

    /// `docker load`: every image of a `docker save` tar, each with the tags it brought.
    pub async fn load_images(
        self: &Arc<Self>,
        archive: impl Read + Send + 'static,
    ) -> Result<Vec<(Image, Vec<String>)>, EngineError> {
        let images = self.images.clone();
        let loaded = tokio::task::spawn_blocking(move || images.load(archive))
            .await
            .map_err(|e| EngineError::io("load images", std::io::Error::other(e)))??;
        for (image, _) in &loaded {
            self.events.emit(EventMessageTypeEnum::IMAGE, "load", &image.id, HashMap::new());
        }
        Ok(loaded)
    }

    /// `docker save`: the named images as one tar, written as it is made (blocking; run it off the runtime).
    pub fn save_images(&self, references: &[String], out: impl Write) -> Result<(), EngineError> {
        Ok(self.images.save(references, out)?)
    }
}
