//! The JavaScript the playground uses, bound with wasm-bindgen: CodeMirror 6 (js/editor-entry.js) and xterm.js
//! with its fit addon (js/terminal-entry.js). Both are bundled by esbuild into js/*.js before Trunk builds.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

#[wasm_bindgen(module = "/js/editor.js")]
extern "C" {
    /// A CodeMirror view with Dockerfile highlighting and a lint gutter.
    pub type CodeEditor;

    #[wasm_bindgen(constructor)]
    pub fn new(
        parent: &HtmlElement,
        text: &str,
        language: &str,
        on_change: &Closure<dyn FnMut(String)>,
        on_submit: &Closure<dyn FnMut()>,
    ) -> CodeEditor;

    #[wasm_bindgen(method, js_name = setText)]
    pub fn set_text(this: &CodeEditor, text: &str, language: &str);

    /// `diagnostics`: an array of `logic::lint::EditorDiagnostic` as JSON values.
    #[wasm_bindgen(method, js_name = showDiagnostics)]
    pub fn show_diagnostics(this: &CodeEditor, diagnostics: &JsValue);

    #[wasm_bindgen(method)]
    pub fn focus(this: &CodeEditor);

    /// Moves the cursor to a UTF-16 offset, scrolls there and focuses the editor.
    #[wasm_bindgen(method, js_name = goTo)]
    pub fn go_to(this: &CodeEditor, offset: usize);

    #[wasm_bindgen(method)]
    pub fn destroy(this: &CodeEditor);
}

#[wasm_bindgen(module = "/js/terminal.js")]
extern "C" {
    #[derive(Clone)]
    pub type Terminal;

    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue) -> Terminal;

    #[wasm_bindgen(method)]
    pub fn open(this: &Terminal, parent: &HtmlElement);

    /// `data` is copied into a JS array first: xterm parses writes later, when wasm memory may have moved.
    /// `done` runs once xterm has processed the data (flow control).
    #[wasm_bindgen(method, js_name = write)]
    pub fn write_bytes(this: &Terminal, data: &Uint8Array, done: &JsValue);

    #[wasm_bindgen(method, js_name = write)]
    pub fn write_text(this: &Terminal, data: &str);

    /// Returns a disposable; the callback gets the typed or pasted text.
    #[wasm_bindgen(method, js_name = onData)]
    pub fn on_data(this: &Terminal, callback: &Closure<dyn FnMut(String)>) -> JsValue;

    /// The callback gets `{cols, rows}`.
    #[wasm_bindgen(method, js_name = onResize)]
    pub fn on_resize(this: &Terminal, callback: &Closure<dyn FnMut(JsValue)>) -> JsValue;

    #[wasm_bindgen(method, getter)]
    pub fn rows(this: &Terminal) -> u16;

    #[wasm_bindgen(method, getter)]
    pub fn cols(this: &Terminal) -> u16;

    #[wasm_bindgen(method, js_name = loadAddon)]
    pub fn load_addon(this: &Terminal, addon: &FitAddon);

    #[wasm_bindgen(method)]
    pub fn reset(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn focus(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn dispose(this: &Terminal);

    #[derive(Clone)]
    pub type FitAddon;

    #[wasm_bindgen(constructor)]
    pub fn new() -> FitAddon;

    /// Resizes the terminal to fill its element; throws when the element is not laid out (hidden).
    #[wasm_bindgen(method, catch)]
    pub fn fit(this: &FitAddon) -> Result<(), JsValue>;
}

/// A serde value as a JS value (through JSON: the values here are small).
pub fn to_js<T: serde::Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value).ok().and_then(|json| js_sys::JSON::parse(&json).ok()).unwrap_or(JsValue::NULL)
}
