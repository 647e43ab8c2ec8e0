//! Lint rules over a parsed Dockerfile, each with a stable id, and fixes an editor can apply.
//!
//! - `script`: a small POSIX-shell reader for RUN commands (commands, words, pipes), shared by rules.
//! - `images`: FROM references: missing tag, `latest`, no digest pin.
//! - `stages`: stage structure: repeated CMD/ENTRYPOINT/HEALTHCHECK, final user, stage names and references.
//! - `instructions`: single-instruction checks: exec form, ADD vs COPY, EXPOSE, WORKDIR, MAINTAINER, flags.
//! - `packages`: apt-get and apk usage.
//! - `run_commands`: shell habits in RUN: cd, sudo, pipefail, curl | sh.
//! - `layers`: files created in one layer and deleted in a later one.
//! - `variables`: secrets in ENV/ARG names, unused ARGs.

mod images;
mod instructions;
mod layers;
mod packages;
mod run_commands;
mod script;
mod stages;
mod variables;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ast::{Command, Dockerfile, Stage};
use super::span::Span;
use super::substitution::{substitute_with_escape, variables_used};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// Replace the text under `span` with `replacement` (an empty span inserts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextEdit {
    pub span: Span,
    pub replacement: String,
}

/// A change that resolves a diagnostic; its edits never overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<TextEdit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable id, like "BL001".
    pub rule: &'static str,
    /// Stable kebab-case name, like "image-without-tag".
    pub name: &'static str,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub fix: Option<Fix>,
    /// Bytes an image carries for nothing, when a builder knows (lint alone cannot: it sees no files).
    pub wasted_bytes: Option<u64>,
}

/// A rule as the registry describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub default_severity: Severity,
    pub enabled_by_default: bool,
}

const fn rule(
    id: &'static str,
    name: &'static str,
    default_severity: Severity,
    enabled_by_default: bool,
    summary: &'static str,
) -> Rule {
    Rule { id, name, summary, default_severity, enabled_by_default }
}

use Severity::{Error, Info, Warning};

/// Every rule, in id order. Ids are never reused or renumbered.
pub const RULES: &[Rule] = &[
    rule(
        "BL001",
        "image-without-tag",
        Warning,
        true,
        "FROM an image without a tag or digest pulls whatever `latest` is today",
    ),
    rule("BL002", "image-latest-tag", Warning, true, "FROM an image tagged `latest` is not reproducible"),
    rule(
        "BL003",
        "image-without-digest",
        Info,
        true,
        "FROM an image without a digest pin can change under the same tag",
    ),
    rule(
        "BL004",
        "repeated-final-setting",
        Warning,
        true,
        "only the last CMD, ENTRYPOINT or HEALTHCHECK of a stage takes effect",
    ),
    rule(
        "BL005",
        "shell-form-command",
        Warning,
        true,
        "shell-form CMD/ENTRYPOINT runs under /bin/sh -c and does not receive signals",
    ),
    rule(
        "BL006",
        "add-instead-of-copy",
        Warning,
        true,
        "ADD of local files that need no extraction or download: COPY says what it does",
    ),
    rule("BL007", "final-user-root", Warning, true, "the final stage runs as root"),
    rule(
        "BL008",
        "apt-get-install-without-yes",
        Warning,
        true,
        "apt-get install without -y waits for an answer that never comes",
    ),
    rule(
        "BL009",
        "apt-get-install-recommends",
        Info,
        true,
        "apt-get install without --no-install-recommends pulls in optional packages",
    ),
    rule("BL010", "apt-lists-not-removed", Info, true, "apt package lists left in the layer that installed packages"),
    rule(
        "BL011",
        "apt-get-update-alone",
        Warning,
        true,
        "apt-get update in a RUN without an install caches a stale package index",
    ),
    rule(
        "BL012",
        "deleted-in-later-layer",
        Warning,
        true,
        "deleting in a later RUN what an earlier layer created does not shrink the image",
    ),
    rule(
        "BL013",
        "invalid-expose",
        Error,
        true,
        "EXPOSE with a port outside 0-65535 or a protocol other than tcp, udp or sctp",
    ),
    rule("BL014", "relative-workdir", Warning, true, "a relative WORKDIR depends on the previous one"),
    rule("BL015", "maintainer-deprecated", Warning, true, "MAINTAINER is deprecated: use LABEL maintainer="),
    rule("BL016", "cd-in-run", Info, true, "cd in RUN only lasts for that RUN: WORKDIR sets it for what follows"),
    rule(
        "BL017",
        "sudo-in-run",
        Warning,
        true,
        "RUN already runs as the stage's USER; sudo adds a setuid binary and a TTY dependency",
    ),
    rule(
        "BL018",
        "pipe-without-pipefail",
        Warning,
        true,
        "a pipe in RUN hides the failure of all but its last command without pipefail",
    ),
    rule(
        "BL019",
        "copy-from-unknown-stage",
        Error,
        true,
        "COPY --from names no earlier stage and does not look like an image",
    ),
    rule("BL020", "from-later-stage", Error, true, "FROM names a stage defined later or the stage itself"),
    rule("BL021", "duplicate-stage-name", Error, true, "two stages share a name"),
    rule("BL022", "curl-pipe-shell", Warning, true, "piping a download straight into a shell runs unverified code"),
    rule(
        "BL023",
        "apk-add-without-no-cache",
        Warning,
        true,
        "apk add without --no-cache leaves the package index in the layer",
    ),
    rule("BL024", "unpinned-package", Info, false, "distro packages installed without a pinned version"),
    rule("BL025", "unknown-flag", Error, true, "a flag the instruction does not accept"),
    rule(
        "BL026",
        "secret-in-env-or-arg",
        Warning,
        true,
        "ENV and ARG values are kept in the image's history: a secret there leaks",
    ),
    rule("BL027", "unused-arg", Warning, true, "an ARG that nothing after it uses"),
    rule("BL028", "empty-run", Warning, true, "a RUN with no command runs nothing"),
];

