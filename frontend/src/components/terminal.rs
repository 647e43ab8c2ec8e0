//! A terminal in a container: xterm.js over the terminal websocket (protocol in berth_shared::api::terminal).
//!
//! The session id is kept in localStorage per container, so a reload rejoins the same shell and the daemon
//! replays its scrollback. Output is written to xterm with flow control: past a high-water mark of bytes xterm has
//! not processed yet, the client sends `pause`, and `resume` once it drains.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use berth_shared::api::terminal::{ClientMessage, ServerMessage};
use gloo_events::EventListener;
use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, MessageEvent, WebSocket};
use yew::prelude::*;

use crate::api::terminal::{websocket_url, TerminalTarget};
use crate::bindings::{to_js, FitAddon, Terminal};
use crate::route::Route;
use crate::store::local_storage;

/// Unprocessed bytes in xterm above which the server is asked to pause, and below which to resume.
const PAUSE_ABOVE: usize = 512 * 1024;
const RESUME_BELOW: usize = 64 * 1024;

fn session_key(container: &str) -> String {
    format!("berth.terminal.{container}")
}

#[derive(Properties, PartialEq)]
pub struct TerminalProps {
    /// The container to open a shell in (its remembered session is rejoined when there is one).
    pub container: Option<String>,
    /// A session to join directly (a shared link).
    pub session: Option<String>,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Connecting,
    Connected {
        session: String,
    },
    /// The socket closed under a live session: the daemon is probably restarting (its containers run on under
    /// their monitors), so the page waits for it and reconnects by itself.
    Reconnecting,
    Closed(String),
}

/// How long the page waits for a restarting daemon before it offers the Reconnect button instead.
const RECONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(60);
const RECONNECT_POLL_MS: u32 = 500;

/// Everything alive while the component is mounted; dropped (and disposed) on unmount.
struct Live {
    terminal: Terminal,
    fit: FitAddon,
    socket: Option<WebSocket>,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
    _on_data: Option<Closure<dyn FnMut(String)>>,
    _resize_listener: Option<EventListener>,
    _observer: Option<web_sys::ResizeObserver>,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            socket.set_onmessage(None);
            socket.set_onclose(None);
            let _ = socket.close();
        }
        if let Some(observer) = &self._observer {
            observer.disconnect();
        }
        self.terminal.dispose();
    }
}

fn send(socket: &WebSocket, message: &ClientMessage) {
    if socket.ready_state() == WebSocket::OPEN {
        if let Ok(json) = serde_json::to_string(message) {
            let _ = socket.send_with_str(&json);
        }
    }
}

#[function_component(TerminalView)]
pub fn terminal_view(props: &TerminalProps) -> Html {
    let host = use_node_ref();
    let status = use_state(|| Status::Connecting);
    // Bumped by "Reconnect" and by a remembered session that turned out to be gone.
    let attempt = use_state(|| 0_u32);
    let live: Rc<RefCell<Option<Live>>> = use_mut_ref(|| None);

    {
        let host = host.clone();
        let status = status.clone();
        let attempt_handle = attempt.clone();
        let live = live.clone();
        let (container, session, readonly) = (props.container.clone(), props.session.clone(), props.readonly);
        use_effect_with((container.clone(), session.clone(), readonly, *attempt), move |_| {
            *live.borrow_mut() = None;
            if let Some(element) = host.cast::<web_sys::HtmlElement>() {
                element.set_inner_html("");
                let mounted = connect(&element, container, session, readonly, status, attempt_handle);
                *live.borrow_mut() = Some(mounted);
            }
            let live = live.clone();
            move || *live.borrow_mut() = None
        });
    }

    let reconnect = {
        let attempt = attempt.clone();
        Callback::from(move |_: MouseEvent| attempt.set(attempt.wrapping_add(1)))
    };
    let status_line = match &*status {
        Status::Connecting => html! { <span class="muted">{ "Connecting…" }</span> },
        Status::Reconnecting => html! {
            <span class="notice reconnecting">{ "The daemon is restarting; the container keeps running. Reconnecting…" }</span>
        },
        Status::Connected { session } => {
            let share = Route::SharedTerminal { session: session.clone(), readonly: true }.href();
            html! {
                <>
                    <span class="ok" data-session={session.clone()}>{ "Connected" }</span>
                    if !props.readonly {
                        <a class="share-link" href={share} target="_blank" rel="noopener"
                           title="Opens this session for watching only">{ "Share read-only" }</a>
                    }
                </>
            }
        }
        Status::Closed(reason) => html! {
            <>
                <span class="bad">{ reason.clone() }</span>
                <button onclick={reconnect}>{ "Reconnect" }</button>
            </>
        },
    };
    html! {
        <div class="terminal-panel">
            <div class="terminal-status" aria-live="polite">{ status_line }</div>
            <div class="terminal-host" ref={host}></div>
        </div>
    }
}

