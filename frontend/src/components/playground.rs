//! The playground page: the build context's files, the editor, the problems the linter finds as you type, and
//! the build. Choosing an example keeps the user's own files as a draft, with a bar to go back to them.

use yew::prelude::*;

use crate::components::build_panel::BuildPanel;
use crate::components::code_editor::CodeEditorView;
use crate::components::file_list::FileList;
use crate::components::first_visit_guide::FirstVisitGuide;
use crate::components::problems::Problems;
use crate::examples::EXAMPLES;
use crate::logic::lint::{check_dockerfile, offset_of_place};
use crate::store::{BuildHandle, ProjectAction, ProjectHandle};

#[function_component(Playground)]
pub fn playground() -> Html {
    let Some(project) = use_context::<ProjectHandle>() else { return html! {} };
    let Some(build) = use_context::<BuildHandle>() else { return html! {} };
    let selected = project.selected_file().cloned();

    // Linting is cheap (microseconds for a page of Dockerfile), so it runs on every render of a new text.
    let diagnostics = use_memo(selected.clone(), |file| match file {
        Some(file) if file.is_dockerfile() => check_dockerfile(&file.text),
        _ => Vec::new(),
    });

    // A problem row or a layer's line followed: the place as the editor counts it.
    let jump = match (project.go_to, &selected) {
        (Some(request), Some(file)) => Some((offset_of_place(&file.text, request.line, request.column), request.count)),
        _ => None,
    };
    let on_change = {
        let project = project.clone();
        Callback::from(move |text: String| project.dispatch(ProjectAction::Edit(text)))
    };
    let on_submit = {
        let project = project.clone();
        let build = build.clone();
        Callback::from(move |()| crate::build_runner::start(&project, &build))
    };
    let on_example = {
        let project = project.clone();
        Callback::from(move |event: Event| {
            let select: Option<web_sys::HtmlSelectElement> = event.target_dyn_into();
            if let Some(index) = select.and_then(|select| select.value().parse::<usize>().ok()) {
                project.dispatch(ProjectAction::LoadExample(index));
            }
        })
    };

    let restore_draft = {
        let project = project.clone();
        Callback::from(move |_: MouseEvent| project.dispatch(ProjectAction::RestoreDraft))
    };
    let discard_draft = {
        let project = project.clone();
        Callback::from(move |_: MouseEvent| project.dispatch(ProjectAction::DiscardDraft))
    };

    html! {
        <section class="page playground">
            <div class="playground-head">
                <h1>{ "Playground" }</h1>
                <label class="example-picker">
                    { "Start from an example: " }
                    <select onchange={on_example} aria-label="Example project">
                        <option value="" selected=true disabled=true>{ "choose…" }</option>
                        { for EXAMPLES.iter().enumerate().map(|(index, example)| html! {
                            <option value={index.to_string()}>{ example.title }</option>
                        }) }
                    </select>
                </label>
            </div>
            <FirstVisitGuide />
            if let Some(draft) = &project.draft {
                <div class="draft-bar" role="status">
                    <span>{ format!("Your own files ({}) are kept as a draft while you look at the example.",
                        draft.files.iter().map(|file| file.name.as_str()).collect::<Vec<_>>().join(", ")) }</span>
                    <button class="primary restore-draft" onclick={restore_draft}>{ "Back to my files" }</button>
                    <button class="discard-draft" onclick={discard_draft}>{ "Drop the draft" }</button>
                </div>
            }
            <div class="playground-grid">
                <FileList />
                <div class="editor-column">
                    { match &selected {
                        Some(file) => html! {
                            <>
                                <div class="editor-title">{ file.name.clone() }</div>
                                <CodeEditorView
                                    file_name={file.name.clone()}
                                    text={file.text.clone()}
                                    language={file.language()}
                                    revision={project.revision}
                                    diagnostics={diagnostics.clone()}
                                    on_change={on_change}
                                    on_submit={on_submit}
                                    jump={jump} />
                                if file.is_dockerfile() {
                                    <Problems diagnostics={diagnostics.clone()} />
                                }
                            </>
                        },
                        None => html! { <p class="empty">{ "No file selected. Add one on the left." }</p> },
                    } }
                </div>
                <BuildPanel />
            </div>
        </section>
    }
}
