//! Volumes, when the daemon has the endpoint: the list, a create box, and remove (asking first).

use std::rc::Rc;

use bollard_stubs::models::VolumeListResponse;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::confirm_button::ConfirmButton;
use crate::components::create_by_name::{Create, CreateByName};
use crate::components::error_note::ErrorNote;

#[function_component(VolumesPage)]
pub fn volumes_page() -> Html {
    let answer = use_state(|| None::<Result<VolumeListResponse, api::DaemonError>>);
    let reload = use_state(|| 0_u32);
    let action_error = use_state(|| None::<String>);
    {
        let answer = answer.clone();
        use_effect_with(*reload, move |_| {
            spawn_local(async move { answer.set(Some(api::resources::volumes().await)) })
        });
    }
    let relist = {
        let reload = reload.clone();
        Callback::from(move |()| reload.set(reload.wrapping_add(1)))
    };
    let create: Create = use_memo((), |_| -> Create {
        Rc::new(|name: String| Box::pin(async move { api::resources::create_volume(&name).await }))
    })
    .as_ref()
    .clone();
    let remove = |name: String| {
        let (relist, action_error) = (relist.clone(), action_error.clone());
        Callback::from(move |()| {
            let (name, relist, action_error) = (name.clone(), relist.clone(), action_error.clone());
            spawn_local(async move {
                match api::resources::remove_volume(&name).await {
                    Ok(()) => action_error.set(None),
                    Err(error) => action_error.set(Some(format!("Removing {name}: {error}"))),
                }
                relist.emit(());
            });
        })
    };
    let body = match &*answer {
        None => html! { <p class="loading">{ "Loading volumes…" }</p> },
        Some(Err(error)) if error.is_not_found() => {
            html! { <p class="empty">{ "This daemon does not list volumes yet." }</p> }
        }
        Some(Err(error)) => html! { <ErrorNote doing="Loading volumes" error={error.to_string()} /> },
        Some(Ok(list)) => {
            let volumes = list.volumes.clone().unwrap_or_default();
            if volumes.is_empty() {
                html! { <p class="empty">{ "No volumes." }</p> }
            } else {
                html! {
                    <table class="volumes-table">
                        <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Mountpoint" }</th><th></th></tr></thead>
                        <tbody>{ for volumes.iter().map(|volume| html! {
                            <tr data-volume={volume.name.clone()}>
                                <td>{ volume.name.clone() }</td><td>{ volume.driver.clone() }</td>
                                <td><code>{ volume.mountpoint.clone() }</code></td>
                                <td class="actions">
                                    <ConfirmButton label="Remove" question={format!("Remove the volume {}?", volume.name)}
                                        on_confirm={remove(volume.name.clone())} />
                                </td>
                            </tr>
                        }) }</tbody>
                    </table>
                }
            }
        }
    };
    html! {
        <section class="page volumes-page">
            <div class="page-head"><h1>{ "Volumes" }</h1></div>
            <CreateByName what="volume" create={create} on_created={relist.clone()} />
            if let Some(error) = &*action_error { <ErrorNote doing="Removing the volume" error={error.clone()} /> }
            { body }
        </section>
    }
}
