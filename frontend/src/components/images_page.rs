//! Images: a pull box, then the list with tags, source (the registry an image came from, or built here, or local),
//! size and age; tag, remove, prune; links to each image's layers and a Run button.

use std::collections::HashSet;

use bollard_stubs::models::ImageSummary;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::components::pull_box::PullBox;
use crate::components::run_dialog::RunDialog;
use crate::logic::format;
use crate::logic::image_reference::{repository_and_tag, ImageSource};
use crate::route::Route;

/// The image list and the ids of the images the daemon's recent build jobs made.
#[derive(Debug)]
struct Listing {
    images: Vec<ImageSummary>,
    built_here: HashSet<String>,
}

async fn load_listing() -> Result<Listing, String> {
    let images = api::images::list().await.map_err(|error| error.to_string())?;
    // Only the Source column needs the jobs: without them (an older daemon), unpulled images read "local".
    let built_here = api::build::jobs()
        .await
        .map(|jobs| jobs.into_iter().filter_map(|job| job.image_id).collect())
        .unwrap_or_default();
    Ok(Listing { images, built_here })
}

#[function_component(ImagesPage)]
pub fn images_page() -> Html {
    let listing = use_state(|| None::<Result<Listing, String>>);
    let reload = use_state(|| 0_u32);
    let note = use_state(|| None::<Result<String, String>>);
    let run_image = use_state(|| None::<String>);
    {
        let listing = listing.clone();
        use_effect_with(*reload, move |_| {
            spawn_local(async move {
                listing.set(Some(load_listing().await));
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
    let pulled = {
        let reload = reload.clone();
        Callback::from(move |()| reload.set(reload.wrapping_add(1)))
    };
    let close_run = {
        let run_image = run_image.clone();
        Callback::from(move |()| run_image.set(None))
    };
    let now = (js_sys::Date::now() / 1000.0) as i64;

    let body = match &*listing {
        None => html! { <p class="loading">{ "Loading images…" }</p> },
        Some(Err(error)) => {
            html! { <ErrorNote doing="Loading images" error={error.clone()} retry={refresh.clone()} /> }
        }
        Some(Ok(listing)) => html! {
            <div class="table-wrap">
            <table class="images-table">
                <thead><tr><th>{ "Tags" }</th><th>{ "Source" }</th><th>{ "ID" }</th><th>{ "Size" }</th><th>{ "Created" }</th><th>{ "Actions" }</th></tr></thead>
                <tbody>
                { for listing.images.iter().map(|image| {
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
                                let (repo, tag) = repository_and_tag(answer.trim());
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
                    let source = ImageSource::of(&image.repo_digests, listing.built_here.contains(&image.id));
                    html! {
                        <tr data-id={image.id.clone()}>
                            <td>
                                if image.repo_tags.is_empty() { <span class="muted">{ "<none>" }</span> }
                                { for image.repo_tags.iter().map(|tag| html! { <div><code>{ tag.clone() }</code></div> }) }
                            </td>
                            <td class={classes!("image-source", source.kind())} data-source={source.kind()}>
                                { source_view(&source) }
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
            <PullBox on_finished={pulled} />
            { body }
            if let Some(image) = &*run_image { <RunDialog image={image.clone()} on_close={close_run} /> }
        </section>
    }
}

fn source_view(source: &ImageSource) -> Html {
    match source {
        ImageSource::Registry(origins) => html! {
            { for origins.iter().map(|origin| html! {
                <div class="origin" title={format!("in {} as manifest sha256:{}…", origin.repository, origin.short_digest)}>
                    <code>{ origin.repository.clone() }</code>
                    <code class="muted">{ format!("@{}", origin.short_digest) }</code>
                </div>
            }) }
        },
        ImageSource::BuiltHere => html! { <span>{ "built here" }</span> },
        ImageSource::Local => html! { <span class="muted">{ "local" }</span> },
    }
}
