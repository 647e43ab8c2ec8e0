//! Checks of one instruction at a time: BL005 shell-form CMD/ENTRYPOINT, BL006 ADD where COPY does,
//! BL013 invalid EXPOSE, BL014 relative WORKDIR, BL015 MAINTAINER, BL025 unknown flags, BL028 an empty RUN.

use super::stages::suggestion;
use super::{Context, Fix, Sink};
use crate::dockerfile::ast::{known_flags, Command, CommandLine, Instruction};
use crate::dockerfile::print::json_array;
use crate::dockerfile::span::{Position, Span};
use crate::dockerfile::substitution::unquote;

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    for instruction in &context.dockerfile.instructions {
        unknown_flags(instruction, sink);
        if let Command::Onbuild(trigger) = &instruction.command {
            unknown_flags(trigger, sink);
        }
        match &instruction.command {
            Command::Cmd(command) | Command::Entrypoint(command) => shell_form(instruction.keyword(), command, sink),
            Command::Run(run) if run.heredocs.is_empty() && is_empty_command(&run.command) => {
                sink.report(
                    "BL028",
                    instruction.keyword_span,
                    "RUN has no command, so it runs nothing: write the command after RUN, or remove the line",
                );
            }
            Command::Add(_) => add_instead_of_copy(context, instruction, sink),
            Command::Expose(ports) => {
                for port in ports {
                    let value = unquote(&port.raw, context.escape);
                    if let Some(problem) = port_problem(&value) {
                        sink.report("BL013", port.span, format!("EXPOSE {value}: {problem}"));
                    }
                }
            }
            Command::Workdir(path) => {
                let value = unquote(&path.raw, context.escape);
                if !value.contains('$') && !is_absolute(&value) {
                    sink.report(
                        "BL014",
                        path.span,
                        format!(
                            "WORKDIR {value} is relative to whatever the previous WORKDIR was: use an absolute path"
                        ),
                    );
                }
            }
            Command::Maintainer(maintainer) => {
                let replacement =
                    format!("LABEL maintainer=\"{}\"", escape_in_double_quotes(&maintainer.raw, context.escape));
                let fix = Fix::single("Replace with LABEL maintainer=", instruction.span, replacement);
                sink.report_with_fix(
                    "BL015",
                    instruction.keyword_span,
                    "MAINTAINER is deprecated: use `LABEL maintainer=\"...\"`",
                    Some(fix),
                );
            }
            _ => {}
        }
    }
}

fn unknown_flags(instruction: &Instruction, sink: &mut Sink<'_>) {
    let known = known_flags(instruction.keyword());
    for flag in &instruction.flags {
        if known.contains(&flag.name.as_str()) {
            continue;
        }
        let mut message = format!("unknown flag: {} ({} accepts ", flag.name, instruction.keyword());
        if known.is_empty() {
            message.push_str("no flags)");
        } else {
            let listed: Vec<String> = known.iter().map(|name| format!("--{name}")).collect();
            message.push_str(&listed.join(", "));
            message.push(')');
        }
        let guess = suggestion(&flag.name, known.iter().copied());
        // The name sits right after "--" on the flag's first line (flag names are never quoted in practice).
        let fix = guess.filter(|_| flag.span.start.line == flag.span.end.line).map(|guess| {
            let start = flag.span.start;
            let name_start = Position { column: start.column + 2, offset: start.offset + 2, ..start };
            let name_end = Position {
                column: name_start.column + flag.name.chars().count(),
                offset: name_start.offset + flag.name.len(),
                ..start
            };
            Fix::single(format!("Use --{guess}"), Span::new(name_start, name_end), guess)
        });
        if let Some(guess) = guess {
            message.push_str(&format!("; did you mean --{guess}?"));
        }
        sink.report_with_fix("BL025", flag.span, message, fix);
    }
}

/// `RUN` alone, `RUN   ` or `RUN []`.
fn is_empty_command(command: &CommandLine) -> bool {
    match command {
        CommandLine::Shell(script) => script.raw.trim().is_empty(),
        CommandLine::Exec(words) => words.is_empty(),
    }
}

/// Characters that need a shell to mean what they say.
fn needs_shell(command: &str) -> bool {
    command.contains(|character: char| "$&|;<>()`\\\"'*?[]#~{}=%\n".contains(character))
}