fn connect(
    element: &web_sys::HtmlElement,
    container: Option<String>,
    session: Option<String>,
    readonly: bool,
    status: UseStateHandle<Status>,
    attempt: UseStateHandle<u32>,
) -> Live {
    let terminal = Terminal::new(&to_js(&serde_json::json!({
        "cursorBlink": !readonly,
        "disableStdin": readonly,
        "fontSize": 14,
        "fontFamily": "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
        "scrollback": 5000,
        "theme": {"background": "#0d1117", "foreground": "#e6edf3"},
    })));
    let fit = FitAddon::new();
    terminal.load_addon(&fit);
    terminal.open(element);
    let _ = fit.fit();
    let mut live = Live {
        terminal,
        fit,
        socket: None,
        _closures: Vec::new(),
        _on_data: None,
        _resize_listener: None,
        _observer: None,
    };

    let remembered = container.as_deref().and_then(|container| {
        local_storage().and_then(|storage| storage.get_item(&session_key(container)).ok().flatten())
    });
    let rejoining_remembered = session.is_none() && remembered.is_some();
    let target = match (&session, &remembered, &container) {
        (Some(session), _, _) => TerminalTarget::Session { session, readonly },
        (None, Some(session), _) => TerminalTarget::Session { session, readonly: false },
        (None, None, Some(container)) => TerminalTarget::NewShell { container },
        (None, None, None) => {
            status.set(Status::Closed("Nothing to connect to".into()));
            return live;
        }
    };
    let Some(url) = websocket_url(&target, live.terminal.rows(), live.terminal.cols()) else {
        status.set(Status::Closed("This page has no location to connect from".into()));
        return live;
    };
    let socket = match WebSocket::new(&url) {
        Ok(socket) => socket,
        Err(_) => {
            status.set(Status::Closed(format!("Could not open {url}")));
            return live;
        }
    };
    socket.set_binary_type(BinaryType::Arraybuffer);
    status.set(Status::Connecting);

    let terminal: Terminal = live.terminal.clone();
    let unprocessed = Rc::new(Cell::new(0_usize));
    let paused = Rc::new(Cell::new(false));
    // Whether the server said hello: an error before it means the remembered session is gone.
    let greeted = Rc::new(Cell::new(false));

    let on_message = {
        let (socket, terminal, status) = (socket.clone(), terminal.clone(), status.clone());
        let (unprocessed, paused, greeted) = (unprocessed.clone(), paused.clone(), greeted.clone());
        let (container, attempt) = (container.clone(), attempt.clone());
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let Ok(event) = event.dyn_into::<MessageEvent>() else { return };
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
                let bytes = Uint8Array::new(buffer);
                let length = bytes.length() as usize;
                unprocessed.set(unprocessed.get() + length);
                if !paused.get() && unprocessed.get() > PAUSE_ABOVE {
                    paused.set(true);
                    send(&socket, &ClientMessage::Pause);
                }
                let done = {
                    let (socket, unprocessed, paused) = (socket.clone(), unprocessed.clone(), paused.clone());
                    Closure::once_into_js(move || {
                        unprocessed.set(unprocessed.get().saturating_sub(length));
                        if paused.get() && unprocessed.get() < RESUME_BELOW {
                            paused.set(false);
                            send(&socket, &ClientMessage::Resume);
                        }
                    })
                };
                terminal.write_bytes(&bytes, &done);
                return;
            }
            let Some(text) = data.as_string() else { return };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Hello { session, container: container_id, .. }) => {
                    greeted.set(true);
                    if !readonly {
                        if let Some(storage) = local_storage() {
                            // Under both the name or id the page was opened with and the id the daemon resolved.
                            for key in [container.clone(), Some(container_id)].into_iter().flatten() {
                                let _ = storage.set_item(&session_key(&key), &session);
                            }
                        }
                    }
                    status.set(Status::Connected { session });
                }
                // The replay brings back the whole scrollback: start from a clean screen so it is not doubled.
                Ok(ServerMessage::ReplayStart) => terminal.reset(),
                Ok(ServerMessage::ReplayEnd) => {}
                Ok(ServerMessage::Dropped { bytes }) => {
                    terminal.write_text(&format!("\r\n\x1b[33m[{bytes} bytes of output skipped]\x1b[0m\r\n"));
                }
                Ok(ServerMessage::Exit { code }) => {
                    terminal.write_text(&format!("\r\n\x1b[2m[process exited with code {code}]\x1b[0m\r\n"));
                    if let (Some(container), Some(storage)) = (&container, local_storage()) {
                        let _ = storage.remove_item(&session_key(container));
                    }
                    status.set(Status::Closed(format!("The shell exited with code {code}")));
                }
                Ok(ServerMessage::Error { message }) => {
                    if rejoining_remembered && !greeted.get() {
                        // The daemon forgot the session (it restarted, or the shell ended): open a new shell.
                        if let (Some(container), Some(storage)) = (&container, local_storage()) {
                            let _ = storage.remove_item(&session_key(container));
                        }
                        attempt.set(attempt.wrapping_add(1));
                        return;
                    }
                    terminal.write_text(&format!("\r\n\x1b[31m{message}\x1b[0m\r\n"));
                    status.set(Status::Closed(message));
                }
                Err(_) => {}
            }
        })
    };
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    let on_close = {
        let status = status.clone();
        let attempt = attempt.clone();
        let greeted = greeted.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if matches!(*status, Status::Closed(_)) {
                return;
            }
            if !greeted.get() {
                status.set(Status::Closed("Disconnected".into()));
                return;
            }
            status.set(Status::Reconnecting);
            let (status, attempt) = (status.clone(), attempt.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let polls = RECONNECT_FOR.as_millis() as u32 / RECONNECT_POLL_MS;
                for _ in 0..polls {
                    gloo_timers::future::TimeoutFuture::new(RECONNECT_POLL_MS).await;
                    if crate::api::system::version().await.is_ok() {
                        attempt.set(attempt.wrapping_add(1));
                        return;
                    }
                }
                status.set(Status::Closed("Disconnected: the daemon did not come back".into()));
            });
        })
    };
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    if !readonly {
        let input_socket = socket.clone();
        let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
            send(&input_socket, &ClientMessage::Input { data });
        });
        live.terminal.on_data(&on_data);
        live._on_data = Some(on_data);

        let resize_socket = socket.clone();
        let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let field = |name: &str| {
                js_sys::Reflect::get(&size, &JsValue::from_str(name)).ok().and_then(|value| value.as_f64())
            };
            if let (Some(rows), Some(cols)) = (field("rows"), field("cols")) {
                send(&resize_socket, &ClientMessage::Resize { rows: rows as u16, cols: cols as u16 });
            }
        });
        live.terminal.on_resize(&on_resize);
        live._closures.push(on_resize);
    }

    // Follow the element's size (window resizes, the sidebar collapsing); xterm's onResize tells the server.
    let fit: FitAddon = live.fit.clone();
    let refit = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let _ = fit.fit();
    });
    if let Ok(observer) = web_sys::ResizeObserver::new(refit.as_ref().unchecked_ref()) {
        observer.observe(element);
        live._observer = Some(observer);
    }
    live._closures.push(refit);
    let fit: FitAddon = live.fit.clone();
    live._resize_listener = web_sys::window().map(|window| {
        EventListener::new(&window, "resize", move |_| {
            let _ = fit.fit();
        })
    });

    live._closures.push(on_message);
    live._closures.push(on_close);
    live.socket = Some(socket);
    live.terminal.focus();
    live
}
