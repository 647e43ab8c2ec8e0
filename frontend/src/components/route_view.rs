//! One route, live: its mode and port, each backend with its weight (sliders on a weighted route, sent on
//! release when they add up to 100), health, totals and request and error rates (the route is read every second,
//! rates are the counters' growth between two reads), a shadow route's differences with the mismatching requests
//! kept, blue/green's Switch and Rollback, and Remove (asked first).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use berth_shared::api::routes::{BackendView, RouteMode, RouteView, ShadowView};
use gloo_timers::callback::Interval;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::confirm_button::ConfirmButton;
use crate::components::error_note::ErrorNote;
use crate::components::routes_page::mode_label;
use crate::logic::route_traffic::{moved_weights, per_second, rates, weights_problem, Rates};
use crate::route::{go, Route};

/// How often the route is read: its rates are per second.
const POLL_MS: u32 = 1_000;

#[derive(Properties, PartialEq)]
pub struct RouteViewProps {
    pub name: AttrValue,
}

#[function_component(RouteViewPage)]
pub fn route_view_page(props: &RouteViewProps) -> Html {
    let view = use_state(|| None::<Result<RouteView, api::DaemonError>>);
    let rates_now = use_state(BTreeMap::<String, Rates>::new);
    // Weights being dragged: shown instead of the daemon's until they are sent.
    let draft = use_state(|| None::<BTreeMap<String, u32>>);
    let action_error = use_state(|| None::<String>);
    {
        let (view, rates_now) = (view.clone(), rates_now.clone());
        use_effect_with(props.name.clone(), move |name| {
            let last: Rc<RefCell<Option<(RouteView, f64)>>> = Rc::new(RefCell::new(None));
            let name = name.to_string();
            let read = move || {
                let (name, view, rates_now, last) = (name.clone(), view.clone(), rates_now.clone(), last.clone());
                spawn_local(async move {
                    let answer = api::routes::inspect(&name).await;
                    if let Ok(now) = &answer {
                        let at = js_sys::Date::now();
                        if let Some((before, then)) = &*last.borrow() {
                            rates_now.set(rates(before, now, (at - then) / 1000.0));
                        }
                        last.replace(Some((now.clone(), at)));
                    }
                    view.set(Some(answer));
                });
            };
            read();
            let interval = Interval::new(POLL_MS, read);
            move || drop(interval)
        });
    }
    // Switch, rollback, weights: the answer is the route as it is after, shown at once.
    let acted = {
        let (view, action_error, draft) = (view.clone(), action_error.clone(), draft.clone());
        Callback::from(move |(doing, answer): (&'static str, Result<RouteView, api::DaemonError>)| match answer {
            Ok(now) => {
                action_error.set(None);
                draft.set(None);
                view.set(Some(Ok(now)));
            }
            Err(error) => action_error.set(Some(format!("{doing}: {error}"))),
        })
    };
    let route = match &*view {
        None => {
            return html! { <section class="page route-view"><p class="loading">{ "Loading the route…" }</p></section> }
        }
        Some(Err(error)) => {
            return html! {
                <section class="page route-view">
                    <div class="page-head"><h1>{ format!("Route {}", props.name) }</h1></div>
                    <ErrorNote doing="Loading the route" error={error.to_string()} />
                    <a href={Route::Routes.href()}>{ "All routes" }</a>
                </section>
            }
        }
        Some(Ok(route)) => route.clone(),
    };
    let weights: Option<BTreeMap<String, u32>> = match &route.mode {
        RouteMode::Weighted { weights, .. } => Some((*draft).clone().unwrap_or_else(|| weights.clone())),
        _ => None,
    };
    let live = match &route.mode {
        RouteMode::BlueGreen { live, .. } => Some(live.clone()),
        _ => None,
    };
    let slider = |backend: &BackendView| -> Html {
        let Some(weights) = &weights else { return html! { { format!("{} %", backend.weight) } } };
        let value = weights.get(&backend.name).copied().unwrap_or(backend.weight);
        let moved = {
            let (weights, name, draft) = (weights.clone(), backend.name.clone(), draft.clone());
            move |event: &Event| {
                let input = event.target_dyn_into::<web_sys::HtmlInputElement>()?;
                let value = input.value().parse::<u32>().ok()?;
                let next = moved_weights(&weights, &name, value);
                draft.set(Some(next.clone()));
                Some(next)
            }
        };
        let on_input = {
            let moved = moved.clone();
            Callback::from(move |event: InputEvent| drop(moved(&event)))
        };
        let on_release = {
            let (route_name, acted, action_error) = (route.name.clone(), acted.clone(), action_error.clone());
            Callback::from(move |event: Event| {
                let Some(next) = moved(&event) else { return };
                if let Some(problem) = weights_problem(&next) {
                    return action_error.set(Some(problem));
                }
                let (route_name, acted) = (route_name.clone(), acted.clone());
                spawn_local(async move {
                    acted.emit(("Setting the weights", api::routes::set_weights(&route_name, next).await))
                });
            })
        };
        html! {
            <label class="weight">
                <input type="range" class="weight-slider" min="0" max="100" step="1" value={value.to_string()}
                    aria-label={format!("Weight of {}", backend.name)} oninput={on_input} onchange={on_release} />
                <span class="weight-value">{ format!("{value} %") }</span>
            </label>
        }
    };
    let switch_to = |to: String| {
        let (route_name, acted) = (route.name.clone(), acted.clone());
        Callback::from(move |_: MouseEvent| {
            let (route_name, to, acted) = (route_name.clone(), to.clone(), acted.clone());
            spawn_local(async move { acted.emit(("Switching", api::routes::switch(&route_name, &to).await)) });
        })
    };
    let rollback = {
        let (route_name, acted) = (route.name.clone(), acted.clone());
        Callback::from(move |_: MouseEvent| {
            let (route_name, acted) = (route_name.clone(), acted.clone());
            spawn_local(async move { acted.emit(("Rolling back", api::routes::rollback(&route_name).await)) });
        })
    };
    let remove = {
        let (route_name, action_error) = (route.name.clone(), action_error.clone());
        Callback::from(move |()| {
            let (route_name, action_error) = (route_name.clone(), action_error.clone());
            spawn_local(async move {
                match api::routes::remove(&route_name).await {
                    Ok(()) => go(&Route::Routes),
                    Err(error) => action_error.set(Some(format!("Removing: {error}"))),
                }
            });
        })
    };
    let rows = route.backends.iter().map(|backend| {
        let rate = rates_now.get(&backend.name).copied();
        let is_live = live.as_deref() == Some(backend.name.as_str());
        html! {
            <tr data-backend={backend.name.clone()} class={classes!(is_live.then_some("live"))}>
                <td class="backend-name">{ backend.name.clone() }
                    if is_live { <span class="badge live-badge">{ "live" }</span> }</td>
                <td><code>{ backend.target.clone() }</code></td>
                <td class="health">{ match (&backend.healthy, &backend.unhealthy_reason) {
                    (true, _) => "healthy".to_string(),
                    (false, Some(reason)) => format!("unhealthy: {reason}"),
                    (false, None) => "unhealthy".to_string(),
                } }</td>
                <td>{ slider(backend) }</td>
                <td class="requests">{ backend.counters.requests }</td>
                <td class="request-rate">{ rate.map(|r| per_second(r.requests_per_second)).unwrap_or_else(|| "…".into()) }</td>
                <td class="errors">{ backend.counters.errors }</td>
                <td class="error-rate">{ rate.map(|r| per_second(r.errors_per_second)).unwrap_or_else(|| "…".into()) }</td>
                <td class="actions">
                    if live.is_some() && !is_live {
                        <button class="switch-button" onclick={switch_to(backend.name.clone())}>
                            { format!("Switch to {}", backend.name) }</button>
                    }
                </td>
            </tr>
        }
    });
    html! {
        <section class="page route-view" data-route={route.name.clone()}>
            <div class="page-head">
                <h1>{ format!("Route {}", route.name) }</h1>
                <ConfirmButton label="Remove" question={format!("Remove the route {}? Its port closes.", route.name)}
                    on_confirm={remove} />
            </div>
            <p class="route-summary">
                <span class="route-mode">{ mode_label(&route.mode) }</span>
                { format!(" · port {} · {}", route.host_port, match route.protocol {
                    berth_shared::api::routes::RouteProtocol::Http => "HTTP",
                    berth_shared::api::routes::RouteProtocol::Tcp => "TCP",
                }) }
            </p>
            if live.is_some() {
                <p class="route-actions">
                    <button class="rollback-button" disabled={!route.can_roll_back} onclick={rollback}>{ "Rollback" }</button>
                </p>
            }
            if let Some(ramp) = &route.ramp {
                <p class="ramp">{ format!("Ramp: step {} of {}, new backend at {} %, {:?}{}", ramp.step, ramp.steps,
                    ramp.weight, ramp.phase, ramp.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()) }</p>
            }
            if let Some(error) = &*action_error { <ErrorNote doing="Changing the route" error={error.clone()} /> }
            <table class="backends-table">
                <thead><tr><th>{ "Backend" }</th><th>{ "Target" }</th><th>{ "Health" }</th><th>{ "Weight" }</th>
                    <th>{ "Requests" }</th><th>{ "Requests/s" }</th><th>{ "Errors" }</th><th>{ "Errors/s" }</th><th></th></tr></thead>
                <tbody>{ for rows }</tbody>
            </table>
            if let Some(shadow) = &route.shadow { { shadow_view(shadow) } }
            <a href={Route::Routes.href()}>{ "All routes" }</a>
        </section>
    }
}

