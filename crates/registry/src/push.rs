//! `docker push`: every layer the registry lacks is uploaded in one streamed request (chunked if the registry
//! refuses that), mounted from another repository of the same registry when the image came from one, or skipped
//! when the registry has it; then the config and the manifest. Layers are sent as stored when they are compressed
//! (pulled ones: the manifest goes byte for byte, its digest unchanged); layers built here, stored as plain tars,
//! are gzip'd on the way out as dockerd does, and the manifest names the gzip'd blobs.

use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::{Image, ImageStore, PushParts, RemoteLayer};
use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::RegistryOperation;
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use super::credentials::Credentials;
use super::endpoint::Endpoint;
use super::progress::{short_digest, ProgressSink, PROGRESS_STEP};
use super::remote_error::other_error;
use super::{Progress, RegistryConfig, RegistryError};

/// Layers uploaded at once (dockerd's `--max-concurrent-uploads` default is 5; three keep two cores busy).
const CONCURRENT_LAYERS: usize = 3;

/// Pushes `image` as `reference` (which has a tag).
pub(crate) async fn push(
    config: &RegistryConfig,
    store: Arc<ImageStore>,
    image: &Image,
    reference: &Reference,
    credentials: Option<&Credentials>,
    progress: &ProgressSink,
) -> Result<String, RegistryError> {
    let endpoint = config.endpoints(&reference.domain).await.into_iter().find(|e| !e.mirror);
    let endpoint = endpoint.ok_or_else(|| RegistryError::transport("push", "no registry endpoint"))?;
    let client = endpoint.client();
    let tag = reference.tag_or_latest().to_string();
    let remote = oci_client::Reference::with_tag(endpoint.host.clone(), reference.path.clone(), tag.clone());
    progress.status(format!("The push refers to repository [{}]", reference.full_name()));
    let parts = {
        let store = Arc::clone(&store);
        let image = image.clone();
        tokio::task::spawn_blocking(move || store.push_parts(&image))
            .await
            .map_err(|e| RegistryError::transport("reading the image", e))??
    };
    // dockerd lists the top layer first, by diff_id.
    let mut layers: Vec<RemoteLayer> = Vec::new();
    for layer in parts.layers.iter().rev() {
        if !layers.iter().any(|l| l.digest == layer.digest) {
            progress.layer(&short_digest(&layer.diff_id), "Preparing");
            layers.push(layer.clone());
        }
    }
    let auth = Credentials::registry_auth(credentials);
    client
        .auth(&remote, &auth, RegistryOperation::Push)
        .await
        .map_err(|e| other_error(e, &format!("pushing {}", reference.familiar_tagged())))?;
    let mount_sources = mount_sources(image, reference);
    let permits = Arc::new(Semaphore::new(CONCURRENT_LAYERS));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, layer) in layers.into_iter().enumerate() {
        if index >= CONCURRENT_LAYERS {
            progress.layer(&short_digest(&layer.diff_id), "Waiting");
        }
        let job = LayerPush {
            client: client.clone(),
            endpoint: endpoint.clone(),
            remote: remote.clone(),
            store: Arc::clone(&store),
            progress: progress.clone(),
            mount_sources: mount_sources.clone(),
        };
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            job.push(&layer).await
        });
    }
    let mut sent: Vec<(String, RemoteLayer)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| RegistryError::transport("layer upload", e)).and_then(|r| r) {
            Ok(pair) => sent.push(pair),
            Err(error) => {
                tasks.abort_all();
                return Err(error);
            }
        }
    }
    let parts = with_sent_layers(parts, &sent)?;
    push_config_and_manifest(&client, &remote, parts, &tag, progress).await
}

/// Repositories of the same registry the image is known in: a registry can link their blobs instead of
/// receiving them again.
fn mount_sources(image: &Image, target: &Reference) -> Vec<String> {
    image
        .repo_digests
        .iter()
        .filter_map(|repo_digest| repo_digest.rsplit_once('@').map(|(name, _)| name))
        .filter_map(|name| Reference::parse(name).ok())
        .filter(|r| r.domain == target.domain && r.path != target.path)
        .map(|r| r.path)
        .collect()
}

struct LayerPush {
    client: oci_client::Client,
    endpoint: Endpoint,
    remote: oci_client::Reference,
    store: Arc<ImageStore>,
    progress: ProgressSink,
    mount_sources: Vec<String>,
}

