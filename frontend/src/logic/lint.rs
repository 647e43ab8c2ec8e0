//! berth-shared's Dockerfile parser and linter, run in the browser on every edit, with results positioned for
//! CodeMirror. The shared crate counts byte offsets; CodeMirror counts UTF-16 code units, so every offset is
//! converted here (they differ as soon as the file has a non-ASCII character). Errors come first (they stop a
//! build; style can wait), then warnings, then hints, each in source order.

use berth_shared::dockerfile::ast::keyword_suggestion;
use berth_shared::dockerfile::lint::{self, Diagnostic, LintConfig, Severity};
use berth_shared::dockerfile::{parse_recovering, ParseErrorKind};
use serde::Serialize;

/// A problem as both the editor (squiggle, gutter, tooltip with a fix button) and the problem list show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditorDiagnostic {
    /// UTF-16 offsets into the document.
    pub from: usize,
    pub to: usize,
    /// "error", "warning" or "info": CodeMirror's severities.
    pub severity: &'static str,
    /// The rule id ("BL005"), or "parse" for a syntax error.
    pub source: String,
    pub message: String,
    /// 1-based, for the problem list.
    pub line: usize,
    /// 1-based, in characters, for the problem list.
    pub column: usize,
    pub fix: Option<EditorFix>,
    /// The fix in berth-shared's form, to apply to the text held in the store.
    #[serde(skip)]
    pub shared_fix: Option<lint::Fix>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditorFix {
    pub title: String,
    pub changes: Vec<EditorChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditorChange {
    pub from: usize,
    pub to: usize,
    pub insert: String,
}

/// Parse errors and lint findings of a Dockerfile: errors first, then warnings, then hints, each in source order.
pub fn check_dockerfile(source: &str) -> Vec<EditorDiagnostic> {
    let (dockerfile, parse_errors) = parse_recovering(source);
    let offsets = Utf16Offsets::new(source);
    let mut diagnostics: Vec<EditorDiagnostic> = parse_errors
        .iter()
        .map(|error| EditorDiagnostic {
            from: offsets.of(error.span.start.offset),
            to: offsets.of(error.span.end.offset),
            severity: "error",
            source: "parse".to_string(),
            message: parse_message(error),
            line: error.span.start.line.max(1),
            column: error.span.start.column.max(1),
            fix: None,
            shared_fix: None,
        })
        .collect();
    diagnostics
        .extend(lint::lint(&dockerfile, &LintConfig::default()).iter().map(|diagnostic| editor(diagnostic, &offsets)));
    diagnostics
        .sort_by_key(|diagnostic| (severity_rank(diagnostic.severity), diagnostic.from, diagnostic.source.clone()));
    diagnostics
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    }
}

/// The parser's message, with the keyword a misspelt instruction most likely meant.
fn parse_message(error: &berth_shared::dockerfile::ParseError) -> String {
    let message = error.to_string();
    match &error.kind {
        ParseErrorKind::UnknownInstruction(written) => match keyword_suggestion(written) {
            Some(guess) => format!("{message} (did you mean {guess}?)"),
            None => message,
        },
        _ => message,
    }
}

fn editor(diagnostic: &Diagnostic, offsets: &Utf16Offsets) -> EditorDiagnostic {
    EditorDiagnostic {
        from: offsets.of(diagnostic.span.start.offset),
        to: offsets.of(diagnostic.span.end.offset),
        severity: match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        },
        source: diagnostic.rule.to_string(),
        message: diagnostic.message.clone(),
        line: diagnostic.span.start.line.max(1),
        column: diagnostic.span.start.column.max(1),
        fix: diagnostic.fix.as_ref().map(|fix| EditorFix {
            title: fix.title.clone(),
            changes: fix
                .edits
                .iter()
                .map(|edit| EditorChange {
                    from: offsets.of(edit.span.start.offset),
                    to: offsets.of(edit.span.end.offset),
                    insert: edit.replacement.clone(),
                })
                .collect(),
        }),
        shared_fix: diagnostic.fix.clone(),
    }
}

/// The UTF-16 offset of a 1-based line and column (in characters), clamped to the line's end and the text's.
pub fn offset_of_place(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in source.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let text = text.trim_end_matches('\n');
            return offset + text.chars().take(column.saturating_sub(1)).map(char::len_utf16).sum::<usize>();
        }
        offset += text.encode_utf16().count();
    }
    offset
}

/// Byte offset → UTF-16 offset for one text.
pub(crate) struct Utf16Offsets<'a> {
    source: &'a str,
}

impl<'a> Utf16Offsets<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Utf16Offsets { source }
    }

    /// Offsets past the end or inside a character are clamped to the nearest valid one before it, so a span from
    /// a confused parser still lands inside the document instead of making CodeMirror throw.
    pub(crate) fn of(&self, byte_offset: usize) -> usize {
        let mut end = byte_offset.min(self.source.len());
        while !self.source.is_char_boundary(end) {
            end -= 1;
        }
        self.source[..end].encode_utf16().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn shell_form_cmd_has_a_fix() {
        let source = "FROM busybox:1.36\n# é\nCMD echo hi\n";
        let diagnostics = check_dockerfile(source);
        let shell_form = diagnostics.iter().find(|d| d.source == "BL005").expect("BL005 fires");
        assert_eq!(shell_form.line, 3);
        // "é" is 2 bytes but 1 UTF-16 unit: the offset is in CodeMirror's units.
        assert_eq!(shell_form.from, source.find("echo hi").unwrap() - 1);
        let fix = shell_form.shared_fix.as_ref().expect("a fix");
        let fixed = lint::apply_fix(source, fix);
        assert!(check_dockerfile(&fixed).iter().all(|d| d.source != "BL005"), "{fixed}");
    }

    #[wasm_bindgen_test]
    fn parse_errors_are_diagnostics() {
        let diagnostics = check_dockerfile("FROM busybox:1.36\nNOPE x\n");
        assert!(diagnostics.iter().any(|d| d.source == "parse" && d.line == 2 && d.severity == "error"));
    }

    #[wasm_bindgen_test]
    fn places_are_utf16_offsets() {
        let source = "FROM a\n# é😀x\nRUN\n";
        assert_eq!(offset_of_place(source, 1, 1), 0);
        assert_eq!(offset_of_place(source, 2, 5), 7 + 2 + 1 + 2, "é is one unit, the emoji two");
        assert_eq!(offset_of_place(source, 2, 99), 7 + 6, "clamped to the line's end");
        assert_eq!(offset_of_place(source, 9, 1), source.encode_utf16().count());
    }

    #[wasm_bindgen_test]
    fn errors_come_first_and_a_misspelt_instruction_gets_a_guess() {
        let diagnostics = check_dockerfile("FROM busybox\nCMD echo hi\nRUN\nFORM x\n");
        let order: Vec<(&str, &str, usize)> =
            diagnostics.iter().map(|d| (d.severity, d.source.as_str(), d.line)).collect();
        assert_eq!(order.first(), Some(&("error", "parse", 4)), "{order:?}");
        assert!(diagnostics[0].message.ends_with("(did you mean FROM?)"), "{}", diagnostics[0].message);
        assert_eq!(diagnostics[0].column, 1);
        let warnings: Vec<_> = order.iter().filter(|d| d.0 == "warning").map(|d| d.2).collect();
        assert!(warnings.windows(2).all(|pair| pair[0] <= pair[1]), "warnings in source order: {order:?}");
        assert!(order.iter().any(|d| d.1 == "BL028" && d.2 == 3), "the empty RUN: {order:?}");
    }
}
