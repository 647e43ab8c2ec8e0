//! The image store's error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in [`crate`].
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The reference names no image. `reference` is what the user typed, with `:latest` added to a bare name.
    #[error("No such image: {reference}")]
    NotFound { reference: String },
    /// A name, tag or digest that does not follow Docker's reference grammar.
    #[error("invalid reference format: {reason}: {reference:?}")]
    InvalidReference { reference: String, reason: String },
    /// A `--change` line (Dockerfile instruction) that cannot be applied.
    #[error("invalid change {line:?}: {reason}")]
    InvalidChange { line: String, reason: String },
    /// Docker's 409: the operation conflicts with tags or containers; the message is Docker's wording.
    #[error("{message}")]
    Conflict { message: String },
    /// `docker cp`/stat of a path that does not exist (the caller adds " in container <name>").
    #[error("Could not find the file {path}")]
    PathNotFound { path: String },
    /// A path that had to be a directory is not one.
    #[error("{path}: not a directory")]
    NotADirectory { path: String },
    /// A tar entry or path that would leave its root, or cannot be represented safely.
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath { path: String, reason: String },
    /// An archive that unpacks to more than the daemon allows (`--max-unpacked-size`): a decompression bomb.
    #[error("the archive unpacks to more than {limit} bytes, the daemon's limit (--max-unpacked-size)")]
    TooLarge { limit: u64 },
    /// A tar stream that cannot be read (cut short, a header failing its checksum), in dockerd's words: its
    /// chrootarchive reports Go's archive/tar errors so.
    #[error("Error processing tar file(exit status 1): {reason}")]
    UnreadableArchive { reason: String },
    /// A blob whose content does not match its digest, or on-disk metadata that cannot be used.
    #[error("corrupt content {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// A pulled layer whose bytes or content are not what its manifest and config say; the layer is named by its
    /// blob digest, in dockerd's words (the reason goes to the log, as dockerd keeps it there).
    #[error("filesystem layer verification failed for digest {digest}")]
    LayerVerification { digest: String, reason: String },
    /// A pulled layer that could not be unpacked (an entry leaving its root, a bomb), named by its blob digest.
    #[error("failed to register layer {digest}: {source}")]
    InLayer {
        digest: String,
        #[source]
        source: Box<ImageError>,
    },
    /// A JSON document that cannot be (de)serialized.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Building the default busybox image from the host failed.
    #[error("cannot build busybox image from {path}: {reason}")]
    Busybox { path: PathBuf, reason: String },
    /// A metadata file beside the store (build metadata) could not be written or read.
    #[error(transparent)]
    Metadata(#[from] berth_fs::atomic::StoreError),
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    /// The HTTP status the Engine API answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            ImageError::NotFound { .. } | ImageError::PathNotFound { .. } => 404,
            ImageError::Conflict { .. } => 409,
            ImageError::InvalidReference { .. }
            | ImageError::InvalidChange { .. }
            | ImageError::NotADirectory { .. }
            | ImageError::UnsafePath { .. }
            | ImageError::UnreadableArchive { .. } => 400,
            _ => 500,
        }
    }

    /// This error, as met while unpacking the pulled layer `digest`.
    pub(crate) fn in_layer(self, digest: &str) -> Self {
        ImageError::InLayer { digest: digest.to_string(), source: Box::new(self) }
    }

    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        ImageError::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A read error of a tar stream, worded as Go's archive/tar words it (what dockerd answers).
    pub(crate) fn unreadable_archive(source: &io::Error) -> Self {
        let message = source.to_string();
        let reason = if source.kind() == io::ErrorKind::UnexpectedEof
            || message.starts_with("failed to read entire block")
            || message.starts_with("unexpected EOF")
        {
            "unexpected EOF".to_string()
        } else if message.contains("checksum mismatch") {
            "archive/tar: invalid tar header".to_string()
        } else {
            message
        };
        ImageError::UnreadableArchive { reason }
    }

    pub(crate) fn unsafe_path(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ImageError::UnsafePath { path: path.into(), reason: reason.into() }
    }
}

/// A path inside a container's (or layer's) root that could not be resolved: the user's path is kept, so a
/// missing one answers Docker's 404 wording.
impl From<berth_fs::in_root::InRootError> for ImageError {
    fn from(e: berth_fs::in_root::InRootError) -> Self {
        use berth_fs::in_root::InRootError;
        match e {
            InRootError::NotFound { path } => ImageError::PathNotFound { path },
            InRootError::NotADirectory { path } => ImageError::NotADirectory { path },
            InRootError::TooManyLinks { path } => {
                ImageError::unsafe_path(path, "too many levels of symbolic links, or a /proc magic link")
            }
            InRootError::Invalid { path, reason } => ImageError::unsafe_path(path, reason),
            InRootError::Io { op, path, source } => {
                ImageError::Io { path: PathBuf::from(format!("{op} {path}")), source }
            }
        }
    }
}

/// Attach a path to an [`io::Error`].
pub(crate) trait IoContext<T> {
    fn ctx(self, path: impl AsRef<Path>) -> Result<T, ImageError>;
}

impl<T> IoContext<T> for Result<T, io::Error> {
    fn ctx(self, path: impl AsRef<Path>) -> Result<T, ImageError> {
        self.map_err(|e| ImageError::io(path, e))
    }
}