impl LayerPush {
    /// Sends one layer; returns (the stored blob's digest, the layer as the registry now has it).
    async fn push(&self, stored: &RemoteLayer) -> Result<(String, RemoteLayer), RegistryError> {
        let id = short_digest(&stored.diff_id);
        let outgoing = self.compressed(stored).await?;
        self.send(&outgoing, &id).await?;
        Ok((stored.digest.clone(), outgoing.layer))
    }

    /// The layer as sent: itself when compressed, else a gzip'd copy in a temp file.
    async fn compressed(&self, stored: &RemoteLayer) -> Result<Outgoing, RegistryError> {
        if !is_plain_tar(&stored.media_type) {
            return Ok(Outgoing { layer: stored.clone(), gzipped: None });
        }
        let store = Arc::clone(&self.store);
        let plain = stored.clone();
        tokio::task::spawn_blocking(move || gzip_layer(&store, &plain))
            .await
            .map_err(|e| RegistryError::transport("compressing a layer", e))?
    }

    async fn send(&self, outgoing: &Outgoing, id: &str) -> Result<(), RegistryError> {
        let layer = &outgoing.layer;
        let context = format!("pushing layer {id}");
        if self.client.blob_exists(&self.remote, &layer.digest).await.map_err(|e| other_error(e, &context))? {
            self.progress.layer(id, "Layer already exists");
            return Ok(());
        }
        for source in &self.mount_sources {
            let from = oci_client::Reference::with_tag(self.endpoint.host.clone(), source.clone(), "latest".into());
            if self.client.mount_blob(&self.remote, &from, &layer.digest).await.is_ok() {
                self.progress.layer(id, format!("Mounted from {source}"));
                return Ok(());
            }
        }
        let monolithic = self.upload(outgoing, id, true).await;
        if let Err(error) = monolithic {
            // Some registries take blobs only in chunks.
            tracing::info!(layer = %layer.digest, %error, "monolithic upload refused; uploading in chunks");
            self.upload(outgoing, id, false).await?;
        }
        self.progress.layer(id, "Pushed");
        Ok(())
    }

    async fn upload(&self, outgoing: &Outgoing, id: &str, monolithic: bool) -> Result<(), RegistryError> {
        let layer = &outgoing.layer;
        let context = format!("pushing layer {id}");
        let id = id.to_string();
        let file = match &outgoing.gzipped {
            Some(path) => std::fs::File::open(path).map_err(|e| RegistryError::transport(&context, e))?,
            None => self.store.open_blob(&layer.digest)?,
        };
        let stream = ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024);
        let progress = self.progress.clone();
        let total = layer.size;
        let mut sent: u64 = 0;
        let mut reported: u64 = 0;
        let counted = stream.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                sent += bytes.len() as u64;
                if sent - reported >= PROGRESS_STEP || sent == total {
                    reported = sent;
                    progress.bytes(&id, "Pushing", sent, total);
                }
            }
            chunk.map_err(oci_client::errors::OciDistributionError::IoError)
        });
        let result = if monolithic {
            self.client.push_blob_stream(&self.remote, counted, &layer.digest, Some(layer.size)).await
        } else {
            self.client.push_blob_stream_chunked(&self.remote, counted).await.map(|_| String::new())
        };
        result.map(|_| ()).map_err(|e| other_error(e, &context))
    }
}

/// A layer on its way to a registry.
struct Outgoing {
    layer: RemoteLayer,
    /// The gzip'd copy of a plain tar layer, removed when this is dropped.
    gzipped: Option<tempfile::TempPath>,
}

/// Media types of uncompressed layers, OCI's and Docker's.
fn is_plain_tar(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.layer.v1.tar"
        || media_type == "application/vnd.docker.image.rootfs.diff.tar"
}

/// A plain tar layer gzip'd into a temp file beside the store (named so that the store's start removes it if the
/// daemon dies meanwhile). The same tar always gives the same bytes (no time or name in the header), so a second
/// push finds its blob in the registry.
fn gzip_layer(store: &ImageStore, plain: &RemoteLayer) -> Result<Outgoing, RegistryError> {
    let context = || format!("compressing layer {}", short_digest(&plain.diff_id));
    let temp = tempfile::Builder::new()
        .prefix(".tmp-push-")
        .tempfile_in(store.root())
        .map_err(|e| RegistryError::transport(context(), e))?;
    let (file, path) = temp.into_parts();
    let (digest, size) = store.gzip_blob(&plain.digest, file)?;
    let media_type = if plain.media_type.starts_with("application/vnd.docker") {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    };
    let layer = RemoteLayer { digest, media_type: media_type.to_string(), size, diff_id: plain.diff_id.clone() };
    Ok(Outgoing { layer, gzipped: Some(path) })
}

