//! Fetching a manifest with a bound on its size while it arrives. oci-client reads a manifest whole before its
//! caller can look at it, so a registry that answers with gigabytes would fill the daemon's memory: the token
//! comes from oci-client's auth flow, the GET is made here and stops past the bound.

use futures_util::StreamExt;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;

use super::endpoint::Endpoint;
use super::RegistryError;

/// containerd's and dockerd's bound on a manifest; real ones are a few kilobytes.
pub(crate) const MANIFEST_LIMIT: usize = 4 << 20;

/// Why a manifest could not be had.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// What the distribution client says of it (a registry's error envelope, a 401, auth refused).
    Registry(OciDistributionError),
    /// Larger than [`MANIFEST_LIMIT`]: refused while it arrived.
    TooLarge,
    Other(RegistryError),
}

/// The manifest `remote` names, at most [`MANIFEST_LIMIT`] bytes, and its digest (checked against the one the
/// reference names, if any).
pub(crate) async fn fetch(
    client: &oci_client::Client,
    endpoint: &Endpoint,
    remote: &oci_client::Reference,
    auth: &RegistryAuth,
    accept: &[&str],
) -> Result<(Vec<u8>, String), FetchError> {
    let token = client.auth(remote, auth, RegistryOperation::Pull).await.map_err(FetchError::Registry)?;
    let reference = remote.digest().or(remote.tag()).unwrap_or("latest");
    let url = format!("{}/v2/{}/manifests/{reference}", endpoint.base_url(), remote.repository());
    let http = endpoint.http().map_err(FetchError::Other)?;
    let mut request = http.get(&url).header(reqwest::header::ACCEPT, accept.join(", "));
    request = match (&token, auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        _ => request,
    };
    let transport = |e: reqwest::Error| FetchError::Registry(OciDistributionError::RequestError(e));
    let answer = request.send().await.map_err(transport)?;
    let status = answer.status();
    let header_digest = answer.headers().get("Docker-Content-Digest").and_then(|v| v.to_str().ok()).map(str::to_string);
    if answer.content_length().is_some_and(|length| length > MANIFEST_LIMIT as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    let mut chunks = answer.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(transport)?;
        if body.len() + chunk.len() > MANIFEST_LIMIT {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(FetchError::Registry(OciDistributionError::UnauthorizedError { url }));
    }
    if !status.is_success() {
        return Err(FetchError::Registry(match serde_json::from_slice::<OciEnvelope>(&body) {
            Ok(envelope) => OciDistributionError::RegistryError { envelope, url },
            Err(_) => OciDistributionError::ServerError {
                code: status.as_u16(),
                url,
                message: String::from_utf8_lossy(&body).into_owned(),
            },
        }));
    }
    let digest = berth_image::sha256_digest(&body);
    // A reference by digest must get exactly that manifest; a registry's own header must agree when it is sha256.
    let expected = remote.digest().map(str::to_string).or(header_digest.filter(|d| d.starts_with("sha256:")));
    if let Some(expected) = expected.filter(|expected| *expected != digest) {
        return Err(FetchError::Other(RegistryError::transport(
            format!("manifest of {reference}"),
            format!("its content has digest {digest}, not {expected}"),
        )));
    }
    Ok((body, digest))
}
