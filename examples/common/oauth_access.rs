//! The access tokens of `auth_server`, in one place: every route that gives an access
//! token (`/login`, `/refresh`, `/token`) issues it here, in the format
//! `ACCESS_TOKEN_FORMAT` names, and every route that asks whether a token is one of this
//! server's live ones (`/introspect`, `/revoke`, `/logout`) asks here.
//!
//! - `jwt` (the default): signed JWTs (RFC 9068, `typ: at+jwt`) that resource servers
//!   verify with the published keys. A token is active while it verifies with this
//!   server's keys, issuer and one of the audiences it serves, and its `jti` (or its
//!   subject) is not revoked.
//! - `opaque`: 256-bit random strings whose claims the `Store` keeps under the token's
//!   SHA-256 hash until it expires (`jwt_tower::oauth::OpaqueAccessTokens`). Only
//!   introspection (RFC 7662) tells a resource server what one stands for. A token is
//!   active while its record is there, unexpired, and its subject not revoked; revoking
//!   it removes the record, on every instance sharing the store.
//!
//! The including example also includes `app_error.rs` (and its siblings) as sibling
//! modules.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_tower::issue::{IssueError, TokenIssuer};
use jwt_tower::oauth::{OAuthError, OAuthErrorCode, OpaqueAccessTokens};
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::store::{Store, StoreError};
use jwt_tower::{Algorithm, AuthError, ConfigError, ErrorCategory, Verifier};
use serde_json::{Map, Value};

use super::app_error::AppError;

/// The environment variable naming the format.
pub const ACCESS_TOKEN_FORMAT: &str = "ACCESS_TOKEN_FORMAT";

/// What the access tokens are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// Signed JWTs, verifiable by anyone holding the published keys.
    #[default]
    Jwt,
    /// Random strings, checked by introspection only.
    Opaque,
}

impl AccessTokenFormat {
    /// The format `value` names (`jwt` or `opaque`; unset is `jwt`).
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("jwt") => Ok(Self::Jwt),
            Some("opaque") => Ok(Self::Opaque),
            Some(other) => Err(format!("{other:?} is neither jwt nor opaque")),
        }
    }
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    /// What the client presents.
    pub token: String,
    /// Seconds until it expires (the OAuth `expires_in`).
    pub expires_in: u64,
    /// Its `exp`, seconds since the epoch.
    pub expires_at: i64,
}

/// Why no access token was issued.
#[derive(Debug)]
pub enum AccessTokenError {
    /// The token could not be signed (or its claims were not an object).
    Issue(IssueError),
    /// The store could not keep an opaque token.
    Store(StoreError),
    /// The `exp` ceiling has passed: the token would be born expired.
    Expired,
}

impl std::fmt::Display for AccessTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Issue(error) => error.fmt(f),
            Self::Store(error) => error.fmt(f),
            Self::Expired => f.write_str("the access token would expire before it is issued"),
        }
    }
}

impl From<IssueError> for AccessTokenError {
    fn from(error: IssueError) -> Self {
        Self::Issue(error)
    }
}

impl From<StoreError> for AccessTokenError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<AccessTokenError> for OAuthError {
    fn from(error: AccessTokenError) -> Self {
        match error {
            AccessTokenError::Store(error) => error.into(),
            AccessTokenError::Expired => OAuthError::invalid_request(error.to_string()),
            AccessTokenError::Issue(error) => {
                OAuthError::new(OAuthErrorCode::ServerError, error.to_string())
            }
        }
    }
}

impl From<AccessTokenError> for AppError {
    fn from(error: AccessTokenError) -> Self {
        match error {
            AccessTokenError::Store(error) => error.into(),
            other => AppError::Server(other.to_string()),
        }
    }
}

/// Issues this server's access tokens in the configured format, and tells whether a
/// token is one of them and still active. Clones share everything.
#[derive(Clone)]
pub struct AccessTokens {
    format: AccessTokenFormat,
    issuer: TokenIssuer,
    /// The issuer's configured audiences (`JWT_AUDIENCE`): a token's `aud` when none is
    /// asked for.
    audiences: Arc<Vec<String>>,
    /// This server's own JWTs, with every claim, for any audience it serves.
    verifier: Verifier<Value>,
    revocations: Revocations,
    opaque: OpaqueAccessTokens,
    store: Arc<dyn Store>,
}

