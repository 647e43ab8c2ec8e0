//! What the terminal tab shows for a container whose process has ended: its exit code, the last lines it wrote
//! and "Run again interactively" (the same image and command with `-it`, the usual fix for a shell that exited
//! because nothing was attached), instead of a terminal that can only say Disconnected.

use bollard_stubs::models::{ContainerCreateBody, ContainerInspectResponse};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::LogOptions;
use crate::components::error_note::ErrorNote;
use crate::logic::log_frames::LogParser;
use crate::route::{self, ContainerTab, Route};

/// Lines of output shown: enough to read an error message, few enough to fit above the button.
const LAST_LINES: u32 = 20;

#[derive(Properties, PartialEq)]
pub struct ExitedPanelProps {
    pub container: ContainerInspectResponse,
}

#[function_component(ExitedPanel)]
pub fn exited_panel(props: &ExitedPanelProps) -> Html {
    let id = props.container.id.clone().unwrap_or_default();
    let config = props.container.config.clone().unwrap_or_default();
    let state = props.container.state.clone().unwrap_or_default();
    let lines = use_state(|| None::<Result<Vec<String>, String>>);
    let error = use_state(|| None::<String>);
    let starting = use_state(|| false);
    {
        let (lines, tty) = (lines.clone(), config.tty.unwrap_or(false));
        use_effect_with(id.clone(), move |id| {
            let id = id.clone();
            spawn_local(async move {
                lines.set(Some(last_lines(&id, tty).await.map_err(|problem| problem.to_string())));
            });
        });
    }
    let run_again = {
        let (config, error, starting) = (config.clone(), error.clone(), starting.clone());
        Callback::from(move |_: MouseEvent| {
            let body = ContainerCreateBody {
                image: config.image.clone(),
                cmd: config.cmd.clone(),
                entrypoint: config.entrypoint.clone(),
                env: config.env.clone(),
                working_dir: config.working_dir.clone(),
                user: config.user.clone(),
                tty: Some(true),
                open_stdin: Some(true),
                ..ContainerCreateBody::default()
            };
            let (error, starting) = (error.clone(), starting.clone());
            starting.set(true);
            spawn_local(async move {
                match api::containers::run(None, &body).await {
                    Ok(id) => route::go(&Route::Container { id, tab: ContainerTab::Terminal }),
                    Err(problem) => {
                        error.set(Some(problem.to_string()));
                        starting.set(false);
                    }
                }
            });
        })
    };
    let exit_code = state.exit_code.unwrap_or(0);
    html! {
        <div class="exited-panel" data-exit-code={exit_code.to_string()}>
            <p class="exit-summary">
                <strong>{ format!("The container's process exited with code {exit_code}") }</strong>
                if let Some(problem) = state.error.as_deref().filter(|problem| !problem.is_empty()) {
                    { format!(": {problem}") }
                }
            </p>
            <h3>{ "Its last output" }</h3>
            { match &*lines {
                None => html! { <p class="muted">{ "Reading its logs…" }</p> },
                Some(Err(problem)) => html! { <ErrorNote doing="Reading the logs" error={problem.clone()} /> },
                Some(Ok(lines)) if lines.is_empty() => html! { <p class="muted">{ "It wrote nothing." }</p> },
                Some(Ok(lines)) => html! {
                    <pre class="last-lines">{ for lines.iter().map(|line| html! { <div>{ line }</div> }) }</pre>
                },
            } }
            if let Some(problem) = &*error { <ErrorNote doing="Starting it again" error={problem.clone()} /> }
            <div class="actions">
                <button class="primary run-again" onclick={run_again} disabled={*starting}>
                    { if *starting { "Starting…" } else { "Run again interactively" } }
                </button>
                <span class="muted">{ "The same image and command, with a terminal attached (-it)." }</span>
            </div>
        </div>
    }
}

async fn last_lines(id: &str, tty: bool) -> Result<Vec<String>, api::DaemonError> {
    let options = LogOptions { follow: false, timestamps: false, tail: Some(LAST_LINES) };
    let mut body = api::containers::logs(id, &options).await?;
    let mut parser = LogParser::new(tty);
    let mut lines = Vec::new();
    while let Some(chunk) = body.next().await? {
        lines.extend(parser.push(&chunk).into_iter().map(|line| line.text));
    }
    lines.extend(parser.finish().into_iter().map(|line| line.text));
    Ok(lines)
}
