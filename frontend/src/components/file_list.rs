//! The files of the build context: select, add, rename, delete, and upload by dropping files on the list.

use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, HtmlInputElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::store::{ProjectAction, ProjectFile, ProjectHandle};

#[function_component(FileList)]
pub fn file_list() -> Html {
    let Some(project) = use_context::<ProjectHandle>() else { return html! {} };
    let new_name = use_node_ref();
    let dragging = use_state(|| false);
    let upload_error = use_state(|| None::<String>);

    let add = {
        let project = project.clone();
        let new_name = new_name.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = new_name.cast::<HtmlInputElement>() {
                let name = input.value();
                if !name.trim().is_empty() {
                    project.dispatch(ProjectAction::Add(name));
                    input.set_value("");
                }
            }
        })
    };
    let on_drag_over = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            // Without preventDefault the browser opens the dropped file instead of dropping it here.
            event.prevent_default();
            dragging.set(true);
        })
    };
    let on_drag_leave = {
        let dragging = dragging.clone();
        Callback::from(move |_: DragEvent| dragging.set(false))
    };
    let on_drop = {
        let project = project.clone();
        let dragging = dragging.clone();
        let upload_error = upload_error.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            let Some(files) = event.data_transfer().and_then(|transfer| transfer.files()) else { return };
            let files: Vec<web_sys::File> = (0..files.length()).filter_map(|index| files.get(index)).collect();
            let project = project.clone();
            let upload_error = upload_error.clone();
            spawn_local(async move {
                let mut uploaded = Vec::new();
                for file in files {
                    match JsFuture::from(file.text()).await.ok().and_then(|text| text.as_string()) {
                        Some(text) => uploaded.push(ProjectFile { name: file.name(), text }),
                        None => upload_error.set(Some(format!("could not read {}", file.name()))),
                    }
                }
                if !uploaded.is_empty() {
                    project.dispatch(ProjectAction::Upload(uploaded));
                }
            });
        })
    };

    html! {
        <aside class={classes!("file-list", dragging.then_some("dragging"))} aria-label="Build context files"
               ondragover={on_drag_over} ondragleave={on_drag_leave} ondrop={on_drop}>
            <h2>{ "Files" }</h2>
            <ul>
                { for project.files.iter().map(|file| {
                    let name = file.name.clone();
                    let selected = name == project.selected;
                    let select = {
                        let (project, name) = (project.clone(), name.clone());
                        Callback::from(move |_: MouseEvent| project.dispatch(ProjectAction::Select(name.clone())))
                    };
                    let rename = {
                        let (project, name) = (project.clone(), name.clone());
                        Callback::from(move |_: MouseEvent| {
                            let answer = web_sys::window()
                                .and_then(|window| window.prompt_with_message_and_default("New name", &name).ok())
                                .flatten();
                            if let Some(to) = answer.filter(|to| to != &name) {
                                project.dispatch(ProjectAction::Rename { from: name.clone(), to });
                            }
                        })
                    };
                    let delete = {
                        let (project, name) = (project.clone(), name.clone());
                        Callback::from(move |_: MouseEvent| {
                            let confirmed = web_sys::window()
                                .and_then(|window| window.confirm_with_message(&format!("Delete {name}?")).ok())
                                .unwrap_or(false);
                            if confirmed {
                                project.dispatch(ProjectAction::Delete(name.clone()));
                            }
                        })
                    };
                    html! {
                        <li class={classes!(selected.then_some("selected"))}>
                            <button class="file-name" onclick={select} aria-pressed={selected.to_string()}>
                                { name.clone() }
                            </button>
                            <button class="icon-button" onclick={rename} title={format!("Rename {name}")}
                                    aria-label={format!("Rename {name}")}>{ "✎" }</button>
                            <button class="icon-button" onclick={delete} title={format!("Delete {name}")}
                                    aria-label={format!("Delete {name}")}>{ "✕" }</button>
                        </li>
                    }
                }) }
            </ul>
            <form class="add-file" onsubmit={add}>
                <input ref={new_name} placeholder="new-file.txt" aria-label="New file name" />
                <button type="submit">{ "Add" }</button>
            </form>
            <p class="hint">{ "Drop files here to add them to the build context." }</p>
            if let Some(error) = &*upload_error { <p class="error-note">{ error.clone() }</p> }
        </aside>
    }
}
