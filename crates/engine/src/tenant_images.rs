//! A tenant's images. Base images in the store are shared and read-only to tenants; what a tenant builds, tags
//! or commits is its own. Its tags are kept in the one store under a repository of its own,
//! `berth.session/<tenant>/<name>:<tag>` (a domain no registry has, a path no other tenant can name), and shown
//! to it without that prefix; another tenant's tags are not shown at all. A tenant sees an image that has a shared
//! tag, one of its own tags, or that it made (the ids in `<root>/tenants/<id>/images.json`, so an untagged build
//! result can still be run by its id); any other image is "No such image", as if it did not exist.

use std::collections::BTreeSet;

use berth_image::reference::Reference;
use berth_image::{Image, ImageError};
use bollard_stubs::models::ImageDeleteResponseItem;

use super::{Engine, EngineError, Scope};
use berth_fs::atomic;

/// The registry domain of every tenant's repositories.
const TENANT_DOMAIN: &str = "berth.session";

fn own_prefix(tenant: &str) -> String {
    format!("{TENANT_DOMAIN}/{tenant}/")
}

/// A tag any tenant may see: none of a tenant's own.
fn is_shared(tag: &str) -> bool {
    !tag.starts_with(&format!("{TENANT_DOMAIN}/"))
}

/// The name `tenant`'s `reference` is stored under, or None when the reference cannot name a tenant's image (an
/// id, a digest, a name with a registry of its own).
fn stored_name(tenant: &str, reference: &str) -> Option<String> {
    let parsed = Reference::parse(reference).ok()?;
    if parsed.digest.is_some() {
        return None;
    }
    let name = format!("{}{}", own_prefix(tenant), parsed.familiar_tagged());
    Reference::parse(&name).ok().map(|r| r.familiar_tagged())
}

/// Whether `tenant` sees `image`: a shared tag, one of its own, or made by it (`made` asked only when needed).
fn sees(tenant: &str, image: &Image, made: impl FnOnce(&str) -> bool) -> bool {
    let own = own_prefix(tenant);
    image.repo_tags.iter().any(|tag| is_shared(tag) || tag.starts_with(&own)) || made(&image.id)
}

/// "No such image" as the store words it, for what the tenant typed.
fn no_such_image(reference: &str) -> EngineError {
    let shown = match Reference::parse(reference) {
        Ok(r) if r.tag.is_none() && r.digest.is_none() => format!("{reference}:latest"),
        _ => reference.to_string(),
    };
    EngineError::Image(ImageError::NotFound { reference: shown })
}

impl Engine {
    fn tenant_images_file(&self, tenant: &str) -> std::path::PathBuf {
        super::tenants::tenant_dir_under(&self.root, tenant).join("images.json")
    }

    fn made_by(&self, tenant: &str) -> BTreeSet<String> {
        atomic::read_json(&self.tenant_images_file(tenant)).unwrap_or_default()
    }

