//! The CodeMirror editor as a Yew component. CodeMirror owns the document while the person types; the
//! component replaces it only when another file is selected or the store's revision says the text changed from
//! outside (an example, a fix from the problem list).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::bindings::{to_js, CodeEditor};
use crate::logic::lint::EditorDiagnostic;

#[derive(Properties, PartialEq)]
pub struct CodeEditorProps {
    pub file_name: AttrValue,
    pub text: AttrValue,
    pub language: AttrValue,
    pub revision: u32,
    pub diagnostics: Rc<Vec<EditorDiagnostic>>,
    pub on_change: Callback<String>,
    pub on_submit: Callback<()>,
    /// Where to put the cursor (UTF-16 offset) and a count that changes with each request, so asking for the same
    /// place twice moves the cursor twice.
    #[prop_or_default]
    pub jump: Option<(usize, u32)>,
}

/// The live editor and the closures it calls (they must live as long as it does).
struct Mounted {
    editor: CodeEditor,
    _on_change: Closure<dyn FnMut(String)>,
    _on_submit: Closure<dyn FnMut()>,
}

#[function_component(CodeEditorView)]
pub fn code_editor_view(props: &CodeEditorProps) -> Html {
    let host = use_node_ref();
    let mounted: Rc<RefCell<Option<Mounted>>> = use_mut_ref(|| None);
    // The closures handed to JavaScript are made once; they call whatever callbacks the latest render passed.
    let callbacks = use_mut_ref(|| (props.on_change.clone(), props.on_submit.clone()));
    *callbacks.borrow_mut() = (props.on_change.clone(), props.on_submit.clone());

    {
        let host = host.clone();
        let mounted = mounted.clone();
        let callbacks = callbacks.clone();
        let (text, language) = (props.text.clone(), props.language.clone());
        use_effect_with((), move |_| {
            if let Some(element) = host.cast::<web_sys::HtmlElement>() {
                let change_callbacks = callbacks.clone();
                let on_change = Closure::<dyn FnMut(String)>::new(move |text: String| {
                    let on_change = change_callbacks.borrow().0.clone();
                    on_change.emit(text);
                });
                let on_submit = Closure::<dyn FnMut()>::new(move || {
                    let on_submit = callbacks.borrow().1.clone();
                    on_submit.emit(());
                });
                let editor = CodeEditor::new(&element, &text, &language, &on_change, &on_submit);
                *mounted.borrow_mut() = Some(Mounted { editor, _on_change: on_change, _on_submit: on_submit });
            }
            let mounted = mounted.clone();
            move || {
                if let Some(mounted) = mounted.borrow_mut().take() {
                    mounted.editor.destroy();
                }
            }
        });
    }
    {
        let mounted = mounted.clone();
        let (text, language) = (props.text.clone(), props.language.clone());
        // Skips the first run: the editor was just created with this text.
        let first = use_mut_ref(|| true);
        use_effect_with((props.file_name.clone(), props.revision), move |_| {
            if std::mem::take(&mut *first.borrow_mut()) {
                return;
            }
            if let Some(mounted) = mounted.borrow().as_ref() {
                mounted.editor.set_text(&text, &language);
            }
        });
    }
    {
        let mounted = mounted.clone();
        use_effect_with(props.diagnostics.clone(), move |diagnostics| {
            if let Some(mounted) = mounted.borrow().as_ref() {
                mounted.editor.show_diagnostics(&to_js(&**diagnostics));
            }
        });
    }

    {
        let mounted = mounted.clone();
        use_effect_with(props.jump, move |jump| {
            if let (Some((offset, _)), Some(mounted)) = (jump, mounted.borrow().as_ref()) {
                mounted.editor.go_to(*offset);
            }
        });
    }

    html! { <div class="code-editor" ref={host}></div> }
}
