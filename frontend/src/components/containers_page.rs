//! The containers: state, image, published ports (as links), age, and the lifecycle buttons (a remove asks first).
//! A table on a wide screen, one card per container on a phone (the CSS lays the same rows out as cards).

use bollard_stubs::models::ContainerSummary;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::Action;
use crate::components::confirm_button::ConfirmButton;
use crate::components::error_note::ErrorNote;
use crate::components::run_dialog::RunDialog;
use crate::logic::format;
use crate::route::{ContainerTab, Route};

#[function_component(ContainersPage)]
pub fn containers_page() -> Html {
    let containers = use_state(|| None::<Result<Vec<ContainerSummary>, String>>);
    let reload = use_state(|| 0_u32);
    let action_error = use_state(|| None::<String>);
    let show_run = use_state(|| false);

    {
        let containers = containers.clone();
        use_effect_with(*reload, move |_| {
            spawn_local(async move {
                containers.set(Some(api::containers::list().await.map_err(|error| error.to_string())));
            });
        });
    }
    let refresh = {
        let reload = reload.clone();
        Callback::from(move |_: MouseEvent| reload.set(reload.wrapping_add(1)))
    };
    let act = {
        let (reload, action_error) = (reload.clone(), action_error.clone());
        move |id: String, action: Action| {
            let (reload, action_error) = (reload.clone(), action_error.clone());
            Callback::from(move |()| {
                let (id, reload, action_error) = (id.clone(), reload.clone(), action_error.clone());
                spawn_local(async move {
                    match api::containers::action(&id, action).await {
                        Ok(()) => action_error.set(None),
                        Err(error) => {
                            action_error.set(Some(format!("{} {}: {error}", action.label(), format::short_id(&id))))
                        }
                    }
                    reload.set(reload.wrapping_add(1));
                });
            })
        }
    };
    let open_run = {
        let show_run = show_run.clone();
        Callback::from(move |_: MouseEvent| show_run.set(true))
    };
    let close_run = {
        let show_run = show_run.clone();
        Callback::from(move |()| show_run.set(false))
    };
    let host = web_sys::window().and_then(|window| window.location().hostname().ok()).unwrap_or_default();
    let now = (js_sys::Date::now() / 1000.0) as i64;

    let body = match &*containers {
        None => html! { <p class="loading">{ "Loading containers…" }</p> },
        Some(Err(error)) => {
            html! { <ErrorNote doing="Loading containers" error={error.clone()} retry={refresh.clone()} /> }
        }
        Some(Ok(list)) if list.is_empty() => {
            html! { <p class="empty">{ "No containers yet. Build an image in the playground and run it." }</p> }
        }
        Some(Ok(list)) => html! {
            <div class="table-wrap">
            <table class="containers-table">
                <thead><tr>
                    <th>{ "Name" }</th><th>{ "State" }</th><th>{ "Image" }</th><th>{ "Ports" }</th>
                    <th>{ "Created" }</th><th>{ "Actions" }</th>
                </tr></thead>
                <tbody>
                { for list.iter().map(|container| {
                    let id = container.id.clone().unwrap_or_default();
                    let name = container.names.as_ref().and_then(|names| names.first()).map(|name| name.trim_start_matches('/').to_string()).unwrap_or_else(|| format::short_id(&id).to_string());
                    let state = container.state.map(|state| state.to_string()).unwrap_or_default();
                    let running = state == "running";
                    let paused = state == "paused";
                    let ports = container.ports.clone().unwrap_or_default();
                    let button = |action: Action| {
                        let act = act(id.clone(), action);
                        html! {
                            <button data-action={action.label().to_lowercase()}
                                    onclick={Callback::from(move |_: MouseEvent| act.emit(()))}>{ action.label() }</button>
                        }
                    };
                    html! {
                        <tr data-container={id.clone()}>
                            <td class="name"><a href={Route::Container { id: id.clone(), tab: ContainerTab::Terminal }.href()}>{ name.clone() }</a></td>
                            <td class="state-cell"><span class={classes!("state", state.clone())}>{ state.clone() }</span>
                                <div class="muted">{ container.status.clone().unwrap_or_default() }</div></td>
                            <td class="image" data-label="Image">{ container.image.clone().unwrap_or_default() }</td>
                            <td class="ports" data-label={if ports.is_empty() { None } else { Some("Ports") }}>{ for ports.iter().map(|port| match port.public_port {
                                Some(public) => html! {
                                    <a class="port" href={format!("http://{host}:{public}/")} target="_blank" rel="noopener">
                                        { format!("{public}→{}", port.private_port) }
                                    </a>
                                },
                                None => html! { <span class="port">{ port.private_port }</span> },
                            }) }</td>
                            <td class="created" data-label="Created">{ container.created.map(|created| format::ago(created, now)).unwrap_or_default() }</td>
                            <td class="actions">
                                if !running && !paused { { button(Action::Start) } }
                                if running { { button(Action::Stop) } }
                                if running || paused { { button(Action::Restart) } }
                                if running { { button(Action::Pause) } }
                                if paused { { button(Action::Unpause) } }
                                <ConfirmButton label="Remove" question={format!("Remove the container {name}?")}
                                    on_confirm={act(id.clone(), Action::Remove)} />
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
        <section class="page containers-page">
            <div class="page-head">
                <h1>{ "Containers" }</h1>
                <button onclick={refresh}>{ "Refresh" }</button>
                <button class="primary" onclick={open_run}>{ "Run…" }</button>
            </div>
            if let Some(error) = &*action_error { <ErrorNote doing="The action" error={error.clone()} /> }
            { body }
            if *show_run { <RunDialog image="busybox" on_close={close_run} /> }
        </section>
    }
}
