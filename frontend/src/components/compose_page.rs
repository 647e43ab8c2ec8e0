//! The compose page: a docker-compose.yml in the editor, checked by berth-shared's compose loader as you type
//! (inline and as a list with line:column), the services as a graph, Up and Down with progress per service, and
//! the project's containers with their state, published ports as links, a terminal and logs for each (or the
//! logs of all of them merged).
//!
//! The text and project name are kept in localStorage, like the Dockerfile project.

use std::collections::BTreeMap;
use std::rc::Rc;

use berth_shared::api::compose::ComposeProgress;
use berth_shared::compose::normalize_project_name;
use bollard_stubs::models::ContainerSummary;
use serde::{Deserialize, Serialize};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::compose::LABEL_SERVICE;
use crate::components::code_editor::CodeEditorView;
use crate::components::compose_graph_view::ComposeGraphView;
use crate::components::compose_logs::ComposeLogs;
use crate::components::error_note::ErrorNote;
use crate::components::logs::Logs;
use crate::components::terminal::TerminalView;
use crate::logic::compose_check::{check_compose, COMPOSE_FILE};
use crate::logic::compose_graph::{graph_of, Graph};
use crate::logic::compose_run::{ComposeRun, RunKind, RunState};
use crate::logic::tar::{write_archive, TarEntry};
use crate::store::local_storage;

const DRAFT_KEY: &str = "berth.compose";
/// How often the containers of the project are listed again.
const POLL_MS: u32 = 2_000;

const EXAMPLE: &str = r#"# Two services on the project's network: web serves a page, worker fetches it by name.
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
      - "80"
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do wget -qO- http://web/; sleep 5; done"]
    depends_on:
      - web
    links:
      - web
"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Draft {
    project: String,
    text: String,
}

impl Draft {
    fn load() -> Draft {
        local_storage()
            .and_then(|storage| storage.get_item(DRAFT_KEY).ok().flatten())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_else(|| Draft { project: "playground".into(), text: EXAMPLE.into() })
    }

    fn save(&self) {
        if let (Some(storage), Ok(json)) = (local_storage(), serde_json::to_string(self)) {
            // A full storage only costs persistence across reloads.
            let _ = storage.set_item(DRAFT_KEY, &json);
        }
    }
}

/// The last up or down, as the page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
struct RunView(Option<ComposeRun>);

enum RunAction {
    Start(RunKind),
    Event(ComposeProgress),
    Fail(String),
    End,
}

impl Reducible for RunView {
    type Action = RunAction;

