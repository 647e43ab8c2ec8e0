//! The page shell. For now: the name, one line on what Berth is, and a live line saying whether the daemon answers.

use bollard_stubs::models::SystemVersion;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::daemon::{self, DaemonError};

/// What the status line shows.
#[derive(Debug, Clone, PartialEq)]
enum DaemonStatus {
    Checking,
    Connected(SystemVersion),
    Failed(DaemonError),
}

#[function_component(App)]
pub fn app() -> Html {
    let status = use_state(|| DaemonStatus::Checking);
    // Bumped by the "Check again" button; the effect below re-runs whenever it changes.
    let attempt = use_state(|| 0_u32);

    {
        let status = status.clone();
        use_effect_with(*attempt, move |_| {
            status.set(DaemonStatus::Checking);
            spawn_local(async move {
                status.set(match daemon::version().await {
                    Ok(version) => DaemonStatus::Connected(version),
                    Err(error) => DaemonStatus::Failed(error),
                });
            });
        });
    }

    let check_again = {
        let attempt = attempt.clone();
        Callback::from(move |_: MouseEvent| attempt.set(attempt.wrapping_add(1)))
    };

    html! {
        <main class="page">
            <header>
                <h1>{ "Berth" }</h1>
                <p class="tagline">
                    { "A container engine written in Rust that speaks the Docker Engine API, with a playground in \
                       your browser: write a Dockerfile, build it, see what each layer changed, and run it." }
                </p>
            </header>
            <section class="status" aria-live="polite">
                { status_line(&status) }
                <button onclick={check_again} disabled={*status == DaemonStatus::Checking}>
                    { "Check again" }
                </button>
            </section>
            <footer>
                <p>
                    { "The docker CLI works against the same daemon: " }
                    <code>{ "export DOCKER_HOST=unix:///run/berth.sock" }</code>
                </p>
            </footer>
        </main>
    }
}

fn status_line(status: &DaemonStatus) -> Html {
    match status {
        DaemonStatus::Checking => html! {
            <p class="status-line checking">{ "Asking the daemon for its version…" }</p>
        },
        DaemonStatus::Connected(version) => {
            let engine = version.version.as_deref().unwrap_or("unknown version");
            let api = version.api_version.as_deref().unwrap_or("unknown");
            let platform = match (version.os.as_deref(), version.arch.as_deref()) {
                (Some(os), Some(arch)) => format!(", {os}/{arch}"),
                _ => String::new(),
            };
            html! {
                <p class="status-line connected">
                    { format!("Connected: Berth {engine}, Engine API {api}{platform}") }
                </p>
            }
        }
        DaemonStatus::Failed(error) => html! {
            <p class="status-line failed">{ format!("Not connected: {error}") }</p>
        },
    }
}
