//! [`ImageStore`]: images in an OCI layout, tags in its `index.json`, layers unpacked for overlayfs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bollard_stubs::models::{ImageDeleteResponseItem, ImageHistoryResponseItem};
use oci_spec::image::{
    Config, Descriptor, Digest, History, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, ImageIndex,
    ImageManifest, ImageManifestBuilder, MediaType, RootFs,
};

use super::change::{apply_changes, ImageConfigChanges};
use super::error::{ImageError, IoContext};
use super::layer::{self, ApplyOptions};
use super::layer_tree::{read_layer, LayerEntry};
use super::layout::{self, canonical_json, digest_hex, HashingReader, Layout};
use super::reference::{is_lower_hex, parse_tag_target, Reference};
use super::{busybox, short_id, ContainerUse, HistoryEntry, Image};

/// `org.opencontainers.image.ref.name`: the familiar name without `:latest`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The fully qualified name, as containerd writes it.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Marks the descriptor of an image without tags, so it survives in the index.
pub const ANNOTATION_DANGLING: &str = "berth.dangling";
/// The image's repository digests (`name@sha256:...`, space separated): where it was pulled from or pushed to.
pub const ANNOTATION_REPO_DIGESTS: &str = "berth.repo-digests";
/// Docker's schema 2 manifest, stored as a registry served it.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

mod pulled;
pub use pulled::{PushParts, RemoteLayer, Reservation};

/// A layer of an image: its blob and its uncompressed digest.
#[derive(Debug, Clone)]
struct LayerRec {
    /// Blob digest (equal to `diff_id` for uncompressed layers, which is all this store writes).
    digest: String,
    media_type: MediaType,
    size: u64,
    diff_id: String,
}

#[derive(Debug, Clone)]
struct Record {
    id: String,
    manifest_digest: String,
    manifest_size: u64,
    /// The manifest's own media type: OCI for what Berth writes, a registry's choice for what it pulls.
    manifest_media_type: MediaType,
    config: ImageConfiguration,
    layers: Vec<LayerRec>,
    /// `name@sha256:...` for each repository the image came from or went to.
    repo_digests: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct State {
    /// By image ID.
    images: BTreeMap<String, Record>,
    /// Familiar tagged name (`busybox:latest`) → image ID.
    tags: BTreeMap<String, String>,
    /// Index descriptors this store does not understand, written back untouched.
    foreign: Vec<Descriptor>,
    /// Blob digests and diff_ids a pull in progress has written or will write: garbage collection keeps them.
    reserved: HashMap<String, usize>,
    /// Pulled layer directories named but not yet flushed to disk nor marked complete (see
    /// [`ImageStore::sync_pulled_layers`]).
    unsynced: HashSet<String>,
}

impl State {
    fn tags_of(&self, id: &str) -> Vec<String> {
        self.tags.iter().filter(|(_, v)| v.as_str() == id).map(|(k, _)| k.clone()).collect()
    }
}

/// The image store. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    layout: Layout,
    layers_dir: PathBuf,
    /// `root/layers-complete/<diffid-hex>`: written once a layer's files are on disk. A layer directory without
    /// one is a crash's leftover (power lost between the rename and the data reaching the disk) and unpacked anew.
    complete_dir: PathBuf,
    state: Mutex<State>,
    /// Writers of blobs and unpackers of layers hold it shared; garbage collection holds it exclusively.
    gc_lock: RwLock<()>,
    /// The most a layer or an archive may unpack to (the daemon's `--max-unpacked-size`); None: no limit.
    max_unpacked: Option<u64>,
}

impl ImageStore {
    /// Holds every layer and archive this store unpacks to `max` bytes, so a compressed bomb is refused.
    pub fn limit_unpacked(&mut self, max: u64) {
        self.max_unpacked = Some(max);
    }

    pub(crate) fn max_unpacked(&self) -> Option<u64> {
        self.max_unpacked
    }

