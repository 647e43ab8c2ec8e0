//! Images from a registry entering the store, and what a push sends back out. A pulled layer's blob is streamed
//! once: written as it came (so its digest stays the registry's), verified, and unpacked on the way. The
//! registry's manifest and config are kept byte for byte, so the image ID and repository digests are dockerd's.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use oci_spec::image::{ImageConfiguration, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::super::error::{ImageError, IoContext};
use super::super::layer::{self, ApplyOptions};
use super::super::layout::{self, digest_hex, sha256_digest, HashingReader, HashingWriter};
use super::super::reference::Reference;
use super::super::Image;
use super::{not_found, to_image, ImageStore, LayerRec, Record};

/// A layer as a manifest describes it, with the diff_id its image's config gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLayer {
    /// `sha256:<hex>` of the blob as stored and sent (compressed or not).
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
}

/// What a push sends: the stored manifest and config exactly as they are (so digests don't change), and the
/// layer blobs they name.
#[derive(Debug, Clone)]
pub struct PushParts {
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<RemoteLayer>,
}

/// Blob digests and diff_ids a pull is writing: garbage collection keeps them until this is dropped, so a
/// concurrent `docker rmi` cannot delete a layer between its download and the image that uses it.
#[derive(Debug)]
pub struct Reservation {
    store: Arc<ImageStore>,
    keys: Vec<String>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut st = self.store.state();
        for key in &self.keys {
            if let Some(count) = st.reserved.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    st.reserved.remove(key);
                }
            }
        }
    }
}

impl ImageStore {
    /// Keeps `keys` (blob digests, diff_ids) from garbage collection while the returned value lives.
    pub fn reserve(self: &Arc<Self>, keys: impl IntoIterator<Item = String>) -> Reservation {
        let keys: Vec<String> = keys.into_iter().collect();
        let mut st = self.state();
        for key in &keys {
            *st.reserved.entry(key.clone()).or_insert(0) += 1;
        }
        drop(st);
        Reservation { store: Arc::clone(self), keys }
    }

    /// Whether the blob `digest` is stored (complete and verified: blobs get their name only then).
    pub fn has_blob(&self, digest: &str) -> bool {
        self.layout.blob_path(digest).is_ok_and(|path| path.is_file())
    }

