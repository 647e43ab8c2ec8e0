//! The image store: an OCI image layout (`<root>/oci`) holding one manifest per image, with uncompressed layers
//! (so a layer's digest is its diff_id) unpacked once into `<root>/layers/<diffid-hex>/` in overlayfs form, ready
//! to be used as lowerdirs. Also the tar helpers behind `docker cp`/`export`/`diff`/`import`/`commit`, and the
//! default `busybox` image built from the host's busybox-static, and [`layer_tree`]: what each layer changes.
//!
//! The image ID is the config digest (`sha256:<hex>`), as in Docker.

pub mod archive;
mod busybox;
mod change;
mod error;
mod image_meta;
mod layer;
pub mod layer_tree;
mod layout;
pub mod reference;
mod store;
mod transfer;
pub mod vfs;

pub use change::{apply_changes, ImageConfigChanges};
pub use error::ImageError;
pub use image_meta::{ImageMeta, MetaStore};
pub use store::ImageStore;

/// An image as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// Familiar tagged names: `busybox:latest`, sorted.
    pub repo_tags: Vec<String>,
    pub config: oci_spec::image::ImageConfiguration,
    /// Sum of the (uncompressed) layer sizes.
    pub size: u64,
    /// RFC 3339 creation time from the config.
    pub created: Option<String>,
    /// `sha256:<hex>` per layer, lowest first.
    pub diff_ids: Vec<String>,
    /// `sha256:<hex>` of the manifest blob (the repo digest in `name@sha256:..`).
    pub manifest_digest: String,
}

impl Image {
    /// The 12-hex-digit short ID Docker prints.
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// The 12-hex-digit form of an ID (`sha256:` dropped).
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// The history entry [`ImageStore::create_from`] appends.
#[derive(Debug, Clone, Default)]
pub struct HistoryEntry {
    /// e.g. `/bin/sh -c #(nop)  CMD ["sh"]` or `sh` for a commit.
    pub created_by: String,
    pub comment: Option<String>,
    /// Also becomes the image's `author`.
    pub author: Option<String>,
    /// RFC 3339; `None` means now.
    pub created: Option<String>,
}

/// A container using an image, as reported to [`ImageStore::remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUse {
    pub container_id: String,
    pub running: bool,
}