    /// Open (creating if needed) the store under `root`: `root/oci` (OCI layout) and `root/layers`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        fs::create_dir_all(root).ctx(root)?;
        let layers_dir = root.join("layers");
        fs::create_dir_all(&layers_dir).ctx(&layers_dir)?;
        layout::remove_temps(&layers_dir)?;
        layout::remove_temps(root)?;
        let complete_dir = root.join("layers-complete");
        remove_incomplete_layers(&layers_dir, &complete_dir)?;
        let layout = Layout::open(&root.join("oci"))?;
        let state = load_state(&layout)?;
        tracing::info!(root = %root.display(), images = state.images.len(), tags = state.tags.len(), "image store opened");
        Ok(ImageStore {
            root: root.to_path_buf(),
            layout,
            layers_dir,
            complete_dir,
            state: Mutex::new(state),
            gc_lock: RwLock::new(()),
            max_unpacked: None,
        })
    }

    /// The OCI layout directory (`<root>/oci`).
    pub fn oci_dir(&self) -> &Path {
        self.layout.dir()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gc_shared(&self) -> RwLockReadGuard<'_, ()> {
        self.gc_lock.read().unwrap_or_else(|e| e.into_inner())
    }

    fn gc_exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gc_lock.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Make sure `busybox:latest` exists, building it from the host's `/bin/busybox` if not.
    pub fn ensure_busybox(&self) -> Result<(), ImageError> {
        if self.get("busybox:latest").is_ok() {
            return Ok(());
        }
        let bb = busybox::build(Path::new(busybox::HOST_BUSYBOX))?;
        let _gc = self.gc_shared();
        let (digest, size) = self.layout.write_blob(&bb.layer)?;
        let layer = LayerRec { digest: digest.clone(), media_type: MediaType::ImageLayer, size, diff_id: digest };
        let image = self.build_image(None, Some(layer), bb.config, bb.history, &["busybox:latest".to_string()])?;
        tracing::info!(id = %image.id, "created busybox:latest from the host's busybox");
        Ok(())
    }

    /// All images, newest first.
    pub fn list(&self) -> Vec<Image> {
        let st = self.state();
        let mut out: Vec<Image> = st.images.values().map(|r| to_image(&st, r)).collect();
        let key = |i: &Image| i.created.as_deref().map(unix_time_nanos).unwrap_or(0);
        out.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Find an image by name, name:tag, fully qualified name, `name@sha256:<manifest>`, full or short ID.
    pub fn get(&self, reference: &str) -> Result<Image, ImageError> {
        let st = self.state();
        let (id, _) = resolve(&st, reference)?;
        let rec = st.images.get(&id).ok_or_else(|| not_found(reference))?;
        Ok(to_image(&st, rec))
    }

    /// The unpacked layer directories of `image`, LOWEST layer first (unpacking them if needed).
    pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        let _gc = self.gc_shared();
        let layers = {
            let st = self.state();
            st.images.get(&image.id).map(|r| r.layers.clone()).ok_or_else(|| not_found(&image.id))?
        };
        // A container may only use layers that survive a power loss: a pulled layer not yet flushed is now.
        if layers.iter().any(|l| self.state().unsynced.contains(&l.diff_id)) {
            self.sync_pulled_layers()?;
        }
        let mut dirs = Vec::with_capacity(layers.len());
        for l in &layers {
            dirs.push(self.unpack_layer(l)?);
        }
        Ok(dirs)
    }

    /// The entries of each layer of `image` (lowest first) with its diff_id, read from the layer tars.
    pub fn layer_entries(&self, image: &Image) -> Result<Vec<(String, Vec<LayerEntry>)>, ImageError> {
        let _gc = self.gc_shared();
        let layers = {
            let st = self.state();
            st.images.get(&image.id).map(|r| r.layers.clone()).ok_or_else(|| not_found(&image.id))?
        };
        let mut out = Vec::with_capacity(layers.len());
        for l in &layers {
            let blob = io::BufReader::new(self.layout.open_blob(&l.digest)?);
            let entries = read_layer(berth_fs::decompress::decompressed(blob).ctx(&self.layers_dir)?)?;
            out.push((l.diff_id.clone(), entries));
        }
        Ok(out)
    }

    /// `docker import`: a rootfs tar (plain or gzip) becomes a one-layer image.
    pub fn import(
        &self,
        tar: impl Read,
        repo_tag: Option<&str>,
        changes: &[String],
        message: Option<&str>,
    ) -> Result<Image, ImageError> {
        let tags = normalize_tags(repo_tag.into_iter())?;
        let mut config = Config::default();
        apply_changes(&mut config, changes)?;
        let _gc = self.gc_shared();
        let reader = berth_fs::decompress::decompressed(tar).ctx(self.layout.dir())?;
        let (digest, size) = self.layout.write_blob_from(reader)?;
        self.validate_tar(&digest)?;
        let layer = LayerRec { digest: digest.clone(), media_type: MediaType::ImageLayer, size, diff_id: digest };
        let history = HistoryEntry {
            created_by: String::new(),
            comment: Some(message.map(str::to_string).unwrap_or_else(|| "Imported from -".to_string())),
            author: None,
            created: None,
        };
        self.build_image(None, Some(layer), config, history, &tags)
    }

    /// `docker commit`: the diff in an overlayfs upper dir becomes a new layer on `parent`. An empty upper dir
    /// adds only an `empty_layer` history entry. `ids`: the upper dir is a remapped container's, whose owners are
    /// written as the ids it sees.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &self,
        parent: Option<&Image>,
        upper_dir: &Path,
        ids: Option<berth_fs::id_shift::IdShift>,
        config_changes: ImageConfigChanges,
        repo_tag: Option<&str>,
        comment: Option<&str>,
        author: Option<&str>,
        created_by: &str,
    ) -> Result<Image, ImageError> {
        let tags = normalize_tags(repo_tag.into_iter())?;
        let mut config =
            config_changes.config.or_else(|| parent.and_then(|p| p.config.config().clone())).unwrap_or_default();
        apply_changes(&mut config, &config_changes.changes)?;
        let _gc = self.gc_shared();
        let empty = layer::sorted_dir(upper_dir)?.is_empty();
        let new_layer = if empty {
            None
        } else {
            let mut entries = 0;
            let (digest, size) = self.layout.write_blob_with(|w| {
                let (_, n) = layer::diff_upper_to_tar(upper_dir, ids, w)?;
                entries = n;
                Ok(())
            })?;
            tracing::debug!(%digest, size, entries, "committed layer");
            Some(LayerRec { digest: digest.clone(), media_type: MediaType::ImageLayer, size, diff_id: digest })
        };
        let history = HistoryEntry {
            created_by: created_by.to_string(),
            comment: comment.map(str::to_string),
            author: author.map(str::to_string),
            created: None,
        };
        self.build_image(parent, new_layer, config, history, &tags)
    }

    /// The builder's primitive: a new image = `parent` + an optional layer tar (plain or gzip) + `config`.
    pub fn create_from(
        &self,
        parent: Option<&Image>,
        layer_tar: Option<&Path>,
        config: Config,
        history: HistoryEntry,
        repo_tags: &[String],
    ) -> Result<Image, ImageError> {
        let tags = normalize_tags(repo_tags.iter().map(String::as_str))?;
        let _gc = self.gc_shared();
        let new_layer = match layer_tar {
            None => None,
            Some(path) => {
                let f = fs::File::open(path).ctx(path)?;
                let reader = berth_fs::decompress::decompressed(f).ctx(path)?;
                let (digest, size) = self.layout.write_blob_from(reader)?;
                self.validate_tar(&digest)?;
                Some(LayerRec { digest: digest.clone(), media_type: MediaType::ImageLayer, size, diff_id: digest })
            }
        };
        self.build_image(parent, new_layer, config, history, &tags)
    }

    /// Check that a stored blob is a readable tar; if not, drop the blob (unless an image uses it).
    fn validate_tar(&self, digest: &str) -> Result<(), ImageError> {
        let result = self.check_tar(digest);
        if result.is_err() {
            let st = self.state();
            let used = st.images.values().any(|r| r.layers.iter().any(|l| l.digest == digest));
            if !used {
                if let Ok(path) = self.layout.blob_path(digest) {
                    let _ = fs::remove_file(path);
                }
            }
        }
        result
    }

    fn check_tar(&self, digest: &str) -> Result<(), ImageError> {
        let path = self.layout.blob_path(digest)?;
        let f = self.layout.open_blob(digest)?;
        let mut archive = tar::Archive::new(io::BufReader::new(f));
        let entries = archive.entries().ctx(&path)?;
        for e in entries {
            let e = e.map_err(|e| ImageError::Corrupt { what: "layer tar".to_string(), reason: e.to_string() })?;
            e.path().map_err(|e| ImageError::Corrupt { what: "layer tar".to_string(), reason: e.to_string() })?;
        }
        Ok(())
    }

    /// Write config and manifest for `parent` + `layer`, and record the image with `tags` (already normalized).
    /// The caller holds `gc_lock` shared (the layer blob is not referenced by any image yet).
    fn build_image(
        &self,
        parent: Option<&Image>,
        layer: Option<LayerRec>,
        config: Config,
        entry: HistoryEntry,
        tags: &[String],
    ) -> Result<Image, ImageError> {
        let (mut layers, parent_cfg) = match parent {
            Some(p) => {
                let st = self.state();
                let rec = st.images.get(&p.id).ok_or_else(|| not_found(&p.id))?;
                (rec.layers.clone(), Some(rec.config.clone()))
            }
            None => (Vec::new(), None),
        };
        let created = entry.created.clone().unwrap_or_else(now_rfc3339);
        let mut history: Vec<History> = parent_cfg.as_ref().and_then(|c| c.history().clone()).unwrap_or_default();
        let mut h = HistoryBuilder::default().created(created.clone()).created_by(entry.created_by.clone());
        if let Some(c) = &entry.comment {
            h = h.comment(c.clone());
        }
        if let Some(a) = &entry.author {
            h = h.author(a.clone());
        }
        if layer.is_none() {
            h = h.empty_layer(true);
        }
        history.push(h.build().map_err(spec_err)?);
        if let Some(l) = layer {
            layers.push(l);
        }
        let mut rootfs = RootFs::default();
        rootfs.set_diff_ids(layers.iter().map(|l| l.diff_id.clone()).collect());
        let (arch, os) = match &parent_cfg {
            Some(c) => (c.architecture().clone(), c.os().clone()),
            None => Default::default(),
        };
        let mut image_config = ImageConfigurationBuilder::default()
            .created(created)
            .architecture(arch)
            .os(os)
            .config(config)
            .rootfs(rootfs)
            .history(history)
            .build()
            .map_err(spec_err)?;
        image_config.set_author(entry.author.clone());

        let config_bytes = canonical_json(&image_config, Path::new("image config"))?;
        self.store_image(&config_bytes, image_config, layers, tags)
    }

    /// Write `config_bytes` (the config blob exactly as given: its digest is the image ID) and a manifest for
    /// `layers` (blobs already written), and record the image with `tags` (already normalized).
    fn store_image(
        &self,
        config_bytes: &[u8],
        image_config: ImageConfiguration,
        layers: Vec<LayerRec>,
        tags: &[String],
    ) -> Result<Image, ImageError> {
        let (config_digest, config_size) = self.layout.write_blob(config_bytes)?;
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(descriptor(MediaType::ImageConfig, config_size, &config_digest)?)
            .layers(
                layers
                    .iter()
                    .map(|l| descriptor(l.media_type.clone(), l.size, &l.digest))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .build()
            .map_err(spec_err)?;
        let manifest_bytes = canonical_json(&manifest, Path::new("image manifest"))?;
        let (manifest_digest, manifest_size) = self.layout.write_blob(&manifest_bytes)?;

        let rec = Record {
            id: config_digest.clone(),
            manifest_digest,
            manifest_size,
            manifest_media_type: MediaType::ImageManifest,
            config: image_config,
            layers,
            repo_digests: BTreeSet::new(),
        };
        let mut st = self.state();
        st.images.entry(config_digest.clone()).or_insert(rec);
        for t in tags {
            st.tags.insert(t.clone(), config_digest.clone());
        }
        self.persist(&st)?;
        let rec = st.images.get(&config_digest).ok_or_else(|| not_found(&config_digest))?;
        Ok(to_image(&st, rec))
    }

    /// `docker load` of one image: its config blob as given (so the ID is kept) and its layer tars (plain or gzip),
    /// which must match the config's diff_ids.
    pub(super) fn add_image(
        &self,
        config_bytes: &[u8],
        layer_files: &[PathBuf],
        tags: &[String],
    ) -> Result<Image, ImageError> {
        let tags = normalize_tags(tags.iter().map(String::as_str))?;
        let image_config: ImageConfiguration = serde_json::from_slice(config_bytes)
            .map_err(|source| ImageError::Json { path: PathBuf::from("image config"), source })?;
        let diff_ids = image_config.rootfs().diff_ids().clone();
        if diff_ids.len() != layer_files.len() {
            return Err(ImageError::Corrupt {
                what: "image archive".to_string(),
                reason: format!("{} layers for {} diff_ids", layer_files.len(), diff_ids.len()),
            });
        }
        let _gc = self.gc_shared();
        let mut layers = Vec::with_capacity(layer_files.len());
        for (file, diff_id) in layer_files.iter().zip(&diff_ids) {
            let f = fs::File::open(file).ctx(file)?;
            let reader = berth_fs::decompress::decompressed(f).ctx(file)?;
            let (digest, size) = self.layout.write_blob_from(reader)?;
            if &digest != diff_id {
                return Err(ImageError::Corrupt {
                    what: file.display().to_string(),
                    reason: format!("layer digest {digest} does not match diff_id {diff_id}"),
                });
            }
            layers.push(LayerRec { digest: digest.clone(), media_type: MediaType::ImageLayer, size, diff_id: digest });
        }
        self.store_image(config_bytes, image_config, layers, &tags)
    }

    /// The path of a stored blob (`sha256:<hex>`).
    pub(super) fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        self.layout.blob_path(digest)
    }

    /// `docker tag`: point `repo_tag` (`x` means `x:latest`) at the image `reference` names.
    pub fn tag(&self, reference: &str, repo_tag: &str) -> Result<(), ImageError> {
        let target = parse_tag_target(repo_tag)?.familiar_tagged();
        let mut st = self.state();
        let (id, _) = resolve(&st, reference)?;
        let previous = st.tags.insert(target.clone(), id.clone());
        if let Some(prev) = previous.filter(|p| *p != id) {
            tracing::info!(tag = %target, previous = %prev, "tag moved; previous image kept as dangling if untagged");
        }
        self.persist(&st)
    }

    /// `docker rmi` with Docker's semantics: a name untags (and deletes the image when it was the last tag);
    /// an ID with several tags is a 409 unless `force`; an image used by a running container can never be
    /// deleted, one used by a stopped container only with `force`. `used_by_container` reports a container
    /// using an image ID. An image a container uses is never deleted, even forced: only its tags go (it stays
    /// as dangling), so the container's layers remain.
    /// With `prune_parents` (dockerd's default; `docker rmi --no-prune` turns it off), the untagged images the
    /// deleted one was built on go with it, up to the first one that is tagged, used by a container or the parent
    /// of another image: the step images a build left behind.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        prune_parents: bool,
        used_by_container: &dyn Fn(&str) -> Option<ContainerUse>,
    ) -> Result<Vec<ImageDeleteResponseItem>, ImageError> {
        let _gc = self.gc_exclusive();
        let mut st = self.state();
        let (id, by_tag) = resolve(&st, reference)?;
        let refs = st.tags_of(&id);
        let usage = used_by_container(&id);
        let mut items = Vec::new();
        match by_tag {
            Some(tag) => {
                if refs.len() <= 1 && !force {
                    if let Some(u) = &usage {
                        return Err(ImageError::Conflict {
                            message: format!(
                                "conflict: unable to remove repository reference \"{reference}\" (must force) - \
                                 container {} is using its referenced image {}",
                                short_id(&u.container_id),
                                short_id(&id)
                            ),
                        });
                    }
                }
                st.tags.remove(&tag);
                items.push(ImageDeleteResponseItem { untagged: Some(tag), deleted: None });
                if refs.len() > 1 || usage.is_some() {
                    self.persist(&st)?;
                    return Ok(items);
                }
            }
            None => {
                if refs.len() > 1 && !force {
                    return Err(ImageError::Conflict {
                        message: format!(
                            "conflict: unable to delete {} (must be forced) - image is referenced in multiple \
                             repositories",
                            short_id(&id)
                        ),
                    });
                }
                if let Some(u) = &usage {
                    if u.running {
                        return Err(ImageError::Conflict {
                            message: format!(
                                "conflict: unable to delete {} (cannot be forced) - image is being used by running \
                                 container {}",
                                short_id(&id),
                                short_id(&u.container_id)
                            ),
                        });
                    }
                    if !force {
                        return Err(ImageError::Conflict {
                            message: format!(
                                "conflict: unable to delete {} (must be forced) - image is being used by stopped \
                                 container {}",
                                short_id(&id),
                                short_id(&u.container_id)
                            ),
                        });
                    }
                }
                for t in refs {
                    st.tags.remove(&t);
                    items.push(ImageDeleteResponseItem { untagged: Some(t), deleted: None });
                }
                if usage.is_some() {
                    self.persist(&st)?;
                    return Ok(items);
                }
            }
        }
        let mut removed = st.images.remove(&id);
        items.push(ImageDeleteResponseItem { untagged: None, deleted: Some(id.clone()) });
        while let Some(child) = removed.take().filter(|_| prune_parents) {
            let Some(parent) = parent_of(&st, &child) else { break };
            let unused = st.tags_of(&parent.id).is_empty() && used_by_container(&parent.id).is_none();
            // Another image built on it, directly or further up, still needs it.
            if !unused || st.images.values().any(|other| built_on(other, parent)) {
                break;
            }
            let parent = parent.id.clone();
            removed = st.images.remove(&parent);
            items.push(ImageDeleteResponseItem { untagged: None, deleted: Some(parent) });
        }
        self.persist(&st)?;
        self.collect_garbage(&st)?;
        tracing::info!(%id, "image deleted");
        Ok(items)
    }

    /// `docker image prune`, as moby's ImagePrune: the images `pick` selects (by config: labels, creation time)
    /// that no container uses, only untagged ones when `dangling_only`. An untagged image another is built on (a
    /// build step's) is never a victim itself, as moby prunes heads only: it goes with the image built on it, whose
    /// untagged parents are deleted as `docker rmi` deletes them. Returns what was untagged and deleted, and the
    /// bytes of blobs freed.
    pub fn prune(
        &self,
        dangling_only: bool,
        pick: &dyn Fn(&ImageConfiguration) -> bool,
        used: &dyn Fn(&str) -> bool,
    ) -> Result<(Vec<ImageDeleteResponseItem>, u64), ImageError> {
        let _gc = self.gc_exclusive();
        let mut st = self.state();
        let victims: Vec<String> = st
            .images
            .values()
            .filter(|rec| {
                let tagged = !st.tags_of(&rec.id).is_empty();
                (tagged && !dangling_only) || (!tagged && !st.images.values().any(|other| built_on(other, rec)))
            })
            .filter(|rec| pick(&rec.config) && !used(&rec.id))
            .map(|rec| rec.id.clone())
            .collect();
        let mut items = Vec::new();
        for id in victims {
            if !st.images.contains_key(&id) {
                continue;
            }
            for t in st.tags_of(&id) {
                st.tags.remove(&t);
                items.push(ImageDeleteResponseItem { untagged: Some(t), deleted: None });
            }
            let mut removed = st.images.remove(&id);
            items.push(ImageDeleteResponseItem { untagged: None, deleted: Some(id) });
            while let Some(child) = removed.take() {
                let Some(parent) = parent_of(&st, &child) else { break };
                let unused = st.tags_of(&parent.id).is_empty() && !used(&parent.id);
                if !unused || st.images.values().any(|other| built_on(other, parent)) {
                    break;
                }
                let parent = parent.id.clone();
                removed = st.images.remove(&parent);
                items.push(ImageDeleteResponseItem { untagged: None, deleted: Some(parent) });
            }
        }
        if items.is_empty() {
            return Ok((items, 0));
        }
        self.persist(&st)?;
        let reclaimed = self.collect_garbage(&st)?;
        Ok((items, reclaimed))
    }

    /// Deletes those of `ids` that are untagged and that no container uses (`used`): the step images of a build
    /// cache that was pruned. Others built on them keep their layers. Returns what went and the bytes freed.
    pub fn remove_untagged(
        &self,
        ids: &[String],
        used: &dyn Fn(&str) -> bool,
    ) -> Result<(Vec<ImageDeleteResponseItem>, u64), ImageError> {
        let _gc = self.gc_exclusive();
        let mut st = self.state();
        let mut items = Vec::new();
        for id in ids {
            if st.images.contains_key(id) && st.tags_of(id).is_empty() && !used(id) {
                st.images.remove(id);
                items.push(ImageDeleteResponseItem { untagged: None, deleted: Some(id.clone()) });
            }
        }
        if items.is_empty() {
            return Ok((items, 0));
        }
        self.persist(&st)?;
        let reclaimed = self.collect_garbage(&st)?;
        Ok((items, reclaimed))
    }

    /// Each image's layers as (diff id, size of its blob), lowest first, by image ID: what `docker system df` adds
    /// up (a layer shared by images is one blob on disk).
    pub fn layer_sizes(&self) -> HashMap<String, Vec<(String, u64)>> {
        let st = self.state();
        st.images
            .values()
            .map(|rec| (rec.id.clone(), rec.layers.iter().map(|l| (l.diff_id.clone(), l.size)).collect()))
            .collect()
    }

    /// `docker history`: newest first, with the size of each non-empty layer.
    pub fn history(&self, image: &Image) -> Vec<ImageHistoryResponseItem> {
        let sizes: Vec<u64> = {
            let st = self.state();
            match st.images.get(&image.id) {
                Some(r) => r.layers.iter().map(|l| l.size).collect(),
                None => Vec::new(),
            }
        };
        let mut items = Vec::new();
        let mut layer_idx = 0;
        match image.config.history() {
            Some(hist) if !hist.is_empty() => {
                for h in hist {
                    let size = if h.empty_layer().unwrap_or(false) {
                        0
                    } else {
                        let s = sizes.get(layer_idx).copied().unwrap_or(0);
                        layer_idx += 1;
                        s
                    };
                    items.push(ImageHistoryResponseItem {
                        id: "<missing>".to_string(),
                        created: h.created().as_deref().map(unix_time).unwrap_or(0),
                        created_by: h.created_by().clone().unwrap_or_default(),
                        tags: Vec::new(),
                        size: size as i64,
                        comment: h.comment().clone().unwrap_or_default(),
                    });
                }
            }
            _ => {
                for s in &sizes {
                    items.push(ImageHistoryResponseItem {
                        id: "<missing>".to_string(),
                        created: image.created.as_deref().map(unix_time).unwrap_or(0),
                        created_by: String::new(),
                        tags: Vec::new(),
                        size: *s as i64,
                        comment: String::new(),
                    });
                }
            }
        }
        items.reverse();
        if let Some(top) = items.first_mut() {
            top.id = image.id.clone();
            top.tags = image.repo_tags.clone();
        }
        items
    }

    /// Rewrite `index.json` from the state: one descriptor per tag, one per untagged image, then foreign ones.
    fn persist(&self, st: &State) -> Result<(), ImageError> {
        let mut manifests = Vec::new();
        let mut tagged: HashSet<&str> = HashSet::new();
        for (tag, id) in &st.tags {
            let Some(rec) = st.images.get(id) else {
                continue;
            };
            let r = Reference::parse(tag)?;
            let mut d = descriptor(rec.manifest_media_type.clone(), rec.manifest_size, &rec.manifest_digest)?;
            let mut annotations = HashMap::from([
                (ANNOTATION_REF_NAME.to_string(), r.oci_ref_name()),
                (ANNOTATION_CONTAINERD_NAME.to_string(), r.full_tagged()),
            ]);
            annotate_repo_digests(&mut annotations, rec);
            d.set_annotations(Some(annotations));
            manifests.push(d);
            tagged.insert(id);
        }
        for (id, rec) in &st.images {
            if tagged.contains(id.as_str()) {
                continue;
            }
            let mut d = descriptor(rec.manifest_media_type.clone(), rec.manifest_size, &rec.manifest_digest)?;
            let mut annotations = HashMap::from([(ANNOTATION_DANGLING.to_string(), "true".to_string())]);
            annotate_repo_digests(&mut annotations, rec);
            d.set_annotations(Some(annotations));
            manifests.push(d);
        }
        manifests.extend(st.foreign.iter().cloned());
        let mut index = ImageIndex::default();
        index.set_media_type(Some(MediaType::ImageIndex));
        index.set_manifests(manifests);
        self.layout.write_index(&index)
    }

    /// Delete blobs and unpacked layers no image references. Caller holds `gc_lock` exclusively.
    fn collect_garbage(&self, st: &State) -> Result<u64, ImageError> {
        let mut keep: HashSet<String> = HashSet::new();
        let mut diff_hex: HashSet<String> = HashSet::new();
        for rec in st.images.values() {
            keep.insert(rec.manifest_digest.clone());
            keep.insert(rec.id.clone());
            for l in &rec.layers {
                keep.insert(l.digest.clone());
                if let Ok(h) = digest_hex(&l.diff_id) {
                    diff_hex.insert(h.to_string());
                }
            }
        }
        for d in &st.foreign {
            keep.insert(d.digest().to_string());
        }
        for reserved in st.reserved.keys() {
            keep.insert(reserved.clone());
            if let Ok(h) = digest_hex(reserved) {
                diff_hex.insert(h.to_string());
            }
        }
        let freed = self.layout.gc(&keep)?;
        for name in layer::sorted_dir(&self.layers_dir)? {
            let name = name.to_string_lossy().into_owned();
            if diff_hex.contains(&name) || name.starts_with(layout::TMP_PREFIX) {
                continue;
            }
            let path = self.layers_dir.join(&name);
            tracing::debug!(layer = %name, "removing unpacked layer");
            fs::remove_dir_all(&path).ctx(&path)?;
            let _ = fs::remove_file(self.complete_dir.join(&name));
        }
        Ok(freed)
    }

    /// Unpack a layer into `layers/<diffid-hex>` once: into a temp dir, verifying the blob digest, then renamed.
    fn unpack_layer(&self, l: &LayerRec) -> Result<PathBuf, ImageError> {
        let dest = self.layers_dir.join(digest_hex(&l.diff_id)?);
        if dest.is_dir() {
            return Ok(dest);
        }
        let tmp = self.layers_dir.join(layout::temp_name());
        fs::create_dir(&tmp).ctx(&tmp)?;
        let result = (|| {
            fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).ctx(&tmp)?;
            let blob = self.layout.open_blob(&l.digest)?;
            let mut hashing = HashingReader::new(io::BufReader::new(blob));
            let opts = ApplyOptions::image_layer(self.max_unpacked);
            // Registries' layers are gzip or zstd whatever their media type says (Docker's or OCI's names).
            {
                let decoded = berth_fs::decompress::decompressed(&mut hashing).ctx(&tmp)?;
                layer::apply_tar(&tmp, Path::new(""), decoded, &opts)?;
            }
            let (actual, _) = hashing.drain_and_finish().ctx(&tmp)?;
            if actual != l.digest {
                return Err(ImageError::Corrupt {
                    what: format!("layer blob {}", l.digest),
                    reason: format!("digest mismatch: got {actual}"),
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        self.install_layer_dir(&tmp, &l.diff_id)
    }

    /// Give a fully unpacked temp directory its layer's name (`layers/<diffid-hex>`) and mark it complete.
    fn install_layer_dir(&self, tmp: &Path, diff_id: &str) -> Result<PathBuf, ImageError> {
        // Every file on disk before the directory gets its name: a power loss cannot leave a named, partial layer.
        syncfs(tmp)?;
        let dest = self.rename_layer_dir(tmp, diff_id)?;
        mark_complete(&self.complete_dir, digest_hex(diff_id)?)?;
        tracing::debug!(layer = %diff_id, dir = %dest.display(), "unpacked layer");
        Ok(dest)
    }

    /// Name a pulled layer's directory now and flush it later, once for the whole pull (a pull's bytes reach the
    /// disk while the next one downloads): until [`ImageStore::sync_pulled_layers`] marks it, the store's start
    /// removes it as a crash's leftover, and it is unpacked again from its blob, which was synced before it was
    /// named.
    pub(crate) fn install_layer_dir_unsynced(&self, tmp: &Path, diff_id: &str) -> Result<PathBuf, ImageError> {
        let dest = self.rename_layer_dir(tmp, diff_id)?;
        self.state().unsynced.insert(diff_id.to_string());
        Ok(dest)
    }

    /// Flushes the pulled layers named since the last call and marks them complete. Cheap when the kernel has
    /// written them back already.
    pub fn sync_pulled_layers(&self) -> Result<(), ImageError> {
        let pending: Vec<String> = self.state().unsynced.iter().cloned().collect();
        if pending.is_empty() {
            return Ok(());
        }
        syncfs(&self.layers_dir)?;
        for diff_id in &pending {
            if self.layers_dir.join(digest_hex(diff_id)?).is_dir() {
                mark_complete(&self.complete_dir, digest_hex(diff_id)?)?;
            }
            self.state().unsynced.remove(diff_id);
        }
        Ok(())
    }

    fn rename_layer_dir(&self, tmp: &Path, diff_id: &str) -> Result<PathBuf, ImageError> {
        let dest = self.layers_dir.join(digest_hex(diff_id)?);
        match fs::rename(tmp, &dest) {
            Ok(()) => {}
            Err(_) if dest.is_dir() => {
                // Another thread won the race.
                fs::remove_dir_all(tmp).ctx(tmp)?;
            }
            Err(e) => {
                let _ = fs::remove_dir_all(tmp);
                return Err(ImageError::io(&dest, e));
            }
        }
        layout::sync_dir(&self.layers_dir)?;
        Ok(dest)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn spec_err(e: oci_spec::OciSpecError) -> ImageError {
    ImageError::Corrupt { what: "OCI document".to_string(), reason: e.to_string() }
}

fn descriptor(media_type: MediaType, size: u64, digest: &str) -> Result<Descriptor, ImageError> {
    let d = Digest::from_str(digest).map_err(spec_err)?;
    Ok(Descriptor::new(media_type, size, d))
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn unix_time_nanos(s: &str) -> i128 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
        .unwrap_or(0)
}

fn unix_time(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp()).unwrap_or(0)
}

fn normalize_tags<'a>(tags: impl Iterator<Item = &'a str>) -> Result<Vec<String>, ImageError> {
    tags.map(|t| parse_tag_target(t).map(|r| r.familiar_tagged())).collect()
}

fn not_found(reference: &str) -> ImageError {
    let shown = match Reference::parse(reference) {
        Ok(r) if r.tag.is_none() && r.digest.is_none() => format!("{reference}:latest"),
        _ => reference.to_string(),
    };
    ImageError::NotFound { reference: shown }
}

/// Resolve a reference to (image ID, the tag it was found by).
fn resolve(st: &State, reference: &str) -> Result<(String, Option<String>), ImageError> {
    let r = reference.trim();
    if let Some(hex) = r.strip_prefix("sha256:") {
        return match by_id_prefix(st, hex) {
            Some(id) => Ok((id, None)),
            None => Err(not_found(reference)),
        };
    }
    if let Ok(parsed) = Reference::parse(r) {
        if let Some(d) = &parsed.digest {
            return st
                .images
                .values()
                .find(|rec| {
                    &rec.manifest_digest == d
                        || &rec.id == d
                        || rec.repo_digests.iter().any(|rd| rd.rsplit_once('@').is_some_and(|(_, digest)| digest == d))
                })
                .map(|rec| (rec.id.clone(), None))
                .ok_or_else(|| not_found(reference));
        }
        let tag = parsed.familiar_tagged();
        if let Some(id) = st.tags.get(&tag) {
            return Ok((id.clone(), Some(tag)));
        }
    }
    if r.len() >= 4 {
        if let Some(id) = by_id_prefix(st, r) {
            return Ok((id, None));
        }
    }
    Err(not_found(reference))
}

/// The unique image whose ID hex starts with `prefix`.
fn by_id_prefix(st: &State, prefix: &str) -> Option<String> {
    if prefix.is_empty() || prefix.len() > 64 || !is_lower_hex(prefix) {
        return None;
    }
    let mut it = st.images.keys().filter(|id| id.strip_prefix("sha256:").is_some_and(|h| h.starts_with(prefix)));
    let first = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some(first.clone())
}

/// [`Image::is_built_on`] for the store's records.
fn built_on(rec: &Record, base: &Record) -> bool {
    fn parts(r: &Record) -> (&[History], impl Iterator<Item = &str>) {
        (r.config.history().as_deref().unwrap_or_default(), r.layers.iter().map(|l| l.diff_id.as_str()))
    }
    base.id != rec.id && super::extends(parts(rec), parts(base))
}

/// The image `rec` was built on directly: of those it was built on, the one with the longest history.
fn parent_of<'a>(st: &'a State, rec: &Record) -> Option<&'a Record> {
    st.images
        .values()
        .filter(|base| built_on(rec, base))
        .max_by_key(|base| base.config.history().as_ref().map_or(0, Vec::len))
}

fn to_image(st: &State, rec: &Record) -> Image {
    Image {
        id: rec.id.clone(),
        repo_tags: st.tags_of(&rec.id),
        config: rec.config.clone(),
        size: rec.layers.iter().map(|l| l.size).sum(),
        created: rec.config.created().clone(),
        diff_ids: rec.layers.iter().map(|l| l.diff_id.clone()).collect(),
        manifest_digest: rec.manifest_digest.clone(),
        repo_digests: rec.repo_digests.iter().cloned().collect(),
    }
}

fn load_state(layout: &Layout) -> Result<State, ImageError> {
    let index = layout.read_index()?;
    let mut st = State::default();
    for desc in index.manifests() {
        if !is_manifest(desc.media_type()) {
            tracing::warn!(digest = %desc.digest(), media_type = %desc.media_type(), "keeping unsupported index entry");
            st.foreign.push(desc.clone());
            continue;
        }
        let digest = desc.digest().to_string();
        let rec = match load_record(layout, &digest) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%digest, error = %e, "cannot load image; keeping its index entry");
                st.foreign.push(desc.clone());
                continue;
            }
        };
        let annotations = desc.annotations().clone().unwrap_or_default();
        let name = annotations
            .get(ANNOTATION_CONTAINERD_NAME)
            .or_else(|| annotations.get(ANNOTATION_REF_NAME))
            .and_then(|n| Reference::parse(n).ok())
            .filter(|r| r.digest.is_none());
        let id = rec.id.clone();
        let repo_digests = annotations.get(ANNOTATION_REPO_DIGESTS).map(|d| d.split_whitespace()).into_iter().flatten();
        let entry = st.images.entry(id.clone()).or_insert(rec);
        entry.repo_digests.extend(repo_digests.map(str::to_string));
        if let Some(r) = name {
            st.tags.insert(r.familiar_tagged(), id);
        }
    }
    Ok(st)
}

