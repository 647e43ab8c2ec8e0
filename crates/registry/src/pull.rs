//! `docker pull`: resolve the reference to one platform's manifest and config (before any progress is sent, so a
//! missing image is a plain HTTP error as with dockerd), then stream every missing layer into the store, three at
//! a time, each verified and unpacked as it arrives, and record the image.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use berth_image::reference::Reference;
use berth_image::{Image, ImageStore, RemoteLayer};
use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::BlobResponse;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use serde::Deserialize;
use tokio::sync::{mpsc, Semaphore};

use super::credentials::Credentials;
use super::endpoint::Endpoint;
use super::manifest::{self, FetchError, MANIFEST_LIMIT};
use super::platform::Platform;
use super::progress::{short_digest, ProgressSink, PROGRESS_STEP};
use super::remote_error::{other_error, pull_error};
use super::{RegistryConfig, RegistryError};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const ACCEPTED: &[&str] = &[DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX];
/// The bound on an image config (real ones: a few to a few hundred kilobytes).
const CONFIG_LIMIT: usize = 8 << 20;
/// Layers downloaded at once (dockerd's `--max-concurrent-downloads` default).
const CONCURRENT_LAYERS: usize = 3;
/// Times a layer download that broke off is resumed from where it stopped.
const RESUMES: u32 = 3;
/// Chunks in flight between a download and its unpacking thread.
const CHANNEL_CHUNKS: usize = 64;

/// A pull whose manifest and config are known: what remains is the layers.
pub struct PreparedPull {
    client: oci_client::Client,
    remote: oci_client::Reference,
    reference: Reference,
    manifest: Vec<u8>,
    config: Vec<u8>,
    layers: Vec<RemoteLayer>,
    repo_digest: String,
}

