//! Volumes, when the daemon has the endpoint.

use bollard_stubs::models::VolumeListResponse;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;

#[function_component(VolumesPage)]
pub fn volumes_page() -> Html {
    let answer = use_state(|| None::<Result<VolumeListResponse, api::DaemonError>>);
    {
        let answer = answer.clone();
        use_effect_with((), move |_| spawn_local(async move { answer.set(Some(api::resources::volumes().await)) }));
    }
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
                    <table>
                        <thead><tr><th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Mountpoint" }</th></tr></thead>
                        <tbody>{ for volumes.iter().map(|volume| html! {
                            <tr><td>{ volume.name.clone() }</td><td>{ volume.driver.clone() }</td>
                                <td><code>{ volume.mountpoint.clone() }</code></td></tr>
                        }) }</tbody>
                    </table>
                }
            }
        }
    };
    html! { <section class="page"><h1>{ "Volumes" }</h1>{ body }</section> }
}
