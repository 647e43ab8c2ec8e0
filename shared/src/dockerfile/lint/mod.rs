//! Lint rules over a parsed Dockerfile (rules land in the next commit).

use serde::Serialize;

use super::ast::Dockerfile;
use super::span::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct LintConfig {}

pub fn lint(_dockerfile: &Dockerfile, _config: &LintConfig) -> Vec<Diagnostic> {
    Vec::new()
}
