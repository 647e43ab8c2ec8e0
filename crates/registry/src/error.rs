//! The registry client's error type, worded as dockerd words the same failures.

use berth_image::ImageError;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The store refused or failed (a layer that does not verify, an unsafe entry, the disk).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The repository exists but not this tag or digest.
    #[error("manifest for {reference} not found: manifest unknown: {message}")]
    ManifestUnknown { reference: String, message: String },
    /// The registry does not know the repository, or will not say without credentials.
    #[error("pull access denied for {repository}, repository does not exist or may require 'docker login': {message}")]
    PullDenied { repository: String, message: String },
    /// Credentials the registry refused (push).
    #[error("unauthorized: {message}")]
    Unauthorized { message: String },
    /// A login the registry refused, in dockerd's words (which name the URL tried).
    #[error("{0}")]
    LoginRefused(String),
    /// A multi-platform image without the platform asked for.
    #[error("no matching manifest for {wanted} in the manifest list entries (the image has {available})")]
    NoMatchingPlatform { wanted: String, available: String },
    /// A single-platform image that is not the platform asked for.
    #[error(
        "image with reference {reference} was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
    )]
    PlatformMismatch { reference: String, wanted: String, actual: String },
    /// `--platform` that is not `os[/arch[/variant]]`.
    #[error("invalid platform {platform:?}: {reason}")]
    InvalidPlatform { platform: String, reason: String },
    /// A manifest or config bigger than any real one: refused before it is parsed.
    #[error("{what} for {reference} is larger than {limit} bytes")]
    TooLarge { what: &'static str, reference: String, limit: usize },
    /// A manifest Berth cannot use (schema 1, an artifact, bad JSON).
    #[error("{reference}: {reason}")]
    BadManifest { reference: String, reason: String },
    /// The header the docker CLI sends with credentials could not be decoded.
    #[error("invalid X-Registry-Auth header: {0}")]
    InvalidAuthHeader(String),
    /// `docker push` of a name that has no local image.
    #[error("An image does not exist locally with the tag: {0}")]
    NoLocalImage(String),
    /// The registry answered with an error or could not be reached; `context` says what was being done.
    #[error("{context}: {message}")]
    Transport { context: String, message: String },
}

impl RegistryError {
    /// The HTTP status the Engine API answers with, as dockerd does.
    pub fn http_status(&self) -> u16 {
        match self {
            RegistryError::Image(error) => error.http_status(),
            RegistryError::ManifestUnknown { .. }
            | RegistryError::PullDenied { .. }
            | RegistryError::NoMatchingPlatform { .. }
            | RegistryError::PlatformMismatch { .. }
            | RegistryError::NoLocalImage(_) => 404,
            RegistryError::Unauthorized { .. } | RegistryError::LoginRefused(_) => 401,
            RegistryError::InvalidPlatform { .. } | RegistryError::InvalidAuthHeader(_) => 400,
            _ => 500,
        }
    }

    pub(crate) fn transport(context: impl Into<String>, error: impl std::fmt::Display) -> Self {
        RegistryError::Transport { context: context.into(), message: error.to_string() }
    }
}
