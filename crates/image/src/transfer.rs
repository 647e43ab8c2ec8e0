//! `docker save` and `docker load`: images as a tar in the format Docker 25+ writes, an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) plus Docker's `manifest.json`, so either tool reads it. Loading
//! accepts Docker's `manifest.json` or, without it, a plain OCI layout.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use super::error::{ImageError, IoContext};
use super::layer::{self, ApplyOptions};
use super::layout;
use super::reference::Reference;
use super::store::{ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use super::{Image, ImageStore};

/// One entry of Docker's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn corrupt(reason: impl Into<String>) -> ImageError {
    ImageError::Corrupt { what: "image archive".to_string(), reason: reason.into() }
}

fn blob_name(digest: &str) -> Result<String, ImageError> {
    Ok(format!("blobs/sha256/{}", layout::digest_hex(digest)?))
}

impl ImageStore {
    /// `docker save`: the images `references` name (with the tags they were named by, or all their tags when named
    /// by ID) as one tar written to `out`.
    pub fn save(&self, references: &[String], out: impl Write) -> Result<(), ImageError> {
        let mut builder = tar::Builder::new(out);
        let mut written: HashSet<String> = HashSet::new();
        let mut entries = Vec::new();
        let mut index = Vec::new();
        for reference in references {
            let image = self.get(reference)?;
            // Named by a tag: that tag only, as Docker does; named by ID: all its tags.
            let tags: Vec<String> = match Reference::parse(reference) {
                Ok(r) if r.digest.is_none() && image.repo_tags.contains(&r.familiar_tagged()) => {
                    vec![r.familiar_tagged()]
                }
                _ => image.repo_tags.clone(),
            };
            let manifest_path = self.blob_path(&image.manifest_digest)?;
            let manifest_bytes = fs::read(&manifest_path).ctx(&manifest_path)?;
            let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes)
                .map_err(|source| ImageError::Json { path: manifest_path.clone(), source })?;
            let mut blobs = vec![image.manifest_digest.clone(), manifest.config().digest().to_string()];
            blobs.extend(manifest.layers().iter().map(|l| l.digest().to_string()));
            for digest in &blobs {
                if written.insert(digest.clone()) {
                    let path = self.blob_path(digest)?;
                    builder.append_path_with_name(&path, blob_name(digest)?).ctx(&path)?;
                }
            }
            entries.push(ManifestEntry {
                config: blob_name(&image.id)?,
                repo_tags: Some(tags.clone()),
                layers: manifest.layers().iter().map(|l| blob_name(l.digest().as_ref())).collect::<Result<_, _>>()?,
            });
            let descriptor = |annotations: Option<HashMap<String, String>>| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": image.manifest_digest,
                    "size": manifest_bytes.len(),
                    "annotations": annotations,
                })
            };
            if tags.is_empty() {
                index.push(descriptor(None));
            }
            for tag in &tags {
                let r = Reference::parse(tag)?;
                index.push(descriptor(Some(HashMap::from([
                    (ANNOTATION_CONTAINERD_NAME.to_string(), r.full_tagged()),
                    (ANNOTATION_REF_NAME.to_string(), r.tag_or_latest().to_string()),
                ]))));
            }
        }
        let files: [(&str, Vec<u8>); 3] = [
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            (
                "index.json",
                serde_json::to_vec(&serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": index,
                }))
                .map_err(|source| ImageError::Json { path: PathBuf::from("index.json"), source })?,
            ),
            (
                "manifest.json",
                serde_json::to_vec(&entries)
                    .map_err(|source| ImageError::Json { path: PathBuf::from("manifest.json"), source })?,
            ),
        ];
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(bytes.len() as u64);
            header.set_mtime(0);
            builder.append_data(&mut header, name, bytes.as_slice()).ctx(Path::new(name))?;
        }
        builder.into_inner().ctx(Path::new("image archive"))?.flush().ctx(Path::new("image archive"))?;
        Ok(())
    }

    /// `docker load`: every image in the tar, tagged as the archive says. Returns (image, its tags) per image.
    pub fn load(&self, tar: impl Read) -> Result<Vec<(Image, Vec<String>)>, ImageError> {
        let dir = self.root().join(layout::temp_name());
        fs::create_dir(&dir).ctx(&dir)?;
        let result = self.load_from(&dir, tar);
        let _ = fs::remove_dir_all(&dir);
        result
    }

    fn load_from(&self, dir: &Path, tar: impl Read) -> Result<Vec<(Image, Vec<String>)>, ImageError> {
        let opts = ApplyOptions { host_tree: true, max_bytes: self.max_unpacked(), ..ApplyOptions::default() };
        layer::apply_tar(dir, Path::new(""), berth_fs::decompress::decompressed(tar).ctx(dir)?, &opts)?;
        let inside = |name: &str| -> Result<PathBuf, ImageError> {
            let path = super::archive::resolve_in_root(dir, name)?;
            if !path.is_file() {
                return Err(corrupt(format!("{name} is missing")));
            }
            Ok(path)
        };
        let mut loaded = Vec::new();
        // The archive's own files may be symlinks: resolved inside the unpack directory, never to the host.
        let docker_manifest = super::archive::resolve_in_root(dir, "manifest.json")?;
        if docker_manifest.is_file() {
            let bytes = fs::read(&docker_manifest).ctx(&docker_manifest)?;
            let entries: Vec<ManifestEntry> = serde_json::from_slice(&bytes)
                .map_err(|source| ImageError::Json { path: docker_manifest.clone(), source })?;
            for entry in entries {
                let config_path = inside(&entry.config)?;
                let config = fs::read(&config_path).ctx(&config_path)?;
                let layers = entry.layers.iter().map(|l| inside(l)).collect::<Result<Vec<_>, _>>()?;
                let tags = entry.repo_tags.unwrap_or_default();
                let image = self.add_image(&config, &layers, &tags)?;
                loaded.push((image, tags));
            }
            return Ok(loaded);
        }
        let index_path = super::archive::resolve_in_root(dir, "index.json")?;
        if !index_path.is_file() {
            return Err(corrupt("neither manifest.json nor index.json found"));
        }
        let bytes = fs::read(&index_path).ctx(&index_path)?;
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|source| ImageError::Json { path: index_path.clone(), source })?;
        // One manifest may be listed once per tag.
        let mut by_manifest: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for descriptor in index.manifests() {
            let tags = by_manifest.entry(descriptor.digest().to_string()).or_default();
            let annotations = descriptor.annotations().clone().unwrap_or_default();
            if let Some(name) = annotations.get(ANNOTATION_CONTAINERD_NAME) {
                if let Ok(r) = Reference::parse(name) {
                    tags.push(r.familiar_tagged());
                }
            }
        }
        for (manifest_digest, tags) in by_manifest {
            let manifest_path = inside(&blob_name(&manifest_digest)?)?;
            let bytes = fs::read(&manifest_path).ctx(&manifest_path)?;
            let manifest: ImageManifest = serde_json::from_slice(&bytes)
                .map_err(|source| ImageError::Json { path: manifest_path.clone(), source })?;
            let config_path = inside(&blob_name(manifest.config().digest().as_ref())?)?;
            let config = fs::read(&config_path).ctx(&config_path)?;
            let layers = manifest
                .layers()
                .iter()
                .map(|l| inside(&blob_name(l.digest().as_ref())?))
                .collect::<Result<Vec<_>, _>>()?;
            let image = self.add_image(&config, &layers, &tags)?;
            loaded.push((image, tags));
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_into_another_store_keeps_ids_and_tags() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let source = ImageStore::open(first.path()).unwrap();
        let layer_dir = tempfile::tempdir().unwrap();
        let tar_path = layer_dir.path().join("layer.tar");
        {
            let mut builder = tar::Builder::new(fs::File::create(&tar_path).unwrap());
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(5);
            builder.append_data(&mut header, "hello", &b"hello"[..]).unwrap();
            builder.finish().unwrap();
        }
        let image = source
            .create_from(
                None,
                Some(&tar_path),
                oci_spec::image::Config::default(),
                super::super::HistoryEntry::default(),
                &["saved:1".to_string()],
            )
            .unwrap();
        let mut archive = Vec::new();
        source.save(&["saved:1".to_string()], &mut archive).unwrap();
        let target = ImageStore::open(second.path()).unwrap();
        let loaded = target.load(&archive[..]).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].0.id, image.id);
        assert_eq!(loaded[0].1, vec!["saved:1".to_string()]);
        assert_eq!(target.get("saved:1").unwrap().diff_ids, image.diff_ids);
    }
}
