//! Errors of the Dockerfile module, worded as Docker (moby/buildkit) words them so that a message seen in the
//! playground is the message `docker build` would print.

use serde::{Deserialize, Serialize};

use super::span::Span;

/// A Dockerfile that Docker would refuse, with the line Docker would name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}", render(*.line, .kind))]
pub struct ParseError {
    /// 1-based line where the offending instruction starts (Docker reports the start line too).
    pub line: usize,
    /// The part of the source that is wrong: the whole instruction, or a narrower part when known.
    pub span: Span,
    pub kind: ParseErrorKind,
}

fn render(line: usize, kind: &ParseErrorKind) -> String {
    match kind {
        // Docker prints this one without the "on line" prefix: there is no instruction to point at.
        ParseErrorKind::NoInstructions => kind.to_string(),
        _ => format!("dockerfile parse error on line {line}: {kind}"),
    }
}

/// What is wrong, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum ParseErrorKind {
    #[error("file with no instructions")]
    NoInstructions,
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("no build stage in current context")]
    NoBuildStage,
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscapeToken(String),
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    #[error("{0} requires at least two arguments, but only one was provided. Destination could not be determined.")]
    NoDestination(&'static str),
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    #[error("{0} must have two arguments")]
    MustHaveTwoArguments(&'static str),
    #[error("Syntax error - can't find = in {0:?}. Must be of the form: name=value")]
    MissingEquals(String),
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    #[error(
        "invalid name for build stage: {0:?}, name can't start with a number or contain symbols"
    )]
    InvalidStageName(String),
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChaining,
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    #[error("Unknown type {0:?} in HEALTHCHECK (try CMD)")]
    HealthcheckUnknownType(String),
    #[error("time: invalid duration {0:?}")]
    InvalidDuration(String),
    #[error("Interval {0:?} cannot be less than 1ms")]
    IntervalTooShort(String),
    #[error("strconv.ParseInt: parsing {0:?}: invalid syntax")]
    InvalidInteger(String),
    #[error("--retries must be at least 1 (not {0})")]
    RetriesTooLow(i64),
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStrings,
    #[error("Duplicate flag specified: {0}")]
    DuplicateFlag(String),
    #[error("Missing a value on flag: {0}")]
    MissingFlagValue(String),
    #[error("Expecting boolean value for flag {flag}, not: {value}")]
    InvalidBooleanFlag { flag: String, value: String },
    #[error("unsupported mount type {0:?}")]
    UnsupportedMountType(String),
    #[error("unsupported network mode {0:?}")]
    UnsupportedNetworkMode(String),
    #[error("unsupported security mode {0:?}")]
    UnsupportedSecurityMode(String),
}

impl ParseErrorKind {
    /// Docker parses in two passes: the line parser (directives, heredocs, JSON, ENV/LABEL pairs) and then the
    /// instruction parser. An error of the first pass wins even when a second-pass error sits on an earlier line.
    pub(crate) fn is_first_pass(&self) -> bool {
        matches!(
            self,
            ParseErrorKind::NoInstructions
                | ParseErrorKind::InvalidEscapeToken(_)
                | ParseErrorKind::DuplicateDirective(_)
                | ParseErrorKind::UnterminatedHeredoc
                | ParseErrorKind::MustHaveTwoArguments(_)
                | ParseErrorKind::MissingEquals(_)
                | ParseErrorKind::JsonNotStrings
        )
    }
}

/// A word whose variable references cannot be expanded, worded as buildkit's shell lexer words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SubstitutionError {
    #[error("syntax error: missing '}}'")]
    MissingClosingBrace,
    #[error("missing ':' in substitution")]
    MissingColon,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    #[error("bad substitution")]
    BadSubstitution,
    /// `${NAME:?message}` or `${NAME?message}` with NAME unset (or empty, for the `:?` form).
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
}

/// An instruction whose words could not be expanded: which word, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("line {}: {source}", .span.start.line)]
pub struct ExpandError {
    pub span: Span,
    pub source: SubstitutionError,
}