    /// Records that `tenant` made the image `id` (a build or a commit), so it may use it by id.
    pub fn record_tenant_image(&self, tenant: &str, id: &str) -> Result<(), EngineError> {
        let _guard = self.tenant_images_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut made = self.made_by(tenant);
        if made.insert(id.to_string()) {
            let file = self.tenant_images_file(tenant);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create a tenant's directory", e))?;
            }
            atomic::write_json(&file, &made)?;
        }
        Ok(())
    }

    fn tenant_sees(&self, tenant: &str, image: &Image) -> bool {
        sees(tenant, image, |id| self.made_by(tenant).contains(id))
    }

    /// The image as `tenant` is shown it: shared tags and its own (without the prefix), no one else's.
    fn as_seen_by(tenant: &str, mut image: Image) -> Image {
        let own = own_prefix(tenant);
        image.repo_tags = image
            .repo_tags
            .iter()
            .filter_map(
                |tag| if is_shared(tag) { Some(tag.clone()) } else { tag.strip_prefix(&own).map(str::to_string) },
            )
            .collect();
        image.repo_tags.sort();
        image.repo_digests.retain(|digest| is_shared(digest));
        image
    }

    /// The images `scope` sees, newest first.
    pub fn images_in(&self, scope: Scope<'_>) -> Vec<Image> {
        let Scope::Tenant(tenant) = scope else { return self.images() };
        // Read once for the whole list, not once per image.
        let made = self.made_by(tenant);
        self.images()
            .into_iter()
            .filter(|image| sees(tenant, image, |id| made.contains(id)))
            .map(|image| Self::as_seen_by(tenant, image))
            .collect()
    }

    /// The image `reference` names in `scope`: a tenant's own name first, then a shared one.
    pub fn image_in(&self, scope: Scope<'_>, reference: &str) -> Result<Image, EngineError> {
        let Scope::Tenant(tenant) = scope else { return self.image(reference) };
        if let Some(image) = stored_name(tenant, reference).and_then(|name| self.images.get(&name).ok()) {
            return Ok(Self::as_seen_by(tenant, image));
        }
        match self.images.get(reference) {
            Ok(image) if self.tenant_sees(tenant, &image) => Ok(Self::as_seen_by(tenant, image)),
            Ok(_) => Err(no_such_image(reference)),
            Err(ImageError::InvalidReference { .. }) | Err(ImageError::NotFound { .. }) => {
                Err(no_such_image(reference))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `docker tag` in `scope`: a tenant's target is always its own name.
    pub fn tag_image_in(&self, scope: Scope<'_>, source: &str, target: &str) -> Result<(), EngineError> {
        let Scope::Tenant(tenant) = scope else { return self.tag_image(source, target) };
        let image = self.image_in(scope, source)?;
        // The target's own error first (a bad reference), then whether a tenant may name it.
        Reference::parse(target)?;
        let stored = stored_name(tenant, target).ok_or_else(|| {
            EngineError::InvalidArgument(format!("{target}: a session's images cannot name a registry of their own"))
        })?;
        self.images.tag(&image.id, &stored)?;
        self.emit_tag(Some(tenant), &image.id, target);
        Ok(())
    }

    /// `docker rmi` in `scope`: a tenant removes its own tags, and images it made that nothing else holds; a shared
    /// image is refused.
    pub fn remove_image_in(
        &self,
        scope: Scope<'_>,
        reference: &str,
        force: bool,
        no_prune: bool,
    ) -> Result<Vec<ImageDeleteResponseItem>, EngineError> {
        let Scope::Tenant(tenant) = scope else { return self.remove_image(reference, force, no_prune) };
        let own = own_prefix(tenant);
        let strip = |mut items: Vec<ImageDeleteResponseItem>| {
            for item in &mut items {
                if let Some(untagged) = &item.untagged {
                    item.untagged = Some(untagged.strip_prefix(&own).unwrap_or(untagged).to_string());
                }
            }
            items
        };
        if let Some(name) = stored_name(tenant, reference).filter(|name| self.images.get(name).is_ok()) {
            return self.remove_image(&name, force, no_prune).map(strip);
        }
        let image = self.image_in(scope, reference)?;
        let stored = self.images.get(&image.id)?;
        let own_tags: Vec<String> = stored.repo_tags.iter().filter(|tag| tag.starts_with(&own)).cloned().collect();
        if own_tags.is_empty() {
            if stored.repo_tags.is_empty() && self.made_by(tenant).contains(&image.id) {
                return self.remove_image(&image.id, force, no_prune);
            }
            return Err(EngineError::Conflict(format!(
                "unable to remove {reference}: the image is shared by the daemon's sessions, not the session's own"
            )));
        }
        let mut deleted = Vec::new();
        for tag in own_tags {
            deleted.extend(self.remove_image(&tag, force, no_prune)?);
        }
        Ok(strip(deleted))
    }

    /// The bytes of the layers only `tenant`'s images hold (those of its own tags and builds that no shared image
    /// has), each layer once: what its images add to the disk.
    pub(super) fn tenant_image_bytes(&self, tenant: &str) -> u64 {
        let own = own_prefix(tenant);
        let made = self.made_by(tenant);
        let images = self.images();
        let sizes = self.images.layer_sizes();
        let shared: std::collections::HashSet<&str> = images
            .iter()
            .filter(|image| image.repo_tags.iter().any(|tag| is_shared(tag)))
            .flat_map(|image| image.diff_ids.iter().map(String::as_str))
            .collect();
        let mut counted = std::collections::HashSet::new();
        let mut bytes = 0u64;
        for image in images.iter().filter(|i| made.contains(&i.id) || i.repo_tags.iter().any(|t| t.starts_with(&own))) {
            for (diff_id, size) in sizes.get(&image.id).into_iter().flatten() {
                if !shared.contains(diff_id.as_str()) && counted.insert(diff_id.clone()) {
                    bytes = bytes.saturating_add(*size);
                }
            }
        }
        bytes
    }

    /// The tenants that have tags in the store.
    pub(super) fn tenants_with_tags(&self) -> Vec<String> {
        let prefix = format!("{TENANT_DOMAIN}/");
        self.images()
            .iter()
            .flat_map(|image| image.repo_tags.iter())
            .filter_map(|tag| tag.strip_prefix(&prefix)?.split('/').next().map(str::to_string))
            .collect()
    }

    /// At a tenant's removal: its tags, and the images it made that no one else holds.
    pub(super) fn remove_tenant_images(&self, tenant: &str) {
        let own = own_prefix(tenant);
        for image in self.images() {
            for tag in image.repo_tags.iter().filter(|tag| tag.starts_with(&own)) {
                if let Err(error) = self.remove_image(tag, true, false) {
                    tracing::info!(tenant, %tag, %error, "a tenant's tag kept");
                }
            }
        }
        for id in self.made_by(tenant) {
            match self.images.get(&id) {
                Ok(image) if image.repo_tags.is_empty() => {
                    if let Err(error) = self.remove_image(&id, false, false) {
                        tracing::info!(tenant, %id, %error, "an image a tenant made is kept");
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_names_are_under_its_own_repository() {
        assert_eq!(stored_name("ab12", "app").as_deref(), Some("berth.session/ab12/app:latest"));
        assert_eq!(stored_name("ab12", "team/app:v2").as_deref(), Some("berth.session/ab12/team/app:v2"));
        assert_eq!(stored_name("ab12", "docker.io/library/app").as_deref(), Some("berth.session/ab12/app:latest"));
        assert_eq!(stored_name("ab12", "localhost:5000/app"), None);
        assert_eq!(stored_name("ab12", &format!("app@sha256:{}", "0".repeat(64))), None);
        assert!(is_shared("busybox:latest") && !is_shared("berth.session/ab12/app:latest"));
    }

    #[test]
    fn a_tenant_is_shown_shared_tags_and_its_own_only() {
        let image = Image {
            id: "sha256:1".into(),
            repo_tags: vec![
                "berth.session/ab12/app:latest".into(),
                "berth.session/cd34/theirs:latest".into(),
                "busybox:latest".into(),
            ],
            config: Default::default(),
            size: 0,
            created: None,
            diff_ids: Vec::new(),
            manifest_digest: String::new(),
            repo_digests: Vec::new(),
        };
        assert_eq!(Engine::as_seen_by("ab12", image).repo_tags, ["app:latest", "busybox:latest"]);
    }
}