/// `parts` with each layer replaced by what was sent for it (`sent`: stored digest, sent layer); the manifest is
/// rewritten only when a layer changed, so a pulled image goes back byte for byte.
fn with_sent_layers(mut parts: PushParts, sent: &[(String, RemoteLayer)]) -> Result<PushParts, RegistryError> {
    let changed = sent.iter().any(|(stored, layer)| *stored != layer.digest);
    if !changed {
        return Ok(parts);
    }
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&parts.manifest).map_err(|e| RegistryError::transport("rewriting the manifest", e))?;
    if let Some(layers) = manifest["layers"].as_array_mut() {
        for descriptor in layers {
            let stored = descriptor["digest"].as_str().unwrap_or_default().to_string();
            if let Some((_, layer)) = sent.iter().find(|(digest, _)| *digest == stored) {
                descriptor["digest"] = serde_json::json!(layer.digest);
                descriptor["size"] = serde_json::json!(layer.size);
                descriptor["mediaType"] = serde_json::json!(layer.media_type);
            }
        }
    }
    parts.manifest =
        serde_json::to_vec(&manifest).map_err(|e| RegistryError::transport("rewriting the manifest", e))?;
    for layer in &mut parts.layers {
        if let Some((_, sent)) = sent.iter().find(|(digest, _)| *digest == layer.digest) {
            *layer = sent.clone();
        }
    }
    Ok(parts)
}

async fn push_config_and_manifest(
    client: &oci_client::Client,
    remote: &oci_client::Reference,
    parts: PushParts,
    tag: &str,
    progress: &ProgressSink,
) -> Result<String, RegistryError> {
    let exists =
        client.blob_exists(remote, &parts.config_digest).await.map_err(|e| other_error(e, "pushing the config"))?;
    if !exists {
        client
            .push_blob(remote, Bytes::from(parts.config), &parts.config_digest)
            .await
            .map_err(|e| other_error(e, "pushing the config"))?;
    }
    let size = parts.manifest.len();
    let digest = berth_image::sha256_digest(&parts.manifest);
    let content_type = reqwest::header::HeaderValue::from_str(&parts.manifest_media_type)
        .map_err(|e| RegistryError::transport("pushing the manifest", e))?;
    client
        .push_manifest_raw(remote, parts.manifest, content_type)
        .await
        .map_err(|e| other_error(e, "pushing the manifest"))?;
    progress.status(format!("{tag}: digest: {digest} size: {size}"));
    progress.send(Progress {
        aux: Some(serde_json::json!({"Tag": tag, "Digest": digest, "Size": size})),
        ..Progress::default()
    });
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(digest: &str, media_type: &str, size: u64) -> RemoteLayer {
        RemoteLayer { digest: digest.into(), media_type: media_type.into(), size, diff_id: format!("diff-{digest}") }
    }

    #[test]
    fn only_the_gzipped_layers_change_in_the_manifest() {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:c", "size": 1},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:pulled", "size": 10},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:built", "size": 100},
            ],
        });
        let parts = PushParts {
            manifest: serde_json::to_vec(&manifest).expect("json"),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config: b"{}".to_vec(),
            config_digest: "sha256:c".into(),
            layers: vec![
                layer("sha256:pulled", "application/vnd.oci.image.layer.v1.tar+gzip", 10),
                layer("sha256:built", "application/vnd.oci.image.layer.v1.tar", 100),
            ],
        };
        let unchanged = vec![("sha256:pulled".to_string(), parts.layers[0].clone())];
        let same = with_sent_layers(parts.clone(), &unchanged).expect("unchanged");
        assert_eq!(same.manifest, parts.manifest, "a manifest whose layers went as stored goes byte for byte");

        let gzipped = layer("sha256:gz", "application/vnd.oci.image.layer.v1.tar+gzip", 40);
        let sent = vec![unchanged[0].clone(), ("sha256:built".to_string(), gzipped.clone())];
        let rewritten = with_sent_layers(parts, &sent).expect("rewritten");
        let value: serde_json::Value = serde_json::from_slice(&rewritten.manifest).expect("json");
        assert_eq!(value["layers"][0]["digest"], "sha256:pulled");
        assert_eq!(
            value["layers"][1],
            serde_json::json!({"mediaType": gzipped.media_type, "digest": "sha256:gz", "size": 40})
        );
        assert_eq!(rewritten.layers[1], gzipped);
        assert!(is_plain_tar("application/vnd.docker.image.rootfs.diff.tar") && !is_plain_tar(&gzipped.media_type));
    }
}
