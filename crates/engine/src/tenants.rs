//! What a tenant (a session of a shared daemon) leaves behind when it ends: every container of its, stopped and
//! removed with its anonymous volumes, through the same removal `docker rm -fv` takes.

use std::sync::Arc;

use super::{Engine, EngineError, Scope};

impl Engine {
    /// Removes every container `tenant` owns; the first failure is reported after the rest were tried.
    pub async fn remove_tenant(self: &Arc<Self>, tenant: &str) -> Result<usize, EngineError> {
        let mut removed = 0;
        let mut first_error = None;
        for container in self.containers_in(Scope::Tenant(tenant)) {
            match self.remove(&container.id, true, true).await {
                Ok(()) => removed += 1,
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(error) => {
                    tracing::warn!(tenant, id = %container.id, %error, "cannot remove a tenant's container");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(removed),
        }
    }
}
