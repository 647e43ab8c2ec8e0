//! Every call the playground makes to the daemon, in one place. The page is served by the daemon, so calls are
//! same-origin: unversioned Engine API paths plus Berth's own `/berth/...`.
//!
//! - [`stream`]: streamed response bodies (build output, logs, stats, pull progress), cancelled when their handle
//!   drops.
//! - [`system`], [`containers`], [`images`], [`build`], [`resources`] (networks, volumes): typed calls,
//!   decoded into bollard-stubs models.
//! - [`terminal`]: the terminal websocket's URL.
//! - [`compose`]: the playground's compose up/down (streamed progress) and a project's containers.
//! - [`audit`]: the security review of the containers.
//! - [`routes`]: routed ports: list, one route's live counters, create, switch, rollback, weights, remove.

pub mod audit;
pub mod build;
pub mod compose;
pub mod containers;
pub mod images;
pub mod resources;
pub mod routes;
pub mod stream;
pub mod system;
pub mod terminal;

use berth_shared::api::CLIENT_HEADER;
use bollard_stubs::models::ErrorResponse;
use gloo_net::http::{Method, Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a call to the daemon gave no usable answer, worded for the person looking at the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DaemonError {
    /// The request never got a response: the daemon is down or the network is.
    #[error("cannot reach the daemon: {0}")]
    Unreachable(String),
    /// The daemon answered with an error status; Engine API errors carry `{"message": ...}`.
    #[error("{message} (HTTP {status})")]
    Status { status: u16, message: String },
    /// The daemon answered 2xx with a body that is not the expected model.
    #[error("unexpected answer from the daemon: {0}")]
    Decode(String),
    /// Something in the page itself failed (a browser API refused).
    #[error("{0}")]
    Browser(String),
}

impl DaemonError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, DaemonError::Status { status: 404, .. })
    }
}

/// The message of an Engine API error body, or the status text when the body is something else (a proxy's page).
pub(crate) fn error_message(status: u16, status_text: &str, body: &str) -> DaemonError {
    let message = serde_json::from_str::<ErrorResponse>(body)
        .map(|error| error.message)
        .ok()
        .filter(|message| !message.is_empty())
        .unwrap_or_else(|| if body.trim().is_empty() { status_text.to_string() } else { body.trim().to_string() });
    DaemonError::Status { status, message }
}

/// Every request the page makes names itself with [`CLIENT_HEADER`]: the daemon's HTTP port refuses the
/// playground's state-changing calls without it, which a foreign page cannot forge.
pub(crate) fn request(method: Method, url: &str) -> RequestBuilder {
    RequestBuilder::new(url).method(method).header(CLIENT_HEADER, CLIENT_NAME)
}

/// The value of [`CLIENT_HEADER`]: only its presence is checked.
pub(crate) const CLIENT_NAME: &str = "berth-playground";

async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, DaemonError> {
    let request = request.map_err(|error| DaemonError::Browser(error.to_string()))?;
    let response = request.send().await.map_err(|error| DaemonError::Unreachable(error.to_string()))?;
    if response.ok() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(error_message(response.status(), &response.status_text(), &body))
}

pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, DaemonError> {
    let response = send(request(Method::GET, url).build()).await?;
    response.json::<T>().await.map_err(|error| DaemonError::Decode(error.to_string()))
}

pub async fn post_json<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, DaemonError> {
    let response = send(request(Method::POST, url).json(body)).await?;
    response.json::<T>().await.map_err(|error| DaemonError::Decode(error.to_string()))
}

/// A POST whose answer carries nothing the page needs (204 or a body to ignore).
pub async fn post(url: &str) -> Result<(), DaemonError> {
    send(request(Method::POST, url).build()).await.map(|_| ())
}

pub async fn delete(url: &str) -> Result<(), DaemonError> {
    send(request(Method::DELETE, url).build()).await.map(|_| ())
}

/// Percent-encodes a path segment or query value (image names carry `/` and `:`).
pub fn encode(component: &str) -> String {
    String::from(js_sys::encode_uri_component(component))
}
