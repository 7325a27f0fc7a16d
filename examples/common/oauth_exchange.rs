//! The token-exchange grant at `POST /token` (RFC 8693): a confidential client listing
//! `exchange_audiences` in `OAUTH_CLIENTS_FILE` trades an access token this server
//! issued (`subject_token`, for any audience it serves, unexpired and not revoked) for
//! one with the same `sub`, for one of those audiences, with the same or a narrower
//! `scope`, an `act` claim naming the client (or the `actor_token`'s subject: a token
//! of the client's own, its `client_id` or `sub` the client's) with any
//! earlier actors nested inside, and an `exp` no later than the subject token's. The
//! decision is `jwt_tower::oauth::ExchangeRequest`'s; this file reads the form, looks
//! the tokens up (`oauth_access.rs`: a JWT or an opaque token, active, not revoked) and
//! hands the grant to `oauth_token.rs`, which issues in `ACCESS_TOKEN_FORMAT` and answers
//! as for every grant (DPoP and certificate binding included), adding
//! `issued_token_type`.
//!
//! A served audience the client does not list is `unauthorized_client`; an audience
//! this server does not serve (neither `OAUTH_RESOURCES` nor `JWT_AUDIENCE`) is
//! `invalid_target`. A subject token bound to a key or certificate (`cnf`) may be
//! exchanged by the authenticated client without proving it: the binding is not
//! carried over, the exchanged token is bound to what the exchange request proves.
#![allow(dead_code)]

use std::sync::Arc;

use jwt_tower::oauth::{Client, ExchangeGrant, ExchangeRequest, OAuthError, TOKEN_EXCHANGE};
use serde_json::{Map, Value};

use super::oauth_params::Params;
use super::oauth_routes::OAuthState;

/// What the exchange grant needs beyond the other grants. Cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    served: Arc<Vec<String>>,
    offered: bool,
}

impl Exchange {
    /// Exchanges for the audiences in `served` (`OAUTH_RESOURCES` and `JWT_AUDIENCE`).
    /// `offered`: some configured client may exchange, so the metadata names the grant.
    pub fn new(served: Vec<String>, offered: bool) -> Self {
        Self {
            served: Arc::new(served),
            offered,
        }
    }

    /// Whether the metadata names the grant: some configured client may use it.
    pub fn offered(&self) -> bool {
        self.offered
    }

    fn serves(&self, audience: &str) -> bool {
        self.served.iter().any(|a| a == audience)
    }
}

/// The claims of `token` when it is an access token this server issued and still active
/// (either format, unexpired, not revoked): the one place that says which tokens may be
/// exchanged. `what` names the parameter in the refusal.
async fn active_claims(
    state: &OAuthState,
    token: &str,
    what: &'static str,
) -> Result<Map<String, Value>, OAuthError> {
    state.auth.access.active(token).await?.ok_or_else(|| {
        OAuthError::invalid_request(format!(
            "{what} is not an active access token of this server: invalid, expired or revoked"
        ))
    })
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
/// that is not an active token of this server's is `invalid_request`; an unreachable
/// store `temporarily_unavailable`.
pub async fn exchange(
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
    let subject = active_claims(state, checked.subject_token(), "subject_token").await?;
    let actor = match checked.actor_token() {
        Some(token) => Some(active_claims(state, token, "actor_token").await?),
        None => None,
    };
    checked.grant(&subject, actor.as_ref())
}