#[derive(Debug, Deserialize)]
struct Versioned {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<IndexEntry>>,
    #[serde(default)]
    layers: Option<Vec<LayerDescriptor>>,
    #[serde(default)]
    config: Option<LayerDescriptor>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    digest: String,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
struct LayerDescriptor {
    digest: String,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    size: u64,
}

#[derive(Debug, Deserialize)]
struct ConfigPlatform {
    #[serde(flatten)]
    platform: Platform,
    rootfs: ConfigRootFs,
}

#[derive(Debug, Deserialize)]
struct ConfigRootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Resolves `reference` at the first endpoint that has it (mirrors first for Docker Hub).
pub(crate) async fn prepare(
    config: &RegistryConfig,
    reference: &Reference,
    platform: Option<&Platform>,
    credentials: Option<&Credentials>,
) -> Result<PreparedPull, RegistryError> {
    let endpoints = config.endpoints(&reference.domain).await;
    let mut last_error = None;
    for endpoint in &endpoints {
        match prepare_at(endpoint, reference, platform, credentials).await {
            Ok(prepared) => return Ok(prepared),
            Err(error) if endpoint.mirror => {
                tracing::info!(mirror = %endpoint.host, %error, "mirror failed; trying the next endpoint");
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| RegistryError::transport("pull", "no registry endpoint")))
}

async fn prepare_at(
    endpoint: &Endpoint,
    reference: &Reference,
    platform: Option<&Platform>,
    credentials: Option<&Credentials>,
) -> Result<PreparedPull, RegistryError> {
    let client = endpoint.client();
    let auth = Credentials::registry_auth(credentials);
    let shown = shown_reference(reference);
    let repository = reference.familiar_name();
    let remote = match &reference.digest {
        Some(digest) => {
            oci_client::Reference::with_digest(endpoint.host.clone(), reference.path.clone(), digest.clone())
        }
        None => oci_client::Reference::with_tag(
            endpoint.host.clone(),
            reference.path.clone(),
            reference.tag_or_latest().to_string(),
        ),
    };
    let fetch_error = |error: FetchError| async {
        match error {
            FetchError::Registry(OciDistributionError::UnauthorizedError { .. }) => {
                refused(endpoint, reference, credentials, &repository).await
            }
            FetchError::Registry(error) => pull_error(error, &shown, &repository),
            FetchError::TooLarge => {
                RegistryError::TooLarge { what: "manifest", reference: shown.clone(), limit: MANIFEST_LIMIT }
            }
            FetchError::Other(error) => error,
        }
    };
    let (bytes, digest) = match manifest::fetch(&client, endpoint, &remote, &auth, ACCEPTED).await {
        Ok(fetched) => fetched,
        Err(error) => return Err(fetch_error(error).await),
    };
    let top = parse_versioned(&bytes, &shown)?;
    let repo_digest = format!("{repository}@{digest}");
    let (manifest, versioned) = if top.manifests.is_some() || is_index(top.media_type.as_deref()) {
        let wanted = platform.cloned().unwrap_or_else(Platform::host);
        let entries = top.manifests.unwrap_or_default();
        let chosen = choose(&entries, &wanted).ok_or_else(|| RegistryError::NoMatchingPlatform {
            wanted: wanted.to_string(),
            available: available(&entries),
        })?;
        let by_digest =
            oci_client::Reference::with_digest(endpoint.host.clone(), reference.path.clone(), chosen.digest.clone());
        let (bytes, _) =
            match manifest::fetch(&client, endpoint, &by_digest, &auth, &[DOCKER_MANIFEST, OCI_MANIFEST]).await {
                Ok(fetched) => fetched,
                Err(error) => return Err(fetch_error(error).await),
            };
        let versioned = parse_versioned(&bytes, &shown)?;
        if versioned.manifests.is_some() {
            return Err(bad(&shown, "an index entry is itself an index"));
        }
        (bytes, versioned)
    } else {
        (bytes, top)
    };
    let config_descriptor = versioned.config.ok_or_else(|| bad(&shown, "the manifest has no config"))?;
    let config = fetch_small_blob(&client, &remote, &config_descriptor.digest, &shown).await?;
    let parsed: ConfigPlatform =
        serde_json::from_slice(&config).map_err(|e| bad(&shown, format!("its image config is not valid: {e}")))?;
    if let Some(wanted) = platform {
        let actual = &parsed.platform;
        if !wanted.matches(&actual.os, &actual.architecture, actual.variant.as_deref()) {
            return Err(RegistryError::PlatformMismatch {
                reference: shown,
                wanted: wanted.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    let descriptors = versioned.layers.unwrap_or_default();
    if descriptors.len() != parsed.rootfs.diff_ids.len() {
        return Err(bad(&shown, "its manifest and config disagree on the number of layers"));
    }
    let layers = descriptors
        .into_iter()
        .zip(parsed.rootfs.diff_ids)
        .map(|(d, diff_id)| RemoteLayer { digest: d.digest, media_type: d.media_type, size: d.size, diff_id })
        .collect();
    Ok(PreparedPull {
        client,
        remote,
        reference: reference.clone(),
        manifest: manifest.to_vec(),
        config,
        layers,
        repo_digest,
    })
}

impl std::fmt::Debug for PreparedPull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPull").field("reference", &self.reference).field("layers", &self.layers).finish()
    }
}

impl PreparedPull {
    /// Fetches the missing layers into `store` and records the image; progress as dockerd sends it.
    pub async fn run(self, store: Arc<ImageStore>, progress: &ProgressSink) -> Result<Image, RegistryError> {
        let tag_or_digest = self.reference.digest.clone().unwrap_or_else(|| self.reference.tag_or_latest().to_string());
        progress.send(super::Progress {
            id: Some(tag_or_digest),
            status: format!("Pulling from {}", self.reference.path),
            ..Default::default()
        });
        let keys = self.layers.iter().flat_map(|l| [l.digest.clone(), l.diff_id.clone()]);
        let _reservation = store.reserve(keys);
        let mut missing = Vec::new();
        let config_digest = config_digest(&self.manifest);
        let tag = self.reference.digest.is_none().then(|| self.reference.familiar_tagged());
        let present = store.get(tag.as_deref().unwrap_or(&self.repo_digest)).ok();
        // dockerd says nothing of layers when the name already points at this image.
        let up_to_date = present.is_some_and(|image| Some(&image.id) == config_digest.as_ref())
            && self.layers.iter().all(|l| store.has_blob(&l.digest));
        for layer in self.layers.iter().filter(|_| !up_to_date) {
            let id = short_digest(&layer.digest);
            if store.has_blob(&layer.digest) {
                progress.layer(&id, "Already exists");
            } else if !missing.iter().any(|m: &RemoteLayer| m.digest == layer.digest) {
                progress.layer(&id, "Pulling fs layer");
                missing.push(layer.clone());
            }
        }
        let permits = Arc::new(Semaphore::new(CONCURRENT_LAYERS));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, layer) in missing.into_iter().enumerate() {
            if index >= CONCURRENT_LAYERS {
                progress.layer(&short_digest(&layer.digest), "Waiting");
            }
            let (client, remote, store, progress, permits) =
                (self.client.clone(), self.remote.clone(), Arc::clone(&store), progress.clone(), Arc::clone(&permits));
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                fetch_layer(&client, &remote, layer, store, &progress).await
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let result = joined.map_err(|e| RegistryError::transport("layer download", e)).and_then(|r| r);
            if let Err(error) = result {
                // One bad layer fails the pull; the others stop too, their partial files removed.
                tasks.abort_all();
                first_error.get_or_insert(error);
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        let (manifest, config, repo_digest) = (self.manifest, self.config, self.repo_digest);
        let digest = repo_digest.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        let syncing = Arc::clone(&store);
        let (image, new) =
            tokio::task::spawn_blocking(move || store.add_pulled(&manifest, &config, tag.as_deref(), &repo_digest))
                .await
                .map_err(|e| RegistryError::transport("recording the image", e))??;
        // The layers reach the disk in the background; a container that starts meanwhile waits for it.
        tokio::task::spawn_blocking(move || {
            if let Err(error) = syncing.sync_pulled_layers() {
                tracing::warn!(%error, "flushing pulled layers");
            }
        });
        progress.status(format!("Digest: {digest}"));
        let shown = shown_reference(&self.reference);
        progress.status(if new {
            format!("Status: Downloaded newer image for {shown}")
        } else {
            format!("Status: Image is up to date for {shown}")
        });
        Ok(image)
    }
}

/// One layer: downloaded (resumed where it broke off, if the registry allows ranges) into a channel that a
/// blocking thread reads, writing and unpacking it into the store.
async fn fetch_layer(
    client: &oci_client::Client,
    remote: &oci_client::Reference,
    layer: RemoteLayer,
    store: Arc<ImageStore>,
    progress: &ProgressSink,
) -> Result<(), RegistryError> {
    let id = short_digest(&layer.digest);
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    let ingest = {
        let layer = layer.clone();
        tokio::task::spawn_blocking(move || {
            store.ingest_layer(&layer, ChannelReader { receiver, current: Bytes::new() })
        })
    };
    let descriptor = OciDescriptor {
        media_type: layer.media_type.clone(),
        digest: layer.digest.clone(),
        size: i64::try_from(layer.size).unwrap_or(i64::MAX),
        ..OciDescriptor::default()
    };
    let mut received: u64 = 0;
    let mut reported: u64 = 0;
    let mut resumes = 0;
    let download_error = 'download: loop {
        // Always a range request: distribution answers 206, so the bytes are hashed once, by the store, and a
        // resumed download is the same request from further on.
        let stream = match client.pull_blob_stream_partial(remote, &descriptor, received, None).await {
            Ok(BlobResponse::Partial(s)) => Ok(s.stream),
            Ok(BlobResponse::Full(s)) if received == 0 => Ok(s.stream),
            Ok(BlobResponse::Full(_)) => {
                break 'download Some(format!("the registry cannot resume at byte {received}"))
            }
            Err(e) => Err(e),
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(error) => break 'download Some(other_error(error, &format!("downloading layer {id}")).to_string()),
        };
        let broke_off = loop {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if received - reported >= PROGRESS_STEP || received == layer.size {
                        reported = received;
                        progress.bytes(&id, "Downloading", received, layer.size);
                    }
                    if sender.send(Ok(chunk)).await.is_err() {
                        // The unpacking side stopped: its error is the one to report.
                        break None;
                    }
                }
                Some(Err(error)) => break Some(error),
                None => break None,
            }
        };
        match broke_off {
            None => break 'download None,
            Some(error) if resumes < RESUMES => {
                resumes += 1;
                tracing::info!(layer = %layer.digest, received, %error, "layer download broke off; resuming");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(resumes))).await;
            }
            Some(error) => break 'download Some(format!("downloading layer {id}: {error}")),
        }
    };
    if let Some(message) = &download_error {
        let _ = sender.send(Err(io::Error::other(message.clone()))).await;
    }
    drop(sender);
    progress.layer(&id, "Verifying Checksum");
    let ingested = ingest.await.map_err(|e| RegistryError::transport("unpacking a layer", e))?;
    // A download that broke off for good leaves a blob that cannot be verified: the store says so, naming it.
    ingested?;
    if let Some(message) = download_error {
        return Err(RegistryError::transport(format!("pulling layer {}", layer.digest), message));
    }
    progress.layer(&id, "Download complete");
    progress.bytes(&id, "Extracting", layer.size, layer.size);
    progress.layer(&id, "Pull complete");
    Ok(())
}

