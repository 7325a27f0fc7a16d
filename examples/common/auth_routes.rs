//! The authorization-server routes shared by `auth_server` and `quickstart`: login,
//! refresh (rotating), logout (revoking), key rotation, and the well-known documents.
//! The including example also includes `login_guard.rs`, `refresh_delivery.rs` and
//! `users.rs` as sibling modules.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_axum::RequireScopes;
use jwt_tower::issue::TokenIssuer;
use jwt_tower::refresh::{RefreshError, RefreshGrant, RefreshTokens};
use jwt_tower::revoke::Revocation;
use jwt_tower::store::Store;
use jwt_tower::{JwtLayer, RegisteredClaims, Verifier};
use serde::Deserialize;
use serde_json::json;

use super::login_guard::{LoginGuard, Refused};
use super::refresh_delivery::{CrossSite, RefreshDelivery, check_not_cross_site, is_json};
use super::retry_after;
use super::users::Users;

/// Longer user names are refused before any work (they would only fill the limiter).
const MAX_USERNAME_BYTES: usize = 256;
/// Longer passwords are refused before hashing.
const MAX_PASSWORD_BYTES: usize = 4096;

/// Everything the routes need.
#[derive(Clone)]
pub struct AuthState {
    pub issuer: TokenIssuer,
    pub refresh: RefreshTokens,
    pub users: Arc<Users>,
    /// Verifies this server's own access tokens (logout, key rotation).
    pub verifier: Verifier<RegisteredClaims>,
    /// Cookies for browsers, or the JSON body for other clients.
    pub delivery: RefreshDelivery,
    /// Login attempt limits and the bound on concurrent password hashing.
    pub login_guard: Arc<LoginGuard>,
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

fn refresh_error(e: &RefreshError) -> Response {
    match e {
        RefreshError::Unavailable(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the session store is unavailable; try again shortly",
        ),
        other => error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            &other.to_string(),
        ),
    }
}

impl AuthState {
    /// The token response for a grant: a new access token, and the refresh token in the
    /// body or in cookies.
    fn tokens(&self, grant: &RefreshGrant) -> Response {
        let access = match self
            .issuer
            .issue(&grant.family.subject, json!({"scope": grant.family.scope}))
        {
            Ok(access) => access,
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                );
            }
        };
        let mut body = json!({
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": access.expires_in,
            "scope": grant.family.scope,
        });
        if self.delivery.in_body() {
            body["refresh_token"] = json!(grant.token);
        }
        let mut response = Json(body).into_response();
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        let max_age = (grant.family.expires_at - grant.family.created_at).max(0) as u64;
        self.delivery
            .set(response.headers_mut(), &grant.token, max_age);
        response
    }
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn refused(refused: &Refused) -> Response {
    let (mut response, retry_after) = match refused {
        Refused::TooManyAttempts { retry_after } => (
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many login attempts for this user or from this address; retry later",
            ),
            *retry_after,
        ),
        Refused::Busy => (
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many logins in progress; retry shortly",
            ),
            1,
        ),
        Refused::Failed => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the password check failed",
            );
        }
        Refused::NoClientAddress => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the proxy's client address header holds no address",
            );
        }
    };
    retry_after::insert(response.headers_mut(), retry_after);
    response
}

async fn login(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    // Not a form another site could post: that would log the browser into the poster's
    // account (and set its refresh cookies).
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "the body must be Content-Type: application/json",
        );
    }
    let Ok(login) = serde_json::from_slice::<Login>(&bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be JSON {\"username\", \"password\"}",
        );
    };
    if login.username.len() > MAX_USERNAME_BYTES || login.password.len() > MAX_PASSWORD_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the username or the password is too long",
        );
    }
    let client = match state.login_guard.client(&headers, peer.ip()) {
        Ok(client) => client,
        Err(e) => return refused(&e),
    };
    if let Err(e) = state.login_guard.attempt(&login.username, client) {
        return refused(&e);
    }
    let users = Arc::clone(&state.users);
    // Password hashing is slow on purpose: it runs on the guard's hashing threads, off
    // the async workers.
    let checked = state
        .login_guard
        .hash(move || {
            let started = Instant::now();
            let checked = users.check(&login.username, &login.password);
            (login.username, checked, started)
        })
        .await;
    // Every attempt takes as long as the slowest stored hash: no timing tells unknown
    // users from known ones, or imported hashes from upgraded ones. The wait in the
    // queue is not the user's doing, so it does not count against the floor.
    let (username, checked, started) = match checked {
        Ok(checked) => checked,
        Err(e) => return refused(&e),
    };
    tokio::time::sleep_until((started + state.users.floor()).into()).await;
    if checked.upgraded {
        tracing::info!(user = %username, "password hash upgraded to argon2id default parameters");
    }
    let Some(scope) = checked.scope else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "invalid username or password",
        );
    };
    match state.refresh.start(&username, &scope).await {
        Ok(grant) => state.tokens(&grant),
        Err(e) => refresh_error(&e),
    }
}

