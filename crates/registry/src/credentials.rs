//! Credentials as the docker CLI sends them: base64url JSON in `X-Registry-Auth` (pull, push) or a JSON body
//! (`POST /auth`).

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::RegistryError;

/// dockerd's `registry.AuthConfig`, the fields that matter to a registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// `username:password` in base64, what config.json stores; used when the two fields are empty.
    #[serde(default)]
    pub auth: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    /// A refresh token a registry gave at login, sent instead of a password.
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    /// A bearer token to use as it is.
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
}

impl Credentials {
    /// Decodes `X-Registry-Auth`. An empty header or `{}` means anonymous.
    pub fn from_header(value: &str) -> Result<Option<Credentials>, RegistryError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let trimmed = value.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|e| RegistryError::InvalidAuthHeader(e.to_string()))?;
        let credentials: Credentials =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::InvalidAuthHeader(e.to_string()))?;
        Ok(Some(credentials).filter(|c| !c.is_anonymous()))
    }

    /// Decodes the JSON body of `POST /auth`.
    pub fn from_json(body: &[u8]) -> Result<Credentials, RegistryError> {
        serde_json::from_slice(body).map_err(|e| RegistryError::InvalidAuthHeader(e.to_string()))
    }

    fn is_anonymous(&self) -> bool {
        self.user_and_password().is_none() && self.registry_token.is_empty() && self.identity_token.is_empty()
    }

    /// The username and password, from their fields or from `auth`.
    pub fn user_and_password(&self) -> Option<(String, String)> {
        if !self.username.is_empty() || !self.password.is_empty() {
            return Some((self.username.clone(), self.password.clone()));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(self.auth.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    /// What the distribution client sends.
    pub(crate) fn registry_auth(credentials: Option<&Credentials>) -> RegistryAuth {
        let Some(c) = credentials else { return RegistryAuth::Anonymous };
        if !c.registry_token.is_empty() {
            return RegistryAuth::Bearer(c.registry_token.clone());
        }
        match c.user_and_password() {
            Some((user, password)) => RegistryAuth::Basic(user, password),
            None => RegistryAuth::Anonymous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_header_decodes_with_or_without_padding() {
        let json = r#"{"username":"u","password":"p+/?","serveraddress":"127.0.0.1:5000"}"#;
        let padded = base64::engine::general_purpose::URL_SAFE.encode(json);
        let credentials = Credentials::from_header(&padded).expect("decodes").expect("not anonymous");
        assert_eq!(credentials.user_and_password(), Some(("u".into(), "p+/?".into())));
        assert_eq!(credentials.server_address, "127.0.0.1:5000");
        assert_eq!(Credentials::from_header("e30=").expect("{}"), None, "{{}} is anonymous");
        assert_eq!(Credentials::from_header("").expect("empty"), None);
        assert!(matches!(Credentials::from_header("%%%"), Err(RegistryError::InvalidAuthHeader(_))));
    }

    #[test]
    fn auth_field_stands_for_username_and_password() {
        let c = Credentials { auth: "dTpwOnE=".into(), ..Credentials::default() };
        assert_eq!(c.user_and_password(), Some(("u".into(), "p:q".into())));
        assert!(matches!(Credentials::registry_auth(Some(&c)), RegistryAuth::Basic(u, p) if u == "u" && p == "p:q"));
        assert!(matches!(Credentials::registry_auth(None), RegistryAuth::Anonymous));
    }
}
