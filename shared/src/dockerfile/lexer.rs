//! From source text to logical lines: BOM and CRLF handling, parser directives, comments, line continuations
//! and heredoc bodies, following buildkit's `parser.Parse` line by line.
//!
//! A logical line is the text of one instruction with continuation characters and continuation-comment lines
//! removed. It remembers where each of its pieces came from, so any byte range of it maps back to a [`Span`].

use core::ops::Range;

use super::ast::{Directive, ParseWarning};
use super::error::{ParseError, ParseErrorKind};
use super::span::{SourceMap, Span};

const BYTE_ORDER_MARK: char = '\u{feff}';

#[derive(Debug, Clone, Copy)]
struct PhysicalLine {
    /// Byte offset of the first character (after a BOM on line 1).
    start: usize,
    /// Byte offset just past the content, before `\r`/`\n`.
    content_end: usize,
    /// Byte offset of the next line's start.
    next_start: usize,
    /// 1-based.
    number: usize,
}

/// One instruction's text, joined from its physical lines.
#[derive(Debug, Clone)]
pub(crate) struct LogicalLine {
    pub(crate) text: String,
    /// `(offset in text, offset in source)` for the start of each piece, ascending.
    pieces: Vec<(usize, usize)>,
    pub(crate) first_line: usize,
    /// Source offset just past the last physical line's content.
    pub(crate) source_end: usize,
    pub(crate) comments: Vec<String>,
}

impl LogicalLine {
    fn source_offset(&self, text_offset: usize, is_end: bool) -> usize {
        // An end offset that falls exactly on a piece boundary belongs to the end of the earlier piece,
        // not to the start of the next physical line.
        let index = self
            .pieces
            .partition_point(|&(piece_start, _)| {
                if is_end {
                    piece_start < text_offset
                } else {
                    piece_start <= text_offset
                }
            })
            .saturating_sub(1);
        match self.pieces.get(index) {
            Some(&(piece_start, source_start)) => {
                source_start + text_offset.saturating_sub(piece_start)
            }
            None => text_offset,
        }
    }

    /// The source span of a byte range of `text`.
    pub(crate) fn span(&self, map: &SourceMap<'_>, range: Range<usize>) -> Span {
        let start = self.source_offset(range.start, false);
        let end = if range.end > range.start {
            self.source_offset(range.end, true)
        } else {
            start
        };
        map.span(start, end)
    }
}

pub(crate) struct Lexer<'src> {
    source: &'src str,
    map: &'src SourceMap<'src>,
    lines: Vec<PhysicalLine>,
    next_line: usize,
    pub(crate) escape: char,
    directives_done: bool,
    pub(crate) directives: Vec<Directive>,
    pub(crate) warnings: Vec<ParseWarning>,
    /// Errors that do not stop lexing (a bad directive): reported, then the default is kept.
    pub(crate) errors: Vec<ParseError>,
}

fn is_go_space(character: char) -> bool {
    // Go's unicode.IsSpace, which buildkit uses to trim lines.
    character.is_whitespace() || character == '\u{85}'
}

