//! RFC 8693 token exchange, the decision without HTTP: which client may exchange, for
//! which target, and what the exchanged token carries (`sub`, `aud`, narrowed `scope`,
//! the `act` chain, an `exp` no later than the subject token's).
//!
//! A request goes in two steps, so that nothing is verified for a request refused on its
//! form: [`ExchangeRequest::check`] reads what needs no token (the client, the token
//! types, the one target); the caller then verifies the subject token (and the actor
//! token) as tokens it issued, and [`CheckedExchange::grant`] decides from their claims.
//!
//! What limits an exchanging client is its `exchange_audiences`; its own `scope` (the
//! bound of its client-credentials tokens) does not apply: the exchanged token carries
//! the subject's authority, narrowed only by the subject token's scope and the request.
//!
//! Error codes (RFC 8693 §2.2.2, RFC 6749 §5.2):
//!
//! | what | code |
//! |---|---|
//! | `subject_token` or `subject_token_type` missing, a type other than an access token, an `actor_token` without its type or the reverse, an unsupported `requested_token_type`, no target | `invalid_request` |
//! | the subject or actor token is invalid, expired or revoked (the caller's verification) | `invalid_request` |
//! | several targets (`audience` and `resource` values together), or a target this server does not serve | `invalid_target` |
//! | a served target missing from the client's `exchange_audiences`; a public client; a client without the grant | `unauthorized_client` |
//! | a scope the subject token did not have | `invalid_scope` |

use serde_json::{Map, Value};

use super::scope::{self, is_valid_scope};
use super::{Client, OAuthError, OAuthErrorCode};

/// The token-exchange grant type (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OAuth access token (RFC 8693 §3): the only `subject_token_type`
/// accepted, and the `issued_token_type` of every answer.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a JWT (RFC 8693 §3): accepted as `actor_token_type` beside
/// [`ACCESS_TOKEN_TYPE`] (an actor token is verified as an access token either way).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The parameters of a token-exchange request, as sent (absent and empty alike `None`).
///
/// ```
/// use jwt_tower::oauth::{ACCESS_TOKEN_TYPE, ClientConfig, ExchangeRequest, OAuthErrorCode};
/// use serde_json::json;
///
/// let gateway = ClientConfig {
///     exchange_audiences: vec!["orders-api".into()],
///     ..ClientConfig::confidential("gateway", "a-long-random-secret")
/// }
/// .into_client(0)
/// .unwrap();
/// let request = ExchangeRequest {
///     subject_token: Some("eyJ…"),
///     subject_token_type: Some(ACCESS_TOKEN_TYPE),
///     audiences: vec!["orders-api"],
///     scope: Some("orders.read"),
///     ..ExchangeRequest::default()
/// };
/// let serves = |audience: &str| ["api", "orders-api", "billing-api"].contains(&audience);
/// let checked = request.check(&gateway, serves).unwrap();
///
/// // The caller verifies the subject token as one it issued, then:
/// let subject = json!({"sub": "alice", "scope": "orders.read orders.write", "exp": 2_000_000_000});
/// let grant = checked.grant(subject.as_object().unwrap(), None).unwrap();
/// assert_eq!(grant.subject, "alice");
/// assert_eq!(grant.audience, "orders-api");
/// assert_eq!(grant.scope, "orders.read");
/// assert_eq!(grant.act, json!({"sub": "gateway"}));
/// assert_eq!(grant.expires_at, 2_000_000_000);
///
/// // A served audience the client may not reach, and one nobody serves.
/// let to = |audience| ExchangeRequest { audiences: vec![audience], ..request.clone() };
/// let code = |r: ExchangeRequest| r.check(&gateway, serves).unwrap_err().code();
/// assert_eq!(code(to("billing-api")), OAuthErrorCode::UnauthorizedClient);
/// assert_eq!(code(to("elsewhere")), OAuthErrorCode::InvalidTarget);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExchangeRequest<'a> {
    /// `subject_token`: the token whose subject the exchanged token is for.
    pub subject_token: Option<&'a str>,
    /// `subject_token_type`: must be [`ACCESS_TOKEN_TYPE`].
    pub subject_token_type: Option<&'a str>,
    /// `actor_token`: the party acting for the subject, when not the client itself.
    pub actor_token: Option<&'a str>,
    /// `actor_token_type`: [`ACCESS_TOKEN_TYPE`] or [`JWT_TOKEN_TYPE`], with
    /// `actor_token` only.
    pub actor_token_type: Option<&'a str>,
    /// `requested_token_type`: absent or [`ACCESS_TOKEN_TYPE`].
    pub requested_token_type: Option<&'a str>,
    /// Every `audience` value.
    pub audiences: Vec<&'a str>,
    /// Every `resource` value (RFC 8707).
    pub resources: Vec<&'a str>,
    /// `scope`: what the exchanged token should carry, within the subject token's.
    pub scope: Option<&'a str>,
}