    /// Stream a registry's layer blob into the store: written as it comes, its digest checked, unpacked on the way
    /// with its diff_id checked. Nothing is named until both match; a failure leaves nothing behind.
    pub fn ingest_layer(&self, remote: &RemoteLayer, reader: impl Read) -> Result<(), ImageError> {
        let _gc = self.gc_shared();
        let blob_dest = self.layout.blob_path(&remote.digest)?;
        let blobs_dir = blob_dest.parent().unwrap_or(Path::new("."));
        let (tmp_blob, file) = layout::temp_file(blobs_dir)?;
        let layer_dir = self.layers_dir.join(digest_hex(&remote.diff_id)?);
        let tmp_layer = (!layer_dir.is_dir()).then(|| self.layers_dir.join(layout::temp_name()));
        let result = (|| {
            let mut tee = TeeHasher::new(reader, BufWriter::with_capacity(1 << 20, file));
            let unpacked = match &tmp_layer {
                Some(tmp) => self.unpack_pulled(remote, tmp, &mut tee),
                None => Ok(()),
            };
            // The bytes are checked first, whatever the unpacking said: a layer that is not the one the manifest
            // names is that, not a bad tar (dockerd checks before it extracts).
            let drained = io::copy(&mut tee, &mut io::sink());
            let (writer, digest, size) = tee.finish();
            if digest != remote.digest {
                let reason = match &drained {
                    Err(error) => format!("the download broke off after {size} bytes: {error}"),
                    Ok(_) => format!("{size} bytes arrived with digest {digest}"),
                };
                return Err(verification(&remote.digest, reason));
            }
            unpacked?;
            drained.map_err(|e| verification(&remote.digest, e.to_string()))?;
            let file = writer.into_inner().map_err(|e| ImageError::io(&tmp_blob, e.into_error()))?;
            file.sync_all().ctx(&tmp_blob)?;
            fs::rename(&tmp_blob, &blob_dest).ctx(&blob_dest)?;
            layout::sync_dir(blobs_dir)?;
            if let Some(tmp) = &tmp_layer {
                self.install_layer_dir_unsynced(tmp, &remote.diff_id)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_blob);
            if let Some(tmp) = &tmp_layer {
                let _ = fs::remove_dir_all(tmp);
            }
        }
        result
    }

    /// Unpacks the layer `tee` streams into `tmp`, checking its diff_id.
    fn unpack_pulled(&self, remote: &RemoteLayer, tmp: &Path, tee: &mut impl Read) -> Result<(), ImageError> {
        fs::create_dir(tmp).ctx(tmp)?;
        fs::set_permissions(tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).ctx(tmp)?;
        let opts = ApplyOptions::image_layer(self.max_unpacked);
        let mut decoded = HashingReader::new(berth_fs::decompress::decompressed(tee).ctx(tmp)?);
        layer::apply_tar(tmp, Path::new(""), &mut decoded, &opts).map_err(|e| e.in_layer(&remote.digest))?;
        let (diff_id, _) = decoded.drain_and_finish().map_err(|e| verification(&remote.digest, e.to_string()))?;
        if diff_id != remote.diff_id {
            let reason = format!("its content is {diff_id}, the image's config says {}", remote.diff_id);
            return Err(verification(&remote.digest, reason));
        }
        Ok(())
    }

    /// Record a pulled image: `manifest` and `config` stored byte for byte (their layer blobs already ingested),
    /// tagged `tag` if given, with `repo_digest` (`name@sha256:...`). Returns the image and whether `tag` (or, for a
    /// pull by digest, the image) is new here.
    pub fn add_pulled(
        &self,
        manifest_bytes: &[u8],
        config_bytes: &[u8],
        tag: Option<&str>,
        repo_digest: &str,
    ) -> Result<(Image, bool), ImageError> {
        let manifest: ImageManifest = serde_json::from_slice(manifest_bytes)
            .map_err(|source| ImageError::Json { path: "manifest".into(), source })?;
        let config_digest = manifest.config().digest().to_string();
        if sha256_digest(config_bytes) != config_digest {
            return Err(ImageError::Corrupt {
                what: format!("image config {config_digest}"),
                reason: "its content does not match its digest".to_string(),
            });
        }
        let config: ImageConfiguration = serde_json::from_slice(config_bytes)
            .map_err(|source| ImageError::Json { path: config_digest.clone().into(), source })?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(ImageError::Corrupt {
                what: format!("image config {config_digest}"),
                reason: format!(
                    "{} layers in the manifest, {} diff_ids in the config",
                    manifest.layers().len(),
                    diff_ids.len()
                ),
            });
        }
        let mut layers = Vec::with_capacity(diff_ids.len());
        for (descriptor, diff_id) in manifest.layers().iter().zip(diff_ids) {
            let digest = descriptor.digest().to_string();
            if !self.has_blob(&digest) {
                return Err(not_found(&digest));
            }
            layers.push(LayerRec {
                digest,
                media_type: descriptor.media_type().clone(),
                size: descriptor.size(),
                diff_id: diff_id.clone(),
            });
        }
        let tag = tag.map(|t| Reference::parse(t).map(|r| r.familiar_tagged())).transpose()?;
        let _gc = self.gc_shared();
        let (written_config, _) = self.layout.write_blob(config_bytes)?;
        let (manifest_digest, manifest_size) = self.layout.write_blob(manifest_bytes)?;
        debug_assert_eq!(written_config, config_digest);
        let mut st = self.state();
        let existed = st.images.contains_key(&config_digest);
        let rec = st.images.entry(config_digest.clone()).or_insert_with(|| Record {
            id: config_digest.clone(),
            manifest_digest,
            manifest_size,
            manifest_media_type: manifest.media_type().clone().unwrap_or(MediaType::ImageManifest),
            config,
            layers,
            repo_digests: BTreeSet::new(),
        });
        let new_digest = rec.repo_digests.insert(repo_digest.to_string());
        let new = match &tag {
            Some(tag) => st.tags.insert(tag.clone(), config_digest.clone()).as_ref() != Some(&config_digest),
            None => !existed || new_digest,
        };
        self.persist(&st)?;
        let rec = st.images.get(&config_digest).ok_or_else(|| not_found(&config_digest))?;
        Ok((to_image(&st, rec), new))
    }

    /// Remember that `image` is in a registry as `repo_digest` (after a push).
    pub fn add_repo_digest(&self, image: &Image, repo_digest: &str) -> Result<(), ImageError> {
        let mut st = self.state();
        let rec = st.images.get_mut(&image.id).ok_or_else(|| not_found(&image.id))?;
        if rec.repo_digests.insert(repo_digest.to_string()) {
            self.persist(&st)?;
        }
        Ok(())
    }