    fn reduce(self: Rc<Self>, action: RunAction) -> Rc<Self> {
        let mut view = (*self).clone();
        match (action, view.0.as_mut()) {
            (RunAction::Start(kind), _) => view.0 = Some(ComposeRun::started(kind)),
            (RunAction::Event(event), Some(run)) => {
                run.apply(event);
                run.mark_stopping(crate::store::now_ms());
            }
            (RunAction::Fail(error), Some(run)) => run.fail(error),
            (RunAction::End, Some(run)) => run.end(),
            (_, None) => return self,
        }
        Rc::new(view)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Panel {
    Terminal { id: String, name: String },
    Logs { id: String, name: String, tty: bool },
    AllLogs,
}

fn container_name(summary: &ContainerSummary) -> String {
    summary
        .names
        .as_ref()
        .and_then(|names| names.first())
        .map(|name| name.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

fn service_of(summary: &ContainerSummary) -> String {
    summary.labels.as_ref().and_then(|labels| labels.get(LABEL_SERVICE)).cloned().unwrap_or_default()
}

fn state_of(summary: &ContainerSummary) -> String {
    summary.state.map(|state| state.to_string()).unwrap_or_default()
}

/// `http://HOST:PORT/` for each published port; 0.0.0.0 and :: mean "this host", i.e. the page's.
fn port_links(summary: &ContainerSummary) -> Vec<(String, String)> {
    let page_host = web_sys::window().and_then(|window| window.location().hostname().ok()).unwrap_or_default();
    let mut links: Vec<(String, String)> = summary
        .ports
        .iter()
        .flatten()
        .filter_map(|port| {
            let public = port.public_port?;
            let host = match port.ip.as_deref() {
                None | Some("") | Some("0.0.0.0") | Some("::") => page_host.clone(),
                Some(ip) if ip.contains(':') => format!("[{ip}]"),
                Some(ip) => ip.to_string(),
            };
            Some((format!("http://{host}:{public}/"), format!("{public}→{}", port.private_port)))
        })
        .collect();
    links.sort();
    links.dedup();
    links
}

#[function_component(ComposePage)]
pub fn compose_page() -> Html {
    let draft = use_state(Draft::load);
    // Bumped when the text is replaced from outside the editor (the example button).
    let revision = use_state(|| 0_u32);
    let run = use_reducer(RunView::default);
    let containers = use_state(|| Rc::new(Vec::<ContainerSummary>::new()));
    let list_error = use_state(|| None::<String>);
    let panel = use_state(|| None::<Panel>);
    // Bumped to list the containers now (after an up or down finishes).
    let refresh = use_state(|| 0_u32);
    // Down removes the named volumes only when this is ticked.
    let remove_volumes = use_state(|| false);
    // Ticks once a quarter second while a down is stopping services, for the countdown.
    let tick = use_state(|| 0_u32);
    let stopping = run.0.as_ref().is_some_and(|run| {
        run.state == RunState::Running && run.services.iter().any(|row| row.stopping_since.is_some())
    });
    {
        let tick = tick.clone();
        use_effect_with(stopping, move |stopping| {
            let interval = stopping.then(|| {
                let tick = tick.clone();
                gloo_timers::callback::Interval::new(250, move || tick.set(tick.wrapping_add(1)))
            });
            move || drop(interval)
        });
    }

    {
        let draft = draft.clone();
        use_effect_with(draft, |draft| draft.save());
    }
    let check = use_memo((draft.text.clone(), draft.project.clone()), |(text, project)| check_compose(text, project));
    let graph: Rc<Graph> = use_memo(check.clone(), |check| check.project.as_ref().map(graph_of).unwrap_or_default());
    let diagnostics = use_memo(check.clone(), |check| check.diagnostics.clone());
    let project_name = check.project.as_ref().map(|project| project.name.clone());

    // The project's containers, listed now and every POLL_MS while the page is open.
    {
        let containers = containers.clone();
        let list_error = list_error.clone();
        // As compose names it (lowercased, filtered), so the label filter matches what `up` made.
        let name = normalize_project_name(draft.project.trim()).unwrap_or_default();
        use_effect_with((name, *refresh), move |(name, _)| {
            let name = name.clone();
            let list = move || {
                let (containers, list_error, name) = (containers.clone(), list_error.clone(), name.clone());
                spawn_local(async move {
                    match api::compose::containers(&name).await {
                        Ok(mut list) => {
                            list.sort_by_key(|summary| (service_of(summary), container_name(summary)));
                            if **containers != list {
                                containers.set(Rc::new(list));
                            }
                            if list_error.is_some() {
                                list_error.set(None);
                            }
                        }
                        Err(error) => list_error.set(Some(error.to_string())),
                    }
                });
            };
            list();
            let interval = gloo_timers::callback::Interval::new(POLL_MS, list);
            move || drop(interval)
        });
    }

    let on_change = {
        let draft = draft.clone();
        Callback::from(move |text: String| draft.set(Draft { text, ..(*draft).clone() }))
    };
    let on_project = {
        let draft = draft.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                draft.set(Draft { project: input.value(), ..(*draft).clone() });
            }
        })
    };
    let load_example = {
        let (draft, revision) = (draft.clone(), revision.clone());
        Callback::from(move |_: MouseEvent| {
            draft.set(Draft { text: EXAMPLE.into(), ..(*draft).clone() });
            revision.set(revision.wrapping_add(1));
        })
    };
    let running = matches!(run.0.as_ref().map(|run| &run.state), Some(RunState::Running));
    let up = {
        let (draft, run, refresh, check) = (draft.clone(), run.clone(), refresh.clone(), check.clone());
        Callback::from(move |()| {
            if matches!(run.0.as_ref().map(|run| &run.state), Some(RunState::Running)) {
                return;
            }
            run.dispatch(RunAction::Start(RunKind::Up));
            let Some(project) = check.project.as_ref() else {
                let errors = check.errors();
                run.dispatch(RunAction::Fail(format!(
                    "the compose file has {errors} error(s); fix them first (they are listed under the editor)"
                )));
                return;
            };
            let entries = [TarEntry { path: COMPOSE_FILE, contents: draft.text.as_bytes(), mode: 0o644 }];
            let archive = match write_archive(&entries) {
                Ok(archive) => archive,
                Err(error) => return run.dispatch(RunAction::Fail(error.to_string())),
            };
            let (name, run, refresh) = (project.name.clone(), run.clone(), refresh.clone());
            spawn_local(async move {
                let sink = run.clone();
                match api::compose::up(&name, &archive, move |event| sink.dispatch(RunAction::Event(event))).await {
                    Ok(()) => run.dispatch(RunAction::End),
                    Err(error) => run.dispatch(RunAction::Fail(error.to_string())),
                }
                refresh.set(refresh.wrapping_add(1));
            });
        })
    };
    let on_up = {
        let up = up.clone();
        Callback::from(move |_: MouseEvent| up.emit(()))
    };
    let on_down = {
        let (run, refresh, panel, remove_volumes) = (run.clone(), refresh.clone(), panel.clone(), *remove_volumes);
        let name =
            project_name.clone().unwrap_or_else(|| normalize_project_name(draft.project.trim()).unwrap_or_default());
        Callback::from(move |_: MouseEvent| {
            if matches!(run.0.as_ref().map(|run| &run.state), Some(RunState::Running)) {
                return;
            }
            run.dispatch(RunAction::Start(RunKind::Down));
            panel.set(None);
            let (name, run, refresh) = (name.clone(), run.clone(), refresh.clone());
            spawn_local(async move {
                let sink = run.clone();
                match api::compose::down(&name, remove_volumes, move |event| sink.dispatch(RunAction::Event(event)))
                    .await
                {
                    Ok(()) => run.dispatch(RunAction::End),
                    Err(error) => run.dispatch(RunAction::Fail(error.to_string())),
                }
                refresh.set(refresh.wrapping_add(1));
            });
        })
    };

    let on_remove_volumes = {
        let remove_volumes = remove_volumes.clone();
        Callback::from(move |_: Event| remove_volumes.set(!*remove_volumes))
    };
    // Kill now: SIGKILL to every running container of the project, which ends their stops' grace periods.
    let kill_now = {
        let containers = containers.clone();
        Callback::from(move |_: MouseEvent| {
            for summary in containers.iter().filter(|summary| state_of(summary) == "running") {
                let id = summary.id.clone().unwrap_or_default();
                spawn_local(async move {
                    // A container that stopped meanwhile answers 409: nothing left to kill.
                    let _ = api::containers::action(&id, api::containers::Action::Kill).await;
                });
            }
        })
    };
    let countdown = run
        .0
        .as_ref()
        .filter(|_| stopping)
        .and_then(|run| run.seconds_to_kill(crate::store::now_ms(), api::compose::STOP_GRACE_SECONDS));
    let states: Rc<BTreeMap<String, String>> =
        Rc::new(containers.iter().map(|summary| (service_of(summary), state_of(summary))).collect::<BTreeMap<_, _>>());
    let tty_of = |service: &str| {
        check
            .project
            .as_ref()
            .and_then(|project| project.services.get(service))
            .and_then(|definition| definition.tty)
            .unwrap_or(false)
    };

    let problems = if check.diagnostics.is_empty() {
        html! { <div class="problems clean" aria-live="polite">{ "✓ No problems found" }</div> }
    } else {
        html! {
            <ul class="problems compose-problems" aria-label="Problems" aria-live="polite">
                { for check.diagnostics.iter().zip(&check.positions).map(|(diagnostic, (line, column))| html! {
                    <li class={classes!("problem", diagnostic.severity)} data-line={line.to_string()}
                        data-column={column.to_string()}>
                        <span class="line">{ format!("{line}:{column}") }</span>
                        <span class="message">{ diagnostic.message.clone() }</span>
                    </li>
                }) }
            </ul>
        }
    };

    let progress = run.0.as_ref().map(|run| {
        let (state, note) = match &run.state {
            RunState::Running => {
                ("running", html! { <span class="muted">{ format!("compose {}…", run.kind.label()) }</span> })
            }
            RunState::Succeeded => {
                ("succeeded", html! { <span class="ok">{ format!("compose {} done", run.kind.label()) }</span> })
            }
            RunState::Failed(error) => (
                "failed",
                html! { <ErrorNote doing={format!("compose {}", run.kind.label())} error={error.clone()} /> },
            ),
        };
        html! {
            <div class="compose-progress" data-kind={run.kind.label()} data-state={state}>
                { note }
                <ul class="compose-steps">
                    { for run.services.iter().map(|row| html! {
                        <li class="compose-step" data-service={row.service.clone()} data-step={row.step.label()}>
                            <span class="service">{ row.service.clone() }</span>
                            <span class="container muted">{ row.container.clone().unwrap_or_default() }</span>
                            <span class={classes!("step", format!("step-{}", row.step.label().replace(' ', "-")))}>
                                { row.step.label() }
                            </span>
                            if let Some(message) = &row.message { <span class="bad">{ message.clone() }</span> }
                        </li>
                    }) }
                </ul>
                if !run.output.is_empty() {
                    <details class="compose-output">
                        <summary>{ format!("What compose said ({} lines)", run.output.len()) }</summary>
                        <pre>{ run.output.join("\n") }</pre>
                    </details>
                }
            </div>
        }
    });

    let rows = containers.iter().map(|summary| {
        let (id, name, service, state) =
            (summary.id.clone().unwrap_or_default(), container_name(summary), service_of(summary), state_of(summary));
        let open_terminal = {
            let (panel, id, name) = (panel.clone(), id.clone(), name.clone());
            Callback::from(move |_: MouseEvent| panel.set(Some(Panel::Terminal { id: id.clone(), name: name.clone() })))
        };
        let open_logs = {
            let (panel, id, name, tty) = (panel.clone(), id.clone(), name.clone(), tty_of(&service));
            Callback::from(move |_: MouseEvent| panel.set(Some(Panel::Logs { id: id.clone(), name: name.clone(), tty })))
        };
        let is_running = state == "running";
        html! {
            <tr data-service={service.clone()} data-state={state.clone()}>
                <td>{ service.clone() }</td>
                <td><a href={crate::route::Route::Container { id: id.clone(), tab: crate::route::ContainerTab::Inspect }.href()}>
                    { name.clone() }</a></td>
                <td><span class={classes!("state", state.clone())}>{ state.clone() }</span>
                    <span class="muted">{ format!(" {}", summary.status.clone().unwrap_or_default()) }</span></td>
                <td class="ports">
                    { for port_links(summary).into_iter().map(|(href, label)| html! {
                        <a class="port-link" href={href} target="_blank" rel="noopener">{ label }</a>
                    }) }
                </td>
                <td class="actions">
                    <button class="terminal-button" onclick={open_terminal} disabled={!is_running}
                            title="A shell in this container">{ "Terminal" }</button>
                    <button class="logs-button" onclick={open_logs}>{ "Logs" }</button>
                </td>
            </tr>
        }
    });
    let all_logs = {
        let panel = panel.clone();
        Callback::from(move |_: MouseEvent| panel.set(Some(Panel::AllLogs)))
    };
    let container_ids: Rc<Vec<(String, String, bool)>> = Rc::new(
        containers
            .iter()
            .filter_map(|summary| Some((summary.id.clone()?, service_of(summary), tty_of(&service_of(summary)))))
            .collect(),
    );
    let panel_view = match &*panel {
        None => html! {},
        Some(Panel::Terminal { id, name }) => html! {
            <div class="compose-panel" data-panel="terminal">
                <h3>{ format!("Terminal: {name}") }</h3>
                <TerminalView key={id.clone()} container={Some(id.clone())} session={None::<String>} readonly={false} />
            </div>
        },
        Some(Panel::Logs { id, name, tty }) => html! {
            <div class="compose-panel" data-panel="logs">
                <h3>{ format!("Logs: {name}") }</h3>
                <Logs key={id.clone()} id={id.clone()} tty={*tty} />
            </div>
        },
        Some(Panel::AllLogs) => html! {
            <div class="compose-panel" data-panel="all-logs">
                <h3>{ "Logs of every service, merged by time" }</h3>
                <ComposeLogs containers={container_ids.clone()} />
            </div>
        },
    };

    html! {
        <section class="page compose-page">
            <div class="playground-head">
                <h1>{ "Compose" }</h1>
                <label class="compose-project">
                    { "Project " }
                    <input value={draft.project.clone()} oninput={on_project} aria-label="Project name"
                           spellcheck="false" />
                </label>
                <button onclick={load_example}>{ "Load the example" }</button>
            </div>
            <div class="compose-grid">
                <div class="editor-column">
                    <div class="editor-title">{ COMPOSE_FILE }</div>
                    <CodeEditorView
                        file_name={COMPOSE_FILE}
                        text={draft.text.clone()}
                        language="yaml"
                        revision={*revision}
                        diagnostics={diagnostics}
                        on_change={on_change}
                        on_submit={up} />
                    { problems }
                </div>
                <div class="compose-side">
                    <div class="compose-actions">
                        <button id="compose-up" class="primary" onclick={on_up} disabled={running}>{ "Up" }</button>
                        <button id="compose-down" onclick={on_down} disabled={running}>{ "Down" }</button>
                        <label class="remove-volumes">
                            <input type="checkbox" checked={*remove_volumes} onchange={on_remove_volumes} />
                            { " remove volumes (the data in the project's named volumes)" }
                        </label>
                        <span class="muted">{ "Ctrl+Enter in the editor runs Up." }</span>
                    </div>
                    if let Some(seconds) = countdown {
                        <div class="stop-countdown" role="status" data-seconds={seconds.to_string()}>
                            <span>{ format!("Stopping, dependents first: SIGKILL in {seconds} s") }</span>
                            <button class="danger kill-now" onclick={kill_now}>{ "Kill now" }</button>
                        </div>
                    }
                    <h2>{ "Services" }</h2>
                    if check.project.is_some() {
                        <ComposeGraphView graph={graph.clone()} states={states} />
                    } else {
                        <p class="muted">{ "The graph shows once the file has no errors." }</p>
                    }
                    { progress.unwrap_or_default() }
                </div>
            </div>
            <h2>{ "Containers" }</h2>
            if let Some(error) = &*list_error { <ErrorNote doing="Listing the project's containers" error={error.clone()} /> }
            if containers.is_empty() {
                <p class="muted">{ "No containers in this project yet: press Up." }</p>
            } else {
                <table class="compose-containers">
                    <thead><tr><th>{ "Service" }</th><th>{ "Container" }</th><th>{ "State" }</th>
                        <th>{ "Ports" }</th><th></th></tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                <button class="all-logs-button" onclick={all_logs}>{ "Logs of all services" }</button>
            }
            { panel_view }
        </section>
    }
}
