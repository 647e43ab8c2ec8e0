//! Networks, when the daemon has the endpoint: the list, a create box, and remove (asking first) for every
//! network but the predefined bridge, host and none.

use std::rc::Rc;

use bollard_stubs::models::Network;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::confirm_button::ConfirmButton;
use crate::components::create_by_name::{Create, CreateByName};
use crate::components::error_note::ErrorNote;

/// Docker's own networks, which cannot be removed.
const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

#[function_component(NetworksPage)]
pub fn networks_page() -> Html {
    let answer = use_state(|| None::<Result<Vec<Network>, api::DaemonError>>);
    let reload = use_state(|| 0_u32);
    let action_error = use_state(|| None::<String>);
    {
        let answer = answer.clone();
        use_effect_with(*reload, move |_| {
            spawn_local(async move { answer.set(Some(api::resources::networks().await)) })
        });
    }
    let relist = {
        let reload = reload.clone();
        Callback::from(move |()| reload.set(reload.wrapping_add(1)))
    };
    let create: Create = use_memo((), |_| -> Create {
        Rc::new(|name: String| Box::pin(async move { api::resources::create_network(&name).await }))
    })
    .as_ref()
    .clone();
    let remove = |id: String, name: String| {
        let (relist, action_error) = (relist.clone(), action_error.clone());
        Callback::from(move |()| {
            let (id, name, relist, action_error) = (id.clone(), name.clone(), relist.clone(), action_error.clone());
            spawn_local(async move {
                match api::resources::remove_network(&id).await {
                    Ok(()) => action_error.set(None),
                    Err(error) => action_error.set(Some(format!("Removing {name}: {error}"))),
                }
                relist.emit(());
            });
        })
    };
    let body = match &*answer {
        None => html! { <p class="loading">{ "Loading networks…" }</p> },
        Some(Err(error)) if error.is_not_found() => {
            html! { <p class="empty">{ "This daemon does not manage networks yet." }</p> }
        }
        Some(Err(error)) => html! { <ErrorNote doing="Loading networks" error={error.to_string()} /> },
        Some(Ok(networks)) => html! {
            <table class="networks-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Scope" }</th><th>{ "ID" }</th><th></th></tr></thead>
                <tbody>{ for networks.iter().map(|network| {
                    let name = network.name.clone().unwrap_or_default();
                    let id = network.id.clone().unwrap_or_default();
                    html! {
                        <tr data-network={name.clone()}>
                            <td>{ name.clone() }</td>
                            <td>{ network.driver.clone().unwrap_or_default() }</td>
                            <td>{ network.scope.clone().unwrap_or_default() }</td>
                            <td><code>{ crate::logic::format::short_id(&id).to_string() }</code></td>
                            <td class="actions">
                                if !PREDEFINED.contains(&name.as_str()) {
                                    <ConfirmButton label="Remove" question={format!("Remove the network {name}?")}
                                        on_confirm={remove(id.clone(), name.clone())} />
                                }
                            </td>
                        </tr>
                    }
                }) }</tbody>
            </table>
        },
    };
    html! {
        <section class="page networks-page">
            <div class="page-head"><h1>{ "Networks" }</h1></div>
            <CreateByName what="network" create={create} on_created={relist.clone()} />
            if let Some(error) = &*action_error { <ErrorNote doing="Removing the network" error={error.clone()} /> }
            { body }
        </section>
    }
}
