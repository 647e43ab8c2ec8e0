//! Sessions end by themselves: past their class's maximum age or idle timeout a session is ended and everything it
//! made removed. The same sweep removes what belongs to sessions that ended while the daemon was down, or whose
//! removal a crash cut short (containers, networks, volumes, images), so a restart never keeps a dead session's
//! objects.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use berth_engine::Engine;
use berth_identity::Identity;

/// Sweeps now and then every `every` until the daemon stops.
pub fn spawn_reaper(identity: Arc<Identity>, engine: Arc<Engine>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if engine.is_shutting_down() {
                return;
            }
            sweep(&identity, &engine).await;
        }
    })
}

async fn sweep(identity: &Identity, engine: &Arc<Engine>) {
    // Owners first, sessions second: a session is made before anything of it, so every owner seen here that is
    // alive is in the list read after it.
    let owners: HashSet<String> = engine.tenants_with_objects();
    let sessions = match identity.sessions().await {
        Ok(sessions) => sessions,
        Err(error) => {
            tracing::warn!(%error, "session sweep: the identity store is not answering");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp();
    let mut live = HashSet::new();
    for session in sessions {
        if !session.is_over(now) {
            live.insert(session.id);
            continue;
        }
        let why = if now >= session.expires { "its maximum age" } else { "its idle timeout" };
        tracing::info!(session = %session.id, class = %session.class, "session past {why}: ending it");
        if let Err(error) = identity.end_session(&session.id).await {
            tracing::warn!(session = %session.id, %error, "cannot end an expired session");
            live.insert(session.id);
            continue;
        }
        super::auth::audit(identity, "daemon", "expire-session", &session.id, &format!("ok: past {why}")).await;
    }
    for tenant in owners.into_iter().filter(|owner| !live.contains(owner)) {
        match engine.remove_tenant(&tenant).await {
            Ok(count) => tracing::info!(session = %tenant, containers = count, "removed what an ended session made"),
            Err(error) => tracing::warn!(session = %tenant, %error, "cannot remove an ended session's objects"),
        }
    }
}
