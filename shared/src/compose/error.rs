//! What the compose loader reports: errors that stop the load and warnings that do not, each pointing at a file,
//! a 1-based line:column and the path of the offending value (`services.web.ports[1]`).
//!
//! Messages follow docker compose's wording where compose has one, so a person who searches for the message
//! finds compose's documentation.

use core::fmt;

use serde::Serialize;

use crate::dockerfile::span::Span;

/// Whether the load can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of the loader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The compose file (or `.env`, or env_file) as the caller named it.
    pub file: String,
    /// Where the offending value starts and ends; line and column are 1-based.
    pub span: Span,
    /// The value's path in the compose model, e.g. `services.web.ports[1]`; empty for the document itself.
    pub path: String,
    pub kind: ComposeError,
}

impl Diagnostic {
    pub fn line(&self) -> usize {
        self.span.start.line
    }

    pub fn column(&self) -> usize {
        self.span.start.column
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(formatter, "{}:{}:{}: {label}: ", self.file, self.line(), self.column())?;
        if !self.path.is_empty() {
            write!(formatter, "{}: ", self.path)?;
        }
        write!(formatter, "{}", self.kind)
    }
}

impl std::error::Error for Diagnostic {}

/// Everything the compose module can find wrong (or worth a warning) in a project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum ComposeError {
    #[error("yaml: {0}")]
    Yaml(String),
    #[error("yaml: too many nodes after expanding aliases (more than {0})")]
    TooLarge(usize),
    #[error("additional property {key} is not allowed{}", suggestion_suffix(.suggestion))]
    UnknownKey { key: String, suggestion: Option<String> },
    #[error("must be a {expected}, not a {found}")]
    WrongType { expected: &'static str, found: &'static str },
    #[error("invalid value {value:?}: {reason}")]
    InvalidValue { value: String, reason: String },
    #[error("the attribute `{0}` is not supported by Berth and is ignored")]
    UnsupportedKey(String),
    #[error("the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion")]
    ObsoleteVersion,
    #[error("the {0:?} variable is not set. Defaulting to a blank string.")]
    VariableNotSet(String),
    #[error("required variable {name} is missing a value: {message}")]
    RequiredVariable { name: String, message: String },
    #[error("invalid interpolation format {text:?}; you may need to escape any $ with another $")]
    InvalidInterpolation { text: String },
    #[error("invalid port specification {spec:?}: {reason}")]
    InvalidPort { spec: String, reason: String },
    #[error("invalid volume specification {spec:?}: {reason}")]
    InvalidVolume { spec: String, reason: String },
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    #[error("invalid size {0:?}")]
    InvalidSize(String),
    #[error(
        "service name {0:?} must contain only letters, digits, '_', '.' and '-', and start with a letter or digit"
    )]
    InvalidServiceName(String),
    #[error("invalid project name {0:?}: must contain only lowercase letters, digits, '_' and '-', and start with a letter or digit")]
    InvalidProjectName(String),
    #[error("service {service:?} {relation} undefined service {target:?}")]
    UndefinedService { service: String, relation: &'static str, target: String },
    #[error("service {service:?} {relation} {target:?}, which is only in profiles that are not active")]
    InactiveService { service: String, relation: &'static str, target: String },
    #[error("service {service:?} refers to undefined {kind} {name:?}")]
    UndefinedResource { service: String, kind: &'static str, name: String },
    #[error("dependency cycle detected: {}", .0.join(" -> "))]
    DependencyCycle(Vec<String>),
    #[error("env file {0} not found")]
    MissingEnvFile(String),
    #[error("cannot read extended file {0}")]
    MissingExtendsFile(String),
    #[error("cannot extend service {service:?} in {file}: no such service")]
    ExtendsMissingService { service: String, file: String },
    #[error("circular reference with extends: {}", .0.join(" -> "))]
    ExtendsCycle(Vec<String>),
    #[error("{0}")]
    DotEnv(String),
    #[error("no compose file was given")]
    NoFiles,
}

fn suggestion_suffix(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(guess) => format!(" (did you mean {guess:?}?)"),
        None => String::new(),
    }
}
