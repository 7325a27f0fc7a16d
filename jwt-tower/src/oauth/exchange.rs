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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::oauth::ClientConfig;

    fn gateway() -> Client {
        ClientConfig {
            exchange_audiences: vec!["orders".into(), "billing".into()],
            ..ClientConfig::confidential("gateway", "secret")
        }
        .into_client(0)
        .unwrap()
    }

    fn request() -> ExchangeRequest<'static> {
        ExchangeRequest {
            subject_token: Some("subject"),
            subject_token_type: Some(ACCESS_TOKEN_TYPE),
            audiences: vec!["orders"],
            ..ExchangeRequest::default()
        }
    }

    fn serves(audience: &str) -> bool {
        ["api", "orders", "billing", "inventory"].contains(&audience)
    }

    fn code(request: &ExchangeRequest<'_>, client: &Client) -> OAuthErrorCode {
        request.check(client, serves).unwrap_err().code()
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn alice() -> Map<String, Value> {
        claims(json!({"sub": "alice", "scope": "read write", "exp": 2000}))
    }

    #[test]
    fn a_checked_request_names_its_tokens_and_target() {
        let client = gateway();
        let checked = ExchangeRequest {
            actor_token: Some("actor"),
            actor_token_type: Some(JWT_TOKEN_TYPE),
            requested_token_type: Some(ACCESS_TOKEN_TYPE),
            ..request()
        }
        .check(&client, serves)
        .unwrap();
        assert_eq!(checked.subject_token(), "subject");
        assert_eq!(checked.actor_token(), Some("actor"));
        assert_eq!(checked.audience(), "orders");
        // `resource` names a target as `audience` does; the same one twice is one.
        let by_resource = ExchangeRequest {
            audiences: vec!["billing"],
            resources: vec!["billing"],
            ..request()
        };
        assert_eq!(
            by_resource.check(&client, serves).unwrap().audience(),
            "billing"
        );
    }

    #[test]
    fn only_confidential_clients_with_the_grant_exchange() {
        let public = ClientConfig {
            client_secret: None,
            ..ClientConfig::confidential("cli", "x")
        }
        .into_client(0)
        .unwrap();
        assert_eq!(
            code(&request(), &public),
            OAuthErrorCode::UnauthorizedClient
        );
        let plain = ClientConfig::confidential("svc", "secret")
            .into_client(0)
            .unwrap();
        assert_eq!(code(&request(), &plain), OAuthErrorCode::UnauthorizedClient);
        // A record with the audiences but not the grant (as stored, unchecked).
        let mut no_grant = gateway();
        no_grant.grant_types.retain(|g| g != TOKEN_EXCHANGE);
        assert_eq!(
            code(&request(), &no_grant),
            OAuthErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn malformed_requests_are_invalid_request() {
        let client = gateway();
        for bad in [
            ExchangeRequest {
                subject_token: None,
                ..request()
            },
            ExchangeRequest {
                subject_token_type: None,
                ..request()
            },
            ExchangeRequest {
                subject_token_type: Some(JWT_TOKEN_TYPE),
                ..request()
            },
            ExchangeRequest {
                subject_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
                ..request()
            },
            ExchangeRequest {
                actor_token: Some("actor"),
                ..request()
            },
            ExchangeRequest {
                actor_token_type: Some(ACCESS_TOKEN_TYPE),
                ..request()
            },
            ExchangeRequest {
                actor_token: Some("actor"),
                actor_token_type: Some("urn:ietf:params:oauth:token-type:id_token"),
                ..request()
            },
            ExchangeRequest {
                requested_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
                ..request()
            },
            ExchangeRequest {
                audiences: vec![],
                ..request()
            },
        ] {
            assert_eq!(
                code(&bad, &client),
                OAuthErrorCode::InvalidRequest,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn one_target_served_and_listed() {
        let client = gateway();
        let to = |audiences: Vec<&'static str>, resources: Vec<&'static str>| ExchangeRequest {
            audiences,
            resources,
            ..request()
        };
        assert_eq!(
            code(&to(vec!["orders", "billing"], vec![]), &client),
            OAuthErrorCode::InvalidTarget
        );
        assert_eq!(
            code(&to(vec!["orders"], vec!["billing"]), &client),
            OAuthErrorCode::InvalidTarget
        );
        assert_eq!(
            code(&to(vec!["elsewhere"], vec![]), &client),
            OAuthErrorCode::InvalidTarget
        );
        // Served, but not among the client's exchange audiences.
        assert_eq!(
            code(&to(vec![], vec!["inventory"]), &client),
            OAuthErrorCode::UnauthorizedClient
        );
        // Listed by the client but not served (any more): not a target.
        let mut stale = gateway();
        stale.exchange_audiences.push("retired".into());
        assert_eq!(
            code(&to(vec!["retired"], vec![]), &stale),
            OAuthErrorCode::InvalidTarget
        );
    }

    #[test]
    fn the_grant_keeps_the_subject_and_narrows_the_scope() {
        let client = gateway();
        let checked = request().check(&client, serves).unwrap();
        let grant = checked.grant(&alice(), None).unwrap();
        assert_eq!(
            grant,
            ExchangeGrant {
                subject: "alice".into(),
                audience: "orders".into(),
                scope: "read write".into(),
                act: json!({"sub": "gateway"}),
                expires_at: 2000,
            }
        );
        let narrowed = ExchangeRequest {
            scope: Some("write"),
            ..request()
        };
        let grant = narrowed
            .check(&client, serves)
            .unwrap()
            .grant(&alice(), None);
        assert_eq!(grant.unwrap().scope, "write");
    }

    #[test]
    fn more_scope_than_the_subject_had_is_invalid_scope() {
        let client = gateway();
        for scope in ["read admin", "admin", "rea", "read  write"] {
            let request = ExchangeRequest {
                scope: Some(scope),
                ..request()
            };
            let checked = request.check(&client, serves).unwrap();
            assert_eq!(
                checked.grant(&alice(), None).unwrap_err().code(),
                OAuthErrorCode::InvalidScope,
                "{scope}"
            );
        }
        // A subject token without scope grants none and allows none to be asked.
        let bare = claims(json!({"sub": "alice", "exp": 2000}));
        let checked = request().check(&client, serves).unwrap();
        assert_eq!(checked.grant(&bare, None).unwrap().scope, "");
        let asking = ExchangeRequest {
            scope: Some("read"),
            ..request()
        };
        let checked = asking.check(&client, serves).unwrap();
        assert_eq!(
            checked.grant(&bare, None).unwrap_err().code(),
            OAuthErrorCode::InvalidScope
        );
    }

    #[test]
    fn act_nests_the_prior_actors_inside_the_current_one() {
        let client = gateway();
        let checked = request().check(&client, serves).unwrap();
        let exchanged_once = claims(json!({
            "sub": "alice", "scope": "read", "exp": 2000,
            "act": {"sub": "frontend", "act": {"sub": "edge"}}
        }));
        let grant = checked.grant(&exchanged_once, None).unwrap();
        assert_eq!(
            grant.act,
            json!({"sub": "gateway", "act": {"sub": "frontend", "act": {"sub": "edge"}}})
        );
        let odd = claims(json!({"sub": "alice", "exp": 2000, "act": "frontend"}));
        assert_eq!(
            checked.grant(&odd, None).unwrap_err().code(),
            OAuthErrorCode::InvalidRequest
        );
    }

    #[test]
    fn an_actor_token_names_the_actor_and_caps_the_lifetime() {
        let client = gateway();
        let request = ExchangeRequest {
            actor_token: Some("actor"),
            actor_token_type: Some(ACCESS_TOKEN_TYPE),
            ..request()
        };
        let checked = request.check(&client, serves).unwrap();
        let actor = claims(json!({
            "sub": "batch-job", "client_id": "gateway", "exp": 1500, "act": {"sub": "x"}
        }));
        let grant = checked.grant(&alice(), Some(&actor)).unwrap();
        assert_eq!(grant.act, json!({"sub": "batch-job"}));
        assert_eq!(grant.expires_at, 1500);
        let later = claims(json!({"sub": "batch-job", "client_id": "gateway", "exp": 9000}));
        assert_eq!(
            checked.grant(&alice(), Some(&later)).unwrap().expires_at,
            2000
        );
        // The client's own client-credentials token: its sub is the client id.
        let own = claims(json!({"sub": "gateway", "exp": 9000}));
        assert_eq!(
            checked.grant(&alice(), Some(&own)).unwrap().act,
            json!({"sub": "gateway"})
        );
        let nameless = claims(json!({"client_id": "gateway", "exp": 9000}));
        assert_eq!(
            checked.grant(&alice(), Some(&nameless)).unwrap_err().code(),
            OAuthErrorCode::InvalidRequest
        );
    }

    #[test]
    fn an_actor_token_of_another_client_is_invalid_request() {
        let client = gateway();
        let request = ExchangeRequest {
            actor_token: Some("actor"),
            actor_token_type: Some(ACCESS_TOKEN_TYPE),
            ..request()
        };
        let checked = request.check(&client, serves).unwrap();
        for other in [
            json!({"sub": "reports", "exp": 9000}),
            json!({"sub": "reports", "client_id": "reports", "exp": 9000}),
            json!({"sub": "batch-job", "client_id": "reports", "exp": 9000}),
            json!({"sub": "batch-job", "client_id": 7, "exp": 9000}),
        ] {
            let err = checked
                .grant(&alice(), Some(&claims(other.clone())))
                .unwrap_err();
            assert_eq!(err.code(), OAuthErrorCode::InvalidRequest, "{other}");
            assert!(err.description().contains("does not belong"), "{other}");
        }
    }

    #[test]
    fn a_subject_token_without_sub_or_exp_is_invalid_request() {
        let client = gateway();
        let checked = request().check(&client, serves).unwrap();
        for bad in [
            json!({"scope": "read", "exp": 2000}),
            json!({"sub": "", "exp": 2000}),
            json!({"sub": 7, "exp": 2000}),
            json!({"sub": "alice"}),
            json!({"sub": "alice", "exp": "2000"}),
            json!({"sub": "alice", "exp": 2000, "scope": ["read"]}),
        ] {
            assert_eq!(
                checked
                    .grant(&claims(bad.clone()), None)
                    .unwrap_err()
                    .code(),
                OAuthErrorCode::InvalidRequest,
                "{bad}"
            );
        }
    }
}
