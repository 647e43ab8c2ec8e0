//! A container's logs: follows live, with a search box, a timestamps toggle, a tail size and a download.
//! The body is Docker's multiplexed stream (or raw bytes with a tty), parsed as it arrives.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::api::containers::LogOptions;
use crate::components::error_note::ErrorNote;
use crate::logic::log_frames::{LogLine, LogParser, LogStream};

/// Lines kept in the page; older ones are dropped (the download asks the daemon for everything).
const MAX_LINES: usize = 10_000;

#[derive(Properties, PartialEq)]
pub struct LogsProps {
    pub id: AttrValue,
    /// Whether the container has a tty (then its log stream is raw, not multiplexed).
    pub tty: bool,
}

#[derive(Default, Clone, PartialEq)]
struct LogBuffer {
    lines: Vec<LogLine>,
    error: Option<String>,
    ended: bool,
}

enum LogEvent {
    Reset,
    Lines(Vec<LogLine>),
    Error(String),
    Ended,
}

impl Reducible for LogBuffer {
    type Action = LogEvent;

    fn reduce(self: Rc<Self>, event: LogEvent) -> Rc<Self> {
        let mut buffer = match event {
            LogEvent::Reset => return Rc::new(LogBuffer::default()),
            _ => Rc::unwrap_or_clone(self),
        };
        match event {
            LogEvent::Lines(lines) => {
                buffer.lines.extend(lines);
                let excess = buffer.lines.len().saturating_sub(MAX_LINES);
                buffer.lines.drain(..excess);
            }
            LogEvent::Error(error) => buffer.error = Some(error),
            LogEvent::Ended => buffer.ended = true,
            LogEvent::Reset => {}
        }
        Rc::new(buffer)
    }
}

#[function_component(Logs)]
pub fn logs(props: &LogsProps) -> Html {
    let buffer = use_reducer(LogBuffer::default);
    let follow = use_state(|| true);
    let timestamps = use_state(|| false);
    let tail = use_state(|| "500".to_string());
    let search = use_state(String::new);
    // Bumped to stop the running stream: the task checks it after every chunk.
    let generation = use_mut_ref(|| 0_u32);

    {
        let buffer = buffer.clone();
        let generation = generation.clone();
        let deps = (props.id.clone(), props.tty, *follow, *timestamps, (*tail).clone());
        use_effect_with(deps, move |(id, tty, follow, timestamps, tail)| {
            let mine = {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
                *current
            };
            buffer.dispatch(LogEvent::Reset);
            let options = LogOptions { follow: *follow, timestamps: *timestamps, tail: tail.trim().parse().ok() };
            let (id, tty, generation_for_task) = (id.to_string(), *tty, generation.clone());
            spawn_local(async move {
                let mut body = match api::containers::logs(&id, &options).await {
                    Ok(body) => body,
                    Err(error) => return buffer.dispatch(LogEvent::Error(error.to_string())),
                };
                let mut parser = LogParser::new(tty);
                loop {
                    if *generation_for_task.borrow() != mine {
                        // Dropping the body aborts the request.
                        return;
                    }
                    match body.next().await {
                        Ok(Some(chunk)) => {
                            let lines = parser.push(&chunk);
                            if !lines.is_empty() && *generation_for_task.borrow() == mine {
                                buffer.dispatch(LogEvent::Lines(lines));
                            }
                        }
                        Ok(None) => break,
                        Err(error) => {
                            buffer.dispatch(LogEvent::Error(error.to_string()));
                            return;
                        }
                    }
                }
                buffer.dispatch(LogEvent::Lines(parser.finish()));
                buffer.dispatch(LogEvent::Ended);
            });
            move || {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
            }
        });
    }

    let toggle = |state: &UseStateHandle<bool>| {
        let state = state.clone();
        Callback::from(move |_: Event| state.set(!*state))
    };
    let on_tail = {
        let tail = tail.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<web_sys::HtmlSelectElement>() {
                tail.set(select.value());
            }
        })
    };
    let on_search = {
        let search = search.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                search.set(input.value());
            }
        })
    };
    let download = {
        let (buffer, id) = (buffer.clone(), props.id.clone());
        Callback::from(move |_: MouseEvent| {
            let text: String = buffer.lines.iter().map(|line| format!("{}\n", line.text)).collect();
            download_text(&format!("{}.log", crate::logic::format::short_id(&id)), &text);
        })
    };

    let needle = search.to_lowercase();
    let shown: Vec<&LogLine> =
        buffer.lines.iter().filter(|line| needle.is_empty() || line.text.to_lowercase().contains(&needle)).collect();

    html! {
        <div class="logs">
            <div class="toolbar">
                <input type="search" placeholder="Search" aria-label="Search the logs" value={(*search).clone()}
                       oninput={on_search} />
                <label><input type="checkbox" checked={*follow} onchange={toggle(&follow)} />{ " Follow" }</label>
                <label><input type="checkbox" checked={*timestamps} onchange={toggle(&timestamps)} />
                    { " Timestamps" }</label>
                <label>{ "Last " }
                    <select onchange={on_tail} aria-label="Lines from the end">
                        { for ["100", "500", "2000", "all"].iter().map(|value| html! {
                            <option value={*value} selected={*tail == *value}>{ *value }</option>
                        }) }
                    </select>
                </label>
                <button onclick={download}>{ "Download" }</button>
                <span class="muted">{ format!("{} of {} lines", shown.len(), buffer.lines.len()) }</span>
            </div>
            if let Some(error) = &buffer.error { <ErrorNote doing="Reading the logs" error={error.clone()} /> }
            <pre class="log-lines" aria-label="Log output">
                { for shown.iter().map(|line| html! {
                    <div class={classes!("log-line", (line.stream == LogStream::Stderr).then_some("stderr"))}>
                        { line.text.clone() }
                    </div>
                }) }
            </pre>
            if buffer.ended && *follow { <p class="muted">{ "The log stream ended (the container stopped)." }</p> }
        </div>
    }
}

fn download_text(file_name: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/plain");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let anchor = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.create_element("a").ok())
        .and_then(|element| element.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(anchor) = anchor {
        anchor.set_href(&url);
        anchor.set_download(file_name);
        anchor.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