/// A request that passed every check needing no token: the client may exchange for its
/// one target. [`grant`](Self::grant) decides from the verified tokens' claims.
#[derive(Debug, Clone)]
pub struct CheckedExchange<'a> {
    client_id: &'a str,
    subject_token: &'a str,
    actor_token: Option<&'a str>,
    audience: &'a str,
    scope: Option<&'a str>,
}

/// What an exchange grants: the exchanged token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeGrant {
    /// `sub`: the subject token's.
    pub subject: String,
    /// `aud`: the one target.
    pub audience: String,
    /// `scope`: the requested scope, or the subject token's whole scope.
    pub scope: String,
    /// `act` (RFC 8693 §4.1): `{"sub": <the actor token's sub, or the client id>}`, with
    /// the subject token's own `act` nested inside (the current actor outermost).
    pub act: Value,
    /// The latest `exp` the exchanged token may have: the subject token's, or the actor
    /// token's when earlier.
    pub expires_at: i64,
}

fn unauthorized(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::UnauthorizedClient, description)
}

impl<'a> ExchangeRequest<'a> {
    /// Checks what needs no token: the client (confidential, allowed the grant), the
    /// parameters' presence and token types, and the one target, which `serves` must
    /// know and the client's `exchange_audiences` must list.
    ///
    /// # Errors
    /// `unauthorized_client`, `invalid_request` or `invalid_target`, as the table in the
    /// module's documentation says.
    pub fn check(
        &self,
        client: &'a Client,
        serves: impl Fn(&str) -> bool,
    ) -> Result<CheckedExchange<'a>, OAuthError> {
        if client.is_public() {
            return Err(unauthorized("public clients may not exchange tokens"));
        }
        if !client.allows_grant(TOKEN_EXCHANGE) {
            return Err(unauthorized(
                "this client may not use the token-exchange grant",
            ));
        }
        let subject_token = self
            .subject_token
            .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
        match self.subject_token_type {
            None => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type is required",
                ));
            }
            Some(ACCESS_TOKEN_TYPE) => {}
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
                ));
            }
        }
        match (self.actor_token, self.actor_token_type) {
            (None, None) | (Some(_), Some(ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE)) => {}
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type is required with actor_token",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type without actor_token",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type must be an access token or a JWT",
                ));
            }
        }
        if self
            .requested_token_type
            .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
        {
            return Err(OAuthError::invalid_request(
                "only access tokens are issued: requested_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ));
        }
        let audience = self.target()?;
        if !serves(audience) {
            return Err(OAuthError::invalid_target(
                "tokens are not issued for this audience",
            ));
        }
        if !client.may_exchange_for(audience) {
            return Err(unauthorized(
                "this client may not exchange tokens for this audience",
            ));
        }
        Ok(CheckedExchange {
            client_id: &client.client_id,
            subject_token,
            actor_token: self.actor_token,
            audience,
            scope: self.scope,
        })
    }

    /// The one target among every `audience` and `resource` value (the same value
    /// named twice counts once).
    fn target(&self) -> Result<&'a str, OAuthError> {
        let mut targets = self
            .audiences
            .iter()
            .chain(&self.resources)
            .copied()
            .filter(|t| !t.is_empty());
        let Some(first) = targets.next() else {
            return Err(OAuthError::invalid_request(
                "name the target with audience or resource",
            ));
        };
        if targets.any(|t| t != first) {
            return Err(OAuthError::invalid_target(
                "name one target: tokens are exchanged for one audience at a time",
            ));
        }
        Ok(first)
    }
}

