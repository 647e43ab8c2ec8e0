//! Networks, when the daemon has the endpoint.

use bollard_stubs::models::Network;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;

#[function_component(NetworksPage)]
pub fn networks_page() -> Html {
    let answer = use_state(|| None::<Result<Vec<Network>, api::DaemonError>>);
    {
        let answer = answer.clone();
        use_effect_with((), move |_| spawn_local(async move { answer.set(Some(api::resources::networks().await)) }));
    }
    let body = match &*answer {
        None => html! { <p class="loading">{ "Loading networks…" }</p> },
        Some(Err(error)) if error.is_not_found() => {
            html! { <p class="empty">{ "This daemon does not manage networks yet." }</p> }
        }
        Some(Err(error)) => html! { <ErrorNote doing="Loading networks" error={error.to_string()} /> },
        Some(Ok(networks)) => html! {
            <table>
                <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Scope" }</th><th>{ "ID" }</th></tr></thead>
                <tbody>{ for networks.iter().map(|network| html! {
                    <tr>
                        <td>{ network.name.clone().unwrap_or_default() }</td>
                        <td>{ network.driver.clone().unwrap_or_default() }</td>
                        <td>{ network.scope.clone().unwrap_or_default() }</td>
                        <td><code>{ crate::logic::format::short_id(network.id.as_deref().unwrap_or("")).to_string() }</code></td>
                    </tr>
                }) }</tbody>
            </table>
        },
    };
    html! { <section class="page"><h1>{ "Networks" }</h1>{ body }</section> }
}
