//! Building an image. Today: the Engine API's `POST /build` with the context as a tar, answered with Docker's
//! legacy JSON stream. The build view consumes [`BuildMessage`]s through a callback, so a later source (a daemon
//! build job that survives a page reload) can replace this function without touching the view.

use super::{encode, stream, DaemonError};
use crate::logic::build_progress::BuildMessage;
use crate::logic::json_lines::JsonLines;

/// Sends the context and calls `on_message` for every message of the stream, in order, until it ends.
/// A line that is not JSON is passed on as plain output, so nothing the daemon says is lost.
pub async fn build_legacy(
    context_tar: &[u8],
    tag: &str,
    mut on_message: impl FnMut(BuildMessage),
) -> Result<(), DaemonError> {
    let url = format!("/build?t={}&rm=1&forcerm=1", encode(tag));
    let mut body = stream::open("POST", &url, Some((context_tar, "application/x-tar"))).await?;
    let mut lines = JsonLines::default();
    let mut deliver = |value: Result<BuildMessage, String>| match value {
        Ok(message) => on_message(message),
        Err(text) => on_message(BuildMessage { stream: Some(format!("{text}\n")), ..BuildMessage::default() }),
    };
    while let Some(chunk) = body.next().await? {
        for value in lines.push::<BuildMessage>(&chunk) {
            deliver(value);
        }
    }
    if let Some(value) = lines.finish::<BuildMessage>() {
        deliver(value);
    }
    Ok(())
}