impl AccessTokens {
    /// Access tokens in `format`, signed by (or, opaque, named after) `issuer` with
    /// `alg`. `audiences` are the issuer's own (`JWT_AUDIENCE`); `served` every audience
    /// a token may be issued for (those and `OAUTH_RESOURCES`). `revocations` is the
    /// list following `store`.
    pub fn new(
        format: AccessTokenFormat,
        issuer: TokenIssuer,
        alg: Algorithm,
        audiences: &[String],
        served: &[String],
        revocations: Revocations,
        store: Arc<dyn Store>,
    ) -> Result<Self, ConfigError> {
        let mut verifier = Verifier::<Value>::builder(issuer.keys())
            .algorithms([alg])
            .issuer(issuer.issuer().to_owned())
            .require_typ("at+jwt")
            // Introspection says "expired" from the second the token expires.
            .leeway(Duration::ZERO)
            .revocations(revocations.clone());
        for audience in audiences.iter().chain(served) {
            verifier = verifier.audience(audience.clone());
        }
        Ok(Self {
            format,
            verifier: verifier.build()?,
            issuer,
            audiences: Arc::new(audiences.to_vec()),
            revocations,
            opaque: OpaqueAccessTokens::new(Arc::clone(&store)),
            store,
        })
    }

    /// The `aud` of a token issued for no particular audience: the issuer's configured
    /// audiences (one as a string, several as an array; `null` for none).
    pub fn default_audience(&self) -> Value {
        match self.audiences.as_slice() {
            [] => Value::Null,
            [one] => one.as_str().into(),
            many => many.to_vec().into(),
        }
    }

    /// The configured format.
    pub fn format(&self) -> AccessTokenFormat {
        self.format
    }

