//! `POST /register` (RFC 7591): dynamic registration of public clients, whose redirect
//! URIs are on the loopback interface or `https`. The answer is 201 with the new
//! `client_id` and the accepted metadata, `token_endpoint_auth_method: "none"` and no
//! secret, whatever method was asked for (RFC 7591 §3.2.1 lets the server replace it).
#![allow(dead_code)]

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use jwt_tower::oauth::{ClientRegistration, OAuthError, OAuthErrorCode, new_client_id};

use super::oauth_error::OAuthErrorResponse;
use super::oauth_routes::OAuthState;

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
    state.store.put_client(&client).await?;
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
    request: Result<Json<ClientRegistration>, JsonRejection>,
) -> Response {
    match registered(&state, request).await {
        Ok(response) => response,
        Err(error) => OAuthErrorResponse(error).into_response(),
    }
}
