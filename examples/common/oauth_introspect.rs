//! `POST /introspect` (RFC 7662): a confidential client asks whether a token is active
//! and what it stands for. Access tokens (JWT or opaque, `oauth_access.rs`) and refresh
//! tokens are both understood; `token_type_hint` only says which to try first.
//!
//! - The client authenticates as at `/token` (`client_secret_basic` or
//!   `client_secret_post`). A public client, an unknown client or a wrong secret gets
//!   401 `invalid_client`: only a client holding a secret may learn what tokens mean.
//! - An active access token: `active`, `sub`, `scope`, `client_id` (when issued to a
//!   client), `aud`, `iss`, `exp`, `iat`, `nbf`, `jti`, `token_type` (`DPoP` when the
//!   token is bound to a proof's key, else `Bearer`), and `cnf` and `act` when the token
//!   has them (a resource server needs `cnf` to check a DPoP-bound opaque token, and
//!   `act` to see who acts for the user).
//! - An active refresh token (its family alive, the token not spent): `active`, `sub`,
//!   `scope`, `client_id`, `aud`, `iss`, `exp` (the family's absolute end), `iat` (its
//!   start), `token_type: refresh_token`, and `cnf.jkt` when the family is bound to a
//!   DPoP key, answered so to the client it was issued to alone (to any other client
//!   it is `{"active": false}`). Introspection does not spend it.
//! - Anything else (expired, revoked, unknown, signed by another issuer, malformed) is
//!   exactly `{"active": false}`: nothing tells why.
//!
//! Every answer carries `Cache-Control: no-store`. The including example also includes
//! `oauth_routes.rs` and its siblings.
#![allow(dead_code)]

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use jwt_tower::oauth::OAuthError;
use serde_json::{Map, Value};

use super::oauth_error::OAuthErrorResponse;
use super::oauth_lookup::{self, Found};
use super::oauth_routes::OAuthState;

/// The claims of an active access token that an introspection answer repeats.
const ACCESS_TOKEN_MEMBERS: [&str; 11] = [
    "sub",
    "scope",
    "client_id",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "cnf",
    "act",
];

/// The answer for an active token.
fn active(state: &OAuthState, found: &Found) -> Map<String, Value> {
    let mut answer = Map::new();
    answer.insert("active".into(), true.into());
    match found {
        Found::Access(claims) => {
            for member in ACCESS_TOKEN_MEMBERS {
                if let Some(value) = claims.get(member) {
                    answer.insert(member.into(), value.clone());
                }
            }
            let bound_to_key = claims.get("cnf").and_then(|cnf| cnf.get("jkt")).is_some();
            // RFC 9449 §5: a token bound to a proof's key is of type DPoP.
            let token_type = if bound_to_key { "DPoP" } else { "Bearer" };
            answer.insert("token_type".into(), token_type.into());
        }
        Found::Refresh(family) => {
            answer.insert("sub".into(), family.subject.clone().into());
            answer.insert("scope".into(), family.scope.clone().into());
            if let Some(client_id) = &family.client_id {
                answer.insert("client_id".into(), client_id.clone().into());
            }
            let audience = match &family.audience {
                Some(audience) => Value::from(audience.as_str()),
                None => state.auth.access.default_audience(),
            };
            if !audience.is_null() {
                answer.insert("aud".into(), audience);
            }
            answer.insert("iss".into(), state.issuer_url.clone().into());
            answer.insert("exp".into(), family.expires_at.into());
            answer.insert("iat".into(), family.created_at.into());
            answer.insert("token_type".into(), "refresh_token".into());
            if let Some(jkt) = &family.jkt {
                answer.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
            }
        }
    }
    answer
}

async fn introspect_token(
    state: &OAuthState,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Map<String, Value>, OAuthError> {
    let params = oauth_lookup::params(form)?;
    let client = oauth_lookup::client(state, headers, &params).await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "introspection is for clients that authenticate with a secret",
        ));
    }
    let token = params.required("token")?;
    Ok(
        match oauth_lookup::find(state, token, params.get("token_type_hint")).await? {
            // A refresh token is for the client it was issued to alone: to any other,
            // as to a client asking about a login's refresh token, it is not active.
            Some(found)
                if !matches!(found, Found::Refresh(_))
                    || found.client_id() == Some(client.client_id.as_str()) =>
            {
                active(state, &found)
            }
            _ => {
                let mut inactive = Map::new();
                inactive.insert("active".into(), false.into());
                inactive
            }
        },
    )
}

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match introspect_token(&state, &headers, form).await {
        Ok(answer) => (
            [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
            Json(Value::Object(answer)),
        )
            .into_response(),
        Err(error) => OAuthErrorResponse(error).into_response(),
    }
}
