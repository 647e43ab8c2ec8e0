//! Engine errors as Docker-style HTTP errors: a status code and `{"message": ...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use berth_engine::EngineError;
use berth_image::ImageError;
use berth_network::NetworkError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

fn image_status(err: &ImageError) -> StatusCode {
    match err {
        ImageError::NotFound { .. } | ImageError::PathNotFound { .. } => StatusCode::NOT_FOUND,
        ImageError::InvalidReference { .. }
        | ImageError::InvalidChange { .. }
        | ImageError::NotADirectory { .. }
        | ImageError::UnsafePath { .. }
        | ImageError::TooLarge { .. }
        | ImageError::UnreadableArchive { .. } => StatusCode::BAD_REQUEST,
        ImageError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn network_status(err: &NetworkError) -> StatusCode {
    match err {
        NetworkError::NotFound(_) => StatusCode::NOT_FOUND,
        NetworkError::NameInUse(_) | NetworkError::Conflict(_) => StatusCode::CONFLICT,
        NetworkError::Forbidden(_) => StatusCode::FORBIDDEN,
        NetworkError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        NetworkError::PoolExhausted { .. } | NetworkError::BridgeFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A blocking task that panicked: a bug, answered as a 500.
impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let status = match &err {
            EngineError::NoSuchContainer(_) | EngineError::NoSuchExec(_) | EngineError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            EngineError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            EngineError::Conflict(_) | EngineError::NotRunning(_) | EngineError::Paused(_) => StatusCode::CONFLICT,
            EngineError::NotModified(_) => StatusCode::NOT_MODIFIED,
            EngineError::StartFailed { exit_code, .. } if *exit_code == 126 || *exit_code == 127 => {
                StatusCode::BAD_REQUEST
            }
            EngineError::Image(image) => image_status(image),
            EngineError::Network(network) => network_status(network),
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            EngineError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            EngineError::Registry(registry) => {
                StatusCode::from_u16(registry.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %err, "request failed");
        }
        ApiError { status, message: err.to_string() }
    }
}

impl From<ImageError> for ApiError {
    fn from(err: ImageError) -> Self {
        ApiError { status: image_status(&err), message: err.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NOT_MODIFIED {
            return self.status.into_response();
        }
        (self.status, Json(serde_json::json!({ "message": self.message }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<berth_identity::IdentityError> for ApiError {
    fn from(err: berth_identity::IdentityError) -> Self {
        use berth_identity::IdentityError as E;
        let status = match &err {
            E::SignInFailed | E::BadToken => StatusCode::UNAUTHORIZED,
            E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::Exists { .. } | E::ClassFull { .. } | E::CannotExtend { .. } => StatusCode::CONFLICT,
            E::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::LinkExpired | E::LinkRevoked => StatusCode::GONE,
            E::Database(_) | E::Migrate(_) | E::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %err, "identity store");
        }
        ApiError { status, message: err.to_string() }
    }
}