fn load_record(layout: &Layout, manifest_digest: &str) -> Result<Record, ImageError> {
    let bytes = layout.read_blob(manifest_digest)?;
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|source| ImageError::Json { path: PathBuf::from(manifest_digest), source })?;
    let config_digest = manifest.config().digest().to_string();
    let config_bytes = layout.read_blob(&config_digest)?;
    let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
        .map_err(|source| ImageError::Json { path: PathBuf::from(&config_digest), source })?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::Corrupt {
            what: manifest_digest.to_string(),
            reason: "manifest layers and config diff_ids differ in number".to_string(),
        });
    }
    let layers = manifest
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(d, diff)| LayerRec {
            digest: d.digest().to_string(),
            media_type: d.media_type().clone(),
            size: d.size(),
            diff_id: diff.clone(),
        })
        .collect();
    Ok(Record {
        id: config_digest,
        manifest_digest: manifest_digest.to_string(),
        manifest_size: bytes.len() as u64,
        manifest_media_type: manifest.media_type().clone().unwrap_or(MediaType::ImageManifest),
        config,
        layers,
        repo_digests: BTreeSet::new(),
    })
}

/// An image manifest in OCI's or Docker's schema 2 form (not an index, not an artifact).
fn is_manifest(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageManifest => true,
        MediaType::Other(other) => other == DOCKER_MANIFEST,
        _ => false,
    }
}