/// A shadow route's comparison: how many differed and how, and the mismatching requests kept.
fn shadow_view(shadow: &ShadowView) -> Html {
    let short = |hash: &str| hash.chars().take(12).collect::<String>();
    html! {
        <div class="shadow-differences">
            <h2>{ "Shadow differences" }</h2>
            <p class="shadow-summary">{ format!(
                "{} compared, {} differ ({} by status, {} by body), {} skipped",
                shadow.compared, shadow.differences, shadow.status_differences, shadow.body_differences, shadow.skipped
            ) }</p>
            if shadow.samples.is_empty() {
                <p class="empty">{ "No mismatching answer yet." }</p>
            } else {
                <table class="shadow-samples">
                    <thead><tr><th>{ "Request" }</th><th>{ "Primary" }</th><th>{ "Shadow" }</th>
                        <th>{ "Primary body" }</th><th>{ "Shadow body" }</th></tr></thead>
                    <tbody>{ for shadow.samples.iter().rev().map(|sample| html! {
                        <tr>
                            <td><code>{ format!("{} {}", sample.method, sample.path) }</code></td>
                            <td>{ format!("{} in {} ms", sample.primary_status, sample.primary_ms) }</td>
                            <td>{ match sample.shadow_status {
                                0 => "no answer".to_string(),
                                status => format!("{status} in {} ms", sample.shadow_ms),
                            } }</td>
                            <td><code title={sample.primary_body_sha256.clone()}>{ short(&sample.primary_body_sha256) }</code></td>
                            <td><code title={sample.shadow_body_sha256.clone()}>{ short(&sample.shadow_body_sha256) }</code></td>
                        </tr>
                    }) }</tbody>
                </table>
            }
        </div>
    }
}
