//! The authorization-server routes shared by `auth_server` and `quickstart`: login,
//! refresh (rotating), logout (revoking), key rotation, and the well-known documents.
//! Handlers take what they act on through extractors (`auth_requests.rs`) and answer
//! `Result<_, AppError>` (`app_error.rs`). Access tokens are issued through
//! `oauth_access.rs`, in the configured format. The including example also includes
//! `app_error.rs`, `auth_requests.rs`, `login_guard.rs`, `oauth_access.rs`,
//! `refresh_delivery.rs` and `users.rs` as sibling modules.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRef, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_axum::{AuthRejection, RequireScopes, StateClaims};
use jwt_tower::issue::TokenIssuer;
use jwt_tower::refresh::{RefreshGrant, RefreshTokens};
use jwt_tower::revoke::Revocation;
use jwt_tower::store::Store;
use jwt_tower::{JwtLayer, RegisteredClaims, Verifier};
use serde::Serialize;
use serde_json::{Value, json};

use super::app_error::AppError;
use super::auth_requests::{Login, RefreshRequest};
use super::login_guard::LoginGuard;
use super::oauth_access::AccessTokens;
use super::refresh_delivery::RefreshDelivery;
use super::users::Users;

/// Everything the routes need.
#[derive(Clone, FromRef)]
pub struct AuthState {
    pub issuer: TokenIssuer,
    /// Issues the access tokens (JWT or opaque) and looks them up.
    pub access: AccessTokens,
    pub refresh: RefreshTokens,
    pub users: Arc<Users>,
    /// Verifies this server's own access tokens (logout, key rotation).
    pub verifier: Verifier<RegisteredClaims>,
    /// Cookies for browsers, or the JSON body for other clients.
    pub delivery: RefreshDelivery,
    /// Login attempt limits and the bound on concurrent password hashing.
    pub login_guard: Arc<LoginGuard>,
}

/// The token response (RFC 6749 §5.1) to a login, a refresh, or `/token`.
#[derive(Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    /// Only without cookies: a browser never gets it where a script could read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl AuthState {
    /// The answer to a grant: a new access token, and the refresh token in the body or
    /// in cookies. Never cached (`Cache-Control: no-store`, RFC 6749 §5.1).
    async fn tokens(&self, grant: RefreshGrant) -> Result<impl IntoResponse + use<>, AppError> {
        let family = grant.family;
        let mut claims = serde_json::Map::new();
        claims.insert("scope".to_owned(), family.scope.clone().into());
        let access = self
            .access
            .issue(&family.subject, None, claims, None)
            .await?;
        let max_age = (family.expires_at - family.created_at).max(0) as u64;
        let cookies = self.delivery.set(&grant.token, max_age);
        let body = Tokens {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            scope: family.scope,
            refresh_token: self.delivery.in_body().then_some(grant.token),
        };
        Ok(([(CACHE_CONTROL, "no-store")], cookies, Json(body)))
    }
}

/// The one password check of every login route (`POST /login`, `POST /authorize`): the
/// attempt limits, the hashing threads, and the padding to the slowest hash. `Ok(None)`:
/// wrong user name or password.
pub async fn check_password(
    state: &AuthState,
    peer: SocketAddr,
    headers: &HeaderMap,
    username: String,
    password: String,
) -> Result<Option<String>, AppError> {
    // The client address may come from a header a reverse proxy sets (see `login_guard.rs`).
    let client = state.login_guard.client(headers, peer.ip())?;
    state.login_guard.attempt(&username, client)?;
    let users = Arc::clone(&state.users);
    // Password hashing is slow on purpose: it runs on the guard's hashing threads, off
    // the async workers.
    let (username, checked, started) = state
        .login_guard
        .hash(move || {
            let started = Instant::now();
            let checked = users.check(&username, &password);
            (username, checked, started)
        })
        .await?;
    // Every attempt takes as long as the slowest stored hash: no timing tells unknown
    // users from known ones, or imported hashes from upgraded ones. The wait in the
    // queue is not the user's doing, so it does not count against the floor.
    tokio::time::sleep_until((started + state.users.floor()).into()).await;
    if checked.upgraded {
        tracing::info!(user = %username, "password hash upgraded to argon2id default parameters");
    }
    Ok(checked.scope)
}

