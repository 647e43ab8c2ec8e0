//! Build metadata Docker keeps in an image config but the OCI config has no field for: SHELL, ONBUILD triggers and
//! HEALTHCHECK, plus the Dockerfile line of each history entry. Kept beside the image store, one file per image
//! (`<root>/build/images/<id-hex>.json`), written atomically; images without such metadata have no file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ImageError;
use berth_fs::atomic;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageMeta {
    /// SHELL: the command line shell-form RUN, CMD and ENTRYPOINT use; None means `["/bin/sh", "-c"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// ONBUILD triggers, as Dockerfile text, run when another build starts FROM this image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    /// HEALTHCHECK in Docker's config shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<bollard_stubs::models::HealthConfig>,
    /// Per history entry (oldest first): the Dockerfile line of the instruction that made it, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Option<usize>>,
}

#[derive(Debug, Clone)]
pub struct MetaStore {
    dir: PathBuf,
}

impl MetaStore {
    pub fn new(build_dir: &Path) -> MetaStore {
        MetaStore { dir: build_dir.join("images") }
    }

    fn path(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{}.json", image_id.strip_prefix("sha256:").unwrap_or(image_id)))
    }

    /// The metadata of `image_id`; the default when none was recorded.
    pub fn get(&self, image_id: &str) -> ImageMeta {
        atomic::read_json(&self.path(image_id)).unwrap_or_default()
    }

    pub fn put(&self, image_id: &str, meta: &ImageMeta) -> Result<(), ImageError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ImageError::io(&self.dir, e))?;
        atomic::write_json(&self.path(image_id), meta)?;
        Ok(())
    }
}