    /// Issues an access token for `subject`, for `audience` (or the issuer's configured
    /// audiences), with `claims` beside the registered ones (`scope`, `client_id`, `cnf`,
    /// `act`, …; `iss`, `sub`, `aud`, `iat`, `nbf`, `exp` and `jti` are set here). It
    /// lives the configured lifetime, but never past `expires_at_most` when given (a
    /// token exchanged for another expires no later than that one).
    pub async fn issue(
        &self,
        subject: &str,
        audience: Option<&str>,
        claims: Map<String, Value>,
        expires_at_most: Option<i64>,
    ) -> Result<IssuedAccessToken, AccessTokenError> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let ttl = self.issuer.ttl().as_secs() as i64;
        let expires_at = match expires_at_most {
            Some(ceiling) if ceiling <= now => return Err(AccessTokenError::Expired),
            Some(ceiling) => ceiling.min(now.saturating_add(ttl)),
            None => now.saturating_add(ttl),
        };
        match self.format {
            AccessTokenFormat::Jwt => self.sign_until(subject, audience, claims, expires_at_most),
            AccessTokenFormat::Opaque => {
                let claims = self.opaque_claims(subject, audience, claims, now, expires_at);
                let token = self.opaque.issue(claims, expires_at).await?;
                Ok(IssuedAccessToken {
                    token,
                    expires_in: u64::try_from(expires_at - now).unwrap_or(0),
                    expires_at,
                })
            }
        }
    }

    /// A JWT expiring no later than `ceiling`, when given; expired at once (the clock
    /// having passed the ceiling since the caller read it) is no token.
    fn sign_until(
        &self,
        subject: &str,
        audience: Option<&str>,
        claims: Map<String, Value>,
        ceiling: Option<i64>,
    ) -> Result<IssuedAccessToken, AccessTokenError> {
        let issuer = &self.issuer;
        let issued = match (audience, ceiling) {
            (Some(aud), Some(at)) => issuer.issue_for_audience_until(subject, aud, claims, at)?,
            (Some(aud), None) => issuer.issue_for_audience(subject, aud, claims)?,
            (None, Some(at)) => issuer.issue_until(subject, claims, at)?,
            (None, None) => issuer.issue(subject, claims)?,
        };
        if ceiling.is_some() && issued.expires_in == 0 {
            return Err(AccessTokenError::Expired);
        }
        Ok(IssuedAccessToken {
            token: issued.token,
            expires_in: issued.expires_in,
            expires_at: issued.expires_at,
        })
    }

    /// The claims an opaque token stands for: those a JWT of this issuer would carry.
    fn opaque_claims(
        &self,
        subject: &str,
        audience: Option<&str>,
        mut claims: Map<String, Value>,
        now: i64,
        expires_at: i64,
    ) -> Map<String, Value> {
        claims.insert("iss".into(), self.issuer.issuer().into());
        match (audience, self.audiences.as_slice()) {
            (Some(one), _) => {
                claims.insert("aud".into(), one.into());
            }
            (None, []) => {
                claims.remove("aud");
            }
            (None, [one]) => {
                claims.insert("aud".into(), one.as_str().into());
            }
            (None, many) => {
                claims.insert("aud".into(), many.to_vec().into());
            }
        }
        claims.insert("sub".into(), subject.into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), expires_at.into());
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("the system random generator failed");
        claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
        claims
    }

    /// The claims of `token` if it is an access token this server issued (in either
    /// format) and still active; `None` for anything else. A store that cannot be read,
    /// or a verifier that cannot decide now, is an error: not a token found inactive.
    pub async fn active(&self, token: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        if token.contains('.') {
            return match self.verifier.verify(token) {
                Ok(verified) => Ok(match verified.claims() {
                    Value::Object(claims) => Some(claims.clone()),
                    _ => None,
                }),
                Err(error) => undecided(&error).map(|()| None),
            };
        }
        // Only a server issuing opaque tokens looks them up: a JWT server's store need
        // keep none.
        if self.format != AccessTokenFormat::Opaque {
            return Ok(None);
        }
        let Some(claims) = self.opaque.active(token).await? else {
            return Ok(None);
        };
        // A subject revoked everywhere (`/logout` with `everywhere`) loses its opaque
        // tokens too.
        let jti = claims.get("jti").and_then(Value::as_str);
        let sub = claims.get("sub").and_then(Value::as_str);
        let iat = claims.get("iat").and_then(Value::as_i64);
        Ok((!self.revocations.is_revoked(jti, sub, iat)).then_some(claims))
    }

    /// Revokes `token`, whose active `claims` [`active`](Self::active) returned, on every
    /// instance sharing the store: an opaque token's record goes; its `jti` (either
    /// format's) is revoked until its `exp`, so that resource servers following the
    /// store's revocations refuse it at once (an opaque token's cached introspection
    /// answer included).
    pub async fn revoke(&self, token: &str, claims: &Map<String, Value>) -> Result<(), StoreError> {
        if !token.contains('.') {
            self.opaque.revoke(token).await?;
        }
        let jti = claims.get("jti").and_then(Value::as_str);
        let exp = claims.get("exp").and_then(Value::as_i64);
        if let (Some(jti), Some(exp)) = (jti, exp) {
            self.store
                .revoke(Revocation::Token {
                    jti: jti.to_owned(),
                    exp,
                })
                .await?;
        }
        Ok(())
    }
}

/// `Ok` for a token the verifier refused (inactive); a [`StoreError`] when it could not
/// decide (no keys, revocations out of step with the store), so that the answer is the
/// store's: 503 or `temporarily_unavailable`, never "not active".
fn undecided(error: &AuthError) -> Result<(), StoreError> {
    if error.category() == ErrorCategory::Unavailable {
        return Err(StoreError(format!(
            "the token cannot be verified now: {}",
            error.description()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jwt_tower::RejectionKind;

    use super::*;

    #[test]
    fn a_verifier_that_cannot_decide_is_unavailable_not_inactive() {
        for kind in [
            RejectionKind::KeysUnavailable,
            RejectionKind::RevocationsOutOfStep,
        ] {
            let error = undecided(&AuthError::new(kind)).unwrap_err();
            assert_eq!(
                OAuthError::from(error).code(),
                OAuthErrorCode::TemporarilyUnavailable,
                "{kind:?}"
            );
        }
        for kind in [
            RejectionKind::Expired,
            RejectionKind::Revoked,
            RejectionKind::InvalidSignature,
        ] {
            assert_eq!(undecided(&AuthError::new(kind)), Ok(()), "{kind:?}");
        }
    }
}
