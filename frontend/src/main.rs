//! berth-web: the Berth playground, a Yew app compiled to wasm by Trunk and served by the daemon itself.
//!
//! - [`app`]: the page shell: sidebar, hash routes ([`route`]), keyboard shortcuts.
//! - [`store`]: the project being edited and the current build, shared through context; [`examples`] to start
//!   from.
//! - [`components`]: one component per file: editor, file list, problems, build, layers, containers, run dialog,
//!   terminal, logs, stats, inspect, changes, images and the pull box, networks, volumes.
//! - [`api`]: every call to the daemon (same origin: the Engine API and Berth's `/berth/...`).
//! - [`logic`]: DOM-free logic with tests: tar writer, build stream, log frames, lint positions, stats, image
//!   references and pull progress.
//! - [`bindings`]: CodeMirror and xterm.js through wasm-bindgen.

mod app;
mod route;
mod store;
mod examples;
mod components;
mod api;
mod logic;
mod bindings;
mod build_runner;

fn main() {
    yew::Renderer::<app::App>::new().render();
}

// The component tests run in headless Chromium (CHROMEDRIVER), like the app.
#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
