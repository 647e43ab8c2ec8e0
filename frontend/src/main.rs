//! berth-web: the Berth playground, a Yew app compiled to wasm by Trunk and served by the daemon itself.
//!
//! - [`daemon`]: typed calls to the daemon's HTTP API. The page is served from the daemon, so every call is
//!   same-origin and needs no configuration.
//! - [`app`]: the page: what Berth is and whether the daemon answers.

mod app;
mod daemon;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
