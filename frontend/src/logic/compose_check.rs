//! berth-shared's compose loader run in the browser on every edit: the problems of the compose file positioned
//! for CodeMirror (UTF-16 offsets) and for the problem list (line:column and the value's path), and the resolved
//! project when it loads.

use berth_shared::compose::{load, Diagnostic, LoadOptions, Project, Severity};

use super::lint::{EditorDiagnostic, Utf16Offsets};

/// The file name diagnostics carry; the page sends the text under this name too.
pub const COMPOSE_FILE: &str = "docker-compose.yml";

#[derive(Debug, Clone, PartialEq)]
pub struct ComposeCheck {
    pub diagnostics: Vec<EditorDiagnostic>,
    /// 1-based line:column of each diagnostic, in the same order.
    pub positions: Vec<(usize, usize)>,
    /// The resolved project, when there is no error.
    pub project: Option<Project>,
}

impl ComposeCheck {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|diagnostic| diagnostic.severity == "error").count()
    }
}

/// Loads `text` as the project `project_name`, with an empty environment: the daemon runs compose with one too.
pub fn check_compose(text: &str, project_name: &str) -> ComposeCheck {
    let options = LoadOptions {
        project_name: (!project_name.trim().is_empty()).then(|| project_name.trim().to_string()),
        ..LoadOptions::default()
    };
    let (project, found) = match load(&[(COMPOSE_FILE, text)], &options) {
        Ok(loaded) => (Some(loaded.project), loaded.warnings),
        Err(diagnostics) => (None, diagnostics),
    };
    let offsets = Utf16Offsets::new(text);
    let mut pairs: Vec<(EditorDiagnostic, (usize, usize))> = found
        .iter()
        .map(|diagnostic| (editor(diagnostic, &offsets), (diagnostic.line(), diagnostic.column())))
        .collect();
    pairs.sort_by_key(|(diagnostic, _)| (diagnostic.severity != "error", diagnostic.from));
    let (diagnostics, positions) = pairs.into_iter().unzip();
    ComposeCheck { diagnostics, positions, project }
}

fn editor(diagnostic: &Diagnostic, offsets: &Utf16Offsets<'_>) -> EditorDiagnostic {
    let message = if diagnostic.path.is_empty() {
        diagnostic.kind.to_string()
    } else {
        format!("{}: {}", diagnostic.path, diagnostic.kind)
    };
    let (from, to) = (offsets.of(diagnostic.span.start.offset), offsets.of(diagnostic.span.end.offset));
    EditorDiagnostic {
        from,
        to: to.max(from),
        severity: match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        source: "compose".to_string(),
        message,
        line: diagnostic.line().max(1),
        column: diagnostic.span.start.column.max(1),
        fix: None,
        shared_fix: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn an_unknown_key_is_an_error_at_its_line_and_column() {
        let text = "services:\n  web:\n    image: busybox\n    imgae: x\n";
        let check = check_compose(text, "demo");
        assert!(check.project.is_none());
        let (index, diagnostic) =
            check.diagnostics.iter().enumerate().find(|(_, d)| d.message.contains("imgae")).expect("the bad key");
        assert_eq!(diagnostic.severity, "error");
        assert_eq!(check.positions[index], (4, 5));
        assert!(diagnostic.message.starts_with("services.web"), "{}", diagnostic.message);
        assert_eq!(&text[diagnostic.from..diagnostic.to], "imgae");
    }

    #[wasm_bindgen_test]
    fn a_valid_file_gives_the_project() {
        let check = check_compose("services:\n  web:\n    image: busybox\n", "demo");
        assert_eq!(check.errors(), 0);
        let project = check.project.expect("loaded");
        assert_eq!(project.name, "demo");
        assert!(project.services.contains_key("web"));
    }
}
