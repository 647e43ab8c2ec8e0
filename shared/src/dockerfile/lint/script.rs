//! Just enough POSIX shell to lint RUN commands: split a script into simple commands joined by `|`, `&&`,
//! `||`, `;` or newlines, and each command into words with their byte ranges (quotes removed in `value`).
//!
//! It is not a shell: it does not expand anything and reads `$(...)` and backticks as part of a word. Rules
//! use it to find programs and their arguments and to place fixes exactly.

use core::ops::Range;

use crate::dockerfile::ast::{CommandLine, Heredoc, Run, Word};
use crate::dockerfile::span::{Position, Span};

/// A shell script inside a RUN: its shell-form text, or a heredoc the shell runs.
pub(crate) struct Script<'a> {
    pub(crate) text: &'a str,
    origin: Origin<'a>,
}

enum Origin<'a> {
    Word(&'a Word),
    Heredoc(&'a Heredoc),
}

impl<'a> Script<'a> {
    /// The scripts of a RUN: the shell-form line, and heredocs that the shell itself runs (`RUN <<EOF`,
    /// `RUN bash <<EOF`), not those fed to another program (`RUN python3 <<EOF`).
    pub(crate) fn of_run(run: &'a Run) -> Vec<Script<'a>> {
        let CommandLine::Shell(line) = &run.command else {
            return Vec::new();
        };
        let mut scripts = vec![Script { text: &line.raw, origin: Origin::Word(line) }];
        let line_commands = commands(&line.raw);
        let runs_heredocs_in_shell = line_commands.first().is_some_and(|command| {
            let mut words = command.words.iter().map(|word| word.value.as_str());
            let first = words.next().unwrap_or_default();
            is_heredoc_marker(first) || is_shell_program(first)
        });
        if runs_heredocs_in_shell {
            for heredoc in &run.heredocs {
                let shebang = heredoc.content.lines().next().filter(|line| line.starts_with("#!"));
                if shebang.is_none_or(|line| line.ends_with("sh") || line.contains("sh ")) {
                    scripts.push(Script { text: &heredoc.content, origin: Origin::Heredoc(heredoc) });
                }
            }
        }
        scripts
    }

    pub(crate) fn is_heredoc(&self) -> bool {
        matches!(self.origin, Origin::Heredoc(_))
    }

    /// The source span of a byte range of the script.
    pub(crate) fn span_of(&self, range: Range<usize>) -> Span {
        match self.origin {
            Origin::Word(word) => word.span_of(range),
            Origin::Heredoc(heredoc) => Span {
                start: position_in_block(heredoc.span.start, &heredoc.content, range.start),
                end: position_in_block(heredoc.span.start, &heredoc.content, range.end),
            },
        }
    }

    /// Where text appended to the script goes: after the shell line, or before the heredoc terminator.
    pub(crate) fn end(&self) -> Span {
        self.span_of(self.text.len()..self.text.len())
    }
}

/// Position of `offset` in `text`, which starts at `start` in the source and is copied verbatim from it.
fn position_in_block(start: Position, text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or_default();
    match before.rfind('\n') {
        None => {
            Position { line: start.line, column: start.column + before.chars().count(), offset: start.offset + offset }
        }
        Some(last_newline) => Position {
            line: start.line + before.matches('\n').count(),
            column: 1 + before[last_newline + 1..].chars().count(),
            offset: start.offset + offset,
        },
    }
}

pub(crate) fn is_heredoc_marker(word: &str) -> bool {
    word.trim_start_matches(|character: char| character.is_ascii_digit()).starts_with("<<")
}

pub(crate) fn is_shell_program(program: &str) -> bool {
    matches!(basename(program), "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh" | "mksh")
}

pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShellWord {
    /// Bytes of the script, quotes included.
    pub(crate) range: Range<usize>,
    /// Quotes and backslashes removed.
    pub(crate) value: String,
}

/// How a command connects to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connector {
    Pipe,
    And,
    Or,
    /// `;`, `&` or a newline.
    Sequence,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimpleCommand {
    pub(crate) words: Vec<ShellWord>,
    pub(crate) next: Connector,
}

impl SimpleCommand {
    /// Index of the program word, past `VAR=value` assignments and wrappers like sudo, env, exec, nohup.
    pub(crate) fn program_index(&self) -> Option<usize> {
        let mut index = 0;
        while let Some(word) = self.words.get(index) {
            let value = word.value.as_str();
            if is_assignment(value)
                || matches!(value, "exec" | "command" | "nohup" | "time" | "env" | "then" | "do" | "else" | "{" | "!")
            {
                index += 1;
            } else if value == "sudo" {
                index += 1;
                // sudo's own options; -u and -g take a value.
                while let Some(option) = self.words.get(index).filter(|word| word.value.starts_with('-')) {
                    index +=
                        if matches!(option.value.as_str(), "-u" | "-g" | "-C" | "-D" | "-h" | "-p") { 2 } else { 1 };
                }
            } else {
                return Some(index);
            }
        }
        None
    }

    pub(crate) fn program(&self) -> Option<&str> {
        self.program_index().and_then(|index| self.words.get(index)).map(|word| basename(&word.value))
    }

    /// Words after the program.
    pub(crate) fn arguments(&self) -> &[ShellWord] {
        match self.program_index() {
            Some(index) => self.words.get(index + 1..).unwrap_or_default(),
            None => &[],
        }
    }
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
                && !name.starts_with(|character: char| character.is_ascii_digit())
        }
        None => false,
    }
}

