//! The standard OAuth routes of `auth_server`, beside its own login routes:
//! `GET /.well-known/oauth-authorization-server` (RFC 8414), `GET`/`POST /authorize`
//! (`oauth_authorize.rs`), `POST /token` (`oauth_token.rs`, with DPoP in
//! `oauth_dpop.rs`), `POST /register` (`oauth_register.rs`), `POST /introspect` (RFC
//! 7662, `oauth_introspect.rs`), `POST /revoke` (RFC 7009, `oauth_revoke.rs`). The
//! including example also includes `auth_routes.rs` (and its siblings), `oauth_error.rs`,
//! `oauth_pages.rs` and `oauth_params.rs`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_tower::oauth::{AuthorizationCodes, Client, OAuthError};
use jwt_tower::store::{Store, StoreError};
use serde_json::{Value, json};

use super::auth_routes::AuthState;
use super::oauth_dpop::TokenDpop;
use super::{oauth_authorize, oauth_introspect, oauth_register, oauth_revoke, oauth_token};

/// What the OAuth routes need beyond the login routes' state.
#[derive(Clone)]
pub struct OAuthState {
    /// The login routes' state: issuer, refresh tokens, users, login limits.
    pub auth: AuthState,
    /// Where registered clients and codes live (shared by a fleet with Redis).
    pub store: Arc<dyn Store>,
    /// The clients of `OAUTH_CLIENTS_FILE`, by id: configuration, kept in this process
    /// only, so that a client removed from the file is gone after a restart and each
    /// instance serves the clients of its own file.
    pub configured_clients: Arc<HashMap<String, Client>>,
    pub codes: AuthorizationCodes,
    /// The issuer identifier (`JWT_ISSUER`): the metadata's `issuer`, the base of its
    /// endpoints, and the `iss` of authorization responses (RFC 9207).
    pub issuer_url: String,
    /// The `resource` values tokens may be requested for (`OAUTH_RESOURCES`).
    pub resources: Arc<Vec<String>>,
    /// The audience of a token requested without `resource`: the first `JWT_AUDIENCE`.
    pub default_audience: Option<String>,
    /// Every scope a user or a configured client holds.
    pub scopes_supported: Arc<Vec<String>>,
    /// Served over TLS with client certificates (`TLS_CLIENT_CA_FILE`): `/token` binds
    /// access tokens to the client's certificate (RFC 8705).
    pub certificate_bound_tokens: bool,
    /// DPoP proofs at `/token`: tokens bound to the client's key, server nonces.
    pub dpop: TokenDpop,
}

impl OAuthState {
    /// The token's audience: `resource` if it is one of `OAUTH_RESOURCES`, else
    /// `invalid_target`; without it, the default audience.
    pub fn audience(&self, resource: Option<&str>) -> Result<Option<String>, OAuthError> {
        match resource {
            Some(resource) if self.resources.iter().any(|r| r == resource) => {
                Ok(Some(resource.to_owned()))
            }
            Some(_) => Err(OAuthError::invalid_target(
                "tokens are not issued for this resource",
            )),
            None => Ok(self.default_audience.clone()),
        }
    }

    /// The client `client_id`: a configured one, else one registered in the store.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        match self.configured_clients.get(client_id) {
            Some(client) => Ok(Some(client.clone())),
            None => {
                let now = jsonwebtoken::get_current_timestamp() as i64;
                self.store.client(client_id, now).await
            }
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_url.trim_end_matches('/'))
    }

    /// The RFC 8414 metadata document.
    pub fn metadata(&self) -> Value {
        let mut metadata = json!({
            "issuer": self.issuer_url,
            "authorization_endpoint": self.endpoint("/authorize"),
            "token_endpoint": self.endpoint("/token"),
            "registration_endpoint": self.endpoint("/register"),
            "jwks_uri": self.endpoint("/.well-known/jwks.json"),
            "scopes_supported": *self.scopes_supported,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": self.dpop.algorithms(),
            "introspection_endpoint": self.endpoint("/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint": self.endpoint("/revoke"),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        });
        if self.certificate_bound_tokens {
            // RFC 8705 §3.3.
            metadata["tls_client_certificate_bound_access_tokens"] = Value::Bool(true);
        }
        metadata
    }
}

async fn metadata(State(state): State<OAuthState>) -> Json<Value> {
    Json(state.metadata())
}

/// The path of the issuer URL (`https://host/tenant` → `/tenant`; empty for none).
fn issuer_path(issuer: &str) -> &str {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .trim_end_matches('/')
}

/// The routes. The metadata is served at `/.well-known/oauth-authorization-server`, and,
/// for an issuer with a path, also at that path inserted after it (RFC 8414 §3.1), where
/// clients look first.
pub fn router(state: OAuthState) -> Router {
    let well_known = "/.well-known/oauth-authorization-server";
    let mut router = Router::new().route(well_known, get(metadata));
    let path = issuer_path(&state.issuer_url);
    if !path.is_empty() {
        router = router.route(&format!("{well_known}{path}"), get(metadata));
    }
    router
        .route(
            "/authorize",
            get(oauth_authorize::show).post(oauth_authorize::submit),
        )
        .route("/token", post(oauth_token::token))
        .route("/register", post(oauth_register::register))
        .route("/introspect", post(oauth_introspect::introspect))
        .route("/revoke", post(oauth_revoke::revoke))
        .with_state(state)
}
