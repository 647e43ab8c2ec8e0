// The code editor of the playground: CodeMirror 6 with Dockerfile highlighting and lint diagnostics that the Rust
// side computes (berth-shared's linter, compiled into the wasm). Bundled by esbuild into js/editor.js (a Trunk
// pre_build hook) because CodeMirror ships ESM with bare imports, which the browser cannot resolve.
//
// Offsets crossing this boundary are UTF-16 code units, what CodeMirror counts; the Rust side converts.

import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from "@codemirror/view";
import { EditorState, Compartment } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { StreamLanguage, syntaxHighlighting, HighlightStyle, bracketMatching } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { dockerFile } from "@codemirror/legacy-modes/mode/dockerfile";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { yaml } from "@codemirror/legacy-modes/mode/yaml";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

const languages = {
  dockerfile: () => StreamLanguage.define(dockerFile),
  shell: () => StreamLanguage.define(shell),
  yaml: () => StreamLanguage.define(yaml),
  plain: () => [],
};

function languageExtension(name) {
  return (languages[name] || languages.plain)();
}

// diagnostics: [{from, to, severity, message, source, fix: {title, changes: [{from, to, insert}]} | null}]
function toCodeMirror(diagnostics) {
  return diagnostics.map((d) => ({
    from: d.from,
    to: d.to,
    severity: d.severity,
    source: d.source,
    message: d.message,
    actions: d.fix
      ? [{ name: d.fix.title, apply: (view) => view.dispatch({ changes: d.fix.changes }) }]
      : [],
  }));
}

// Syntax and chrome in the page's palette (berth.css variables), so the editor follows the light or dark theme.
const highlightStyle = HighlightStyle.define([
  { tag: tags.keyword, color: "var(--code-keyword)", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--code-string)" },
  { tag: [tags.comment, tags.meta], color: "var(--code-comment)", fontStyle: "italic" },
  { tag: [tags.variableName, tags.special(tags.variableName), tags.propertyName], color: "var(--code-variable)" },
  { tag: [tags.number, tags.bool, tags.atom, tags.definition(tags.propertyName)], color: "var(--code-number)" },
]);

const theme = EditorView.theme({
  "&": { backgroundColor: "var(--card)", color: "var(--fg)" },
  ".cm-content": { caretColor: "var(--fg)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--bg)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "var(--code-active-line)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground": {
    backgroundColor: "var(--code-selection)",
  },
});

export class CodeEditor {
  // onChange(text) runs after every edit; onSubmit() on Ctrl+Enter / Cmd+Enter (build).
  constructor(parent, text, language, onChange, onSubmit) {
    this.language = new Compartment();
    this.onChange = onChange;
    const submit = () => {
      onSubmit();
      return true;
    };
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: text,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          drawSelection(),
          history(),
          bracketMatching(),
          syntaxHighlighting(highlightStyle),
          theme,
          lintGutter(),
          keymap.of([{ key: "Mod-Enter", run: submit }, indentWithTab, ...defaultKeymap, ...historyKeymap]),
          this.language.of(languageExtension(language)),
          EditorView.updateListener.of((update) => {
            if (update.docChanged && !this.silent) this.onChange(update.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ "aria-label": "file contents", "data-testid": "editor" }),
        ],
      }),
    });
  }

  // Replaces the whole document (switching files); no change event, the caller knows the text.
  setText(text, language) {
    this.silent = true;
    try {
      this.view.dispatch({
        changes: { from: 0, to: this.view.state.doc.length, insert: text },
        effects: this.language.reconfigure(languageExtension(language)),
      });
      this.view.dispatch(setDiagnostics(this.view.state, []));
    } finally {
      this.silent = false;
    }
  }

  text() {
    return this.view.state.doc.toString();
  }

  // changes: [{from, to, insert}], applied as one undoable edit.
  applyChanges(changes) {
    this.view.dispatch({ changes });
  }

  showDiagnostics(diagnostics) {
    this.view.dispatch(setDiagnostics(this.view.state, toCodeMirror(diagnostics)));
  }

  focus() {
    this.view.focus();
  }

  // Puts the cursor at a UTF-16 offset, scrolls it into view and focuses the editor (a problem row's link).
  goTo(offset) {
    const at = Math.max(0, Math.min(offset, this.view.state.doc.length));
    this.view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
    this.view.focus();
  }

  destroy() {
    this.view.destroy();
  }
}
