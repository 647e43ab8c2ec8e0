//! Package managers in RUN: BL008 apt-get install without -y, BL009 without --no-install-recommends,
//! BL010 apt lists left behind, BL011 apt-get update alone, BL023 apk add without --no-cache,
//! BL024 unpinned packages (off by default).

use super::script::{commands, Script, ShellWord, SimpleCommand};
use super::{after, Context, Fix, Sink};
use crate::dockerfile::ast::{Command, Run};

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    let ids = ["BL008", "BL009", "BL010", "BL011", "BL023", "BL024"];
    if !ids.iter().any(|id| sink.enabled(id)) {
        return;
    }
    for instruction in &context.dockerfile.instructions {
        if let Command::Run(run) = &instruction.command {
            check_run(run, sink);
        }
    }
}

/// A package-manager invocation: the subcommand word and the words after it.
struct Invocation<'c> {
    subcommand: &'c ShellWord,
    rest: &'c [ShellWord],
}

/// `apt-get [options] subcommand ...` (and apt, apk): options before the subcommand skipped, with their values.
fn invocation<'c>(command: &'c SimpleCommand, programs: &[&str]) -> Option<Invocation<'c>> {
    if !programs.contains(&command.program()?) {
        return None;
    }
    let arguments = command.arguments();
    let mut index = 0;
    while let Some(word) = arguments.get(index) {
        if !word.value.starts_with('-') {
            return Some(Invocation { subcommand: word, rest: arguments.get(index + 1..).unwrap_or_default() });
        }
        index += if matches!(word.value.as_str(), "-o" | "-c" | "-t" | "-X" | "-p") { 2 } else { 1 };
    }
    None
}

fn has_yes(words: &[ShellWord]) -> bool {
    words.iter().any(|word| {
        let value = word.value.as_str();
        matches!(value, "-y" | "--yes" | "--assume-yes" | "-qq" | "-q=2" | "--quiet=2")
            || (value.starts_with('-') && !value.starts_with("--") && value.contains('y'))
    })
}

fn has_no_recommends(words: &[ShellWord]) -> bool {
    words.iter().enumerate().any(|(index, word)| {
        word.value == "--no-install-recommends"
            || (word.value.starts_with("-o") && {
                let option = if word.value == "-o" {
                    words.get(index + 1).map(|next| next.value.as_str()).unwrap_or_default()
                } else {
                    word.value.as_str()
                };
                option.contains("Install-Recommends=false") || option.contains("Install-Recommends=0")
            })
    })
}

/// Package arguments: words that are not options, option values, local files or variables.
fn packages<'c>(words: &'c [ShellWord], options_with_values: &[&str]) -> Vec<&'c ShellWord> {
    let mut packages = Vec::new();
    let mut skip_next = false;
    for word in words {
        if skip_next {
            skip_next = false;
            continue;
        }
        let value = word.value.as_str();
        if value.starts_with('-') {
            skip_next = options_with_values.contains(&value);
            continue;
        }
        let is_file =
            value.starts_with('/') || value.starts_with('.') || value.ends_with(".deb") || value.ends_with(".apk");
        if !is_file && !value.contains('$') && !value.is_empty() {
            packages.push(word);
        }
    }
    packages
}

fn removes(commands: &[&SimpleCommand], prefix: &str) -> bool {
    commands.iter().any(|command| {
        command.program() == Some("rm") && command.arguments().iter().any(|word| word.value.starts_with(prefix))
    })
}

fn caches(run: &Run, prefix: &str) -> bool {
    run.mounts.iter().any(|mount| mount.target().is_some_and(|target| target.starts_with(prefix)))
}

/// Text to append to a script so that `line` runs after everything else in it.
fn appended(script: &Script<'_>, line: &str) -> Option<String> {
    if script.is_heredoc() {
        return Some(format!("{line}\n"));
    }
    // Appending after a comment would comment the addition out.
    if script.text.contains(" #") {
        return None;
    }
    let trimmed = script.text.trim_end();
    if trimmed.ends_with("&&") || trimmed.ends_with(';') {
        Some(format!(" {line}"))
    } else {
        Some(format!(" && {line}"))
    }
}

