//! `POST /register` (RFC 7591): dynamic registration of public clients, whose redirect
//! URIs are on the loopback interface or `https`. The answer is 201 with the new
//! `client_id` and the accepted metadata, `token_endpoint_auth_method: "none"` and no
//! secret, whatever method was asked for (RFC 7591 §3.2.1 lets the server replace it).
//!
//! Registration is open, so it is bounded: each client address shares its budget of
//! login attempts (`LOGIN_ATTEMPTS_PER_ADDRESS`) with it, answered 429 with
//! `Retry-After` when used up; and a registered client the store forgets once unused
//! for its idle timeout (30 days by default).
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jwt_tower::oauth::{ClientRegistration, OAuthError, OAuthErrorCode, new_client_id};
use serde_json::json;

use super::app_error::AppError;
use super::login_guard::Refused;
use super::oauth_error::OAuthErrorResponse;
use super::oauth_routes::OAuthState;
use super::retry_after;

/// The answer to an address past its budget: 429, `Retry-After`, and the JSON error
/// body of the endpoint.
fn too_many(retry_after: u64) -> Response {
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": "too many requests from this address; retry later",
    });
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response();
    retry_after::insert(response.headers_mut(), retry_after);
    response
}

async fn registered(
    state: &OAuthState,
    request: Result<Json<ClientRegistration>, JsonRejection>,
) -> Result<Response, OAuthError> {
    let Json(request) = request.map_err(|e| {
        OAuthError::new(
            OAuthErrorCode::InvalidClientMetadata,
            format!(
                "the body must be the JSON client metadata: {}",
                e.body_text()
            ),
        )
    })?;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let client = request.register(new_client_id(), now)?;
    state.store.put_client(&client, now).await?;
    tracing::info!(client_id = %client.client_id, "oauth client registered");
    Ok((
        StatusCode::CREATED,
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(client.registration_response()),
    )
        .into_response())
}

/// `POST /register`.
pub async fn register(
    State(state): State<OAuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<ClientRegistration>, JsonRejection>,
) -> Response {
    // The client address may come from a header a reverse proxy sets (`login_guard.rs`).
    let guard = &state.auth.login_guard;
    let counted = guard
        .client(&headers, peer.ip())
        .and_then(|client| guard.attempt_from(client));
    match counted {
        Ok(()) => {}
        Err(Refused::TooManyAttempts { retry_after }) => return too_many(retry_after),
        Err(other) => return AppError::from(other).into_response(),
    }
    match registered(&state, request).await {
        Ok(response) => response,
        Err(error) => OAuthErrorResponse(error).into_response(),
    }
}