/// Splits a script into simple commands.
pub(crate) fn commands(script: &str) -> Vec<SimpleCommand> {
    let characters: Vec<(usize, char)> = script.char_indices().collect();
    let end_of = |index: usize| characters.get(index).map_or(script.len(), |&(offset, _)| offset);
    let mut commands = Vec::new();
    let mut words: Vec<ShellWord> = Vec::new();
    let mut current: Option<ShellWord> = None;
    let mut index = 0;

    fn finish_word(current: &mut Option<ShellWord>, words: &mut Vec<ShellWord>) {
        if let Some(word) = current.take() {
            words.push(word);
        }
    }
    fn finish_command(words: &mut Vec<ShellWord>, commands: &mut Vec<SimpleCommand>, next: Connector) {
        if !words.is_empty() {
            commands.push(SimpleCommand { words: core::mem::take(words), next });
        } else if let Some(previous) = commands.last_mut() {
            // "a |\n b": keep the stronger connector.
            if previous.next == Connector::Sequence && next != Connector::Sequence {
                previous.next = next;
            }
        }
    }

    while let Some(&(offset, character)) = characters.get(index) {
        let start_word = |current: &mut Option<ShellWord>| {
            current.get_or_insert_with(|| ShellWord { range: offset..offset, value: String::new() });
        };
        match character {
            ' ' | '\t' | '\r' => finish_word(&mut current, &mut words),
            '\n' => {
                finish_word(&mut current, &mut words);
                finish_command(&mut words, &mut commands, Connector::Sequence);
            }
            '#' if current.is_none() => {
                while characters.get(index + 1).is_some_and(|&(_, next)| next != '\n') {
                    index += 1;
                }
            }
            '\\' => {
                index += 1;
                match characters.get(index) {
                    Some(&(_, '\n')) => {}
                    Some(&(_, escaped)) => {
                        start_word(&mut current);
                        if let Some(word) = current.as_mut() {
                            word.value.push(escaped);
                        }
                    }
                    None => {}
                }
            }
            '\'' | '"' | '`' => {
                start_word(&mut current);
                let mut closed = false;
                while let Some(&(_, inner)) = characters.get(index + 1) {
                    index += 1;
                    if inner == character {
                        closed = true;
                        break;
                    }
                    if inner == '\\' && character != '\'' {
                        if let Some(&(_, escaped)) = characters.get(index + 1) {
                            index += 1;
                            if let Some(word) = current.as_mut() {
                                word.value.push(escaped);
                            }
                            continue;
                        }
                    }
                    if let Some(word) = current.as_mut() {
                        word.value.push(inner);
                    }
                }
                let _ = closed;
            }
            '$' if characters.get(index + 1).is_some_and(|&(_, next)| next == '(') => {
                start_word(&mut current);
                let mut depth = 0usize;
                while let Some(&(_, inner)) = characters.get(index) {
                    if let Some(word) = current.as_mut() {
                        word.value.push(inner);
                    }
                    match inner {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    index += 1;
                }
            }
            '|' | '&' | ';' => {
                finish_word(&mut current, &mut words);
                let doubled = characters.get(index + 1).is_some_and(|&(_, next)| next == character);
                let connector = match (character, doubled) {
                    ('|', true) => Connector::Or,
                    ('|', false) => Connector::Pipe,
                    ('&', true) => Connector::And,
                    _ => Connector::Sequence,
                };
                if doubled {
                    index += 1;
                }
                finish_command(&mut words, &mut commands, connector);
            }
            '(' | ')' => {
                finish_word(&mut current, &mut words);
                finish_command(&mut words, &mut commands, Connector::Sequence);
            }
            '<' | '>' => {
                // A redirection operator is its own word; a leading fd number ("2>") joins it.
                let is_fd = current.as_ref().is_some_and(|word| {
                    !word.value.is_empty() && word.value.chars().all(|digit| digit.is_ascii_digit())
                });
                if !is_fd {
                    finish_word(&mut current, &mut words);
                }
                start_word(&mut current);
                while let Some(&(_, operator)) = characters.get(index) {
                    if !matches!(operator, '<' | '>' | '&' | '|' | '-') {
                        break;
                    }
                    if let Some(word) = current.as_mut() {
                        word.value.push(operator);
                    }
                    index += 1;
                }
                if let Some(word) = current.as_mut() {
                    word.range.end = end_of(index);
                }
                finish_word(&mut current, &mut words);
                continue;
            }
            other => {
                start_word(&mut current);
                if let Some(word) = current.as_mut() {
                    word.value.push(other);
                }
            }
        }
        index += 1;
        if let Some(word) = current.as_mut() {
            word.range.end = end_of(index);
        }
    }
    finish_word(&mut current, &mut words);
    finish_command(&mut words, &mut commands, Connector::End);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(script: &str) -> Vec<(Option<String>, Connector)> {
        commands(script).iter().map(|command| (command.program().map(str::to_string), command.next)).collect()
    }

    #[test]
    fn splits_on_connectors() {
        assert_eq!(
            programs("apt-get update && sudo -u x apt-get install -y a | tee log; curl x || true\nFOO=1 make"),
            vec![
                (Some("apt-get".into()), Connector::And),
                (Some("apt-get".into()), Connector::Pipe),
                (Some("tee".into()), Connector::Sequence),
                (Some("curl".into()), Connector::Or),
                (Some("true".into()), Connector::Sequence),
                (Some("make".into()), Connector::End),
            ]
        );
    }

    #[test]
    fn words_keep_ranges_and_drop_quotes() {
        let script = "echo \"a b\" 'c' d\\ e $(x | y) >/tmp/out";
        let command = &commands(script)[0];
        let values: Vec<&str> = command.words.iter().map(|word| word.value.as_str()).collect();
        assert_eq!(values, vec!["echo", "a b", "c", "d e", "$(x | y)", ">", "/tmp/out"]);
        assert_eq!(&script[command.words[1].range.clone()], "\"a b\"");
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(programs("# comment | here\nls"), vec![(Some("ls".into()), Connector::End)]);
    }
}
