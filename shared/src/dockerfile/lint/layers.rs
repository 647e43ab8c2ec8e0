//! BL012: a file created by one layer (COPY, ADD or RUN) and deleted by a later RUN in the same stage. The
//! deletion only hides it: the bytes stay in the earlier layer. How many bytes is unknown at lint time; a
//! builder that knows can fill in [`super::Diagnostic::wasted_bytes`].

use super::script::{commands, Script, SimpleCommand};
use super::{Context, Sink};
use crate::dockerfile::ast::Command;
use crate::dockerfile::substitution::unquote;

struct Created {
    path: String,
    line: usize,
    keyword: &'static str,
}

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !sink.enabled("BL012") {
        return;
    }
    for stage in &context.stages {
        let mut workdir: Option<String> = None;
        let mut created: Vec<Created> = Vec::new();
        for instruction in stage.instructions {
            let line = instruction.span.start.line;
            match &instruction.command {
                Command::Workdir(path) => {
                    let value = unquote(&path.raw, context.escape);
                    workdir = if value.contains('$') { None } else { resolve(workdir.as_deref(), &value) };
                }
                Command::Copy(copy) | Command::Add(copy) => {
                    let keyword = instruction.keyword();
                    let destination = unquote(&copy.destination.raw, context.escape);
                    let Some(target) = resolve(workdir.as_deref(), &destination) else {
                        continue;
                    };
                    let into_directory = destination.ends_with('/') || copy.sources.len() > 1;
                    if into_directory {
                        for source in &copy.sources {
                            let source = unquote(&source.raw, context.escape);
                            let name = source.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
                            if !name.is_empty() && !name.contains(['*', '?', '[', '$']) && !source.starts_with("<<") {
                                created.push(Created {
                                    path: format!("{}/{name}", target.trim_end_matches('/')),
                                    line,
                                    keyword,
                                });
                            }
                        }
                    }
                    created.push(Created { path: target, line, keyword });
                }
                Command::Run(run) => {
                    let mut made_here = Vec::new();
                    for script in Script::of_run(run) {
                        for command in commands(script.text) {
                            for deleted in deletions(&command) {
                                let Some(path) = resolve(workdir.as_deref(), &deleted.value) else {
                                    continue;
                                };
                                let Some(earlier) = created.iter().find(|entry| covers(&path, &entry.path)) else {
                                    continue;
                                };
                                sink.report(
                                    "BL012",
                                    script.span_of(deleted.range.clone()),
                                    format!(
                                        "`{}` was added by the {} on line {}: deleting it in a later layer hides it but its bytes stay in the image (in the layer of line {}); remove it in the same step that creates it, or copy only what you need from another stage",
                                        earlier.path, earlier.keyword, earlier.line, earlier.line
                                    ),
                                );
                            }
                            for path in creations(&command) {
                                if let Some(path) = resolve(workdir.as_deref(), &path) {
                                    made_here.push(Created { path, line, keyword: "RUN" });
                                }
                            }
                        }
                    }
                    created.extend(made_here);
                }
                _ => {}
            }
        }
    }
}

/// Arguments of `rm` that name paths.
fn deletions(command: &SimpleCommand) -> Vec<&super::script::ShellWord> {
    if command.program() != Some("rm") {
        return Vec::new();
    }
    command.arguments().iter().filter(|word| !word.value.starts_with('-') && !word.value.is_empty()).collect()
}

/// Paths a command writes: download outputs, touch, mkdir, git clone targets, cp/mv destinations, redirections.
fn creations(command: &SimpleCommand) -> Vec<String> {
    let mut paths = Vec::new();
    let words = &command.words;
    for (index, word) in words.iter().enumerate() {
        if matches!(word.value.as_str(), ">" | ">>" | "1>" | "2>" | ">|") {
            if let Some(target) = words.get(index + 1) {
                paths.push(target.value.clone());
            }
        }
    }
    let arguments: Vec<&str> = command
        .arguments()
        .iter()
        .map(|word| word.value.as_str())
        .take_while(|value| !value.starts_with('>') && !value.ends_with('>'))
        .collect();
    let positional: Vec<&str> = arguments.iter().copied().filter(|value| !value.starts_with('-')).collect();
    match command.program().unwrap_or_default() {
        "curl" => {
            for (index, value) in arguments.iter().enumerate() {
                if matches!(*value, "-o" | "--output") {
                    paths.extend(arguments.get(index + 1).map(|path| path.to_string()));
                }
            }
        }
        "wget" => {
            for (index, value) in arguments.iter().enumerate() {
                if *value == "-O" {
                    paths.extend(arguments.get(index + 1).filter(|path| **path != "-").map(|path| path.to_string()));
                } else if let Some(path) = value.strip_prefix("--output-document=") {
                    paths.push(path.to_string());
                }
            }
        }
        "touch" | "mkdir" => paths.extend(positional.iter().map(|path| path.to_string())),
        "cp" | "mv" if positional.len() >= 2 => paths.extend(positional.last().map(|path| path.to_string())),
        "git" if positional.first() == Some(&"clone") && positional.len() >= 3 => {
            paths.extend(positional.last().map(|path| path.to_string()));
        }
        _ => {}
    }
    paths.retain(|path| !path.contains(['$', '*', '?']) && path != "/dev/null" && !path.starts_with("/dev/"));
    paths
}

/// Absolute, normalized path, or `None` when a relative path meets an unknown WORKDIR.
fn resolve(workdir: Option<&str>, path: &str) -> Option<String> {
    if path.is_empty() || path.contains('$') {
        return None;
    }
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", workdir?) };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Whether deleting `deleted` removes `created`: the same path, a parent directory, or `dir/*` over it.
fn covers(deleted: &str, created: &str) -> bool {
    if deleted == "/" {
        return false;
    }
    let directory = deleted.strip_suffix("/*").unwrap_or(deleted);
    created == deleted || created.strip_prefix(directory).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_and_cover() {
        assert_eq!(resolve(Some("/app"), "../tmp/./x").as_deref(), Some("/tmp/x"));
        assert_eq!(resolve(None, "x"), None);
        assert!(covers("/tmp", "/tmp/a.tgz"));
        assert!(covers("/tmp/*", "/tmp/a.tgz"));
        assert!(!covers("/tm", "/tmp/a.tgz"));
    }
}