/// The candidate closest to `name`, if close enough to be a typo (for "did you mean" outside the linter too).
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    stages::suggestion(name, candidates)
}

/// The registry entry for an id.
pub fn find_rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// Per-rule overrides of the registry defaults, keyed by rule id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintConfig {
    pub rules: BTreeMap<String, RuleSetting>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetting {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
}

impl LintConfig {
    /// Every rule on, including those off by default.
    pub fn all() -> Self {
        let mut config = LintConfig::default();
        for rule in RULES {
            config = config.enable(rule.id);
        }
        config
    }

    pub fn enable(mut self, id: &str) -> Self {
        self.rules.entry(id.to_string()).or_default().enabled = Some(true);
        self
    }

    pub fn disable(mut self, id: &str) -> Self {
        self.rules.entry(id.to_string()).or_default().enabled = Some(false);
        self
    }

    pub fn is_enabled(&self, rule: &Rule) -> bool {
        self.rules.get(rule.id).and_then(|setting| setting.enabled).unwrap_or(rule.enabled_by_default)
    }

    pub fn severity(&self, rule: &Rule) -> Severity {
        self.rules.get(rule.id).and_then(|setting| setting.severity).unwrap_or(rule.default_severity)
    }
}

/// Runs every enabled rule. Diagnostics come sorted by position, then rule id.
pub fn lint(dockerfile: &Dockerfile, config: &LintConfig) -> Vec<Diagnostic> {
    let context = Context::new(dockerfile);
    let mut sink = Sink { config, diagnostics: Vec::new() };
    images::check(&context, &mut sink);
    stages::check(&context, &mut sink);
    instructions::check(&context, &mut sink);
    packages::check(&context, &mut sink);
    run_commands::check(&context, &mut sink);
    layers::check(&context, &mut sink);
    variables::check(&context, &mut sink);
    sink.diagnostics
        .sort_by(|left, right| (left.span.start.offset, left.rule).cmp(&(right.span.start.offset, right.rule)));
    sink.diagnostics
}

