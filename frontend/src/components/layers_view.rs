//! An image's layers: each one next to the history line that made it, and, when the daemon offers Berth's
//! `/berth/images/{name}/layers`, the files each layer added, modified or deleted, with wasted bytes and the
//! image's efficiency (typed by berth-shared `api::layers`). Each layer is titled by the Dockerfile line that made
//! it, shows that it opens (a chevron), and its "line N" goes to that line in the playground's editor.

use berth_shared::api::layers::{ChangeKind, EntryType, ImageLayers};
use bollard_stubs::models::ImageHistoryResponseItem;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::logic::format;
use crate::logic::layer_title::{count_of_files, layer_title};
use crate::route::{self, Route};
use crate::store::{ProjectAction, ProjectHandle};

#[derive(Properties, PartialEq)]
pub struct LayersProps {
    pub image: AttrValue,
}

#[function_component(LayersView)]
pub fn layers_view(props: &LayersProps) -> Html {
    let project = use_context::<ProjectHandle>();
    let history = use_state(|| None::<Result<Vec<ImageHistoryResponseItem>, String>>);
    // None: loading; Some(None): the daemon has no layers endpoint.
    let layers = use_state(|| None::<Option<Result<ImageLayers, String>>>);
    let filter = use_state(String::new);
    {
        let (history, layers) = (history.clone(), layers.clone());
        use_effect_with(props.image.clone(), move |image| {
            let image = image.to_string();
            spawn_local(async move {
                history.set(Some(api::images::history(&image).await.map_err(|error| error.to_string())));
                layers.set(Some(match api::images::layers(&image).await {
                    Ok(value) => Some(Ok(value)),
                    // 404 for the route (older daemon) or the image; the history answer says which.
                    Err(error) if error.is_not_found() => None,
                    Err(error) => Some(Err(error.to_string())),
                }));
            });
        });
    }
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                filter.set(input.value());
            }
        })
    };

    let detailed = match &*layers {
        Some(Some(Ok(value))) => Some(detailed_layers(value, &filter, project.as_ref())),
        Some(Some(Err(error))) => Some(html! { <ErrorNote doing="Reading the layers" error={error.clone()} /> }),
        _ => None,
    };
    let history_view = match &*history {
        None => html! { <p class="loading">{ "Loading history…" }</p> },
        Some(Err(error)) => html! { <ErrorNote doing="Reading the image history" error={error.clone()} /> },
        // Docker lists history newest first; layers read more naturally from the base up.
        Some(Ok(items)) => html! {
            <ol class="history">
                { for items.iter().rev().map(|item| html! {
                    <li class={classes!((item.size == 0).then_some("empty-layer"))}>
                        <code class="created-by">{ clean_created_by(&item.created_by) }</code>
                        <span class="size">{ if item.size == 0 { "no layer".to_string() } else { format::bytes(item.size as u64) } }</span>
                    </li>
                }) }
            </ol>
        },
    };

    html! {
        <section class="page layers-page">
            <div class="page-head">
                <a href="#/images" class="back">{ "← Images" }</a>
                <h1>{ format!("Layers of {}", props.image) }</h1>
            </div>
            { match detailed {
                Some(view) => html! {
                    <>
                        <input type="search" placeholder="Filter paths" aria-label="Filter paths" value={(*filter).clone()}
                               oninput={on_filter} />
                        { view }
                    </>
                },
                None => html! {
                    <>
                        if layers.is_some() { <p class="muted">{ "This daemon does not show layer contents yet; here is the history." }</p> }
                        { history_view }
                    </>
                },
            } }
        </section>
    }
}

/// `/bin/sh -c #(nop) CMD ["sh"]` → `CMD ["sh"]`, `/bin/sh -c echo hi` → `RUN echo hi`.
fn clean_created_by(created_by: &str) -> String {
    match created_by.strip_prefix("/bin/sh -c ") {
        Some(rest) => match rest.strip_prefix("#(nop) ") {
            Some(instruction) => instruction.trim().to_string(),
            None => format!("RUN {rest}"),
        },
        None => created_by.to_string(),
    }
}

fn detailed_layers(image: &ImageLayers, filter: &str, project: Option<&ProjectHandle>) -> Html {
    let dockerfile = project.and_then(|project| project.dockerfile()).map(|file| file.text.clone());
    html! {
        <>
            <p class="layer-summary">
                { format!(
                    "{} layers, {} in all, {} wasted, efficiency {:.1} %",
                    image.layers.len(),
                    format::bytes(image.total_bytes),
                    format::bytes(image.wasted_bytes),
                    image.efficiency * 100.0
                ) }
            </p>
            <ol class="layers">
                { for image.layers.iter().map(|layer| {
                    let files = &layer.files;
                    let shown: Vec<_> = files.iter().filter(|file| filter.is_empty() || file.path.contains(filter)).collect();
                    let instruction = layer.instruction.clone().unwrap_or_else(|| clean_created_by(&layer.created_by));
                    let title = layer_title(&instruction, layer.line, dockerfile.as_deref());
                    let go_to_line = layer.line.zip(project).map(|(line, project)| {
                        let project = project.clone();
                        Callback::from(move |event: MouseEvent| {
                            event.prevent_default();
                            project.dispatch(ProjectAction::GoTo { line, column: 1 });
                            route::go(&Route::Playground);
                        })
                    });
                    html! {
                        <li class="layer">
                            <details open={files.len() <= 50 || !filter.is_empty()}>
                                <summary title="Show or hide the files this layer changed">
                                    <span class="expander" aria-hidden="true"></span>
                                    <code class="created-by" title={instruction.clone()}>{ title }</code>
                                    if let (Some(line), Some(onclick)) = (layer.line, go_to_line) {
                                        <a class="layer-line" href={Route::Playground.href()} {onclick}
                                           title={format!("Line {line} of the Dockerfile in the editor")}>
                                            { format!("line {line}") }
                                        </a>
                                    }
                                    <span class="size">{ format::bytes(layer.size) }</span>
                                    <span class="muted file-count">{ count_of_files(files.len()) }</span>
                                    if layer.wasted_bytes > 0 { <span class="bad">{ format!(" {} wasted", format::bytes(layer.wasted_bytes)) }</span> }
                                </summary>
                                <ul class="file-changes">
                                    { for shown.iter().take(500).map(|file| {
                                        let (kind, letter) = match file.kind {
                                            ChangeKind::Added => ("added", "A"),
                                            ChangeKind::Deleted => ("deleted", "D"),
                                            ChangeKind::Modified => ("modified", "M"),
                                        };
                                        html! {
                                            <li class={kind}>
                                                <span class="kind" title={kind}>{ letter }</span>
                                                <code>{ file.path.clone() }</code>
                                                if file.entry_type == EntryType::File {
                                                    <span class="size">{ format::bytes(file.size) }</span>
                                                }
                                            </li>
                                        }
                                    }) }
                                    if shown.len() > 500 { <li class="muted">{ format!("… and {} more", shown.len() - 500) }</li> }
                                </ul>
                            </details>
                        </li>
                    }
                }) }
            </ol>
        </>
    }
}
