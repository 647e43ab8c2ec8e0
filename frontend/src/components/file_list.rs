//! The files of the build context: select, add, rename in place, delete (asking first), and upload with the
//! Upload button or by dropping files on the list.

use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, HtmlInputElement, KeyboardEvent};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::confirm_button::ConfirmButton;
use crate::store::{ProjectAction, ProjectFile, ProjectHandle};

/// Reads picked or dropped files as text and adds them to the project (replacing files of the same name).
fn upload(files: Option<web_sys::FileList>, project: ProjectHandle, upload_error: UseStateHandle<Option<String>>) {
    let Some(files) = files else { return };
    let files: Vec<web_sys::File> = (0..files.length()).filter_map(|index| files.get(index)).collect();
    spawn_local(async move {
        let mut uploaded = Vec::new();
        let mut unreadable = Vec::new();
        for file in files {
            match JsFuture::from(file.text()).await.ok().and_then(|text| text.as_string()) {
                Some(text) => uploaded.push(ProjectFile { name: file.name(), text }),
                None => unreadable.push(file.name()),
            }
        }
        upload_error.set((!unreadable.is_empty()).then(|| format!("could not read {}", unreadable.join(", "))));
        if !uploaded.is_empty() {
            project.dispatch(ProjectAction::Upload(uploaded));
        }
    });
}

#[function_component(FileList)]
pub fn file_list() -> Html {
    let Some(project) = use_context::<ProjectHandle>() else { return html! {} };
    let new_name = use_node_ref();
    let dragging = use_state(|| false);
    let upload_error = use_state(|| None::<String>);
    // The file being renamed in place, and the name typed so far.
    let renaming = use_state(|| None::<(String, String)>);

    {
        // A new rename box takes the focus with the name selected, so typing replaces it.
        let renamed_file = renaming.as_ref().map(|(from, _)| from.clone());
        use_effect_with(renamed_file, |renamed_file| {
            if renamed_file.is_some() {
                let input = web_sys::window()
                    .and_then(|window| window.document())
                    .and_then(|document| document.query_selector(".file-list .rename-input").ok().flatten())
                    .and_then(|element| wasm_bindgen::JsCast::dyn_into::<HtmlInputElement>(element).ok());
                if let Some(input) = input {
                    let _ = input.focus();
                    input.select();
                }
            }
        });
    }
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
        let (project, dragging, upload_error) = (project.clone(), dragging.clone(), upload_error.clone());
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            upload(event.data_transfer().and_then(|transfer| transfer.files()), project.clone(), upload_error.clone());
        })
    };
    let on_pick = {
        let (project, upload_error) = (project.clone(), upload_error.clone());
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                upload(input.files(), project.clone(), upload_error.clone());
                // The same file picked again is a change too.
                input.set_value("");
            }
        })
    };
    let finish_rename = {
        let (project, renaming) = (project.clone(), renaming.clone());
        Callback::from(move |keep: bool| {
            if let Some((from, to)) = (*renaming).clone() {
                if keep && to.trim() != from && !to.trim().is_empty() {
                    project.dispatch(ProjectAction::Rename { from, to });
                }
            }
            renaming.set(None);
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
                    if let Some((_, typed)) = renaming.as_ref().filter(|(from, _)| *from == name) {
                        let on_input = {
                            let (renaming, name) = (renaming.clone(), name.clone());
                            Callback::from(move |event: InputEvent| {
                                if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                                    renaming.set(Some((name.clone(), input.value())));
                                }
                            })
                        };
                        let on_key = {
                            let finish_rename = finish_rename.clone();
                            Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
                                "Enter" => {
                                    event.prevent_default();
                                    finish_rename.emit(true);
                                }
                                "Escape" => finish_rename.emit(false),
                                _ => {}
                            })
                        };
                        let on_blur = {
                            let finish_rename = finish_rename.clone();
                            Callback::from(move |_: FocusEvent| finish_rename.emit(true))
                        };
                        return html! {
                            <li class={classes!("renaming", selected.then_some("selected"))}>
                                <input class="rename-input" value={typed.clone()} aria-label={format!("New name for {name}")}
                                       oninput={on_input} onkeydown={on_key} onblur={on_blur} />
                            </li>
                        };
                    }
                    let select = {
                        let (project, name) = (project.clone(), name.clone());
                        Callback::from(move |_: MouseEvent| project.dispatch(ProjectAction::Select(name.clone())))
                    };
                    let rename = {
                        let (renaming, name) = (renaming.clone(), name.clone());
                        Callback::from(move |_: MouseEvent| renaming.set(Some((name.clone(), name.clone()))))
                    };
                    let delete = {
                        let (project, name) = (project.clone(), name.clone());
                        Callback::from(move |()| project.dispatch(ProjectAction::Delete(name.clone())))
                    };
                    html! {
                        <li class={classes!(selected.then_some("selected"))} data-file={name.clone()}>
                            <button class="file-name" onclick={select} aria-pressed={selected.to_string()}>
                                { name.clone() }
                            </button>
                            <button class="icon-button rename-file" onclick={rename} title={format!("Rename {name}")}
                                    aria-label={format!("Rename {name}")}>{ "✎" }</button>
                            <ConfirmButton label="Delete" icon="✕" question={format!("Delete {name}?")}
                                on_confirm={delete} />
                        </li>
                    }
                }) }
            </ul>
            <form class="add-file" onsubmit={add}>
                <input ref={new_name} placeholder="new-file.txt" aria-label="New file name" />
                <button type="submit">{ "Add" }</button>
            </form>
            <label class="button upload-button">
                { "Upload files…" }
                <input type="file" multiple=true class="visually-hidden" aria-label="Upload files" onchange={on_pick} />
            </label>
            <p class="hint">{ "Or drop files here to add them to the build context." }</p>
            if let Some(error) = &*upload_error { <p class="error-note">{ error.clone() }</p> }
        </aside>
    }
}
