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

/// What the fuzz targets (fuzz/) reach that the store keeps private: only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use std::io::Read;
    use std::path::Path;

    use super::layer::{apply_tar, ApplyOptions};
    use super::ImageError;

    /// Unpacks a layer tar into `dir` exactly as a pull unpacks one, without a store around it.
    pub fn unpack_layer(dir: &Path, tar: impl Read, max_bytes: Option<u64>) -> Result<(), ImageError> {
        apply_tar(dir, Path::new(""), tar, &ApplyOptions::image_layer(max_bytes))
    }
}

pub use change::{apply_changes, ImageConfigChanges};
pub use error::ImageError;
pub use image_meta::{ImageMeta, MetaStore};
pub use layout::sha256_digest;
pub use store::{ImageStore, PushParts, RemoteLayer, Reservation};

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
    /// `sha256:<hex>` of the manifest blob Berth stores.
    pub manifest_digest: String,
    /// `name@sha256:<hex>` per repository the image was pulled from or pushed to (for a multi-platform pull, the
    /// index's digest, as Docker records it).
    pub repo_digests: Vec<String>,
}

impl Image {
    /// The 12-hex-digit short ID Docker prints.
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }

    /// Whether this image was built on `base` (directly or further up): `base`'s history and layers are a strict
    /// prefix of its own. Docker records a parent for what it builds; Berth's build step images are exactly such
    /// prefixes.
    pub fn is_built_on(&self, base: &Image) -> bool {
        self.id != base.id
            && extends(
                (self.config.history().as_deref().unwrap_or_default(), self.diff_ids.iter().map(String::as_str)),
                (base.config.history().as_deref().unwrap_or_default(), base.diff_ids.iter().map(String::as_str)),
            )
    }
}

/// Whether `(history, diff_ids)` strictly extends `(base_history, base_diff_ids)`: a longer history starting with
/// the base's, and layers starting with the base's.
pub(crate) fn extends<'a, 'b>(
    (history, mut diff_ids): (&[oci_spec::image::History], impl Iterator<Item = &'a str>),
    (base_history, mut base_diff_ids): (&[oci_spec::image::History], impl Iterator<Item = &'b str>),
) -> bool {
    base_history.len() < history.len()
        && history[..base_history.len()] == *base_history
        && base_diff_ids.all(|base| diff_ids.next() == Some(base))
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

#[cfg(test)]
mod tests {
    use oci_spec::image::{HistoryBuilder, ImageConfigurationBuilder};

    use super::*;

    fn image(id: &str, steps: &[&str], layers: &[&str]) -> Image {
        let history: Vec<_> =
            steps.iter().map(|step| HistoryBuilder::default().created_by(*step).build().expect("history")).collect();
        Image {
            id: id.into(),
            repo_tags: Vec::new(),
            config: ImageConfigurationBuilder::default().history(history).build().expect("a config"),
            size: 0,
            created: None,
            diff_ids: layers.iter().map(|l| l.to_string()).collect(),
            manifest_digest: String::new(),
            repo_digests: Vec::new(),
        }
    }

    #[test]
    fn built_on_means_a_strict_prefix_of_history_and_layers() {
        let base = image("base", &["ADD rootfs"], &["l1"]);
        let run = image("run", &["ADD rootfs", "RUN a"], &["l1", "l2"]);
        let env = image("env", &["ADD rootfs", "RUN a", "ENV X=1"], &["l1", "l2"]);
        let other = image("other", &["ADD rootfs", "RUN b"], &["l1", "l3"]);
        assert!(run.is_built_on(&base) && env.is_built_on(&run) && env.is_built_on(&base));
        assert!(!base.is_built_on(&run) && !run.is_built_on(&run), "not backwards, not on itself");
        assert!(!other.is_built_on(&run) && !env.is_built_on(&other), "a sibling is not a base");
        let same_history_other_layer = image("x", &["ADD rootfs", "RUN a", "ENV X=1"], &["l9", "l2"]);
        assert!(!same_history_other_layer.is_built_on(&run));
    }
}
