//! Calls to the daemon's Engine API over HTTP, decoded into the bollard-stubs models the daemon encodes with.

use bollard_stubs::models::{ErrorResponse, SystemVersion};
use gloo_net::http::Request;

/// Why a call to the daemon gave no usable answer, worded for the person looking at the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DaemonError {
    /// The request never got a response: the daemon is down or the page was opened from elsewhere.
    #[error("cannot reach the daemon: {0}")]
    Unreachable(String),
    /// The daemon answered with an error status; Engine API errors carry `{"message": ...}`.
    #[error("the daemon answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The daemon answered 2xx with a body that is not the expected model.
    #[error("unexpected answer from the daemon: {0}")]
    Decode(String),
}

/// `GET /version`: the engine and API versions of the daemon serving this page.
pub async fn version() -> Result<SystemVersion, DaemonError> {
    let response =
        Request::get("/version").send().await.map_err(|error| DaemonError::Unreachable(error.to_string()))?;
    if !response.ok() {
        let status = response.status();
        // An error body that is not an Engine API error (e.g. a proxy's HTML page) still gets a readable line.
        let message = match response.json::<ErrorResponse>().await {
            Ok(body) => body.message,
            Err(_) => response.status_text(),
        };
        return Err(DaemonError::Status { status, message });
    }
    response.json::<SystemVersion>().await.map_err(|error| DaemonError::Decode(error.to_string()))
}
