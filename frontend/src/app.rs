//! The page shell: a collapsible sidebar, the page for the current hash route, and the keyboard shortcuts of
//! [`crate::logic::shortcuts`] (its table drives the key handler, the sidebar's hints and the `?` overlay).

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
use crate::components::route_view::RouteViewPage;
use crate::components::routes_page::RoutesPage;
use crate::components::security_page::SecurityPage;
use crate::components::shortcuts_overlay::ShortcutsOverlay;
use crate::components::terminal::TerminalView;
use crate::components::volumes_page::VolumesPage;
use crate::logic::shortcuts::{self, KeyPress, Page, ShortcutAction};
use crate::route::{self, Route};
use crate::store::{Build, BuildHandle, Project, ProjectHandle};

#[function_component(App)]
pub fn app() -> Html {
    let project = use_reducer(Project::load);
    let build = use_reducer(Build::default);
    let route = use_state(route::current);
    let sidebar_open = use_state(|| true);
    let daemon_line = use_state(|| "Connecting…".to_string());
    let show_shortcuts = use_state(|| false);

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
        let show_shortcuts = show_shortcuts.clone();
        use_effect_with((project, build, route), move |(project, build, route)| {
            let project = project.clone();
            let build = build.clone();
            let route = (**route).clone();
            let listener = web_sys::window().and_then(|window| window.document()).map(|document| {
                EventListener::new(&document, "keydown", move |event| {
                    if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
                        shortcut(event, &project, &build, &route, &show_shortcuts);
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

    let close_shortcuts = {
        let show_shortcuts = show_shortcuts.clone();
        Callback::from(move |()| show_shortcuts.set(false))
    };
    let open_shortcuts = {
        let show_shortcuts = show_shortcuts.clone();
        Callback::from(move |_: MouseEvent| show_shortcuts.set(true))
    };
    let nav_link = |target: Route, label: &str, shortcut: Option<&str>| {
        let active = match (&*route, &target) {
            (Route::Layers { .. }, Route::Images) => true,
            (Route::Container { .. }, Route::Containers) => true,
            (Route::RoutedPort { .. }, Route::Routes) => true,
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
        Route::Routes => html! { <RoutesPage /> },
        Route::RoutedPort { name } => html! { <RouteViewPage name={name.clone()} /> },
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
                    { nav_link(Route::Playground, "Playground", shortcuts::key_for_page(Page::Playground)) }
                    { nav_link(Route::Compose, "Compose", shortcuts::key_for_page(Page::Compose)) }
                    { nav_link(Route::Images, "Images", None) }
                    { nav_link(Route::Containers, "Containers", shortcuts::key_for_page(Page::Containers)) }
                    { nav_link(Route::Networks, "Networks", None) }
                    { nav_link(Route::Volumes, "Volumes", None) }
                    { nav_link(Route::Security, "Security", None) }
                    { nav_link(Route::Routes, "Routes", None) }
                    <p class="sidebar-help">
                        { for shortcuts::page_hints(page_of(&route)).map(|hint| html! { <>{ hint }{ " " }</> }) }
                        { "The docker CLI works against the same daemon. " }
                        <button class="link-button show-shortcuts" onclick={open_shortcuts}>
                            <kbd>{ "?" }</kbd>{ " all shortcuts" }
                        </button>
                    </p>
                </nav>
                <main class="content">{ page }</main>
                if *show_shortcuts { <ShortcutsOverlay on_close={close_shortcuts} /> }
            </div>
        </ContextProvider<BuildHandle>>
        </ContextProvider<ProjectHandle>>
    }
}

/// The page a route shows, as the shortcut table names pages.
fn page_of(route: &Route) -> Page {
    match route {
        Route::Playground => Page::Playground,
        Route::Compose => Page::Compose,
        Route::Containers | Route::Container { .. } => Page::Containers,
        _ => Page::Any,
    }
}

fn route_of(page: Page) -> Option<Route> {
    match page {
        Page::Playground => Some(Route::Playground),
        Page::Compose => Some(Route::Compose),
        Page::Containers => Some(Route::Containers),
        Page::Any => None,
    }
}

fn shortcut(
    event: &KeyboardEvent,
    project: &ProjectHandle,
    build: &BuildHandle,
    route: &Route,
    show_shortcuts: &UseStateHandle<bool>,
) {
    // Alt changes the character on some layouts (Alt+2 is "@" on a Mac): digits are taken from the key's code.
    let key = match event.code().strip_prefix("Digit") {
        Some(digit) if event.alt_key() => digit.to_string(),
        _ => event.key(),
    };
    let press = KeyPress {
        key: &key,
        control: event.ctrl_key() || event.meta_key(),
        alt: event.alt_key(),
        typing: is_typing_target(event),
    };
    let Some(found) = shortcuts::find(press, page_of(route)) else { return };
    match found.action {
        ShortcutAction::Build => {
            // The editor handles its own Ctrl+Enter and marks the event handled; this covers focus anywhere else
            // on the page. (The build handle here may not yet show a build the editor just started.)
            if !event.default_prevented() {
                event.prevent_default();
                crate::build_runner::start(project, build);
            }
        }
        ShortcutAction::InEditor => {}
        ShortcutAction::ShowShortcuts => {
            event.prevent_default();
            show_shortcuts.set(true);
        }
        ShortcutAction::CloseOverlay => show_shortcuts.set(false),
        ShortcutAction::Focus { page, selector } => {
            event.prevent_default();
            if let Some(target) = route_of(page).filter(|target| target != route) {
                route::go(&target);
            }
            // After a route change the element appears on the next render.
            gloo_timers::callback::Timeout::new(50, move || focus_first(selector)).forget();
        }
        ShortcutAction::FocusTerminal => {
            event.prevent_default();
            focus_first(".xterm-helper-textarea");
        }
    }
}

/// Whether the key goes into text: an input, a text area or the editor (contenteditable).
fn is_typing_target(event: &KeyboardEvent) -> bool {
    let Some(element) = event.target().and_then(|target| target.dyn_into::<HtmlElement>().ok()) else { return false };
    let tag = element.tag_name().to_ascii_lowercase();
    tag == "input" || tag == "textarea" || tag == "select" || element.is_content_editable()
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
