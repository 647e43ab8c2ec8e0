//! One container: its name and state, start/stop/restart/remove, and tabs for the terminal, logs, stats, inspect
//! JSON and filesystem changes. The state is read again every few seconds, so a process that ends while the page
//! is open turns the terminal tab into its exit code and last output (see [`ExitedPanel`]).

use bollard_stubs::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use gloo_timers::callback::Interval;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::Action;
use crate::components::changes::Changes;
use crate::components::confirm_button::ConfirmButton;
use crate::components::error_note::ErrorNote;
use crate::components::exited_panel::ExitedPanel;
use crate::components::inspect::Inspect;
use crate::components::logs::Logs;
use crate::components::stats::Stats;
use crate::components::terminal::TerminalView;
use crate::route::{self, ContainerTab, Route};

/// How often the page reads the container's state again.
const STATE_POLL_MS: u32 = 1500;

#[derive(Properties, PartialEq)]
pub struct ContainerPageProps {
    pub id: AttrValue,
    pub tab: ContainerTab,
}

#[function_component(ContainerPage)]
pub fn container_page(props: &ContainerPageProps) -> Html {
    let container = use_state(|| None::<Result<ContainerInspectResponse, String>>);
    let reload = use_state(|| 0_u32);
    let action_error = use_state(|| None::<String>);
    let busy = use_state(|| None::<Action>);
    {
        let container = container.clone();
        use_effect_with((props.id.clone(), *reload), move |(id, _)| {
            let id = id.to_string();
            let read = move || {
                let (id, container) = (id.clone(), container.clone());
                spawn_local(async move {
                    let inspect = api::containers::inspect(&id).await.map_err(|error| error.to_string());
                    // Only a change re-renders the tabs (an equal value would still be a new state).
                    if container.as_ref() != Some(&inspect) {
                        container.set(Some(inspect));
                    }
                });
            };
            read();
            let interval = Interval::new(STATE_POLL_MS, read);
            move || drop(interval)
        });
    }
    let act = {
        let (id, reload, action_error, busy) =
            (props.id.to_string(), reload.clone(), action_error.clone(), busy.clone());
        move |action: Action| {
            let (id, reload, action_error, busy) = (id.clone(), reload.clone(), action_error.clone(), busy.clone());
            Callback::from(move |()| {
                let (id, reload, action_error, busy) = (id.clone(), reload.clone(), action_error.clone(), busy.clone());
                busy.set(Some(action));
                spawn_local(async move {
                    let outcome = api::containers::action(&id, action).await;
                    busy.set(None);
                    match outcome {
                        Ok(()) if action == Action::Remove => route::go(&Route::Containers),
                        Ok(()) => {
                            action_error.set(None);
                            reload.set(reload.wrapping_add(1));
                        }
                        Err(error) => action_error.set(Some(format!("{}: {error}", action.label()))),
                    }
                });
            })
        }
    };
    let id = props.id.to_string();
    let inspect = match &*container {
        Some(Ok(inspect)) => Some(inspect),
        _ => None,
    };
    let title = inspect
        .and_then(|inspect| inspect.name.clone())
        .map(|name| name.trim_start_matches('/').to_string())
        .unwrap_or_else(|| crate::logic::format::short_id(&id).to_string());
    let status = inspect.and_then(|inspect| inspect.state.as_ref()).and_then(|state| state.status);
    let state = status.map(|status| status.to_string()).unwrap_or_default();
    let tty = inspect.and_then(|inspect| inspect.config.as_ref()).and_then(|config| config.tty).unwrap_or(false);
    let ended = matches!(status, Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD));
    let running = matches!(status, Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::RESTARTING));
    let tab_body = match (props.tab, inspect) {
        (ContainerTab::Terminal, Some(inspect)) if ended => html! { <ExitedPanel container={inspect.clone()} /> },
        (ContainerTab::Terminal, _) => html! {
            <TerminalView container={Some(id.clone())} session={None::<String>} readonly={false} />
        },
        (ContainerTab::Logs, _) => html! { <Logs id={id.clone()} tty={tty} /> },
        (ContainerTab::Stats, _) => html! { <Stats id={id.clone()} /> },
        (ContainerTab::Inspect, _) => html! { <Inspect id={id.clone()} /> },
        (ContainerTab::Changes, _) => html! { <Changes id={id.clone()} /> },
    };
    let button = |action: Action| {
        let act = act(action);
        html! {
            <button data-action={action.label().to_lowercase()} disabled={busy.is_some()}
                    onclick={Callback::from(move |_: MouseEvent| act.emit(()))}>
                { if *busy == Some(action) { format!("{}…", action.label()) } else { action.label().to_string() } }
            </button>
        }
    };
    html! {
        <section class="page container-page">
            <div class="page-head">
                <a href={Route::Containers.href()} class="back">{ "← Containers" }</a>
                <h1>{ title.clone() }</h1>
                if !state.is_empty() { <span class={classes!("state", state.clone())}>{ state }</span> }
                if inspect.is_some() {
                    <div class="lifecycle actions">
                        if !running { { button(Action::Start) } }
                        if running { { button(Action::Stop) } }
                        if running { { button(Action::Restart) } }
                        <ConfirmButton label="Remove" question={format!("Remove the container {title}?")}
                            on_confirm={act(Action::Remove)} disabled={busy.is_some()} />
                    </div>
                }
            </div>
            if let Some(Err(error)) = &*container {
                <ErrorNote doing="Loading the container" error={error.clone()} />
            }
            if let Some(error) = &*action_error { <ErrorNote doing="The action" error={error.clone()} /> }
            <nav class="tabs" role="tablist">
                { for ContainerTab::ALL.iter().map(|tab| html! {
                    <a role="tab" href={Route::Container { id: id.clone(), tab: *tab }.href()}
                       class={classes!("tab", (*tab == props.tab).then_some("active"))}
                       aria-selected={(*tab == props.tab).to_string()} data-tab={tab.slug()}>
                        { tab.label() }
                    </a>
                }) }
            </nav>
            <div class="tab-body">{ tab_body }</div>
        </section>
    }
}
