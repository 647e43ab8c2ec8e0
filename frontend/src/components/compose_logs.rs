//! The logs of every container of a compose project in one list, merged by time and prefixed with the service,
//! like `docker compose logs -f`: each container's last lines, then what they write as they write it (Follow live,
//! on by default; off reads the last lines once).

use std::cell::RefCell;
use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::LogOptions;
use crate::components::error_note::ErrorNote;
use crate::logic::log_frames::{LogLine, LogParser, LogStream};
use crate::logic::merged_logs::{merge, MergedLine};

/// Lines read from the end of each container's log.
const TAIL: u32 = 500;
/// Lines kept of each container while following.
const KEEP_PER_CONTAINER: usize = 2000;

/// A service's name and its container's lines so far.
type ServiceLines = (String, Vec<LogLine>);

#[derive(Properties, PartialEq)]
pub struct ComposeLogsProps {
    /// (container id, service, tty) of each container.
    pub containers: Rc<Vec<(String, String, bool)>>,
}

#[function_component(ComposeLogs)]
pub fn compose_logs(props: &ComposeLogsProps) -> Html {
    let lines = use_state(|| Rc::new(Vec::<MergedLine>::new()));
    let error = use_state(|| None::<String>);
    let follow = use_state(|| true);
    // Bumped to stop the running streams: each task checks it after every chunk.
    let generation = use_mut_ref(|| 0_u32);

    {
        let (lines, error, generation) = (lines.clone(), error.clone(), generation.clone());
        use_effect_with((props.containers.clone(), *follow), move |(containers, follow)| {
            let mine = {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
                *current
            };
            // Every container's lines so far, merged again after each chunk of any of them.
            let received: Rc<RefCell<Vec<ServiceLines>>> =
                Rc::new(RefCell::new(containers.iter().map(|(_, service, _)| (service.clone(), Vec::new())).collect()));
            error.set(None);
            lines.set(Rc::new(Vec::new()));
            let follow = *follow;
            for (index, (id, service, tty)) in containers.iter().cloned().enumerate() {
                let (lines, error, generation, received) =
                    (lines.clone(), error.clone(), generation.clone(), received.clone());
                spawn_local(async move {
                    let options = LogOptions { follow, timestamps: true, tail: Some(TAIL) };
                    let mut body = match api::containers::logs(&id, &options).await {
                        Ok(body) => body,
                        Err(failure) => return error.set(Some(format!("{service}: {failure}"))),
                    };
                    let mut parser = LogParser::new(tty);
                    while *generation.borrow() == mine {
                        let (new_lines, ended) = match body.next().await {
                            Ok(Some(chunk)) => (parser.push(&chunk), false),
                            Ok(None) => (parser.finish(), true),
                            Err(failure) => return error.set(Some(format!("{service}: {failure}"))),
                        };
                        if !new_lines.is_empty() && *generation.borrow() == mine {
                            if let Some((_, container_lines)) = received.borrow_mut().get_mut(index) {
                                container_lines.extend(new_lines);
                                let keep = container_lines.len().saturating_sub(KEEP_PER_CONTAINER);
                                container_lines.drain(..keep);
                            }
                            lines.set(Rc::new(merge(received.borrow().clone())));
                        }
                        if ended {
                            break;
                        }
                    }
                });
            }
            move || {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
            }
        });
    }

    let on_follow = {
        let follow = follow.clone();
        Callback::from(move |_: Event| follow.set(!*follow))
    };
    let width = props.containers.iter().map(|(_, service, _)| service.len()).max().unwrap_or(0);
    html! {
        <div class="logs compose-logs">
            <div class="toolbar">
                <label class="follow-toggle">
                    <input type="checkbox" checked={*follow} onchange={on_follow} />{ " Follow live" }
                </label>
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
