//! berth-route: the router's data plane. A [`Route`] listens on a port and sends each HTTP/1.1 request (or, in TCP
//! mode, each connection) to one of its backends, which are socket addresses the caller gives and may change: it
//! knows no container or engine. The forms are berth-shared's `RouteMode`: blue/green (one live backend, switched
//! atomically, the old one drained), weighted (sticky by cookie or header, rules by header, path or cookie), ramped
//! (the new backend's weight stepped up, rolled back or paused when its error rate passes a threshold) and shadow
//! (every request to both, the client answered by the primary, the answers compared).
//!
//! Modules, one way down: `route` (the handle and its tasks) uses `http` and `tcp` (the proxies), which use
//! `choose` (the pure choice), `table` (a mode compiled to weights and rules), `rule`, `backend` (address, health,
//! `stats`), `ramp` and `shadow`.

mod backend;
mod choose;
mod error;
mod http;
mod ramp;
mod route;
mod rule;
mod shadow;
mod stats;
mod table;
mod tcp;

pub use error::RouteError;
pub use route::{BackendSpec, Route, RouteSpec, Snapshot};
