//! Request bodies as dockerd takes them: JSON only as `application/json` (or no body at all), build contexts only
//! as a tar. Besides matching dockerd, this shuts out what a foreign web page can send without a CORS preflight:
//! `text/plain`, form and multipart bodies. The HTTP port's origin checks are in `http_guard`.

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::ApiError;

const JSON: &[&str] = &["application/json"];
/// The CLI and bollard send `application/x-tar`, docker-py `application/tar`; the daemon sniffs compression itself,
/// so the compressed kinds a client may name are taken too.
const TAR: &[&str] = &[
    "application/x-tar",
    "application/tar",
    "application/x-gzip",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
];

/// A JSON body, checked against its Content-Type first; an empty body is the type's default (clients send none
/// for many POSTs).
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        let body =
            Bytes::from_request(request, state).await.map_err(|error| ApiError::bad_request(error.body_text()))?;
        check(content_type.as_ref().map(|value| value.as_bytes()), !body.is_empty(), JSON)?;
        parse_json(&body).map(JsonBody)
    }
}

/// Parses a JSON body whose Content-Type was checked with [`require_json`]; an empty body is the type's default.
pub(crate) fn parse_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    berth_shared::api::decode_json_body(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// For handlers that read the body themselves: refuses a body that is not declared as JSON.
pub(crate) fn require_json(headers: &HeaderMap, has_body: bool) -> Result<(), ApiError> {
    check(headers.get(header::CONTENT_TYPE).map(|value| value.as_bytes()), has_body, JSON)
}

/// Refuses a build context (or any tar upload) that is not declared as a tar, before a byte of it is read.
pub(crate) fn require_tar(headers: &HeaderMap) -> Result<(), ApiError> {
    check(headers.get(header::CONTENT_TYPE).map(|value| value.as_bytes()), announces_body(headers), TAR)
}

/// A build context's headers: declared as a tar, and not announced past `limit` (`--max-upload-size`).
pub(crate) fn require_build_context(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    require_tar(headers)?;
    require_upload_within(headers, limit)
}

/// Refuses, before reading it, an upload whose announced length is past `limit` (`--max-upload-size`): 413.
fn require_upload_within(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    match content_length(headers) {
        Some(length) if length > limit => {
            Err(ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, upload_too_large(limit)))
        }
        _ => Ok(()),
    }
}

/// An upload the handler unpacks itself: refused with 413 if announced past `limit`, else its body as a reader
/// held to the same limit.
pub(crate) fn upload_reader(
    request: Request,
    limit: u64,
) -> Result<impl std::io::Read + Send + Unpin + 'static, ApiError> {
    require_upload_within(request.headers(), limit)?;
    Ok(limited_reader(request.into_body(), limit))
}

/// Reads and drops a body that will not be used, up to `limit` bytes, so that the client gets to read the answer.
pub(crate) async fn drain(body: axum::body::Body, limit: u64) {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut read: u64 = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        read = read.saturating_add(chunk.len() as u64);
        if read > limit {
            break;
        }
    }
}

/// The body as a blocking reader (for a `spawn_blocking` unpacker) that fails once more than `limit` bytes came
/// in: a chunked upload has no length to check first.
pub(crate) fn limited_reader(body: axum::body::Body, limit: u64) -> impl std::io::Read + Send + Unpin + 'static {
    use futures_util::TryStreamExt as _;
    let mut received: u64 = 0;
    let stream = body.into_data_stream().map_err(std::io::Error::other).and_then(move |chunk| {
        received = received.saturating_add(chunk.len() as u64);
        std::future::ready(if received > limit {
            Err(std::io::Error::other(upload_too_large(limit)))
        } else {
            Ok(chunk)
        })
    });
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

fn upload_too_large(limit: u64) -> String {
    format!("the upload is larger than {limit} bytes, the daemon's limit (--max-upload-size)")
}

/// Whether the request's headers say a body follows (a length above zero, or chunked).
pub(crate) fn announces_body(headers: &HeaderMap) -> bool {
    match content_length(headers) {
        Some(length) => length > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// dockerd's rule (moby `httputils.CheckForJSON`): no Content-Type is fine only without a body; otherwise its media
/// type, parameters aside, must be one of `accepted`. The wording is dockerd's.
fn check(content_type: Option<&[u8]>, has_body: bool, accepted: &[&str]) -> Result<(), ApiError> {
    let raw = match content_type {
        None if !has_body => return Ok(()),
        None => String::new(),
        Some(value) => String::from_utf8_lossy(value).into_owned(),
    };
    let media_type = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if accepted.contains(&media_type.as_str()) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!("Content-Type specified ({raw}) must be '{}'", accepted[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<(), ApiError>) -> String {
        result.err().map(|error| error.message).unwrap_or_default()
    }

    #[test]
    fn json_needs_its_content_type_when_there_is_a_body() {
        assert!(check(None, false, JSON).is_ok());
        assert!(check(Some(b"application/json"), true, JSON).is_ok());
        assert!(check(Some(b"Application/JSON; charset=utf-8"), true, JSON).is_ok());
        assert_eq!(
            message(check(Some(b"text/plain"), true, JSON)),
            "Content-Type specified (text/plain) must be 'application/json'"
        );
        assert_eq!(message(check(None, true, JSON)), "Content-Type specified () must be 'application/json'");
        // A declared type is checked even without a body, as dockerd does.
        assert!(check(Some(b"text/plain"), false, JSON).is_err());
        assert!(check(Some(b";;"), true, JSON).is_err());
    }

    #[test]
    fn tar_kinds_are_the_ones_clients_send() {
        for kind in ["application/x-tar", "application/tar", "application/x-gzip"] {
            assert!(check(Some(kind.as_bytes()), true, TAR).is_ok(), "{kind}");
        }
        assert_eq!(
            message(check(Some(b"multipart/form-data; boundary=x"), true, TAR)),
            "Content-Type specified (multipart/form-data; boundary=x) must be 'application/x-tar'"
        );
    }

    #[test]
    fn a_body_is_announced_by_length_or_chunking() {
        let mut headers = HeaderMap::new();
        assert!(!announces_body(&headers));
        headers.insert(header::CONTENT_LENGTH, "0".parse().unwrap());
        assert!(!announces_body(&headers));
        headers.insert(header::CONTENT_LENGTH, "12".parse().unwrap());
        assert!(announces_body(&headers));
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        assert!(announces_body(&headers));
    }
}
