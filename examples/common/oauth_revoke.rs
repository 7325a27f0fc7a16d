//! `POST /revoke` (RFC 7009): a client ends a token it holds.
//!
//! - The client authenticates as at `/token`; a public client names itself with
//!   `client_id` alone (RFC 7009 §2.1 allows it), a confidential one must send its
//!   secret (else 401 `invalid_client`).
//! - A refresh token: its whole family is revoked (every instance sharing the store).
//! - A JWT access token: its `jti` is revoked until its `exp`, through the store, as
//!   `/logout` does, so every instance following the store refuses it. An opaque access
//!   token: its record is removed from the store.
//! - A client may revoke the tokens issued to it and the tokens issued to no client (those
//!   of `/login`). RFC 7009 §2.1 has the server verify that the token was issued to the
//!   requesting client and refuse the request when it was not: a token of another client
//!   is answered 400 `unauthorized_client` and nothing is revoked (the client already
//!   holds the token, so the answer tells it nothing it could not learn by using it).
//! - An unknown, expired or already revoked token: 200 (RFC 7009 §2.2), as for a
//!   revoked one. An unsupported `token_type_hint` is ignored (only a hint).
//!
//! The answer to a revocation is 200 with an empty body. The including example also
//! includes `oauth_lookup.rs`, `oauth_routes.rs` and their siblings.
#![allow(dead_code)]

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use jwt_tower::oauth::{OAuthError, OAuthErrorCode};

use super::oauth_error::OAuthErrorResponse;
use super::oauth_lookup::{self, Found};
use super::oauth_routes::OAuthState;

async fn revoke_token(
    state: &OAuthState,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<(), OAuthError> {
    let params = oauth_lookup::params(form)?;
    let client = oauth_lookup::client(state, headers, &params).await?;
    let token = params.required("token")?;
    let Some(found) = oauth_lookup::find(state, token, params.get("token_type_hint")).await? else {
        return Ok(());
    };
    if found
        .client_id()
        .is_some_and(|owner| owner != client.client_id)
    {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        ));
    }
    match found {
        Found::Access(claims) => state.auth.access.revoke(token, &claims).await?,
        Found::Refresh(_) => {
            state
                .auth
                .refresh
                .revoke(token)
                .await
                .map_err(|e| match e {
                    jwt_tower::refresh::RefreshError::Unavailable(e) => OAuthError::from(e),
                    other => OAuthError::new(OAuthErrorCode::ServerError, other.to_string()),
                })?;
        }
    }
    Ok(())
}

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match revoke_token(&state, &headers, form).await {
        Ok(()) => (
            StatusCode::OK,
            [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        )
            .into_response(),
        Err(error) => OAuthErrorResponse(error).into_response(),
    }
}
