//! The HTTP port of a shared daemon (`--auth accounts`): every Engine API and playground request names a live
//! session, by `Authorization: Bearer <token>` (the docker CLI sends it from `HttpHeaders` in its config.json) or
//! by the HttpOnly, SameSite=Strict cookie a join link sets in the browser. A request made with the cookie that
//! changes anything must also carry the playground's client header, which a foreign page cannot add without a
//! CORS preflight (Berth answers none), so a forged form or fetch is refused even if a browser sent the cookie.
//! The web app's own files and the join link itself are the only things served without a session.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use berth_identity::{Identity, IdentityError};

use super::caller::Caller;
use super::http_guard::CLIENT_HEADER;
use super::ApiError;

/// The cookie a join link sets.
pub const SESSION_COOKIE: &str = "berth_session";

/// The identity store and how cookies are made on this port.
pub struct Accounts {
    pub identity: Arc<Identity>,
    /// The port is served over TLS: cookies get `Secure`.
    pub secure: bool,
}

fn unauthorized(message: impl Into<String>) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"berth\""));
    response
}

/// The token of a request, and whether it came in the cookie.
fn credentials(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| (token.trim().to_string(), false));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('=').map(str::to_string))
        .map(|token| (token, true))
}

/// The token a request carries, by header or cookie.
pub(crate) fn request_token(headers: &HeaderMap) -> Option<String> {
    credentials(headers).map(|(token, _)| token)
}

/// Paths served without a session: the web app's files, the join link, and signing in (which still needs the
/// client header, so no foreign page can sign a browser in to an account of its choosing).
fn is_public(method: &Method, path: &str) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD);
    (read && (!super::web::is_api_path(path) || path.starts_with("/berth/join/")))
        || (*method == Method::POST && path == super::sign_in::SIGN_IN_PATH)
}

/// A login token (a signed-in account's) rather than a session's API token.
fn is_login_token(token: &str) -> bool {
    token.starts_with(berth_identity::LOGIN_TOKEN_PREFIX)
}

pub(crate) async fn authenticate(State(accounts): State<Arc<Accounts>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if is_public(request.method(), &path) {
        return next.run(request).await;
    }
    let Some((token, from_cookie)) = credentials(request.headers()) else {
        return unauthorized(
            "authentication required: send the session's token as `Authorization: Bearer <token>` \
             (HttpHeaders in the docker CLI's config.json), or open the session's join link",
        );
    };
    let caller = if is_login_token(&token) {
        match accounts.identity.authenticate_login(&token).await {
            Ok(user) => Caller::Account(Arc::new(user)),
            Err(IdentityError::BadToken) | Err(IdentityError::NotFound { .. }) => {
                audit(&accounts.identity, "anonymous", "authenticate", &path, "refused: unknown or ended sign-in")
                    .await;
                return unauthorized("the sign-in is not valid: unknown, signed out or expired; sign in again");
            }
            Err(error) => return store_unavailable(error),
        }
    } else {
        match accounts.identity.authenticate(&token).await {
            Ok(session) => Caller::Session(Arc::new(session)),
            Err(IdentityError::BadToken) => {
                audit(
                    &accounts.identity,
                    "anonymous",
                    "authenticate",
                    &path,
                    "refused: unknown, ended or expired token",
                )
                .await;
                return unauthorized("the token is not valid: unknown, or its session ended or expired");
            }
            Err(error) => return store_unavailable(error),
        }
    };
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if from_cookie && changes_state && !request.headers().contains_key(CLIENT_HEADER) {
        let outcome = "refused: cookie without the client header (CSRF)";
        audit(&accounts.identity, &caller.actor(), "request", &path, outcome).await;
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!("a request made with the session cookie needs the {CLIENT_HEADER} header"),
        )
        .into_response();
    }
    if let Caller::Session(session) = &caller {
        request.extensions_mut().insert(super::activity::Activity::of(accounts.identity.clone(), &session.id));
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn store_unavailable(error: IdentityError) -> Response {
    tracing::error!(%error, "identity store");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the identity store is not answering").into_response()
}

/// The `Set-Cookie` value that holds `token` for `max_age` seconds in this browser (Secure under TLS).
pub(crate) fn cookie(accounts: &Accounts, token: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if accounts.secure { "; Secure" } else { "" };
    let max_age = max_age.max(0);
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// Logs an audit entry; a store that cannot take it is logged, the request goes on.
pub(crate) async fn audit(identity: &Identity, actor: &str, action: &str, target: &str, outcome: &str) {
    if let Err(error) = identity.audit(actor, action, target, outcome).await {
        tracing::error!(%error, actor, action, target, "cannot write the audit log");
    }
}

/// `GET /berth/join/{token}`: seats the browser in the link's class, sets the session cookie and goes to the
/// playground. A bad link is a page saying why.
pub(crate) async fn join(
    State(accounts): State<Arc<Accounts>>,
    axum::Extension(engine): axum::Extension<Arc<berth_engine::Engine>>,
    Path(token): Path<String>,
) -> Response {
    match accounts.identity.join(&token).await {
        Ok(seated) => {
            engine.prepare_tenant(&seated.session.id);
            let actor = format!("session:{}", seated.session.id);
            audit(&accounts.identity, &actor, "join", &seated.session.class, "ok").await;
            // As long as the session may be extended to, so an extension does not outlive its cookie.
            let max_age = Identity::extend_limit(&seated.session) - seated.session.created;
            let mut response = Redirect::to("/").into_response();
            if let Some(value) = cookie(&accounts, &seated.token, max_age) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => {
            let status = match error {
                IdentityError::ClassFull { .. } => StatusCode::CONFLICT,
                IdentityError::LinkExpired | IdentityError::LinkRevoked => StatusCode::GONE,
                IdentityError::BadToken => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            audit(&accounts.identity, "anonymous", "join", "-", &format!("refused: {error}")).await;
            ApiError::new(status, format!("cannot join: {error}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer bt_abc"));
        assert_eq!(credentials(&headers), Some(("bt_abc".into(), false)));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; berth_session=bt_xyz"));
        assert_eq!(credentials(&headers), Some(("bt_xyz".into(), true)));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("berth_sessionx=bt_no"));
        assert_eq!(credentials(&headers), None);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert_eq!(credentials(&headers), None);
    }

    #[test]
    fn only_the_app_and_join_links_are_public() {
        assert!(is_public(&Method::GET, "/"));
        assert!(is_public(&Method::GET, "/berth-web-1.wasm"));
        assert!(is_public(&Method::GET, "/berth/join/bj_x"));
        assert!(!is_public(&Method::GET, "/containers/json"));
        assert!(!is_public(&Method::GET, "/_ping"));
        assert!(!is_public(&Method::POST, "/berth/join/bj_x"));
        assert!(is_public(&Method::POST, "/berth/login"));
        assert!(!is_public(&Method::GET, "/berth/classes"));
    }
}