async fn login(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    login: Login,
) -> Result<impl IntoResponse, AppError> {
    let username = login.username.clone();
    let scope = check_password(&state, peer, &headers, login.username, login.password)
        .await?
        .ok_or_else(|| AppError::InvalidGrant("invalid username or password".to_owned()))?;
    let grant = state.refresh.start(&username, &scope).await?;
    state.tokens(grant).await
}

async fn refresh(
    State(state): State<AuthState>,
    request: RefreshRequest,
) -> Result<impl IntoResponse, AppError> {
    let token = request.token.ok_or(AppError::bad_request(
        "no refresh token (JSON `refresh_token` or the cookie)",
    ))?;
    let grant = state.refresh.rotate(&token).await?;
    state.tokens(grant).await
}

/// Ends a login: revokes the access token (and, with `everywhere`, every token of its
/// user issued so far) and the refresh token's family, and deletes the cookies.
async fn logout(
    State(state): State<AuthState>,
    // A missing or bad access token is no reason to refuse: the refresh token alone
    // still ends the login.
    access: Result<StateClaims<RegisteredClaims>, AuthRejection>,
    headers: HeaderMap,
    request: RefreshRequest,
) -> Result<impl IntoResponse, AppError> {
    let access = access.ok().map(|StateClaims(claims)| claims);
    // An opaque access token is no JWT: it is looked up, and its record removed.
    let opaque = match (&access, bearer(&headers)) {
        (None, Some(token)) => state
            .access
            .active(token)
            .await?
            .map(|claims| (token, claims)),
        _ => None,
    };
    if access.is_none() && opaque.is_none() && request.token.is_none() {
        return Err(AppError::InvalidToken(
            "send the access token, the refresh token, or both",
        ));
    }

    let mut revocations = Vec::new();
    if let Some(claims) = access {
        if let (Some(jti), Some(exp)) = (claims.jti, claims.exp) {
            revocations.push(Revocation::Token { jti, exp });
        }
        if request.everywhere
            && let Some(sub) = claims.sub
        {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            revocations.push(Revocation::Subject {
                sub,
                before: now + 1,
            });
        }
    }
    if let Some((token, claims)) = &opaque {
        state.access.revoke(token, claims).await?;
        if request.everywhere
            && let Some(sub) = claims.get("sub").and_then(Value::as_str)
        {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            revocations.push(Revocation::Subject {
                sub: sub.to_owned(),
                before: now + 1,
            });
        }
    }
    let revoked_access = !revocations.is_empty() || opaque.is_some();
    for revocation in revocations {
        state.refresh.store().revoke(revocation).await?;
    }
    let revoked_family = match &request.token {
        Some(token) => state.refresh.revoke(token).await?.is_some(),
        None => false,
    };
    let body = Json(json!({
        "logged_out": true,
        "access_token_revoked": revoked_access,
        "refresh_family_revoked": revoked_family,
    }));
    Ok((state.delivery.clear(), body))
}

/// The token of an `Authorization: Bearer` header, if there is one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn rotate_keys(State(state): State<AuthState>) -> Result<Json<Value>, AppError> {
    let key = state
        .issuer
        .rotate_generated()
        .map_err(|e| AppError::Server(e.to_string()))?;
    Ok(Json(
        json!({"kid": key.kid(), "alg": jwt_tower::algorithm::name(key.alg())}),
    ))
}

/// Each user's stored password-hash scheme: which imported hashes are still waiting for
/// their user's next login to be upgraded.
async fn password_hashes(State(state): State<AuthState>) -> impl IntoResponse {
    Json(state.users.schemes())
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