/// A blocking reader over the chunks a download sends.
struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => return Err(error),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

async fn fetch_small_blob(
    client: &oci_client::Client,
    remote: &oci_client::Reference,
    digest: &str,
    shown: &str,
) -> Result<Vec<u8>, RegistryError> {
    let mut stream = client
        .pull_blob_stream(remote, digest)
        .await
        .map_err(|e| other_error(e, &format!("image config of {shown}")))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::transport(format!("image config of {shown}"), e))?;
        if bytes.len() + chunk.len() > CONFIG_LIMIT {
            return Err(RegistryError::TooLarge {
                what: "image config",
                reference: shown.to_string(),
                limit: CONFIG_LIMIT,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The config digest a manifest names.
fn config_digest(manifest: &[u8]) -> Option<String> {
    let versioned: Versioned = serde_json::from_slice(manifest).ok()?;
    versioned.config.map(|c| c.digest)
}

fn parse_versioned(bytes: &[u8], shown: &str) -> Result<Versioned, RegistryError> {
    if bytes.len() > MANIFEST_LIMIT {
        return Err(RegistryError::TooLarge { what: "manifest", reference: shown.to_string(), limit: MANIFEST_LIMIT });
    }
    let versioned: Versioned =
        serde_json::from_slice(bytes).map_err(|e| bad(shown, format!("the manifest is not valid JSON: {e}")))?;
    if versioned.schema_version == 1 {
        return Err(bad(
            shown,
            "Docker Image manifest version 2, schema 1 is not supported: push it again with a current client",
        ));
    }
    if versioned.schema_version != 2 {
        return Err(bad(shown, format!("unsupported manifest schema version {}", versioned.schema_version)));
    }
    match versioned.media_type.as_deref() {
        None | Some(DOCKER_MANIFEST | DOCKER_MANIFEST_LIST | OCI_MANIFEST | OCI_INDEX) => Ok(versioned),
        Some(other) => Err(bad(shown, format!("unsupported manifest media type {other}"))),
    }
}

fn is_index(media_type: Option<&str>) -> bool {
    matches!(media_type, Some(DOCKER_MANIFEST_LIST | OCI_INDEX))
}

/// The index entry for `wanted`: an exact variant match first, then any that matches.
fn choose<'a>(entries: &'a [IndexEntry], wanted: &Platform) -> Option<&'a IndexEntry> {
    let runnable = entries.iter().filter(|e| e.media_type != OCI_INDEX && e.media_type != DOCKER_MANIFEST_LIST);
    let candidates: Vec<&IndexEntry> = runnable
        .filter(|e| e.platform.as_ref().is_some_and(|p| wanted.matches(&p.os, &p.architecture, p.variant.as_deref())))
        .collect();
    candidates
        .iter()
        .find(|e| e.platform.as_ref().and_then(|p| p.variant.as_deref()) == wanted.variant.as_deref())
        .or(candidates.first())
        .copied()
}

fn available(entries: &[IndexEntry]) -> String {
    let mut names: Vec<String> = entries
        .iter()
        .filter_map(|e| e.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| p.to_string())
        .collect();
    names.dedup();
    if names.is_empty() {
        "no platforms".to_string()
    } else {
        names.join(", ")
    }
}

/// `name:tag` or `name@digest`, familiar, as dockerd names the image in its messages.
pub(crate) fn shown_reference(reference: &Reference) -> String {
    match &reference.digest {
        Some(digest) => format!("{}@{digest}", reference.familiar_name()),
        None => reference.familiar_tagged(),
    }
}

/// A 401 for the manifest, worded as dockerd words it: a Basic registry wants credentials (`no basic auth
/// credentials`, or refused ones); a token registry that gave a token without access is a pull access denied.
async fn refused(
    endpoint: &Endpoint,
    reference: &Reference,
    credentials: Option<&Credentials>,
    repository: &str,
) -> RegistryError {
    let tag_or_digest = reference.digest.clone().unwrap_or_else(|| reference.tag_or_latest().to_string());
    let manifest_url = format!("{}/v2/{}/manifests/{tag_or_digest}", endpoint.base_url(), reference.path);
    let challenge = match endpoint.http() {
        Ok(http) => match http.get(format!("{}/v2/", endpoint.base_url())).send().await {
            Ok(answer) => answer
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase(),
            Err(_) => String::new(),
        },
        Err(_) => String::new(),
    };
    if challenge.starts_with("basic") {
        let reason = match credentials {
            None => "no basic auth credentials",
            Some(_) => "unauthorized: incorrect username or password",
        };
        return RegistryError::transport(format!("Head \"{manifest_url}\""), reason);
    }
    RegistryError::PullDenied {
        repository: repository.to_string(),
        message: "denied: requested access to the resource is denied".to_string(),
    }
}

fn bad(shown: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::BadManifest { reference: shown.to_string(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(digest: &str, os: &str, arch: &str, variant: Option<&str>) -> IndexEntry {
        IndexEntry {
            digest: digest.into(),
            media_type: OCI_MANIFEST.into(),
            platform: Some(Platform { os: os.into(), architecture: arch.into(), variant: variant.map(Into::into) }),
        }
    }

    #[test]
    fn the_wanted_platform_is_chosen_and_missing_ones_named() {
        let entries = vec![
            entry("a", "linux", "amd64", None),
            entry("v6", "linux", "arm", Some("v6")),
            entry("v7", "linux", "arm", Some("v7")),
            entry("att", "unknown", "unknown", None),
        ];
        let pick = |p: &str| choose(&entries, &Platform::parse(p).expect("platform")).map(|e| e.digest.as_str());
        assert_eq!(pick("linux/amd64"), Some("a"));
        assert_eq!(pick("linux/arm/v7"), Some("v7"));
        assert_eq!(pick("linux/arm/v6"), Some("v6"));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(available(&entries), "linux/amd64, linux/arm/v6, linux/arm/v7");
    }

    #[test]
    fn manifests_berth_cannot_use_are_refused_with_the_reason() {
        let schema1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(
            matches!(parse_versioned(schema1, "x:1"), Err(RegistryError::BadManifest { reason, .. }) if reason.contains("schema 1"))
        );
        let artifact = br#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.chart"}"#;
        assert!(parse_versioned(artifact, "x:1").is_err());
        let huge = vec![b' '; MANIFEST_LIMIT + 1];
        assert!(matches!(parse_versioned(&huge, "x:1"), Err(RegistryError::TooLarge { .. })));
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(parse_versioned(index, "x:1").expect("an index").manifests.is_some());
    }
}