    /// The manifest, config and layers a push of `image` sends.
    pub fn push_parts(&self, image: &Image) -> Result<PushParts, ImageError> {
        let (manifest_digest, media_type, layers) = {
            let st = self.state();
            let rec = st.images.get(&image.id).ok_or_else(|| not_found(&image.id))?;
            (rec.manifest_digest.clone(), rec.manifest_media_type.to_string(), rec.layers.clone())
        };
        Ok(PushParts {
            manifest: self.layout.read_blob(&manifest_digest)?,
            manifest_media_type: media_type,
            config: self.layout.read_blob(&image.id)?,
            config_digest: image.id.clone(),
            layers: layers
                .into_iter()
                .map(|l| RemoteLayer {
                    digest: l.digest,
                    media_type: l.media_type.to_string(),
                    size: l.size,
                    diff_id: l.diff_id,
                })
                .collect(),
        })
    }

    /// The blob `digest` gzip'd into `out` (deterministic: no time or name in the header, so the same tar always
    /// gives the same bytes); returns (`sha256:<hex>` of what was written, its size).
    pub fn gzip_blob(&self, digest: &str, out: impl Write) -> Result<(String, u64), ImageError> {
        let mut source = io::BufReader::with_capacity(1 << 20, self.layout.open_blob(digest)?);
        let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
        let mut encoder = flate2::GzBuilder::new().write(hashing, flate2::Compression::fast());
        let context = || format!("compressing {digest}");
        io::copy(&mut source, &mut encoder).map_err(|e| ImageError::io(context(), e))?;
        let hashing = encoder.finish().map_err(|e| ImageError::io(context(), e))?;
        let (mut buffered, gzip_digest, size) = hashing.finish();
        buffered.flush().map_err(|e| ImageError::io(context(), e))?;
        Ok((gzip_digest, size))
    }

    /// A stored blob, to send to a registry.
    pub fn open_blob(&self, digest: &str) -> Result<fs::File, ImageError> {
        self.layout.open_blob(digest)
    }
}

fn verification(digest: &str, reason: String) -> ImageError {
    tracing::warn!(layer = %digest, %reason, "pulled layer failed verification");
    ImageError::LayerVerification { digest: digest.to_string(), reason }
}

/// A reader that copies what passes through it to a writer and hashes it.
struct TeeHasher<R, W> {
    inner: R,
    copy: W,
    hasher: Sha256,
    size: u64,
}

impl<R: Read, W: Write> TeeHasher<R, W> {
    fn new(inner: R, copy: W) -> Self {
        TeeHasher { inner, copy, hasher: Sha256::new(), size: 0 }
    }

    /// (the writer, `sha256:<hex>`, bytes passed)
    fn finish(self) -> (W, String, u64) {
        (self.copy, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.size)
    }
}

impl<R: Read, W: Write> Read for TeeHasher<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A gzip'd one-file layer and its (blob digest, diff_id).
    fn layer() -> (Vec<u8>, RemoteLayer) {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(6);
        builder.append_data(&mut header, "marker", &b"pulled"[..]).expect("tar entry");
        let tar = builder.into_inner().expect("tar");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar).expect("gzip");
        let blob = gzip.finish().expect("gzip");
        let remote = RemoteLayer {
            digest: sha256_digest(&blob),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            size: blob.len() as u64,
            diff_id: sha256_digest(&tar),
        };
        (blob, remote)
    }

    #[test]
    fn a_pulled_layer_is_named_at_once_and_marked_complete_once_flushed() {
        let root = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(root.path()).expect("store");
        let (blob, remote) = layer();
        store.ingest_layer(&remote, &blob[..]).expect("ingest");
        let hex = digest_hex(&remote.diff_id).expect("hex").to_string();
        assert!(store.has_blob(&remote.digest));
        assert_eq!(fs::read(root.path().join("layers").join(&hex).join("marker")).expect("unpacked"), b"pulled");
        assert!(!root.path().join("layers-complete").join(&hex).exists(), "not marked before it is flushed");
        store.sync_pulled_layers().expect("sync");
        assert!(root.path().join("layers-complete").join(&hex).exists());
    }

    #[test]
    fn bytes_that_are_not_the_named_blob_leave_nothing() {
        let root = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(root.path()).expect("store");
        let (mut blob, remote) = layer();
        let last = blob.len() - 1;
        blob[last] ^= 0xff;
        let error = store.ingest_layer(&remote, &blob[..]).expect_err("a corrupt blob");
        assert_eq!(error.to_string(), format!("filesystem layer verification failed for digest {}", remote.digest));
        assert!(!store.has_blob(&remote.digest));
        let leftovers: Vec<_> = fs::read_dir(root.path().join("layers")).expect("layers").collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
