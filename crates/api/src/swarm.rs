//! Swarm mode, which Berth does not run: every swarm endpoint answers as dockerd does on a node that is in no
//! swarm (503, moby's daemon/cluster wording), never 404, because clients' setup and teardown code (docker-py's
//! `swarm.leave(force=True)`, `docker node ls` in scripts) tells "no swarm here" from "no such API" by it.

use axum::body::Bytes;
use axum::http::StatusCode;

use super::error::ApiError;

/// moby daemon/cluster errNoManager on a node without a swarm node.
const NOT_A_MANAGER: &str =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// moby daemon/cluster errNoSwarm.
const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
/// What dockerd would do (make or join a swarm) and Berth cannot.
const NO_SWARM_MODE: &str = "Berth does not run swarm mode: swarm init and join are not supported";

fn unavailable(message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
}

/// `GET /swarm`, `/swarm/unlockkey`, and every nodes, services, tasks, secrets and configs call.
///
/// Each handler reads the request's body before answering: a client still writing it (`docker swarm init` sends
/// its JSON) would otherwise meet a closed connection (EPIPE) instead of the answer.
pub async fn not_a_manager(_body: Bytes) -> ApiError {
    unavailable(NOT_A_MANAGER)
}

/// `POST /swarm/leave` (with or without force) and `/swarm/update`, `/swarm/unlock`.
pub async fn not_in_a_swarm(_body: Bytes) -> ApiError {
    unavailable(NOT_IN_A_SWARM)
}

/// `POST /swarm/init` and `/swarm/join`.
pub async fn no_swarm_mode(_body: Bytes) -> ApiError {
    unavailable(NO_SWARM_MODE)
}