/// Applies a fix to the source it was computed from. Edits are applied back to front so earlier offsets
/// stay valid; an edit outside the text or overlapping one already applied is skipped.
pub fn apply_fix(source: &str, fix: &Fix) -> String {
    let mut edits: Vec<&TextEdit> = fix.edits.iter().collect();
    edits.sort_by_key(|edit| core::cmp::Reverse((edit.span.start.offset, edit.span.end.offset)));
    let mut text = source.to_string();
    let mut applied_from = usize::MAX;
    for edit in edits {
        let range = edit.span.byte_range();
        let is_valid = range.start <= range.end
            && range.end <= text.len()
            && range.end <= applied_from
            && text.is_char_boundary(range.start)
            && text.is_char_boundary(range.end);
        if is_valid {
            text.replace_range(range.clone(), &edit.replacement);
            applied_from = range.start;
        }
    }
    text
}

/// What rules share: the file, its stages, and the default values of the ARGs declared before FROM.
pub(crate) struct Context<'a> {
    pub(crate) dockerfile: &'a Dockerfile,
    pub(crate) stages: Vec<Stage<'a>>,
    pub(crate) escape: char,
    meta_arg_defaults: BTreeMap<String, Option<String>>,
}

impl<'a> Context<'a> {
    fn new(dockerfile: &'a Dockerfile) -> Self {
        let escape = dockerfile.escape;
        let mut meta_arg_defaults = BTreeMap::new();
        for instruction in dockerfile.meta_args() {
            if let Command::Arg(declarations) = &instruction.command {
                for declaration in declarations {
                    let lookup = |name: &str| meta_arg_defaults.get(name).cloned().flatten();
                    let default = declaration
                        .default
                        .as_ref()
                        .and_then(|word| substitute_with_escape(&word.raw, escape, lookup).ok());
                    meta_arg_defaults.insert(declaration.name.raw.clone(), default);
                }
            }
        }
        Context { dockerfile, stages: dockerfile.stages(), escape, meta_arg_defaults }
    }

    /// A FROM image with meta ARG defaults applied; `None` if a variable has no default (unknowable here).
    pub(crate) fn resolve_from_image(&self, raw: &str) -> Option<String> {
        let default_of = |name: &str| self.meta_arg_defaults.get(name).cloned().flatten();
        let all_known = variables_used(raw, self.escape).iter().all(|name| default_of(name).is_some());
        if !all_known {
            return None;
        }
        substitute_with_escape(raw, self.escape, default_of).ok()
    }

    /// Names of all stages, lower-cased, with their index.
    pub(crate) fn stage_names(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        self.stages.iter().filter_map(|stage| stage.name().map(|name| (stage.index, name)))
    }
}

/// Collects diagnostics for enabled rules, with the configured severity.
pub(crate) struct Sink<'c> {
    config: &'c LintConfig,
    diagnostics: Vec<Diagnostic>,
}

impl Sink<'_> {
    pub(crate) fn enabled(&self, id: &str) -> bool {
        find_rule(id).is_some_and(|rule| self.config.is_enabled(rule))
    }

    pub(crate) fn report(
        &mut self,
        id: &'static str,
        span: Span,
        message: impl Into<String>,
    ) -> Option<&mut Diagnostic> {
        let rule = find_rule(id)?;
        if !self.config.is_enabled(rule) {
            return None;
        }
        self.diagnostics.push(Diagnostic {
            rule: rule.id,
            name: rule.name,
            severity: self.config.severity(rule),
            span,
            message: message.into(),
            fix: None,
            wasted_bytes: None,
        });
        self.diagnostics.last_mut()
    }

    pub(crate) fn report_with_fix(
        &mut self,
        id: &'static str,
        span: Span,
        message: impl Into<String>,
        fix: Option<Fix>,
    ) {
        if let Some(diagnostic) = self.report(id, span, message) {
            diagnostic.fix = fix;
        }
    }
}

impl Fix {
    pub(crate) fn single(title: impl Into<String>, span: Span, replacement: impl Into<String>) -> Fix {
        Fix { title: title.into(), edits: vec![TextEdit { span, replacement: replacement.into() }] }
    }
}

/// A zero-width span at `span`'s end, for insertions.
pub(crate) fn after(span: Span) -> Span {
    Span { start: span.end, end: span.end }
}
