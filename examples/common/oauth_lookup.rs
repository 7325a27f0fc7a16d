//! What `/introspect` and `/revoke` share (and `/token` the client part of): the form,
//! the client the request authenticates as, and the token it names, found among the
//! access and refresh tokens this server issued. The including example also includes
//! `oauth_routes.rs` and its siblings.
#![allow(dead_code)]

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use jwt_tower::oauth::{Client, ClientCredentials, OAuthError};
use jwt_tower::store::Family;
use serde_json::{Map, Value};

use super::oauth_params::Params;
use super::oauth_routes::OAuthState;

/// A token this server issued, found active.
pub enum Found {
    /// An access token, with its claims.
    Access(Map<String, Value>),
    /// A refresh token, with its family.
    Refresh(Family),
}

impl Found {
    /// The client the token was issued to; `None` for tokens of the login routes.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Access(claims) => claims.get("client_id").and_then(Value::as_str),
            Self::Refresh(family) => family.client_id.as_deref(),
        }
    }
}

/// The form of `/introspect` and `/revoke`, read by the rules of RFC 6749 §3.1.
pub fn params(
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Params, OAuthError> {
    let Form(pairs) = form.map_err(|_| {
        OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
    })?;
    Params::from_pairs(pairs)
}

/// The client the request authenticates as, as `/token` authenticates it (a public
/// client naming itself with `client_id` alone included).
pub async fn client(
    state: &OAuthState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let credentials = ClientCredentials::from_request(
        headers.get(AUTHORIZATION),
        params.get("client_id"),
        params.get("client_secret"),
    )?;
    let client = state.client(&credentials.client_id).await?;
    credentials.authenticate(client)
}

/// The active token `token` is, trying first the kind `hint` names (`access_token` or
/// `refresh_token`; any other value, or none, is no hint).
pub async fn find(
    state: &OAuthState,
    token: &str,
    hint: Option<&str>,
) -> Result<Option<Found>, OAuthError> {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let access =
        || async { Ok::<_, OAuthError>(state.auth.access.active(token).await?.map(Found::Access)) };
    let refresh = || async {
        let family = state
            .auth
            .refresh
            .current_family(token)
            .await
            .map_err(|e| match e {
                jwt_tower::refresh::RefreshError::Unavailable(e) => OAuthError::from(e),
                other => OAuthError::invalid_request(other.to_string()),
            })?;
        Ok(family
            .filter(|family| now < family.expires_at)
            .map(Found::Refresh))
    };
    if hint == Some("refresh_token") {
        if let Some(found) = refresh().await? {
            return Ok(Some(found));
        }
        return access().await;
    }
    if let Some(found) = access().await? {
        return Ok(Some(found));
    }
    refresh().await
}
