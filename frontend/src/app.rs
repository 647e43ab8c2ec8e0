//! The page shell: a collapsible sidebar, the page for the current hash route, and the keyboard shortcuts
//! (Ctrl+Enter builds; Alt+1..4 move focus to the editor, the build, the containers and the terminal).

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::compose_page::ComposePage;
use crate::components::container_page::ContainerPage;
use crate::components::containers_page::ContainersPage;
use crate::components::images_page::ImagesPage;
use crate::components::layers_view::LayersView;
use crate::components::networks_page::NetworksPage;
use crate::components::playground::Playground;
use crate::components::security_page::SecurityPage;
use crate::components::terminal::TerminalView;
use crate::components::volumes_page::VolumesPage;
use crate::route::{self, Route};
use crate::store::{Build, BuildHandle, Project, ProjectHandle};

#[function_component(App)]
pub fn app() -> Html {
    let project = use_reducer(Project::load);
    let build = use_reducer(Build::default);
    let route = use_state(route::current);
    let sidebar_open = use_state(|| true);
    let daemon_line = use_state(|| "Connecting…".to_string());

    {
        let project = project.clone();
        use_effect_with(project, |project| project.save());
    }
    {
        // A reloaded page follows the build job it started before.
        let build = build.clone();
        use_effect_with((), move |_| crate::build_runner::reattach(&build));
    }
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window()
                .map(|window| EventListener::new(&window, "hashchange", move |_| route.set(route::current())));
            move || drop(listener)
        });
    }
    {
        let daemon_line = daemon_line.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                daemon_line.set(match api::system::version().await {
                    Ok(version) => format!(
                        "Berth {} · API {}",
                        version.version.as_deref().unwrap_or("?"),
                        version.api_version.as_deref().unwrap_or("?")
                    ),
                    Err(error) => format!("Daemon not reachable: {error}"),
                });
            });
        });
    }
    {
        let project = project.clone();
        let build = build.clone();
        let route = route.clone();
        use_effect_with((project, build, route), move |(project, build, route)| {
            let project = project.clone();
            let build = build.clone();
            let route = (**route).clone();
            let listener = web_sys::window().and_then(|window| window.document()).map(|document| {
                EventListener::new(&document, "keydown", move |event| {
                    if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
                        shortcut(event, &project, &build, &route);
                    }
                })
            });
            move || drop(listener)
        });
    }

    let toggle_sidebar = {
        let sidebar_open = sidebar_open.clone();
        Callback::from(move |_: MouseEvent| sidebar_open.set(!*sidebar_open))
    };

    let nav_link = |target: Route, label: &str, shortcut: Option<&str>| {
        let active = match (&*route, &target) {
            (Route::Layers { .. }, Route::Images) => true,
            (Route::Container { .. }, Route::Containers) => true,
            (current, target) => current == target,
        };
        html! {
            <a href={target.href()} class={classes!("nav-link", active.then_some("active"))}
               aria-current={active.then_some("page")}>
                <span>{ label.to_string() }</span>
                if let Some(keys) = shortcut { <kbd>{ keys.to_string() }</kbd> }
            </a>
        }
    };

    let page = match &*route {
        Route::Playground => html! { <Playground /> },
        Route::Images => html! { <ImagesPage /> },
        Route::Layers { image } => html! { <LayersView image={image.clone()} /> },
        Route::Containers => html! { <ContainersPage /> },
        Route::Container { id, tab } => html! { <ContainerPage id={id.clone()} tab={*tab} /> },
        Route::SharedTerminal { session, readonly } => html! {
            <section class="page shared-terminal">
                <h1>{ if *readonly { "Shared terminal (read-only)" } else { "Shared terminal" } }</h1>
                <TerminalView container={None::<String>} session={Some(session.clone())} readonly={*readonly} />
            </section>
        },
        Route::Networks => html! { <NetworksPage /> },
        Route::Volumes => html! { <VolumesPage /> },
        Route::Compose => html! { <ComposePage /> },
        Route::Security => html! { <SecurityPage /> },
    };

    html! {
        <ContextProvider<ProjectHandle> context={project}>
        <ContextProvider<BuildHandle> context={build}>
            <div class={classes!("shell", (!*sidebar_open).then_some("sidebar-closed"))}>
                <header class="topbar">
                    <button class="icon-button" onclick={toggle_sidebar} aria-label="Toggle the sidebar"
                            aria-expanded={sidebar_open.to_string()}>{ "☰" }</button>
                    <a class="brand" href="#/">{ "Berth" }</a>
                    <span class="daemon-line">{ (*daemon_line).clone() }</span>
                </header>
                <nav class="sidebar" aria-label="Pages">
                    { nav_link(Route::Playground, "Playground", Some("Alt+1")) }
                    { nav_link(Route::Compose, "Compose", None) }
                    { nav_link(Route::Images, "Images", None) }
                    { nav_link(Route::Containers, "Containers", Some("Alt+3")) }
                    { nav_link(Route::Networks, "Networks", None) }
                    { nav_link(Route::Volumes, "Volumes", None) }
                    { nav_link(Route::Security, "Security", None) }
                    <p class="sidebar-help">
                        { "Ctrl+Enter builds. The docker CLI works against the same daemon." }
                    </p>
                </nav>
                <main class="content">{ page }</main>
            </div>
        </ContextProvider<BuildHandle>>
        </ContextProvider<ProjectHandle>>
    }
}

fn shortcut(event: &KeyboardEvent, project: &ProjectHandle, build: &BuildHandle, route: &Route) {
    if (event.ctrl_key() || event.meta_key()) && event.key() == "Enter" {
        // The editor handles its own Ctrl+Enter and marks the event handled; this covers focus anywhere else on
        // the page. (The build handle here may not yet show a build the editor just started.)
        if *route == Route::Playground && !event.default_prevented() {
            event.prevent_default();
            crate::build_runner::start(project, build);
        }
        return;
    }
    if !event.alt_key() {
        return;
    }
    let (target_route, selector) = match event.key().as_str() {
        "1" => (Some(Route::Playground), ".cm-content"),
        "2" => (Some(Route::Playground), "#build-button"),
        "3" => (Some(Route::Containers), ".containers-table a, .containers-page button"),
        "4" => (None, ".xterm-helper-textarea"),
        _ => return,
    };
    event.prevent_default();
    if let Some(target) = target_route.filter(|target| target != route) {
        route::go(&target);
    }
    // After a route change the element appears on the next render.
    gloo_timers::callback::Timeout::new(50, move || focus_first(selector)).forget();
}

fn focus_first(selector: &str) {
    let element = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector(selector).ok().flatten())
        .and_then(|element| element.dyn_into::<HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}
