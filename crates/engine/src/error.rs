use berth_fs::atomic::StoreError;
use berth_image::ImageError;
use berth_network::NetworkError;
use berth_runtime::RuntimeError;

/// What the engine can fail with. The API maps each variant to Docker's status code; the messages use Docker's
/// wording because clients (the docker CLI above all) match on them.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Container {0} is paused, unpause the container before stopping or killing")]
    Paused(String),
    #[error("{0}")]
    NotModified(String),
    #[error("{0}")]
    NotFound(String),
    /// Refused by policy (403), e.g. connecting a `--network host` container to a network.
    #[error("{0}")]
    Forbidden(String),
    /// Not something this container can do (501), e.g. `docker logs` of `--log-driver none`.
    #[error("{0}")]
    NotImplemented(String),
    #[error("{message}")]
    StartFailed { message: String, exit_code: i32 },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Registry(#[from] berth_registry::RegistryError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Network(NetworkError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    EventLog(#[from] crate::event_log::EventLogError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl EngineError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io { context: context.into(), source }
    }
}
