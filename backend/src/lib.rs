//! Berth, the daemon: a container engine that speaks the Docker Engine API.
//!
//! - [`in_root`]: paths inside a root (a container's live filesystem), resolved by the kernel with `openat2` so
//!   that no step leaves it; what cp, export, tar extraction, COPY and mount destinations go through.
//! - [`runtime`]: isolation. Namespaces, rootfs (overlay, pivot_root, /dev, /proc), cgroups, capabilities, pty, and
//!   the `berth init` process that becomes the container. The only module that makes namespace and mount syscalls.
//! - [`image`]: the content store (an OCI image layout), layer tars with whiteouts, the default busybox image.
//! - [`store`]: crash-safe metadata files.
//! - [`engine`]: containers (state machine, restart policy, logs), exec sessions, events.
//! - [`api`]: axum routers for the Engine API over the unix socket and HTTP, and the web app.
//! - [`build`]: the Dockerfile builder (contexts, .dockerignore, cache, steps as containers and layers).
//! - [`network`]: bridges, veths in pinned network namespaces, IPAM, NAT, published ports, embedded DNS.
//! - [`playground`]: what the web playground needs beyond the Engine API (compose projects run from the page).

pub mod api;
pub mod build;
pub mod engine;
pub mod image;
pub mod in_root;
pub mod network;
pub mod playground;
pub mod runtime;
pub mod store;
