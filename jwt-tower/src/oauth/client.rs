//! Registered OAuth clients: their record (kept in the [`Store`](crate::store::Store)),
//! client-secret checks, redirect-URI rules, and RFC 7591 dynamic registration.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::exchange::TOKEN_EXCHANGE;
use super::scope::is_valid_scope;
use super::{OAuthError, OAuthErrorCode};

/// The grant types this module knows.
pub const AUTHORIZATION_CODE: &str = "authorization_code";
/// See [`AUTHORIZATION_CODE`].
pub const REFRESH_TOKEN: &str = "refresh_token";
/// See [`AUTHORIZATION_CODE`].
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// A registered client, as the store keeps it: its secret only as a hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client's id.
    pub client_id: String,
    /// SHA-256 (base64url) of the client secret; `None` for a public client. Secrets are
    /// high-entropy values, so a plain hash is enough to make a stolen record useless.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// The scope the client may be granted at most (space-separated); `None`: the client
    /// adds no bound of its own (an authorization-code grant is still bound by the user,
    /// and a client-credentials grant then gets no scope).
    #[serde(default)]
    pub scope: Option<String>,
    /// The redirect URIs an authorization request may name, compared exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The grant types the client may use.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// When it was registered, seconds since the epoch.
    #[serde(default)]
    pub issued_at: i64,
    /// A name to show on the login page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// The audiences this client may exchange a token for (RFC 8693): each exchanged
    /// token is for one of them. Empty for every client but a configured confidential
    /// one; a stored record without it reads as empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchange_audiences: Vec<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("public", &self.is_public())
            .field("scope", &self.scope)
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("exchange_audiences", &self.exchange_audiences)
            .finish_non_exhaustive()
    }
}

/// The hash under which a client secret is kept: SHA-256, base64url.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

impl Client {
    /// Whether the client has no secret (it authenticates with `none`).
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether `secret` is this client's secret (hashes compared in constant time). Always
    /// false for a public client.
    ///
    /// ```
    /// use jwt_tower::oauth::{Client, ClientConfig};
    /// let client = ClientConfig::confidential("svc", "s3cret").into_client(0).unwrap();
    /// assert!(client.verify_secret("s3cret"));
    /// assert!(!client.verify_secret("s3cre"));
    /// ```
    #[must_use]
    pub fn verify_secret(&self, secret: &str) -> bool {
        self.secret_hash
            .as_deref()
            .is_some_and(|hash| bool::from(hash.as_bytes().ct_eq(hash_secret(secret).as_bytes())))
    }

    /// Whether the client may use `grant_type`.
    #[must_use]
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether the client may exchange a token for one with `audience` (RFC 8693): a
    /// confidential client allowed the token-exchange grant, with `audience` among its
    /// `exchange_audiences` (compared exactly).
    ///
    /// ```
    /// use jwt_tower::oauth::{ClientConfig, TOKEN_EXCHANGE};
    ///
    /// let gateway = ClientConfig {
    ///     exchange_audiences: vec!["orders-api".into()],
    ///     ..ClientConfig::confidential("gateway", "a-long-random-secret")
    /// }
    /// .into_client(0)
    /// .unwrap();
    /// assert!(gateway.allows_grant(TOKEN_EXCHANGE));
    /// assert!(gateway.may_exchange_for("orders-api"));
    /// assert!(!gateway.may_exchange_for("billing-api"));
    /// ```
    #[must_use]
    pub fn may_exchange_for(&self, audience: &str) -> bool {
        !self.is_public()
            && self.allows_grant(TOKEN_EXCHANGE)
            && self.exchange_audiences.iter().any(|a| a == audience)
    }

    /// Whether `redirect_uri` is one of the client's, exactly.
    #[must_use]
    pub fn has_redirect_uri(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == redirect_uri)
    }

    /// The RFC 7591 §3.2.1 answer to the registration that created this public client.
    #[must_use]
    pub fn registration_response(&self) -> Value {
        let mut body = json!({
            "client_id": self.client_id,
            "client_id_issued_at": self.issued_at,
            "token_endpoint_auth_method": "none",
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types,
            "response_types": ["code"],
        });
        if let Some(scope) = &self.scope {
            body["scope"] = Value::from(scope.as_str());
        }
        if let Some(name) = &self.client_name {
            body["client_name"] = Value::from(name.as_str());
        }
        body
    }
}

/// Whether `uri` may be a redirect URI: `https` with a host, or `http` on the loopback
/// interface (`127.0.0.1`, `localhost`, `[::1]`, any port, RFC 8252 §7.3); no fragment and
/// no user info. Custom schemes are refused.
///
/// ```
/// use jwt_tower::oauth::is_allowed_redirect_uri;
/// assert!(is_allowed_redirect_uri("http://127.0.0.1:53127/callback"));
/// assert!(is_allowed_redirect_uri("http://localhost/cb"));
/// assert!(is_allowed_redirect_uri("http://[::1]:8080/cb"));
/// assert!(is_allowed_redirect_uri("https://app.example.com/cb"));
/// assert!(!is_allowed_redirect_uri("http://app.example.com/cb"));
/// assert!(!is_allowed_redirect_uri("https://app.example.com/cb#frag"));
/// assert!(!is_allowed_redirect_uri("com.example.app:/cb"));
/// ```
#[must_use]
pub fn is_allowed_redirect_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(domain))) => domain.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip == std::net::Ipv4Addr::LOCALHOST,
        ("http", Some(url::Host::Ipv6(ip))) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

