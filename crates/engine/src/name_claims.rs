//! Container names held from the conflict check until the container is in the table: create and rename await
//! between the two, and two requests for one name must not both pass the check (dockerd reserves names the same
//! way).

use std::collections::HashMap;
use std::sync::Mutex;

use super::EngineError;

/// Names being taken right now, by the tenant whose names they are (None: the operator's), each with the id of
/// the container taking it.
#[derive(Default)]
pub(super) struct NameClaims(Mutex<HashMap<(Option<String>, String), String>>);

/// A held name; dropping it releases the name (the container holds it from then on, if it was inserted).
pub(super) struct NameClaim<'a> {
    claims: &'a NameClaims,
    key: (Option<String>, String),
}

impl NameClaims {
    /// Holds `name` among `tenant`'s names for container `id`, unless a claim holds it or `holder` names an
    /// existing container that does.
    pub(super) fn claim(
        &self,
        tenant: Option<&str>,
        name: &str,
        id: &str,
        holder: impl FnOnce() -> Option<String>,
    ) -> Result<NameClaim<'_>, EngineError> {
        let key = (tenant.map(str::to_string), name.to_string());
        let mut held = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(holder) = held.get(&key).cloned().or_else(holder) {
            return Err(name_in_use(name, &holder));
        }
        held.insert(key.clone(), id.to_string());
        Ok(NameClaim { claims: self, key })
    }
}

impl Drop for NameClaim<'_> {
    fn drop(&mut self) {
        self.claims.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.key);
    }
}

/// Docker's wording, which clients (compose) match on.
pub(super) fn name_in_use(name: &str, holder: &str) -> EngineError {
    EngineError::Conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_held_once_until_released() {
        let claims = NameClaims::default();
        let first = claims.claim(None, "web", "a", || None).expect("free");
        let second = claims.claim(None, "web", "b", || None).err().map(|error| error.to_string()).unwrap_or_default();
        assert!(second.contains("already in use by container \"a\""), "{second}");
        drop(first);
        assert!(claims.claim(None, "web", "b", || None).is_ok());
        assert!(claims.claim(None, "db", "c", || Some("existing".into())).is_err(), "an existing container holds it");
    }

    #[test]
    fn each_tenant_has_names_of_its_own() {
        let claims = NameClaims::default();
        let _operator = claims.claim(None, "web", "a", || None).expect("free");
        let _first = claims.claim(Some("s1"), "web", "b", || None).expect("s1's own web");
        let _second = claims.claim(Some("s2"), "web", "c", || None).expect("s2's own web");
        assert!(claims.claim(Some("s1"), "web", "d", || None).is_err());
    }
}