fn shell_form(keyword: &str, command: &CommandLine, sink: &mut Sink<'_>) {
    let CommandLine::Shell(word) = command else {
        return;
    };
    if word.raw.trim().is_empty() {
        return;
    }
    if word.raw.trim_start().starts_with('[') {
        // A JSON array that does not parse (`CMD ["sh"`): Docker runs it as a shell string. No rewrite can know
        // what was meant.
        sink.report_with_fix(
            "BL005",
            word.span,
            format!("{keyword} looks like a JSON array but is not valid JSON, so it runs as a shell command; check its quotes and brackets"),
            None,
        );
        return;
    }
    // Only a plain list of words has an exec form that means the same; wrapping a shell command in
    // `["/bin/sh", "-c", ...]` would silence the warning and change nothing.
    let fix = (!needs_shell(&word.raw)).then(|| {
        let mut words: Vec<&str> = word.raw.split_whitespace().collect();
        // `exec` only means something to a shell; in exec form the program runs directly anyway.
        if words.first() == Some(&"exec") && words.len() > 1 {
            words.remove(0);
        }
        Fix::single("Use the exec (JSON) form", word.span, json_array(words.into_iter()))
    });
    sink.report_with_fix(
        "BL005",
        word.span,
        format!("{keyword} in shell form runs under `/bin/sh -c`: the program is not PID 1 and does not get SIGTERM; use the JSON form"),
        fix,
    );
}

const ARCHIVE_SUFFIXES: &[&str] = &[
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".gz", ".bz2",
    ".xz", ".zst", ".lz4",
];

fn add_instead_of_copy(context: &Context<'_>, instruction: &Instruction, sink: &mut Sink<'_>) {
    let Command::Add(add) = &instruction.command else {
        return;
    };
    if !sink.enabled("BL006") || !add.heredocs.is_empty() {
        return;
    }
    if instruction.flags.iter().any(|flag| matches!(flag.name.as_str(), "checksum" | "keep-git-dir" | "unpack")) {
        return;
    }
    let needs_add = add.sources.iter().any(|source| {
        let value = unquote(&source.raw, context.escape).to_ascii_lowercase();
        value.contains('$')
            || value.contains("://")
            || value.starts_with("git@")
            || ARCHIVE_SUFFIXES.iter().any(|suffix| value.ends_with(suffix))
    });
    if needs_add {
        return;
    }
    let fix = Fix::single("Use COPY", instruction.keyword_span, "COPY");
    sink.report_with_fix(
        "BL006",
        instruction.keyword_span,
        "ADD of local files that are not archives does what COPY does: use COPY, which does nothing implicit",
        Some(fix),
    );
}

fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    // Windows images: C:\ or C:/ and UNC-style paths.
    let is_windows_absolute = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    path.starts_with('/') || path.starts_with('\\') || is_windows_absolute
}

/// What is wrong with an EXPOSE value (`80`, `80/tcp`, `8000-8010/udp`), if anything.
pub(crate) fn port_problem(value: &str) -> Option<String> {
    if value.contains('$') {
        return None;
    }
    let (ports, protocol) = match value.split_once('/') {
        Some((ports, protocol)) => (ports, Some(protocol)),
        None => (value, None),
    };
    if let Some(protocol) = protocol {
        if !matches!(protocol.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
            return Some(format!("protocol `{protocol}` is not tcp, udp or sctp"));
        }
    }
    let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
    let parse = |text: &str| -> Result<u64, String> {
        if text.is_empty() || !text.chars().all(|character| character.is_ascii_digit()) {
            return Err(format!("`{ports}` is not a port number or range"));
        }
        match text.parse::<u64>() {
            Ok(port) if port <= 65535 => Ok(port),
            _ => Err(format!("port {text} is outside 0-65535")),
        }
    };
    match (parse(first), parse(last)) {
        (Err(problem), _) | (_, Err(problem)) => Some(problem),
        (Ok(first), Ok(last)) if first > last => Some(format!("range {first}-{last} ends before it starts")),
        _ => None,
    }
}

/// Text for inside a double-quoted Dockerfile word: `"`, `$` and the escape character escaped.
fn escape_in_double_quotes(text: &str, escape: char) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if character == '"' || character == '$' || character == escape {
            escaped.push(escape);
        }
        escaped.push(character);
    }
    escaped
}
