//! Routes (routed ports): the list of the daemon's routes, each linking to its own view
//! ([`crate::components::route_view`]), and a small form to make one from two containers or more.

use berth_shared::api::routes::{RouteMode, RouteView};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::logic::route_form::{route_create, FormMode};
use crate::route::{go, Route};

/// The mode as `berth route ls` words it.
pub fn mode_label(mode: &RouteMode) -> String {
    match mode {
        RouteMode::BlueGreen { live, .. } => format!("blue/green, live {live}"),
        RouteMode::Weighted { weights, .. } => {
            let shares: Vec<String> = weights.iter().map(|(name, weight)| format!("{name} {weight} %")).collect();
            format!("weighted, {}", shares.join(", "))
        }
        RouteMode::Ramped { from, to, .. } => format!("ramped from {from} to {to}"),
        RouteMode::Shadow { primary, shadow } => format!("shadow, {primary} answers, {shadow} compared"),
    }
}

#[function_component(RoutesPage)]
pub fn routes_page() -> Html {
    let answer = use_state(|| None::<Result<Vec<RouteView>, api::DaemonError>>);
    {
        let answer = answer.clone();
        use_effect_with((), move |_| spawn_local(async move { answer.set(Some(api::routes::list().await)) }));
    }
    let body = match &*answer {
        None => html! { <p class="loading">{ "Loading routes…" }</p> },
        Some(Err(error)) if error.is_not_found() => {
            html! { <p class="empty">{ "This daemon does not route ports yet." }</p> }
        }
        Some(Err(error)) => html! { <ErrorNote doing="Loading routes" error={error.to_string()} /> },
        Some(Ok(routes)) if routes.is_empty() => html! {
            <p class="empty">{ "No routes yet. Make one below from two containers serving the same port." }</p>
        },
        Some(Ok(routes)) => html! {
            <table class="routes-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Port" }</th><th>{ "Mode" }</th><th>{ "Backends" }</th></tr></thead>
                <tbody>{ for routes.iter().map(|route| {
                    let backends: Vec<&str> = route.backends.iter().map(|b| b.target.as_str()).collect();
                    html! {
                        <tr data-route={route.name.clone()}>
                            <td><a href={Route::RoutedPort { name: route.name.clone() }.href()}>{ route.name.clone() }</a></td>
                            <td>{ route.host_port }</td>
                            <td>{ mode_label(&route.mode) }</td>
                            <td>{ backends.join(", ") }</td>
                        </tr>
                    }
                }) }</tbody>
            </table>
        },
    };
    html! {
        <section class="page routes-page">
            <div class="page-head"><h1>{ "Routes" }</h1></div>
            <p class="page-intro">{ "A route binds a host port and sends its traffic to containers: blue/green, \
                weighted A/B, or a shadow that sees every request without answering any." }</p>
            { body }
            <CreateRoute />
        </section>
    }
}

/// The create form: name, port, mode, backends; the daemon's refusal shown under it, the new route opened.
#[function_component(CreateRoute)]
fn create_route() -> Html {
    let name = use_state(String::new);
    let port = use_state(String::new);
    let mode = use_state(|| FormMode::BlueGreen);
    let backends = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let text_input = |field: &UseStateHandle<String>| {
        let field = field.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                field.set(input.value());
            }
        })
    };
    let on_backends = {
        let backends = backends.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                backends.set(area.value());
            }
        })
    };
    let on_mode = {
        let mode = mode.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<web_sys::HtmlSelectElement>() {
                mode.set(FormMode::from_slug(&select.value()));
            }
        })
    };
    let on_submit = {
        let (name, port, mode, backends, error, busy) =
            (name.clone(), port.clone(), mode.clone(), backends.clone(), error.clone(), busy.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let create = match route_create(&name, &port, *mode, &backends) {
                Ok(create) => create,
                Err(problem) => return error.set(Some(problem)),
            };
            let (error, busy) = (error.clone(), busy.clone());
            busy.set(true);
            spawn_local(async move {
                let made = api::routes::create(&create).await;
                busy.set(false);
                match made {
                    Ok(view) => go(&Route::RoutedPort { name: view.name }),
                    Err(refused) => error.set(Some(refused.to_string())),
                }
            });
        })
    };
    html! {
        <form class="create-route" onsubmit={on_submit}>
            <h2>{ "New route" }</h2>
            <label>{ "Name " }<input name="route-name" value={(*name).clone()} oninput={text_input(&name)} /></label>
            <label>{ "Host port " }<input name="route-port" inputmode="numeric" value={(*port).clone()}
                oninput={text_input(&port)} /></label>
            <label>{ "Mode " }
                <select name="route-mode" onchange={on_mode}>{ for FormMode::ALL.into_iter().map(|each| html! {
                    <option value={each.slug()} selected={each == *mode}>{ each.label() }</option>
                }) }</select>
            </label>
            <label>{ "Backends (container:port or name=container:port, one a line; the first is live or primary)" }
                <textarea name="route-backends" rows="3" value={(*backends).clone()} oninput={on_backends} />
            </label>
            <button type="submit" disabled={*busy}>{ "Create route" }</button>
            if let Some(error) = &*error { <ErrorNote doing="Creating the route" error={error.clone()} /> }
        </form>
    }
}