fn annotate_repo_digests(annotations: &mut HashMap<String, String>, rec: &Record) {
    if !rec.repo_digests.is_empty() {
        let joined = rec.repo_digests.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        annotations.insert(ANNOTATION_REPO_DIGESTS.to_string(), joined);
    }
}

/// Written in `complete_dir` once every layer directory of a store that had no markers yet has one.
const MARKED_BEFORE: &str = ".layers-before-markers";

/// At open: a layer directory without its completeness marker is removed (it is unpacked again when used). A
/// store from before markers has every directory marked once instead: those were written by a daemon that ran on.
fn remove_incomplete_layers(layers_dir: &Path, complete_dir: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(complete_dir).ctx(complete_dir)?;
    let migrating = !complete_dir.join(MARKED_BEFORE).exists();
    for name in layer::sorted_dir(layers_dir)? {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with(layout::TMP_PREFIX) || complete_dir.join(&name).exists() {
            continue;
        }
        if migrating {
            mark_complete(complete_dir, &name)?;
            continue;
        }
        let path = layers_dir.join(&name);
        tracing::warn!(layer = %name, "removing a layer directory that was never completed (a crash while unpacking)");
        fs::remove_dir_all(&path).ctx(&path)?;
    }
    if migrating {
        mark_complete(complete_dir, MARKED_BEFORE)?;
    }
    Ok(())
}

