//! `docker login` (`POST /auth`): the credentials are checked against the registry the way dockerd checks them:
//! a registry that needs none accepts any; a Basic one must answer 200 to them; a token one must give a token.

use http_auth::{ChallengeRef, ParamValue};

use super::credentials::Credentials;
use super::endpoint::Endpoint;
use super::remote_error::{errcode_text, full_chain};
use super::{RegistryConfig, RegistryError};

/// Docker Hub's login address as the CLI sends it.
const DOCKER_HUB_ADDRESS: &str = "https://index.docker.io/v1/";

/// The registry host a login's `serveraddress` names.
pub(crate) fn login_domain(server_address: &str) -> String {
    let address = server_address.trim();
    if address.is_empty() || address == DOCKER_HUB_ADDRESS || address.contains("index.docker.io") {
        return berth_image::reference::DEFAULT_DOMAIN.to_string();
    }
    let without_scheme = address.split_once("://").map_or(address, |(_, rest)| rest);
    without_scheme.split('/').next().unwrap_or(without_scheme).to_string()
}

pub(crate) async fn login(config: &RegistryConfig, credentials: &Credentials) -> Result<(), RegistryError> {
    let domain = login_domain(&credentials.server_address);
    let endpoint = config.endpoints(&domain).await.into_iter().find(|e| !e.mirror);
    let endpoint = endpoint.ok_or_else(|| RegistryError::transport("login", "no registry endpoint"))?;
    let (user, password) = credentials.user_and_password().unwrap_or_default();
    check(&endpoint, &user, &password).await
}

async fn check(endpoint: &Endpoint, user: &str, password: &str) -> Result<(), RegistryError> {
    let http = endpoint.http()?;
    let url = format!("{}/v2/", endpoint.base_url());
    let transport = |e: reqwest::Error| RegistryError::transport(format!("Get \"{url}\""), full_chain(&e));
    let answer = http.get(&url).send().await.map_err(transport)?;
    if answer.status().is_success() {
        return Ok(());
    }
    if answer.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(RegistryError::LoginRefused(format!(
            "login attempt to {url} failed with status: {}",
            answer.status()
        )));
    }
    let challenge = answer
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let challenges = http_auth::parse_challenges(&challenge).unwrap_or_default();
    if let Some(bearer) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer")) {
        return token_login(&http, bearer, &url, user, password).await;
    }
    let answer = http.get(&url).basic_auth(user, Some(password)).send().await.map_err(transport)?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(RegistryError::LoginRefused(format!("login attempt to {url} failed with status: {}", answer.status())))
    }
}

/// The token flow's login: the realm must hand out a token for these credentials (no scope: just the account).
async fn token_login(
    http: &reqwest::Client,
    challenge: &ChallengeRef<'_>,
    v2_url: &str,
    user: &str,
    password: &str,
) -> Result<(), RegistryError> {
    let param = |name: &str| {
        challenge
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v): &(_, ParamValue)| v.to_unescaped())
    };
    let realm = param("realm").ok_or_else(|| RegistryError::transport("login", "the token challenge has no realm"))?;
    let mut query = vec![("account", user.to_string()), ("client_id", "docker".to_string())];
    if let Some(service) = param("service") {
        query.push(("service", service));
    }
    let answer = http
        .get(&realm)
        .query(&query)
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_err(|e| RegistryError::transport(format!("Get \"{realm}\""), full_chain(&e)))?;
    if answer.status().is_success() {
        return Ok(());
    }
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    Err(RegistryError::LoginRefused(format!("Get \"{v2_url}\": {}", token_error(status, &body))))
}

/// What a token server's refusal says: its first error as `code: message` (distribution's errcode), its `details`,
/// or the status.
fn token_error(status: reqwest::StatusCode, body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if let Some(first) = value["errors"].get(0) {
        let code = first["code"].as_str().unwrap_or("UNAUTHORIZED");
        return errcode_text(code, first["message"].as_str().unwrap_or_default());
    }
    match value["details"].as_str() {
        Some(details) => format!("unauthorized: {details}"),
        None => format!("unauthorized: {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_name_their_registry() {
        assert_eq!(login_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_domain(""), "docker.io");
        assert_eq!(login_domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_domain("https://reg.lan:5000/v2/"), "reg.lan:5000");
    }

    #[test]
    fn token_servers_refusals_read_like_dockerds() {
        let status = reqwest::StatusCode::UNAUTHORIZED;
        let errcode = r#"{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}"#;
        assert_eq!(token_error(status, errcode), "unauthorized: incorrect username or password");
        assert_eq!(token_error(status, r#"{"details":"bad password"}"#), "unauthorized: bad password");
        assert_eq!(token_error(status, "nope"), "unauthorized: 401 Unauthorized");
    }
}
