//! Signing in with a password (`POST /berth/login`) for the class view, signing out, and who is signed in. Failed
//! attempts are limited per name by the identity store; every attempt is audited.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_identity::{IdentityError, User};
use serde::{Deserialize, Serialize};

use super::auth::{audit, cookie, Accounts};
use super::caller::Caller;
use super::error::ApiResult;
use super::http_guard::CLIENT_HEADER;
use super::ApiError;

pub(crate) const SIGN_IN_PATH: &str = "/berth/login";

#[derive(Deserialize)]
pub(crate) struct Credentials {
    name: String,
    password: String,
}

#[derive(Serialize)]
pub(crate) struct SignedIn {
    #[serde(flatten)]
    user: User,
    expires: i64,
}

/// Sets the browser's cookie to a login of the account. Needs the playground's client header: a foreign page's
/// form cannot sign a visitor in to the attacker's account (login CSRF).
pub(crate) async fn sign_in(
    State(accounts): State<Arc<Accounts>>,
    headers: HeaderMap,
    Json(credentials): Json<Credentials>,
) -> Response {
    if !headers.contains_key(CLIENT_HEADER) {
        return ApiError::new(StatusCode::FORBIDDEN, format!("signing in needs the {CLIENT_HEADER} header"))
            .into_response();
    }
    let name = credentials.name.trim().to_string();
    match accounts.identity.sign_in_for_login(&name, &credentials.password).await {
        Ok(login) => {
            audit(&accounts.identity, &format!("user:{}", login.user.name), "sign-in", &login.user.name, "ok").await;
            let max_age = login.expires - chrono::Utc::now().timestamp();
            let mut response =
                (StatusCode::OK, Json(SignedIn { user: login.user, expires: login.expires })).into_response();
            if let Some(value) = cookie(&accounts, &login.token, max_age) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => {
            audit(&accounts.identity, "anonymous", "sign-in", &name, &format!("refused: {error}")).await;
            let retry_after = match &error {
                IdentityError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            };
            let mut response = ApiError::from(error).into_response();
            if let Some(value) = retry_after.and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// Ends the browser's login and clears its cookie.
pub(crate) async fn sign_out(State(accounts): State<Arc<Accounts>>, caller: Caller, headers: HeaderMap) -> Response {
    let Caller::Account(user) = &caller else {
        return ApiError::bad_request("not signed in to an account").into_response();
    };
    if let Some(token) = super::auth::request_token(&headers) {
        if let Err(error) = accounts.identity.sign_out(&token).await {
            return ApiError::from(error).into_response();
        }
    }
    audit(&accounts.identity, &caller.actor(), "sign-out", &user.name, "ok").await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(value) = cookie(&accounts, "", 0) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /berth/account`: the signed-in account; 404 for a session or the operator.
pub(crate) async fn account(caller: Caller) -> ApiResult<Json<User>> {
    match caller {
        Caller::Account(user) => Ok(Json(user.as_ref().clone())),
        _ => Err(ApiError::not_found("not signed in to an account")),
    }
}
