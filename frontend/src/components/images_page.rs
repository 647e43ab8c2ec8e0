//! Images: list with tags, size and age; tag, remove, prune; links to each image's layers and a Run button.

use bollard_stubs::models::ImageSummary;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::components::run_dialog::RunDialog;
use crate::logic::format;
use crate::route::Route;

#[function_component(ImagesPage)]
pub fn images_page() -> Html {
    let images = use_state(|| None::<Result<Vec<ImageSummary>, String>>);
    let reload = use_state(|| 0_u32);
    let note = use_state(|| None::<Result<String, String>>);
    let run_image = use_state(|| None::<String>);
    {
        let images = images.clone();
        use_effect_with(*reload, move |_| {
            spawn_local(async move {
                images.set(Some(api::images::list().await.map_err(|error| error.to_string())));
            });
        });
    }
    let refresh = {
        let reload = reload.clone();
        Callback::from(move |_: MouseEvent| reload.set(reload.wrapping_add(1)))
    };
    // Runs an image operation, then says how it went and reloads the list.
    let operate = {
        let (reload, note) = (reload.clone(), note.clone());
        move |operation: std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, api::DaemonError>>>>| {
            let (reload, note) = (reload.clone(), note.clone());
            spawn_local(async move {
                note.set(Some(operation.await.map_err(|error| error.to_string())));
                reload.set(reload.wrapping_add(1));
            });
        }
    };
    let prune = {
        let operate = operate.clone();
        Callback::from(move |_: MouseEvent| {
            operate(Box::pin(async {
                api::images::prune()
                    .await
                    .map(|bytes| format!("Pruned dangling images: {} reclaimed", format::bytes(bytes)))
            }))
        })
    };
    let close_run = {
        let run_image = run_image.clone();
        Callback::from(move |()| run_image.set(None))
    };
    let now = (js_sys::Date::now() / 1000.0) as i64;

    let body = match &*images {
        None => html! { <p class="loading">{ "Loading images…" }</p> },
        Some(Err(error)) => {
            html! { <ErrorNote doing="Loading images" error={error.clone()} retry={refresh.clone()} /> }
        }
        Some(Ok(list)) => html! {
            <div class="table-wrap">
            <table class="images-table">
                <thead><tr><th>{ "Tags" }</th><th>{ "ID" }</th><th>{ "Size" }</th><th>{ "Created" }</th><th>{ "Actions" }</th></tr></thead>
                <tbody>
                { for list.iter().map(|image| {
                    let reference = image.repo_tags.first().cloned().unwrap_or_else(|| image.id.clone());
                    let tag_it = {
                        let (operate, reference) = (operate.clone(), reference.clone());
                        Callback::from(move |_: MouseEvent| {
                            let answer = web_sys::window()
                                .and_then(|window| window.prompt_with_message_and_default("New tag (repo:tag)", &reference).ok())
                                .flatten();
                            let Some(answer) = answer.filter(|answer| !answer.trim().is_empty()) else { return };
                            let reference = reference.clone();
                            operate(Box::pin(async move {
                                let (repo, tag) = split_reference(answer.trim());
                                api::images::tag(&reference, &repo, &tag).await.map(|()| format!("Tagged {repo}:{tag}"))
                            }))
                        })
                    };
                    let remove = {
                        let (operate, reference) = (operate.clone(), reference.clone());
                        Callback::from(move |_: MouseEvent| {
                            let reference = reference.clone();
                            operate(Box::pin(async move {
                                api::images::remove(&reference).await.map(|()| format!("Removed {reference}"))
                            }))
                        })
                    };
                    let run = {
                        let (run_image, reference) = (run_image.clone(), reference.clone());
                        Callback::from(move |_: MouseEvent| run_image.set(Some(reference.clone())))
                    };
                    html! {
                        <tr>
                            <td>
                                if image.repo_tags.is_empty() { <span class="muted">{ "<none>" }</span> }
                                { for image.repo_tags.iter().map(|tag| html! { <div><code>{ tag.clone() }</code></div> }) }
                            </td>
                            <td><code>{ format::short_id(&image.id).to_string() }</code></td>
                            <td>{ format::bytes(image.size.max(0) as u64) }</td>
                            <td>{ format::ago(image.created, now) }</td>
                            <td class="actions">
                                <a class="button" href={Route::Layers { image: reference.clone() }.href()}>{ "Layers" }</a>
                                <button onclick={run}>{ "Run" }</button>
                                <button onclick={tag_it}>{ "Tag" }</button>
                                <button onclick={remove}>{ "Remove" }</button>
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            </div>
        },
    };
    html! {
        <section class="page images-page">
            <div class="page-head">
                <h1>{ "Images" }</h1>
                <button onclick={refresh}>{ "Refresh" }</button>
                <button onclick={prune}>{ "Prune dangling" }</button>
            </div>
            { match &*note {
                Some(Ok(done)) => html! { <p class="ok-note">{ done.clone() }</p> },
                Some(Err(error)) => html! { <ErrorNote doing="The image operation" error={error.clone()} /> },
                None => html! {},
            } }
            { body }
            if let Some(image) = &*run_image { <RunDialog image={image.clone()} on_close={close_run} /> }
        </section>
    }
}

/// `repo:tag` → (repo, tag); a colon inside a registry host:port is not a tag separator.
fn split_reference(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (reference.to_string(), "latest".to_string()),
    }
}
