//! Build variables: BL026 secrets in ENV/ARG names, BL027 ARGs nothing uses.

use std::collections::BTreeSet;

use super::{Context, Fix, Sink, TextEdit};
use crate::dockerfile::ast::{ArgDeclaration, Command, CommandLine, Instruction, Word};
use crate::dockerfile::span::Span;
use crate::dockerfile::substitution::{unquote, variables_used};

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    secrets(context, sink);
    if sink.enabled("BL027") {
        unused_args(context, sink);
    }
}

const SECRET_MARKERS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
    "AUTH_KEY",
];

/// Names that hold where a secret is, not the secret itself.
const REFERENCE_SUFFIXES: &[&str] = &["_FILE", "_PATH", "_DIR", "_LOCATION", "_ENV", "_NAME", "_URL"];

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
        && !REFERENCE_SUFFIXES.iter().any(|suffix| upper.ends_with(suffix))
}

fn secrets(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !sink.enabled("BL026") {
        return;
    }
    for instruction in &context.dockerfile.instructions {
        let names: Vec<&Word> = match &instruction.command {
            Command::Env(pairs) => pairs.pairs.iter().map(|pair| &pair.key).collect(),
            Command::Arg(declarations) => declarations.iter().map(|declaration| &declaration.name).collect(),
            _ => continue,
        };
        for name in names {
            let value = unquote(&name.raw, context.escape);
            if looks_secret(&value) {
                sink.report(
                    "BL026",
                    name.span,
                    format!(
                        "{} {value} looks like a secret: {} values are recorded in the image's history; mount it with `RUN --mount=type=secret,id=...` instead",
                        instruction.keyword(),
                        instruction.keyword()
                    ),
                );
            }
        }
    }
}

/// Read by programs from the environment of RUN, without any `$NAME` in the Dockerfile.
fn is_implicitly_used(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "DEBIAN_FRONTEND"
            | "HTTP_PROXY"
            | "HTTPS_PROXY"
            | "FTP_PROXY"
            | "NO_PROXY"
            | "ALL_PROXY"
            | "SOURCE_DATE_EPOCH"
            | "GOFLAGS"
            | "GOPROXY"
            | "GOPRIVATE"
            | "CGO_ENABLED"
            | "GOOS"
            | "GOARCH"
            | "RUSTFLAGS"
            | "MAKEFLAGS"
            | "NODE_ENV"
            | "CI"
            | "LANG"
            | "LC_ALL"
            | "TZ"
    ) || ["BUILDKIT_", "PIP_", "NPM_CONFIG_", "CARGO_", "UV_", "POETRY_", "YARN_"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
}

/// Variable names an instruction refers to at build time.
fn names_used_by(instruction: &Instruction, escape: char, names: &mut BTreeSet<String>) {
    let mut add = |text: &str| names.extend(variables_used(text, escape));
    for flag in &instruction.flags {
        if let Some(value) = &flag.value {
            add(value);
        }
    }
    let mut add_words = |words: &[Word]| words.iter().for_each(|word| add(&word.raw));
    match &instruction.command {
        Command::From(from) => add_words(core::slice::from_ref(&from.image)),
        Command::Run(run) => {
            match &run.command {
                CommandLine::Shell(word) => add(&word.raw),
                // Exec form gets the ARG as an environment variable: `["sh", "-c", "echo $V"]` uses it.
                CommandLine::Exec(words) => words.iter().for_each(|word| add(&word.raw)),
            }
            for heredoc in &run.heredocs {
                add(&heredoc.content);
            }
        }
        Command::Label(pairs) | Command::Env(pairs) => {
            for pair in &pairs.pairs {
                add(&pair.key.raw);
                add(&pair.value.raw);
            }
        }
        Command::Add(copy) | Command::Copy(copy) => {
            add_words(&copy.sources);
            add(&copy.destination.raw);
            for heredoc in copy.heredocs.iter().filter(|heredoc| heredoc.expand) {
                add(&heredoc.content);
            }
        }
        Command::Expose(words) => add_words(words),
        Command::Volume(volume) => add_words(&volume.paths),
        Command::User(word) | Command::Workdir(word) | Command::StopSignal(word) => add(&word.raw),
        Command::Arg(declarations) => {
            for declaration in declarations {
                if let Some(default) = &declaration.default {
                    add(&default.raw);
                }
            }
        }
        Command::Onbuild(_)
        | Command::Cmd(_)
        | Command::Entrypoint(_)
        | Command::Maintainer(_)
        | Command::Healthcheck(_)
        | Command::Shell(_) => {}
    }
}

/// Removes one declaration: the whole ARG when it is the only one, else the word and the space before it.
fn removal(instruction: &Instruction, declarations: &[ArgDeclaration], position: usize) -> Fix {
    let end_of = |declaration: &ArgDeclaration| {
        declaration.default.as_ref().map_or(declaration.name.span, |default| default.span).end
    };
    let declaration = &declarations[position];
    let span = if declarations.len() == 1 {
        instruction.span
    } else if position == 0 {
        Span::new(declaration.name.span.start, declarations[1].name.span.start)
    } else {
        Span::new(end_of(&declarations[position - 1]), end_of(declaration))
    };
    Fix {
        title: format!("Remove ARG {}", declaration.name.raw),
        edits: vec![TextEdit { span, replacement: String::new() }],
    }
}

fn unused_args(context: &Context<'_>, sink: &mut Sink<'_>) {
    let instructions = &context.dockerfile.instructions;
    for (position, instruction) in instructions.iter().enumerate() {
        let Command::Arg(declarations) = &instruction.command else {
            continue;
        };
        let is_meta = context.dockerfile.meta_args().count() > position;
        // A meta ARG is used by FROM lines, later meta ARGs, and stages that re-declare it.
        // A stage ARG is used by the rest of its stage.
        let scope: Vec<&Instruction> = if is_meta {
            instructions[position + 1..]
                .iter()
                .filter(|later| matches!(later.command, Command::From(_) | Command::Arg(_)))
                .collect()
        } else {
            instructions[position + 1..].iter().take_while(|later| !matches!(later.command, Command::From(_))).collect()
        };
        let mut used = BTreeSet::new();
        let mut redeclared = BTreeSet::new();
        for later in &scope {
            names_used_by(later, context.escape, &mut used);
            if let Command::Arg(later_declarations) = &later.command {
                redeclared.extend(later_declarations.iter().map(|declaration| declaration.name.raw.clone()));
            }
        }
        let runs_follow = scope.iter().any(|later| matches!(later.command, Command::Run(_)));
        for (index, declaration) in declarations.iter().enumerate() {
            let name = &declaration.name.raw;
            let is_used = used.contains(name)
                || (is_meta && redeclared.contains(name))
                || (runs_follow && is_implicitly_used(name));
            if is_used {
                continue;
            }
            let where_ = if is_meta {
                "no FROM uses it and no stage re-declares it"
            } else {
                "nothing after it in this stage uses it"
            };
            sink.report_with_fix(
                "BL027",
                declaration.name.span,
                format!("ARG {name} is never used: {where_}"),
                Some(removal(instruction, declarations, index)),
            );
        }
    }
}
