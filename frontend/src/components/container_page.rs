//! One container: its name and state, and tabs for the terminal, logs, stats, inspect JSON and filesystem changes.

use bollard_stubs::models::ContainerInspectResponse;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::changes::Changes;
use crate::components::error_note::ErrorNote;
use crate::components::inspect::Inspect;
use crate::components::logs::Logs;
use crate::components::stats::Stats;
use crate::components::terminal::TerminalView;
use crate::route::{ContainerTab, Route};

#[derive(Properties, PartialEq)]
pub struct ContainerPageProps {
    pub id: AttrValue,
    pub tab: ContainerTab,
}

#[function_component(ContainerPage)]
pub fn container_page(props: &ContainerPageProps) -> Html {
    let container = use_state(|| None::<Result<ContainerInspectResponse, String>>);
    {
        let container = container.clone();
        use_effect_with(props.id.clone(), move |id| {
            let id = id.to_string();
            spawn_local(async move {
                container.set(Some(api::containers::inspect(&id).await.map_err(|error| error.to_string())));
            });
        });
    }
    let id = props.id.to_string();
    let (title, state, tty) = match &*container {
        Some(Ok(inspect)) => (
            inspect.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
            inspect.state.as_ref().and_then(|state| state.status).map(|status| status.to_string()).unwrap_or_default(),
            inspect.config.as_ref().and_then(|config| config.tty).unwrap_or(false),
        ),
        _ => (crate::logic::format::short_id(&id).to_string(), String::new(), false),
    };
    let tab_body = match props.tab {
        ContainerTab::Terminal => html! {
            <TerminalView container={Some(id.clone())} session={None::<String>} readonly={false} />
        },
        ContainerTab::Logs => html! { <Logs id={id.clone()} tty={tty} /> },
        ContainerTab::Stats => html! { <Stats id={id.clone()} /> },
        ContainerTab::Inspect => html! { <Inspect id={id.clone()} /> },
        ContainerTab::Changes => html! { <Changes id={id.clone()} /> },
    };
    html! {
        <section class="page container-page">
            <div class="page-head">
                <a href={Route::Containers.href()} class="back">{ "← Containers" }</a>
                <h1>{ title }</h1>
                if !state.is_empty() { <span class={classes!("state", state.clone())}>{ state }</span> }
            </div>
            if let Some(Err(error)) = &*container {
                <ErrorNote doing="Loading the container" error={error.clone()} />
            }
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