impl<'a> CheckedExchange<'a> {
    /// The subject token to verify.
    #[must_use]
    pub fn subject_token(&self) -> &'a str {
        self.subject_token
    }

    /// The actor token to verify, if one was sent.
    #[must_use]
    pub fn actor_token(&self) -> Option<&'a str> {
        self.actor_token
    }

    /// The target audience.
    #[must_use]
    pub fn audience(&self) -> &'a str {
        self.audience
    }

    /// The grant, from the verified claims of the subject token and of the actor token
    /// (`Some` exactly when [`actor_token`](Self::actor_token) is).
    ///
    /// An actor token must belong to the authenticated client: its `client_id` or its
    /// `sub` is the client's id (a client cannot act as another by presenting that
    /// other's token).
    ///
    /// # Errors
    /// `invalid_request` when a token lacks a string `sub` or an integer `exp`, or holds
    /// an `act` that is not an object, or the actor token belongs to another client;
    /// `invalid_scope` for a malformed scope or one the
    /// subject token did not have.
    pub fn grant(
        &self,
        subject: &Map<String, Value>,
        actor: Option<&Map<String, Value>>,
    ) -> Result<ExchangeGrant, OAuthError> {
        let sub = string_claim(subject, "sub", "the subject token has no sub")?;
        let mut expires_at = integer_claim(subject, "exp", "the subject token has no exp")?;
        let actor_sub = match actor {
            Some(actor) => {
                let exp = integer_claim(actor, "exp", "the actor token has no exp")?;
                expires_at = expires_at.min(exp);
                let actor_sub = string_claim(actor, "sub", "the actor token has no sub")?;
                let client_id = actor.get("client_id").and_then(Value::as_str);
                if actor_sub != self.client_id && client_id != Some(self.client_id) {
                    return Err(OAuthError::invalid_request(
                        "the actor token does not belong to this client: its client_id or sub must be the client's",
                    ));
                }
                actor_sub
            }
            None => self.client_id,
        };
        let mut act = Map::new();
        act.insert("sub".to_owned(), Value::from(actor_sub));
        match subject.get("act") {
            None => {}
            Some(prior @ Value::Object(_)) => {
                act.insert("act".to_owned(), prior.clone());
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "the subject token's act is not an object",
                ));
            }
        }
        Ok(ExchangeGrant {
            subject: sub.to_owned(),
            audience: self.audience.to_owned(),
            scope: self.narrowed_scope(subject)?,
            act: Value::Object(act),
            expires_at,
        })
    }

    /// The requested scope, every token of which the subject token must hold; without a
    /// request, the subject token's whole scope.
    fn narrowed_scope(&self, subject: &Map<String, Value>) -> Result<String, OAuthError> {
        let held = match subject.get("scope") {
            None => "",
            Some(Value::String(scope)) if is_valid_scope(scope) => scope,
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "the subject token's scope is malformed",
                ));
            }
        };
        if let Some(requested) = self.scope.filter(|s| !s.is_empty()) {
            if !is_valid_scope(requested) {
                return Err(OAuthError::invalid_scope(
                    "scope must be space-separated scope tokens",
                ));
            }
            if requested
                .split(' ')
                .any(|t| !held.split(' ').any(|h| h == t))
            {
                return Err(OAuthError::invalid_scope(
                    "the requested scope exceeds the subject token's",
                ));
            }
        }
        scope::narrow(self.scope, &[held])
    }
}

fn string_claim<'m>(
    claims: &'m Map<String, Value>,
    name: &str,
    missing: &'static str,
) -> Result<&'m str, OAuthError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(missing))
}

fn integer_claim(
    claims: &Map<String, Value>,
    name: &str,
    missing: &'static str,
) -> Result<i64, OAuthError> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .ok_or_else(|| OAuthError::invalid_request(missing))
}

#[cfg(test)]
mod tests;
