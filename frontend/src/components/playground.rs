//! The playground page: the build context's files, the editor, the problems the linter finds as you type, and
//! the build.

use yew::prelude::*;

use crate::components::build_panel::BuildPanel;
use crate::components::code_editor::CodeEditorView;
use crate::components::file_list::FileList;
use crate::components::problems::Problems;
use crate::examples::EXAMPLES;
use crate::logic::lint::check_dockerfile;
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

    // A problem row followed: the offset and a count, so the same row twice moves the cursor twice.
    let jump = use_state(|| None::<(usize, u32)>);
    let on_jump = {
        let jump = jump.clone();
        Callback::from(move |offset: usize| {
            let count = jump.map_or(0, |(_, count)| count.wrapping_add(1));
            jump.set(Some((offset, count)));
        })
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
                                    jump={*jump} />
                                if file.is_dockerfile() {
                                    <Problems diagnostics={diagnostics.clone()} on_jump={on_jump} />
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