#[derive(Deserialize, Default)]
struct RefreshBody {
    refresh_token: Option<String>,
    #[serde(default)]
    everywhere: bool,
}

impl RefreshBody {
    /// The refresh token: from the JSON body, else from the cookie, which only a request
    /// from this origin may use.
    fn refresh_token(
        &self,
        delivery: &RefreshDelivery,
        headers: &HeaderMap,
    ) -> Result<Option<String>, CrossSite> {
        if let Some(token) = &self.refresh_token {
            return Ok(Some(token.clone()));
        }
        let Some(token) = delivery.read(headers)? else {
            return Ok(None);
        };
        check_not_cross_site(headers)?;
        Ok(Some(token.to_owned()))
    }
}

/// The optional JSON body of `/refresh` and `/logout`; `None` when it is not that JSON.
fn body(bytes: &Bytes) -> Option<RefreshBody> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(RefreshBody::default());
    }
    serde_json::from_slice(bytes).ok()
}

fn bad_body() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "the body is not the expected JSON",
    )
}

async fn refresh(State(state): State<AuthState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let Some(body) = body(&bytes) else {
        return bad_body();
    };
    let token = match body.refresh_token(&state.delivery, &headers) {
        Ok(token) => token,
        Err(refusal) => return error(refusal.status, "invalid_request", refusal.description),
    };
    let Some(token) = token else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "no refresh token (JSON `refresh_token` or the cookie)",
        );
    };
    match state.refresh.rotate(&token).await {
        Ok(grant) => state.tokens(&grant),
        Err(e) => refresh_error(&e),
    }
}

async fn logout(State(state): State<AuthState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let Some(body) = body(&bytes) else {
        return bad_body();
    };
    let access = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| state.verifier.verify(token.trim()).ok());
    let refresh_token = match body.refresh_token(&state.delivery, &headers) {
        Ok(token) => token,
        Err(refusal) => return error(refusal.status, "invalid_request", refusal.description),
    };
    if access.is_none() && refresh_token.is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "send the access token, the refresh token, or both",
        );
    }

    let mut revoked_access = false;
    if let Some(access) = &access {
        let claims = access.claims();
        let mut revocations = Vec::new();
        if let (Some(jti), Some(exp)) = (&claims.jti, claims.exp) {
            revocations.push(Revocation::Token {
                jti: jti.clone(),
                exp,
            });
        }
        if body.everywhere
            && let Some(sub) = &claims.sub
        {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            revocations.push(Revocation::Subject {
                sub: sub.clone(),
                before: now + 1,
            });
        }
        for revocation in revocations {
            if let Err(e) = state.refresh.store().revoke(revocation).await {
                return refresh_error(&RefreshError::Unavailable(e));
            }
            revoked_access = true;
        }
    }
    let mut revoked_family = false;
    if let Some(token) = &refresh_token {
        match state.refresh.revoke(token).await {
            Ok(family) => revoked_family = family.is_some(),
            Err(e) => return refresh_error(&e),
        }
    }
    let mut response = Json(json!({
        "logged_out": true,
        "access_token_revoked": revoked_access,
        "refresh_family_revoked": revoked_family,
    }))
    .into_response();
    state.delivery.clear(response.headers_mut());
    response
}

async fn rotate_keys(State(state): State<AuthState>) -> Response {
    match state.issuer.rotate_generated() {
        Ok(key) => Json(json!({"kid": key.kid(), "alg": jwt_tower::algorithm::name(key.alg())}))
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

/// Each user's stored password-hash scheme: which imported hashes are still waiting for
/// their user's next login to be upgraded.
async fn password_hashes(State(state): State<AuthState>) -> Response {
    Json(state.users.schemes()).into_response()
}

/// The routes: `POST /login`, `POST /refresh`, `POST /logout`, `POST /rotate-keys` and
/// `GET /password-hashes` (scope `admin`), `GET /.well-known/jwks.json`,
/// `GET /.well-known/openid-configuration`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: logins are limited per client
/// address.
pub fn router(state: AuthState, public_base: &str) -> Router {
    let admin = Router::new()
        .route("/rotate-keys", post(rotate_keys))
        .route("/password-hashes", get(password_hashes))
        .route_layer(RequireScopes::new(["admin"]))
        .layer(JwtLayer::new(state.verifier.clone()));
    Router::new()
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .merge(admin)
        .with_state(state.clone())
        .merge(jwt_axum::well_known(state.issuer.clone(), public_base))
}
