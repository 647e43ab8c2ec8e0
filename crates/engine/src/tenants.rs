//! A tenant's (a session of a shared daemon's) own network, and what it leaves behind when it ends: every container
//! of its, stopped and removed with its anonymous volumes through the same removal `docker rm -fv` takes, then its
//! network.

use std::collections::HashMap;
use std::sync::Arc;

use bollard_stubs::models::NetworkCreateRequest;

use super::{Engine, EngineError, Scope, TENANT_ATTRIBUTE};

/// The name of a tenant's default network: a bridge of its own, so tenants cannot reach each other's containers
/// (bridges are isolated from each other) while a tenant's containers find each other by name (its DNS).
pub fn tenant_network_name(tenant: &str) -> String {
    format!("session-{tenant}")
}

impl Engine {
    /// The tenant's default network, made at its first container.
    pub(super) async fn tenant_network(&self, tenant: &str) -> Result<String, EngineError> {
        let name = tenant_network_name(tenant);
        if self.networks.get(&name).is_ok_and(|network| network.name == name) {
            return Ok(name);
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([(TENANT_ATTRIBUTE.to_string(), tenant.to_string())])),
            ..Default::default()
        };
        match self.network_create(&request).await {
            // A create racing this one made it first.
            Ok(_) | Err(EngineError::Network(berth_network::NetworkError::NameInUse(_))) => Ok(name),
            Err(error) => Err(error),
        }
    }

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
        let network = tenant_network_name(tenant);
        if self.networks.get(&network).is_ok_and(|record| record.name == network) {
            if let Err(error) = self.network_remove(&network).await {
                tracing::warn!(tenant, %error, "cannot remove a tenant's network");
                first_error.get_or_insert(error);
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(removed),
        }
    }
}
