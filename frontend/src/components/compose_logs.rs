//! The logs of every container of a compose project in one list, merged by time and prefixed with the service,
//! like `docker compose logs`. Read on open and on Refresh (each container's last lines), not followed.

use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::LogOptions;
use crate::components::error_note::ErrorNote;
use crate::logic::log_frames::{LogParser, LogStream};
use crate::logic::merged_logs::{merge, MergedLine};

/// Lines read from the end of each container's log.
const TAIL: u32 = 500;

#[derive(Properties, PartialEq)]
pub struct ComposeLogsProps {
    /// (container id, service, tty) of each container.
    pub containers: Rc<Vec<(String, String, bool)>>,
}

#[function_component(ComposeLogs)]
pub fn compose_logs(props: &ComposeLogsProps) -> Html {
    let lines = use_state(|| Rc::new(Vec::<MergedLine>::new()));
    let error = use_state(|| None::<String>);
    let generation = use_state(|| 0_u32);

    {
        let (lines, error) = (lines.clone(), error.clone());
        use_effect_with((props.containers.clone(), *generation), move |(containers, _)| {
            let containers = containers.clone();
            spawn_local(async move {
                let mut per_container = Vec::new();
                let options = LogOptions { follow: false, timestamps: true, tail: Some(TAIL) };
                for (id, service, tty) in containers.iter() {
                    let mut body = match api::containers::logs(id, &options).await {
                        Ok(body) => body,
                        Err(failure) => return error.set(Some(format!("{service}: {failure}"))),
                    };
                    let mut parser = LogParser::new(*tty);
                    let mut container_lines = Vec::new();
                    loop {
                        match body.next().await {
                            Ok(Some(chunk)) => container_lines.extend(parser.push(&chunk)),
                            Ok(None) => break,
                            Err(failure) => return error.set(Some(format!("{service}: {failure}"))),
                        }
                    }
                    container_lines.extend(parser.finish());
                    per_container.push((service.clone(), container_lines));
                }
                error.set(None);
                lines.set(Rc::new(merge(per_container)));
            });
        });
    }

    let on_refresh = {
        let generation = generation.clone();
        Callback::from(move |_: MouseEvent| generation.set(generation.wrapping_add(1)))
    };
    let width = props.containers.iter().map(|(_, service, _)| service.len()).max().unwrap_or(0);
    html! {
        <div class="logs compose-logs">
            <div class="toolbar">
                <button onclick={on_refresh}>{ "Refresh" }</button>
                <span class="muted">{ format!("{} lines", lines.len()) }</span>
            </div>
            if let Some(failure) = &*error { <ErrorNote doing="Reading the logs" error={failure.clone()} /> }
            <pre class="log-lines" aria-label="Merged log output">
                { for lines.iter().map(|line| html! {
                    <div class={classes!("log-line", (line.stream == LogStream::Stderr).then_some("stderr"))}
                         title={line.timestamp.clone()}>
                        <span class="log-service">{ format!("{:width$} | ", line.service) }</span>
                        { line.text.clone() }
                    </div>
                }) }
            </pre>
        </div>
    }
}