impl<'src> Lexer<'src> {
    pub(crate) fn new(source: &'src str, map: &'src SourceMap<'src>) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        let mut number = 1;
        if source.starts_with(BYTE_ORDER_MARK) {
            start = BYTE_ORDER_MARK.len_utf8();
        }
        while start < source.len() {
            let newline = source[start..].find('\n').map(|index| start + index);
            let next_start = newline.map_or(source.len(), |index| index + 1);
            // buildkit trims any run of trailing \r and \n, so "a\r\r\n" is "a".
            let content_end = start
                + source[start..next_start]
                    .trim_end_matches(['\r', '\n'])
                    .len();
            lines.push(PhysicalLine {
                start,
                content_end,
                next_start,
                number,
            });
            start = next_start;
            number += 1;
        }
        Lexer {
            source,
            map,
            lines,
            next_line: 0,
            escape: '\\',
            directives_done: false,
            directives: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn content(&self, line: &PhysicalLine) -> &'src str {
        &self.source[line.start..line.content_end]
    }

    /// The number of the last line read, for errors at end of input.
    pub(crate) fn last_line_number(&self) -> usize {
        self.lines.len().max(1)
    }

    pub(crate) fn end_span(&self) -> Span {
        self.map.span(self.source.len(), self.source.len())
    }

    /// buildkit checks every line, comment or not, until the first one that is not a known directive.
    fn check_directive(&mut self, text: &str, line: &PhysicalLine, text_offset: usize) {
        if self.directives_done {
            return;
        }
        let Some((name, value)) = parse_directive(text) else {
            self.directives_done = true;
            return;
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            self.directives_done = true;
            return;
        }
        let span = self.map.span(text_offset, line.content_end);
        if self
            .directives
            .iter()
            .any(|directive| directive.name == name)
        {
            self.errors.push(ParseError {
                line: line.number,
                span,
                kind: ParseErrorKind::DuplicateDirective(name),
            });
            return;
        }
        if name == "escape" {
            match value {
                "\\" => self.escape = '\\',
                "`" => self.escape = '`',
                other => {
                    self.errors.push(ParseError {
                        line: line.number,
                        span,
                        kind: ParseErrorKind::InvalidEscapeToken(other.to_string()),
                    });
                    return;
                }
            }
        }
        self.directives.push(Directive {
            name,
            value: value.to_string(),
            span,
        });
    }

    /// Removes a trailing continuation character; `None` when the line does not continue.
    ///
    /// Mirrors buildkit's `([^\\])\\[ \t]*$|^\\[ \t]*$`: an escape character that is itself escaped
    /// (`\\` at the end) does not continue the line.
    fn strip_continuation<'t>(&self, text: &'t str) -> Option<&'t str> {
        let trimmed = text.trim_end_matches([' ', '\t']);
        let before = trimmed.strip_suffix(self.escape)?;
        if before.ends_with(self.escape) {
            None
        } else {
            Some(before)
        }
    }

    /// The next instruction's text, or `None` at end of input.
    pub(crate) fn next_logical_line(&mut self) -> Option<LogicalLine> {
        let mut comments = Vec::new();
        while let Some(line) = self.lines.get(self.next_line).copied() {
            self.next_line += 1;
            let raw = self.content(&line);
            let trimmed = raw.trim_start_matches(is_go_space);
            let trimmed_offset = line.content_end - trimmed.len();
            let was_directive_count = self.directives.len();
            self.check_directive(trimmed, &line, trimmed_offset);
            if let Some(comment) = trimmed.strip_prefix('#') {
                if self.directives.len() == was_directive_count {
                    comments.push(comment.trim_matches(is_go_space).to_string());
                }
                continue;
            }
            let (first_piece, mut continues) = match self.strip_continuation(trimmed) {
                Some(piece) => (piece, true),
                None => (trimmed, false),
            };
            if !continues && first_piece.is_empty() {
                continue;
            }
            let mut logical = LogicalLine {
                text: first_piece.to_string(),
                pieces: vec![(0, trimmed_offset)],
                first_line: line.number,
                source_end: line.content_end,
                comments: core::mem::take(&mut comments),
            };
            let mut has_empty_continuation_line = false;
            while continues {
                let Some(next) = self.lines.get(self.next_line).copied() else {
                    break;
                };
                self.next_line += 1;
                let raw = self.content(&next);
                self.check_directive(raw, &next, next.start);
                let next_trimmed = raw.trim_start_matches(is_go_space);
                // Comment lines inside a continued instruction are dropped, as buildkit does.
                if next_trimmed.starts_with('#') {
                    continue;
                }
                if next_trimmed.is_empty() {
                    has_empty_continuation_line = true;
                    continue;
                }
                let piece = match self.strip_continuation(raw) {
                    Some(piece) => piece,
                    None => {
                        continues = false;
                        raw
                    }
                };
                logical.pieces.push((logical.text.len(), next.start));
                logical.text.push_str(piece);
                logical.source_end = next.content_end;
            }
            if has_empty_continuation_line {
                let span = self.map.span(trimmed_offset, logical.source_end);
                self.warnings.push(ParseWarning {
                    line: line.number,
                    message: format!("Empty continuation line found in:\n    {}", logical.text),
                    span,
                });
            }
            return Some(logical);
        }
        None
    }

    /// Reads a heredoc body up to its terminator line. Returns the content (line endings kept, as buildkit
    /// keeps them), the span of body and terminator, or `None` when input ends first.
    pub(crate) fn read_heredoc(&mut self, terminator: &str, chomp: bool) -> Option<(String, Span)> {
        let body_start = self
            .lines
            .get(self.next_line)
            .map_or(self.source.len(), |line| line.start);
        let mut content = String::new();
        while let Some(line) = self.lines.get(self.next_line).copied() {
            self.next_line += 1;
            let text = self.content(&line);
            let candidate = if chomp {
                text.trim_start_matches('\t')
            } else {
                text
            };
            if candidate == terminator {
                return Some((content, self.map.span(body_start, line.content_end)));
            }
            content.push_str(&self.source[line.start..line.next_start]);
        }
        None
    }
}

/// `# name = value`, as buildkit's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn parse_directive(text: &str) -> Option<(&str, &str)> {
    let is_regex_space = |character: char| matches!(character, ' ' | '\t' | '\n' | '\x0c' | '\r');
    let rest = text.strip_prefix('#')?.trim_start_matches(is_regex_space);
    let name_end = rest
        .find(|character: char| !character.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_end];
    if !name.starts_with(|character: char| character.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_end..]
        .trim_start_matches(is_regex_space)
        .strip_prefix('=')?;
    let value = value.trim_matches(is_regex_space);
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical_lines(source: &str) -> Vec<String> {
        let map = SourceMap::new(source);
        let mut lexer = Lexer::new(source, &map);
        let mut lines = Vec::new();
        while let Some(line) = lexer.next_logical_line() {
            lines.push(line.text);
        }
        lines
    }

    #[test]
    fn directive_syntax() {
        assert_eq!(parse_directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(
            parse_directive("#syntax = docker/dockerfile:1 "),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(parse_directive("# not a directive"), None);
        assert_eq!(parse_directive("# 1x=y"), None);
    }

    #[test]
    fn continuation_joins_without_newline_and_keeps_indentation() {
        assert_eq!(logical_lines("RUN a \\\n  b\n"), vec!["RUN a   b"]);
    }

    #[test]
    fn escaped_escape_does_not_continue() {
        assert_eq!(
            logical_lines("RUN a \\\\\nRUN b"),
            vec!["RUN a \\\\", "RUN b"]
        );
    }

    #[test]
    fn trailing_whitespace_after_continuation() {
        assert_eq!(logical_lines("RUN a \\  \t\n b"), vec!["RUN a  b"]);
    }

    #[test]
    fn crlf_and_bom() {
        assert_eq!(
            logical_lines("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n"),
            vec!["FROM a", "RUN b  c"]
        );
    }
}