fn check_run(run: &Run, sink: &mut Sink<'_>) {
    let scripts = Script::of_run(run);
    let parsed: Vec<Vec<SimpleCommand>> = scripts.iter().map(|script| commands(script.text)).collect();
    let all_commands: Vec<&SimpleCommand> = parsed.iter().flatten().collect();
    let apt = ["apt-get", "apt"];

    let installs_anything = all_commands.iter().any(|command| {
        invocation(command, &apt).is_some_and(|call| {
            matches!(call.subcommand.value.as_str(), "install" | "upgrade" | "dist-upgrade" | "full-upgrade")
        })
    });
    let mut reported_lists = false;

    for (script, script_commands) in scripts.iter().zip(&parsed) {
        for command in script_commands {
            if let Some(call) = invocation(command, &apt) {
                let subcommand_span = script.span_of(call.subcommand.range.clone());
                match call.subcommand.value.as_str() {
                    "install" => {
                        if !has_yes(call.rest) && !has_yes(command.arguments()) {
                            let fix = Fix::single("Add -y", after(subcommand_span), " -y");
                            sink.report_with_fix(
                                "BL008",
                                subcommand_span,
                                "apt-get install without -y stops at its confirmation prompt, which a build cannot answer",
                                Some(fix),
                            );
                        }
                        if !has_no_recommends(command.arguments()) {
                            let fix = Fix::single(
                                "Add --no-install-recommends",
                                after(subcommand_span),
                                " --no-install-recommends",
                            );
                            sink.report_with_fix(
                                "BL009",
                                subcommand_span,
                                "apt-get install without --no-install-recommends also installs recommended packages, which few images need",
                                Some(fix),
                            );
                        }
                        let cleaned = removes(&all_commands, "/var/lib/apt/lists") || caches(run, "/var/lib/apt");
                        if !cleaned && !reported_lists {
                            reported_lists = true;
                            let line = "rm -rf /var/lib/apt/lists/*";
                            let fix = appended(script, line)
                                .map(|text| Fix::single(format!("Append `{line}`"), script.end(), text));
                            sink.report_with_fix(
                                "BL010",
                                subcommand_span,
                                "this RUN installs packages but keeps /var/lib/apt/lists in its layer: end it with `rm -rf /var/lib/apt/lists/*`",
                                fix,
                            );
                        }
                        for package in packages(call.rest, &["-o", "-t", "-c", "--target-release"]) {
                            if !package.value.contains('=') {
                                sink.report(
                                    "BL024",
                                    script.span_of(package.range.clone()),
                                    format!(
                                        "`{}` is not pinned to a version: `{}=<version>`",
                                        package.value, package.value
                                    ),
                                );
                            }
                        }
                    }
                    "update" if !installs_anything => {
                        sink.report(
                            "BL011",
                            subcommand_span,
                            "apt-get update without an install in the same RUN: the cached index goes stale and later installs may fail; update and install in one RUN",
                        );
                    }
                    _ => {}
                }
            }
            if let Some(call) = invocation(command, &["apk"]) {
                if call.subcommand.value != "add" {
                    continue;
                }
                let subcommand_span = script.span_of(call.subcommand.range.clone());
                let no_cache = command.arguments().iter().any(|word| word.value == "--no-cache")
                    || removes(&all_commands, "/var/cache/apk")
                    || caches(run, "/var/cache/apk")
                    || caches(run, "/etc/apk/cache");
                if !no_cache {
                    let fix = Fix::single("Add --no-cache", after(subcommand_span), " --no-cache");
                    sink.report_with_fix(
                        "BL023",
                        subcommand_span,
                        "apk add without --no-cache keeps the package index in the layer",
                        Some(fix),
                    );
                }
                for package in packages(call.rest, &["-t", "--virtual", "-X", "--repository", "-p", "--root"]) {
                    if !package.value.contains(['=', '~', '<', '>']) {
                        sink.report(
                            "BL024",
                            script.span_of(package.range.clone()),
                            format!("`{}` is not pinned to a version: `{}=<version>`", package.value, package.value),
                        );
                    }
                }
            }
        }
    }
}
