//! What the container changed in its filesystem compared with its image (`docker diff`).

use bollard_stubs::models::{ChangeType, FilesystemChange};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;

#[derive(Properties, PartialEq)]
pub struct ChangesProps {
    pub id: AttrValue,
}

#[function_component(Changes)]
pub fn changes(props: &ChangesProps) -> Html {
    let answer = use_state(|| None::<Result<Vec<FilesystemChange>, String>>);
    let reload = use_state(|| 0_u32);
    {
        let answer = answer.clone();
        use_effect_with((props.id.clone(), *reload), move |(id, _)| {
            let id = id.to_string();
            spawn_local(async move {
                answer.set(Some(api::containers::changes(&id).await.map_err(|error| error.to_string())));
            });
        });
    }
    let refresh = {
        let reload = reload.clone();
        Callback::from(move |_: MouseEvent| reload.set(reload.wrapping_add(1)))
    };
    let body = match &*answer {
        None => html! { <p class="loading">{ "Loading…" }</p> },
        Some(Err(error)) => html! { <ErrorNote doing="Reading the changes" error={error.clone()} /> },
        Some(Ok(changes)) if changes.is_empty() => html! { <p class="empty">{ "Nothing changed yet." }</p> },
        Some(Ok(changes)) => html! {
            <ul class="file-changes">
                { for changes.iter().map(|change| {
                    let (letter, class) = match change.kind {
                        ChangeType::_0 => ("C", "modified"),
                        ChangeType::_1 => ("A", "added"),
                        ChangeType::_2 => ("D", "deleted"),
                    };
                    html! { <li class={class}><span class="kind">{ letter }</span><code>{ change.path.clone() }</code></li> }
                }) }
            </ul>
        },
    };
    html! {
        <div class="changes">
            <button onclick={refresh}>{ "Refresh" }</button>
            { body }
        </div>
    }
}
