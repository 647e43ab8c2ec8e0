//! The syntax tree back to Dockerfile text. `parse(print(x))` gives `x` again, spans aside.
//!
//! Keywords come out upper-case and arguments are separated by one space; raw words are written as they were,
//! so quoting, escapes and variables survive. Comments above instructions are kept; formatting inside a
//! continued line is not (continuations are joined onto one line, which parses to the same words).

use super::ast::{Command, CommandLine, Dockerfile, Heredoc, Instruction, KeyValues, Word};

pub fn print(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    for directive in &dockerfile.directives {
        out.push_str(&format!("# {}={}\n", directive.name, directive.value));
    }
    // A blank line ends the directive block: without it a first comment like "# escape=`" would become one.
    if dockerfile.instructions.first().is_some_and(|instruction| !instruction.comments.is_empty()) {
        out.push('\n');
    }
    for instruction in &dockerfile.instructions {
        print_instruction(&mut out, instruction);
    }
    out
}

/// One instruction with its comments and heredoc bodies, ending in a newline.
pub fn print_instruction(out: &mut String, instruction: &Instruction) {
    for comment in &instruction.comments {
        if comment.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {comment}\n"));
        }
    }
    out.push_str(&instruction_line(instruction));
    out.push('\n');
    for heredoc in heredocs(instruction) {
        out.push_str(&heredoc.content);
        out.push_str(&heredoc.name);
        out.push('\n');
    }
}

fn heredocs(instruction: &Instruction) -> &[Heredoc] {
    match &instruction.command {
        Command::Run(run) => &run.heredocs,
        Command::Add(copy) | Command::Copy(copy) => &copy.heredocs,
        Command::Onbuild(trigger) => heredocs(trigger),
        _ => &[],
    }
}

/// The instruction's first line: keyword, flags and arguments, without comments or heredoc bodies.
pub fn instruction_line(instruction: &Instruction) -> String {
    let mut line = instruction.keyword().to_string();
    for flag in &instruction.flags {
        line.push_str(" --");
        // A name holds spaces or quotes when an unclosed quote ran to the end of the line (buildkit reads it so).
        line.push_str(&quote_flag_word(&flag.name));
        if let Some(value) = &flag.value {
            line.push('=');
            line.push_str(&quote_flag_word(value));
        }
    }
    let arguments = arguments(&instruction.command);
    if !arguments.is_empty() {
        // Arguments that look like a flag would be read as one: "--" ends the flags, as Docker allows.
        if arguments.starts_with("--") {
            line.push_str(" --");
        }
        line.push(' ');
        line.push_str(&arguments);
    }
    line
}

fn arguments(command: &Command) -> String {
    match command {
        Command::From(from) => match &from.alias {
            Some(alias) => format!("{} AS {}", from.image.raw, alias.raw),
            None => from.image.raw.clone(),
        },
        Command::Run(run) => command_line(&run.command),
        Command::Cmd(command) | Command::Entrypoint(command) => command_line(command),
        Command::Label(pairs) | Command::Env(pairs) => key_values(pairs),
        Command::Maintainer(word) | Command::User(word) | Command::Workdir(word) | Command::StopSignal(word) => {
            word.raw.clone()
        }
        Command::Expose(ports) => join_raw(ports),
        Command::Add(copy) | Command::Copy(copy) => {
            let all: Vec<&Word> = copy.sources.iter().chain(core::iter::once(&copy.destination)).collect();
            if copy.json {
                json_array(all.iter().map(|word| word.raw.as_str()))
            } else {
                all.iter().map(|word| word.raw.as_str()).collect::<Vec<_>>().join(" ")
            }
        }
        Command::Volume(volume) => {
            if volume.json {
                json_array(volume.paths.iter().map(|word| word.raw.as_str()))
            } else {
                join_raw(&volume.paths)
            }
        }
        Command::Arg(declarations) => declarations
            .iter()
            .map(|declaration| match &declaration.default {
                Some(default) => format!("{}={}", declaration.name.raw, default.raw),
                None => declaration.name.raw.clone(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Command::Onbuild(trigger) => instruction_line(trigger),
        Command::Healthcheck(super::ast::Healthcheck::None) => "NONE".to_string(),
        Command::Healthcheck(super::ast::Healthcheck::Check(check)) => {
            format!("CMD {}", command_line(&check.test))
        }
        Command::Shell(words) => json_array(words.iter().map(|word| word.raw.as_str())),
    }
}

fn join_raw(words: &[Word]) -> String {
    words.iter().map(|word| word.raw.as_str()).collect::<Vec<_>>().join(" ")
}

fn key_values(pairs: &KeyValues) -> String {
    let separator = if pairs.legacy { " " } else { "=" };
    pairs
        .pairs
        .iter()
        .map(|pair| format!("{}{separator}{}", pair.key.raw, pair.value.raw))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn command_line(command: &CommandLine) -> String {
    match command {
        CommandLine::Shell(word) => word.raw.clone(),
        CommandLine::Exec(words) => json_array(words.iter().map(|word| word.raw.as_str())),
    }
}

/// `["a", "b"]`, the way Docker's documentation writes exec forms.
pub(crate) fn json_array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(json_string).collect();
    format!("[{}]", items.join(", "))
}

pub(crate) fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if (control as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", control as u32)),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Flag words are read with quotes and backslash escapes (see `words::extract_flags`).
fn quote_flag_word(value: &str) -> String {
    let needs_quotes =
        value.chars().any(|character| character.is_whitespace() || matches!(character, '"' | '\'' | '\\'));
    if !needs_quotes {
        return value.to_string();
    }
    let mut quoted = String::from("\"");
    for character in value.chars() {
        if matches!(character, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}
