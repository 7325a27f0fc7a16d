//! The token-exchange grant at `POST /token` (RFC 8693): a confidential client listing
//! `exchange_audiences` in `OAUTH_CLIENTS_FILE` trades an access token this server
//! issued (`subject_token`, for any audience it serves, unexpired and not revoked) for
//! one with the same `sub`, for one of those audiences, with the same or a narrower
//! `scope`, an `act` claim naming the client (or the `actor_token`'s subject) with any
//! earlier actors nested inside, and an `exp` no later than the subject token's. The
//! decision is `jwt_tower::oauth::ExchangeRequest`'s; this file reads the form, verifies
//! the tokens and hands the grant to `oauth_token.rs`, which signs and answers as for
//! every grant (DPoP and certificate binding included), adding `issued_token_type`.
//!
//! A served audience the client does not list is `unauthorized_client`; an audience
//! this server does not serve (neither `OAUTH_RESOURCES` nor `JWT_AUDIENCE`) is
//! `invalid_target`. A subject token bound to a key or certificate (`cnf`) may be
//! exchanged by the authenticated client without proving it: the binding is not
//! carried over, the exchanged token is bound to what the exchange request proves.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use jwt_tower::issue::TokenIssuer;
use jwt_tower::oauth::{Client, ExchangeGrant, ExchangeRequest, OAuthError, TOKEN_EXCHANGE};
use jwt_tower::revoke::Revocations;
use jwt_tower::{Algorithm, ConfigError, Verifier};
use serde_json::{Map, Value};

use super::oauth_params::Params;
use super::oauth_routes::OAuthState;

/// The claims of a token this server issued, as verified.
type Claims = Map<String, Value>;

/// What the exchange grant needs beyond the other grants: the tokens this server issued,
/// verified for every audience it serves. Cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    own_tokens: Verifier<Claims>,
    served: Arc<Vec<String>>,
    offered: bool,
}

impl Exchange {
    /// Verifies `issuer`'s tokens (`alg`, `typ: at+jwt`, `iss` `issuer_name`, `aud` one
    /// of `served`, no leeway: the clock is this server's own) against `revocations`.
    /// `offered`: some configured client may exchange, so the metadata names the grant.
    ///
    /// # Errors
    /// When the verifier cannot be built.
    pub fn new(
        issuer: &TokenIssuer,
        alg: Algorithm,
        issuer_name: &str,
        served: Vec<String>,
        revocations: Revocations,
        offered: bool,
    ) -> Result<Self, ConfigError> {
        let mut builder = Verifier::<Claims>::builder(issuer.keys())
            .algorithms([alg])
            .issuer(issuer_name.to_owned())
            .require_typ("at+jwt")
            .leeway(Duration::ZERO)
            .revocations(revocations);
        for audience in &served {
            builder = builder.audience(audience.clone());
        }
        Ok(Self {
            own_tokens: builder.build()?,
            served: Arc::new(served),
            offered,
        })
    }

    /// Whether the metadata names the grant: some configured client may use it.
    pub fn offered(&self) -> bool {
        self.offered
    }

    fn serves(&self, audience: &str) -> bool {
        self.served.iter().any(|a| a == audience)
    }

    /// The claims of `token` when it is an access token this server issued and still
    /// active: signed by its keys, unexpired, not revoked. The one place that says
    /// which tokens may be exchanged.
    fn active_claims(&self, token: &str) -> Option<Claims> {
        let verified = self.own_tokens.verify(token).ok()?;
        Some(verified.claims().clone())
    }
}

/// The `audience` and `resource` values of a token-exchange request, which RFC 8693
/// lets repeat (every other parameter is sent once).
#[derive(Debug, Default)]
pub struct Targets {
    audiences: Vec<String>,
    resources: Vec<String>,
}

/// Takes the `audience` and `resource` pairs out of a token-exchange form, so that the
/// rest is read as any grant's; `None`, with `pairs` untouched, for any other grant.
pub fn take_targets(pairs: &mut Vec<(String, String)>) -> Option<Targets> {
    if !pairs
        .iter()
        .any(|(name, value)| name == "grant_type" && value == TOKEN_EXCHANGE)
    {
        return None;
    }
    let mut targets = Targets::default();
    pairs.retain(|(name, value)| {
        let list = match name.as_str() {
            "audience" => &mut targets.audiences,
            "resource" => &mut targets.resources,
            _ => return true,
        };
        list.push(value.clone());
        false
    });
    Some(targets)
}

/// The token-exchange grant for the authenticated `client`.
///
/// # Errors
/// As `ExchangeRequest::check` and `CheckedExchange::grant`; a subject or actor token
/// that is not an active token of this server's is `invalid_request`.
pub fn exchange(
    state: &OAuthState,
    client: &Client,
    params: &Params,
    targets: &Targets,
) -> Result<ExchangeGrant, OAuthError> {
    let exchange = &state.exchange;
    let request = ExchangeRequest {
        subject_token: params.get("subject_token"),
        subject_token_type: params.get("subject_token_type"),
        actor_token: params.get("actor_token"),
        actor_token_type: params.get("actor_token_type"),
        requested_token_type: params.get("requested_token_type"),
        audiences: targets.audiences.iter().map(String::as_str).collect(),
        resources: targets.resources.iter().map(String::as_str).collect(),
        scope: params.get("scope"),
    };
    let checked = request.check(client, |audience| exchange.serves(audience))?;
    let subject = exchange
        .active_claims(checked.subject_token())
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "subject_token is not an active access token of this server: invalid, expired or revoked",
            )
        })?;
    let actor = match checked.actor_token() {
        Some(token) => Some(exchange.active_claims(token).ok_or_else(|| {
            OAuthError::invalid_request(
                "actor_token is not an active access token of this server: invalid, expired or revoked",
            )
        })?),
        None => None,
    };
    checked.grant(&subject, actor.as_ref())
}
