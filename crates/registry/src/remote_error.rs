//! The distribution client's errors, told apart the way dockerd tells registry answers apart.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::RegistryError;

/// What a failed manifest request means for a pull of `reference` from `repository` (familiar names).
pub(crate) fn pull_error(error: OciDistributionError, reference: &str, repository: &str) -> RegistryError {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => {
            let first = envelope.errors.first();
            let message = first.map(|e| e.message.clone()).unwrap_or_default();
            match first.map(|e| &e.code) {
                Some(OciErrorCode::ManifestUnknown) => {
                    RegistryError::ManifestUnknown { reference: reference.to_string(), message }
                }
                Some(code @ (OciErrorCode::NameUnknown | OciErrorCode::Unauthorized | OciErrorCode::Denied)) => {
                    RegistryError::PullDenied { repository: repository.to_string(), message: coded(code, &message) }
                }
                _ => RegistryError::transport(format!("pulling {reference}"), join_errors(&envelope.errors)),
            }
        }
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            RegistryError::PullDenied {
                repository: repository.to_string(),
                message: "unauthorized: authentication required".to_string(),
            }
        }
        OciDistributionError::ImageManifestNotFoundError(message) => {
            RegistryError::ManifestUnknown { reference: reference.to_string(), message }
        }
        other => other_error(other, &format!("pulling {reference}")),
    }
}

/// Any other failure, with what was being done.
pub(crate) fn other_error(error: OciDistributionError, context: &str) -> RegistryError {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => {
            if envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                return RegistryError::Unauthorized { message: join_errors(&envelope.errors) };
            }
            RegistryError::transport(context, join_errors(&envelope.errors))
        }
        OciDistributionError::UnauthorizedError { .. } => {
            RegistryError::Unauthorized { message: "authentication required".to_string() }
        }
        OciDistributionError::AuthenticationFailure(reason) => RegistryError::Unauthorized { message: reason },
        OciDistributionError::RequestError(e) => RegistryError::transport(context, full_chain(&e)),
        other => RegistryError::transport(context, other),
    }
}

/// `code: message`, as dockerd prints a registry's error (`denied: requested access to the resource is denied`).
fn coded(code: &OciErrorCode, message: &str) -> String {
    match serde_json::to_value(code).ok().as_ref().and_then(|v| v.as_str()) {
        Some(name) => errcode_text(name, message),
        None => message.to_string(),
    }
}

/// A distribution errcode (`NAME_UNKNOWN`) and its message as dockerd prints them: `name unknown: message`.
pub(crate) fn errcode_text(code: &str, message: &str) -> String {
    let name = code.to_ascii_lowercase().replace('_', " ");
    if message.is_empty() {
        name
    } else {
        format!("{name}: {message}")
    }
}

fn join_errors(errors: &[oci_client::errors::OciError]) -> String {
    errors.iter().map(|e| coded(&e.code, &e.message)).collect::<Vec<_>>().join("; ")
}

/// An error with its sources (`error sending request: connection refused`).
pub(crate) fn full_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
