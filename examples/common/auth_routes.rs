//! The authorization-server routes shared by `auth_server` and `quickstart`: login,
//! refresh (rotating), logout (revoking), key rotation, and the well-known documents.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jwt_axum::{RefreshCookie, RequireScopes};
use jwt_tower::issue::TokenIssuer;
use jwt_tower::refresh::{RefreshError, RefreshGrant, RefreshTokens};
use jwt_tower::revoke::Revocation;
use jwt_tower::store::Store;
use jwt_tower::{JwtLayer, RegisteredClaims, Verifier};
use serde::Deserialize;
use serde_json::json;

use super::users::Users;

/// Everything the routes need.
pub struct AuthState<S> {
    pub issuer: TokenIssuer,
    pub refresh: RefreshTokens<S>,
    pub users: Arc<Users>,
    /// Verifies this server's own access tokens (logout, key rotation).
    pub verifier: Verifier<RegisteredClaims>,
    pub cookie: RefreshCookie,
    /// Whether to set the refresh cookie (non-browser deployments turn it off).
    pub set_cookie: bool,
}

impl<S: Clone> Clone for AuthState<S> {
    fn clone(&self) -> Self {
        Self {
            issuer: self.issuer.clone(),
            refresh: self.refresh.clone(),
            users: Arc::clone(&self.users),
            verifier: self.verifier.clone(),
            cookie: self.cookie.clone(),
            set_cookie: self.set_cookie,
        }
    }
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

impl<S: Store + Clone> AuthState<S> {
    /// The token response for a grant: a new access token and the refresh token.
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
        let body = Json(json!({
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": access.expires_in,
            "refresh_token": grant.token,
            "scope": grant.family.scope,
        }));
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert("cache-control", "no-store".parse().unwrap());
        if self.set_cookie {
            let max_age = (grant.family.expires_at - grant.family.created_at).max(0) as u64;
            response
                .headers_mut()
                .insert(SET_COOKIE, self.cookie.set(&grant.token, max_age));
        }
        response
    }
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login<S: Store + Clone>(
    State(state): State<AuthState<S>>,
    Json(login): Json<Login>,
) -> Response {
    let users = Arc::clone(&state.users);
    // Password hashing is slow on purpose: keep it off the async workers.
    let checked = tokio::task::spawn_blocking(move || {
        users
            .check(&login.username, &login.password)
            .map(|s| (login.username, s))
    })
    .await
    .ok()
    .flatten();
    let Some((username, scope)) = checked else {
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
    /// The refresh token: from the JSON body, else from the cookie.
    fn refresh_token(&self, cookie: &RefreshCookie, headers: &HeaderMap) -> Option<String> {
        self.refresh_token
            .clone()
            .or_else(|| cookie.read(headers).map(str::to_owned))
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

async fn refresh<S: Store + Clone>(
    State(state): State<AuthState<S>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let Some(body) = body(&bytes) else {
        return bad_body();
    };
    let Some(token) = body.refresh_token(&state.cookie, &headers) else {
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

async fn logout<S: Store + Clone>(
    State(state): State<AuthState<S>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let Some(body) = body(&bytes) else {
        return bad_body();
    };
    let access = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| state.verifier.verify(token.trim()).ok());
    let refresh_token = body.refresh_token(&state.cookie, &headers);
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
    response
        .headers_mut()
        .insert(SET_COOKIE, state.cookie.clear());
    response
}

async fn rotate_keys<S: Store + Clone>(State(state): State<AuthState<S>>) -> Response {
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

/// The routes: `POST /login`, `POST /refresh`, `POST /logout`, `POST /rotate-keys`
/// (scope `admin`), `GET /.well-known/jwks.json`, `GET /.well-known/openid-configuration`.
pub fn router<S: Store + Clone>(state: AuthState<S>, public_base: &str) -> Router {
    let admin = Router::new()
        .route("/rotate-keys", post(rotate_keys::<S>))
        .route_layer(RequireScopes::new(["admin"]))
        .layer(JwtLayer::new(state.verifier.clone()));
    Router::new()
        .route("/login", post(login::<S>))
        .route("/refresh", post(refresh::<S>))
        .route("/logout", post(logout::<S>))
        .merge(admin)
        .with_state(state.clone())
        .merge(jwt_axum::well_known(state.issuer.clone(), public_base))
}
