//! The builder's error type. Messages follow Docker's wording where Docker has one (`The command '/bin/sh -c false'
//! returned a non-zero code: 1`), and name the Dockerfile line whenever an instruction is at fault.

use berth_shared::dockerfile::ParseError;

use berth_engine::EngineError;
use berth_fs::atomic::StoreError;
use berth_image::ImageError;

use crate::context::GitError;
use crate::copy::CopyError;

/// Everything that can make a build fail.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse (`dockerfile parse error on line 3: unknown instruction: FROBNICATE`).
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The Dockerfile named by `-f` is not in the context.
    #[error("Cannot locate specified Dockerfile: {0}")]
    NoDockerfile(String),
    /// `--target` names no stage.
    #[error("failed to reach build target {0} in Dockerfile")]
    NoTarget(String),
    /// The build context could not be read or unpacked.
    #[error("error reading the build context: {0}")]
    Context(String),
    /// `git clone` or `git checkout` of a git context failed.
    #[error("unable to prepare git context {url}: {source}")]
    Git {
        url: String,
        #[source]
        source: GitError,
    },
    /// An instruction that cannot be carried out, with the line it is on.
    #[error("{message} (Dockerfile line {line})")]
    Step { line: usize, message: String },
    /// COPY or ADD could not read its sources or write them into the step's root
    /// (`COPY failed: forbidden path outside the build context: ../x (Dockerfile line 2)`).
    #[error("{instruction} failed: {source} (Dockerfile line {line})")]
    Copy {
        line: usize,
        /// `COPY` or `ADD`.
        instruction: &'static str,
        #[source]
        source: CopyError,
    },
    /// A flag of COPY or ADD that cannot be used (`invalid chmod parameter: 9 (Dockerfile line 4)`).
    #[error("{source} (Dockerfile line {line})")]
    CopyFlag {
        line: usize,
        #[source]
        source: CopyError,
    },
    /// WORKDIR could not make its directory in the step's root.
    #[error("WORKDIR {path}: {source} (Dockerfile line {line})")]
    Workdir {
        line: usize,
        path: String,
        #[source]
        source: CopyError,
    },
    /// Docker's wording for a RUN whose command failed.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i32, line: Option<usize> },
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The engine (containers for RUN) failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The build cache index could not be read or written.
    #[error("build cache: {0}")]
    Cache(#[from] StoreError),
    /// A prediction walk reached a step the cache has no result for: it (and every later step) would run.
    /// Never the outcome of a real build.
    #[error("the build cache has no result for this step")]
    WouldRun,
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BuildError::Io { context: context.into(), source }
    }

    pub fn step(line: usize, message: impl Into<String>) -> Self {
        BuildError::Step { line, message: message.into() }
    }

    /// The Dockerfile line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            BuildError::Parse(error) => Some(error.line),
            BuildError::Step { line, .. }
            | BuildError::Copy { line, .. }
            | BuildError::CopyFlag { line, .. }
            | BuildError::Workdir { line, .. } => Some(*line),
            BuildError::RunFailed { line, .. } => *line,
            _ => None,
        }
    }

    /// A failed RUN's exit code.
    pub fn exit_code(&self) -> Option<i64> {
        match self {
            BuildError::RunFailed { code, .. } => Some(i64::from(*code)),
            _ => None,
        }
    }

    /// Did an instruction fail (rather than the Dockerfile, the context or the daemon)? Such a failure names the
    /// last step that succeeded.
    pub fn is_step_failure(&self) -> bool {
        matches!(
            self,
            BuildError::Step { .. }
                | BuildError::Copy { .. }
                | BuildError::CopyFlag { .. }
                | BuildError::Workdir { .. }
                | BuildError::RunFailed { .. }
        )
    }

    /// Is this the client's fault (bad Dockerfile, context or arguments) rather than the daemon's?
    pub fn is_user_error(&self) -> bool {
        !matches!(self, BuildError::Engine(_) | BuildError::Cache(_) | BuildError::Io { .. })
    }
}
