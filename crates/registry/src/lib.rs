//! Registries: `docker pull`, `push` and `login` over the distribution API (OCI distribution spec v2).
//!
//! The wire protocol (bearer-token and Basic auth, manifests, blob streams with ranges, monolithic and chunked
//! uploads, cross-repository mounts) is the `oci-client` crate's. Written here, because the crate leaves it to its
//! users: Docker's endpoints (mirrors for Docker Hub, insecure and loopback registries, per-registry CA files:
//! [`endpoint`]), platform choice with a clear error ([`platform`]), the credentials the docker CLI sends
//! ([`credentials`]), login as dockerd checks it ([`login`]), a manifest fetch bounded while it arrives ([`manifest`]), dockerd's progress messages ([`progress`]) and
//! error wording ([`remote_error`]), and streaming layers into the store while they download ([`pull`], [`push`]).

mod credentials;
mod endpoint;
mod error;
mod login;
mod manifest;
mod platform;
mod progress;
mod pull;
mod push;
mod remote_error;

use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::{Image, ImageStore};

pub use credentials::Credentials;
pub use endpoint::RegistryConfig;
pub use error::RegistryError;
pub use platform::Platform;
pub use progress::{Progress, ProgressSink};
pub use pull::PreparedPull;

/// The daemon's way to registries. Holds only settings: every operation makes its own connections and tokens.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    config: RegistryConfig,
}

impl Registries {
    pub fn new(config: RegistryConfig) -> Self {
        Registries { config }
    }

    /// The settings, for `docker info`.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Resolves a pull to one platform's manifest and config, failing (before any progress) when the registry
    /// does not have it. `platform` None means the host's.
    pub async fn prepare_pull(
        &self,
        reference: &Reference,
        platform: Option<&Platform>,
        credentials: Option<&Credentials>,
    ) -> Result<PreparedPull, RegistryError> {
        pull::prepare(&self.config, reference, platform, credentials).await
    }

    /// Pushes the local `image` as `reference` (with its tag); returns the manifest digest.
    pub async fn push(
        &self,
        store: Arc<ImageStore>,
        image: &Image,
        reference: &Reference,
        credentials: Option<&Credentials>,
        progress: &ProgressSink,
    ) -> Result<String, RegistryError> {
        push::push(&self.config, store, image, reference, credentials, progress).await
    }

    /// Checks credentials against the registry their `serveraddress` names.
    pub async fn login(&self, credentials: &Credentials) -> Result<(), RegistryError> {
        login::login(&self.config, credentials).await
    }
}