/// A pre-registered client as configured (e.g. an entry of `OAUTH_CLIENTS_FILE`): the
/// secret in clear here, hashed by [`into_client`](Self::into_client). Only `client_id`
/// is required. A confidential client listing `exchange_audiences` may exchange tokens
/// for those audiences (RFC 8693).
///
/// ```
/// use jwt_tower::oauth::ClientConfig;
///
/// let clients: Vec<ClientConfig> = serde_json::from_str(r#"[
///   {"client_id": "reports", "client_secret": "a-long-random-secret", "scope": "orders.read",
///    "grant_types": ["client_credentials"]},
///   {"client_id": "cli", "redirect_uris": ["http://127.0.0.1/callback"]}
/// ]"#).unwrap();
/// let reports = clients[0].clone().into_client(0).unwrap();
/// assert!(!reports.is_public() && reports.allows_grant("client_credentials"));
/// let cli = clients[1].clone().into_client(0).unwrap();
/// assert!(cli.is_public() && cli.allows_grant("authorization_code"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client's id.
    pub client_id: String,
    /// Its secret; absent for a public client.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The scope it may be granted at most (space-separated).
    #[serde(default)]
    pub scope: Option<String>,
    /// Its redirect URIs (loopback `http` or `https`).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Its grant types. Default: `authorization_code` and `refresh_token`, plus
    /// `client_credentials` for a client with a secret, plus the token-exchange grant
    /// ([`TOKEN_EXCHANGE`]) for one with `exchange_audiences`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// The audiences it may exchange tokens for (RFC 8693); confidential clients only.
    #[serde(default)]
    pub exchange_audiences: Vec<String>,
}

impl ClientConfig {
    /// A confidential client with `client_id` and `secret`, default grant types, no scope
    /// bound and no redirect URI.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(secret.into()),
            scope: None,
            redirect_uris: Vec::new(),
            grant_types: None,
            exchange_audiences: Vec::new(),
        }
    }

    /// Checks the configuration and makes the client record, registered at `now`.
    ///
    /// # Errors
    /// A message naming the client and what is wrong: an empty id or secret, a
    /// malformed scope, a redirect URI that is neither loopback `http` nor `https`, an
    /// unknown grant type, `client_credentials` or token exchange for a client without a
    /// secret, token exchange without `exchange_audiences` or the reverse, or an empty
    /// or control-character audience.
    pub fn into_client(self, now: i64) -> Result<Client, String> {
        let id = &self.client_id;
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(format!(
                "client_id {id:?} is empty or holds a control character"
            ));
        }
        if self.client_secret.as_deref() == Some("") {
            return Err(format!("client {id:?}: client_secret is empty"));
        }
        if let Some(scope) = &self.scope
            && !is_valid_scope(scope)
        {
            return Err(format!("client {id:?}: scope {scope:?} is malformed"));
        }
        if let Some(uri) = self
            .redirect_uris
            .iter()
            .find(|u| !is_allowed_redirect_uri(u))
        {
            return Err(format!(
                "client {id:?}: redirect URI {uri:?} is neither loopback http nor https"
            ));
        }
        let confidential = self.client_secret.is_some();
        let exchanges = !self.exchange_audiences.is_empty();
        let grant_types = self.grant_types.unwrap_or_else(|| {
            let mut grants = vec![AUTHORIZATION_CODE.to_owned(), REFRESH_TOKEN.to_owned()];
            if confidential {
                grants.push(CLIENT_CREDENTIALS.to_owned());
            }
            if confidential && exchanges {
                grants.push(TOKEN_EXCHANGE.to_owned());
            }
            grants
        });
        if let Some(grant) = grant_types.iter().find(|g| {
            ![
                AUTHORIZATION_CODE,
                REFRESH_TOKEN,
                CLIENT_CREDENTIALS,
                TOKEN_EXCHANGE,
            ]
            .contains(&g.as_str())
        }) {
            return Err(format!("client {id:?}: unknown grant type {grant:?}"));
        }
        if !confidential && grant_types.iter().any(|g| g == CLIENT_CREDENTIALS) {
            return Err(format!(
                "client {id:?}: client_credentials needs a client_secret"
            ));
        }
        if !confidential && (exchanges || grant_types.iter().any(|g| g == TOKEN_EXCHANGE)) {
            return Err(format!(
                "client {id:?}: token exchange needs a client_secret"
            ));
        }
        if exchanges != grant_types.iter().any(|g| g == TOKEN_EXCHANGE) {
            return Err(format!(
                "client {id:?}: the token-exchange grant and exchange_audiences go together"
            ));
        }
        if let Some(audience) = self
            .exchange_audiences
            .iter()
            .find(|a| a.is_empty() || a.chars().any(char::is_control))
        {
            return Err(format!(
                "client {id:?}: exchange audience {audience:?} is empty or holds a control character"
            ));
        }
        Ok(Client {
            secret_hash: self.client_secret.as_deref().map(hash_secret),
            client_id: self.client_id,
            scope: self.scope,
            redirect_uris: self.redirect_uris,
            grant_types,
            issued_at: now,
            client_name: None,
            exchange_audiences: self.exchange_audiences,
        })
    }
}

