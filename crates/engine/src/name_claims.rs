//! Container names held from the conflict check until the container is in the table: create and rename await
//! between the two, and two requests for one name must not both pass the check (dockerd reserves names the same
//! way).

use std::collections::HashMap;
use std::sync::Mutex;

use super::EngineError;

/// Names being taken right now, each with the id of the container taking it.
#[derive(Default)]
pub(super) struct NameClaims(Mutex<HashMap<String, String>>);

/// A held name; dropping it releases the name (the container holds it from then on, if it was inserted).
pub(super) struct NameClaim<'a> {
    claims: &'a NameClaims,
    name: String,
}

impl NameClaims {
    /// Holds `name` for container `id`, unless a claim holds it or `owner` names an existing container that does.
    pub(super) fn claim(
        &self,
        name: &str,
        id: &str,
        owner: impl FnOnce() -> Option<String>,
    ) -> Result<NameClaim<'_>, EngineError> {
        let mut held = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(holder) = held.get(name).cloned().or_else(owner) {
            return Err(name_in_use(name, &holder));
        }
        held.insert(name.to_string(), id.to_string());
        Ok(NameClaim { claims: self, name: name.to_string() })
    }
}

impl Drop for NameClaim<'_> {
    fn drop(&mut self) {
        self.claims.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.name);
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
        let first = claims.claim("web", "a", || None).expect("free");
        let second = claims.claim("web", "b", || None).err().map(|error| error.to_string()).unwrap_or_default();
        assert!(second.contains("already in use by container \"a\""), "{second}");
        drop(first);
        assert!(claims.claim("web", "b", || None).is_ok());
        assert!(claims.claim("db", "c", || Some("existing".into())).is_err(), "an existing container holds it");
    }
}
