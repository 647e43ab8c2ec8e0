//! A stable fingerprint of a service's resolved configuration, for "recreate only what changed": the container
//! records the hash it was created from, and `up` recreates it when the hash differs.
//!
//! The service is serialized to JSON with every object's keys sorted (so neither the order of keys in the
//! file nor a serde_json feature enabled elsewhere in the build changes it) and hashed with SHA-256, like
//! compose. Fields that do not change the container are left out, as compose leaves them out: `build` (the image
//! that results is compared instead), `depends_on` and `profiles`.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{Project, Service};

impl Project {
    /// The hex SHA-256 of the service's canonical configuration; `None` when the project has no such service.
    pub fn config_hash(&self, service: &str) -> Option<String> {
        self.services.get(service).map(service_config_hash)
    }
}

/// The hex SHA-256 of `service`'s canonical configuration.
pub fn service_config_hash(service: &Service) -> String {
    let hashed = Service { build: None, depends_on: Default::default(), profiles: Vec::new(), ..service.clone() };
    let mut canonical = String::new();
    // Serializing a plain data struct to a Value cannot fail (all keys are strings, no custom errors).
    let value = serde_json::to_value(&hashed).unwrap_or(Value::Null);
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// JSON with object keys sorted at every level.
pub(crate) fn write_canonical(value: &Value, output: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|left, right| left.0.cmp(right.0));
            output.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    output.push(',');
                }
                output.push_str(&Value::String(key.clone()).to_string());
                output.push(':');
                write_canonical(value, output);
            }
            output.push('}');
        }
        Value::Array(items) => {
            output.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    output.push(',');
                }
                write_canonical(item, output);
            }
            output.push(']');
        }
        scalar => output.push_str(&scalar.to_string()),
    }
}
