//! The container's inspect answer as formatted JSON.

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;

#[derive(Properties, PartialEq)]
pub struct InspectProps {
    pub id: AttrValue,
}

#[function_component(Inspect)]
pub fn inspect(props: &InspectProps) -> Html {
    let answer = use_state(|| None::<Result<String, String>>);
    {
        let answer = answer.clone();
        use_effect_with(props.id.clone(), move |id| {
            let id = id.to_string();
            spawn_local(async move {
                let pretty = api::containers::inspect_raw(&id)
                    .await
                    .map(|value| serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string()))
                    .map_err(|error| error.to_string());
                answer.set(Some(pretty));
            });
        });
    }
    match &*answer {
        None => html! { <p class="loading">{ "Loading…" }</p> },
        Some(Err(error)) => html! { <ErrorNote doing="Inspecting the container" error={error.clone()} /> },
        Some(Ok(json)) => html! { <pre class="inspect-json">{ json.clone() }</pre> },
    }
}
