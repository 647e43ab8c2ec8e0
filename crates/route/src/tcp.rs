//! Plain TCP mode: each connection goes, whole, to one backend chosen by the weights (no bytes are read to
//! choose). A backend that refuses the connect is taken out of the choice and the next is tried; one that dies
//! mid-connection closes the client's connection too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::route::Shared;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn serve(shared: Arc<Shared>, mut inbound: TcpStream) {
    let mut excluded = Vec::new();
    loop {
        let Some(choice) = shared.choose(None, &excluded) else {
            tracing::debug!(route = %shared.name, "no backend for a connection: closing it");
            return;
        };
        excluded.push(choice.backend);
        let backend = shared.backends[choice.backend].clone();
        let Some(addr) = backend.addr() else { continue };
        let started = Instant::now();
        let mut outbound = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(outbound)) => outbound,
            failed => {
                let why = match failed {
                    Ok(Err(error)) => format!("connect to {addr}: {error}"),
                    _ => format!("connect to {addr}: no answer within {CONNECT_TIMEOUT:?}"),
                };
                backend.stats.record_connect_failure();
                backend.connect_failed(Some(why));
                continue;
            }
        };
        backend.stats.record(started.elapsed(), false);
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let _active = backend.stats.begin();
        let drain = backend.drain_token();
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {
                if let Err(error) = copied {
                    tracing::debug!(route = %shared.name, backend = %backend.name, %error, "connection ended");
                }
            }
            _ = drain.cancelled() => {}
            _ = shared.stop.cancelled() => {}
        }
        return;
    }
}