/// An RFC 7591 registration request. Members this server does not use are ignored;
/// `token_endpoint_auth_method` is read but the answer is always `none`: registered clients
/// are public (RFC 7591 §3.2.1 lets the server replace requested values).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientRegistration {
    /// Required, at least one.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Requested, and replaced by `none`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Default `["authorization_code", "refresh_token"]`, so that a public client gets a
    /// refresh token with its code exchange (RFC 7591 §2 defaults to
    /// `authorization_code` alone; the registration response names both); only
    /// `authorization_code` and `refresh_token`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Default `["code"]`; only `code`.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// The scope the client may be granted at most.
    #[serde(default)]
    pub scope: Option<String>,
    /// A name for the login page.
    #[serde(default)]
    pub client_name: Option<String>,
}

/// The longest client name kept (it is shown on the login page).
const MAX_CLIENT_NAME: usize = 200;
/// The most redirect URIs one registration may hold.
const MAX_REDIRECT_URIS: usize = 10;
/// The longest redirect URI accepted.
const MAX_REDIRECT_URI_LEN: usize = 2048;

impl ClientRegistration {
    /// Checks the request and makes the public client `client_id`, registered at `now`.
    ///
    /// # Errors
    /// `invalid_redirect_uri` for no redirect URI, or one that is neither loopback `http`
    /// nor `https`; `invalid_client_metadata` for other grant or response types, a
    /// malformed scope, or an over-long name.
    ///
    /// ```
    /// use jwt_tower::oauth::{ClientRegistration, OAuthErrorCode};
    ///
    /// let request: ClientRegistration = serde_json::from_str(
    ///     r#"{"redirect_uris": ["http://localhost:3030/callback"],
    ///         "grant_types": ["authorization_code", "refresh_token"],
    ///         "token_endpoint_auth_method": "client_secret_post"}"#).unwrap();
    /// let client = request.register("generated-id".into(), 1_700_000_000).unwrap();
    /// assert!(client.is_public());
    /// assert_eq!(client.registration_response()["token_endpoint_auth_method"], "none");
    ///
    /// let request: ClientRegistration =
    ///     serde_json::from_str(r#"{"redirect_uris": ["http://evil.example/cb"]}"#).unwrap();
    /// let error = request.register("id".into(), 0).unwrap_err();
    /// assert_eq!(error.code(), OAuthErrorCode::InvalidRedirectUri);
    /// ```
    pub fn register(self, client_id: String, now: i64) -> Result<Client, OAuthError> {
        let metadata = |d: &'static str| OAuthError::new(OAuthErrorCode::InvalidClientMetadata, d);
        if self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                "redirect_uris must hold one to ten URIs",
            ));
        }
        if self
            .redirect_uris
            .iter()
            .any(|u| u.len() > MAX_REDIRECT_URI_LEN || !is_allowed_redirect_uri(u))
        {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                "redirect URIs must be http on the loopback interface (127.0.0.1, localhost, [::1]) or https, without a fragment",
            ));
        }
        let grant_types = self
            .grant_types
            .unwrap_or_else(|| vec![AUTHORIZATION_CODE.to_owned(), REFRESH_TOKEN.to_owned()]);
        if grant_types.is_empty()
            || grant_types
                .iter()
                .any(|g| g != AUTHORIZATION_CODE && g != REFRESH_TOKEN)
        {
            return Err(metadata(
                "grant_types may hold only authorization_code and refresh_token (registered clients are public)",
            ));
        }
        if self
            .response_types
            .is_some_and(|r| r.iter().any(|t| t != "code"))
        {
            return Err(metadata("response_types may hold only code"));
        }
        if let Some(scope) = &self.scope
            && !is_valid_scope(scope)
        {
            return Err(metadata("scope must be space-separated scope tokens"));
        }
        if self
            .client_name
            .as_ref()
            .is_some_and(|n| n.len() > MAX_CLIENT_NAME || n.chars().any(char::is_control))
        {
            return Err(metadata(
                "client_name is too long or holds a control character",
            ));
        }
        let mut unique_grants: Vec<String> = Vec::new();
        for grant in grant_types {
            if !unique_grants.contains(&grant) {
                unique_grants.push(grant);
            }
        }
        Ok(Client {
            client_id,
            secret_hash: None,
            scope: self.scope.filter(|s| !s.is_empty()),
            redirect_uris: self.redirect_uris,
            grant_types: unique_grants,
            issued_at: now,
            client_name: self.client_name,
            exchange_audiences: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests;