fn mark_complete(complete_dir: &Path, name: &str) -> Result<(), ImageError> {
    let path = complete_dir.join(name);
    fs::File::create(&path).and_then(|file| file.sync_all()).ctx(&path)?;
    layout::sync_dir(complete_dir)
}

/// Flushes the filesystem holding `dir` (one call for a whole layer's files, instead of an fsync each).
fn syncfs(dir: &Path) -> Result<(), ImageError> {
    let handle = fs::File::open(dir).ctx(dir)?;
    nix::unistd::syncfs(&handle).map_err(|errno| ImageError::io(dir, io::Error::from(errno)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmarked_layers_are_removed_once_a_store_has_markers() {
        let root = tempfile::tempdir().unwrap();
        let (layers, complete) = (root.path().join("layers"), root.path().join("layers-complete"));
        fs::create_dir_all(layers.join("old-layer")).unwrap();
        // A store from before markers: what is there was finished by a daemon that kept running.
        remove_incomplete_layers(&layers, &complete).unwrap();
        assert!(layers.join("old-layer").is_dir() && complete.join("old-layer").exists());
        // From then on, a directory without its marker is a crash's leftover.
        fs::create_dir_all(layers.join("partial-layer/bin")).unwrap();
        remove_incomplete_layers(&layers, &complete).unwrap();
        assert!(!layers.join("partial-layer").exists());
        assert!(layers.join("old-layer").is_dir(), "a marked layer stays");
    }
}
