//! `docker push`: every layer the registry lacks is uploaded in one streamed request (chunked if the registry
//! refuses that), mounted from another repository of the same registry when the image came from one, or skipped
//! when the registry has it; then the config and the manifest, byte for byte, so the digest is the stored one.

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
    // dockerd lists the top layer first.
    let mut layers: Vec<RemoteLayer> = Vec::new();
    for layer in parts.layers.iter().rev() {
        if !layers.iter().any(|l| l.digest == layer.digest) {
            progress.layer(&short_digest(&layer.digest), "Preparing");
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
            progress.layer(&short_digest(&layer.digest), "Waiting");
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
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined.map_err(|e| RegistryError::transport("layer upload", e)).and_then(|r| r) {
            tasks.abort_all();
            return Err(error);
        }
    }
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
    async fn push(&self, layer: &RemoteLayer) -> Result<(), RegistryError> {
        let id = short_digest(&layer.digest);
        let context = format!("pushing layer {id}");
        if self.client.blob_exists(&self.remote, &layer.digest).await.map_err(|e| other_error(e, &context))? {
            self.progress.layer(&id, "Layer already exists");
            return Ok(());
        }
        for source in &self.mount_sources {
            let from = oci_client::Reference::with_tag(self.endpoint.host.clone(), source.clone(), "latest".into());
            if self.client.mount_blob(&self.remote, &from, &layer.digest).await.is_ok() {
                self.progress.layer(&id, format!("Mounted from {source}"));
                return Ok(());
            }
        }
        let monolithic = self.upload(layer, true).await;
        if let Err(error) = monolithic {
            // Some registries take blobs only in chunks.
            tracing::info!(layer = %layer.digest, %error, "monolithic upload refused; uploading in chunks");
            self.upload(layer, false).await?;
        }
        self.progress.layer(&id, "Pushed");
        Ok(())
    }

    async fn upload(&self, layer: &RemoteLayer, monolithic: bool) -> Result<(), RegistryError> {
        let id = short_digest(&layer.digest);
        let context = format!("pushing layer {id}");
        let file = self.store.open_blob(&layer.digest)?;
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
    let digest = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&parts.manifest)));
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
