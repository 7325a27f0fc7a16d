//! The `EXCHANGE_*` variables of `gateway` and `grpc_service`: with `EXCHANGE_TOKEN_URL`
//! set, the outgoing calls carry the caller's token exchanged (RFC 8693) for one meant
//! for the next hop, instead of the caller's own. `EXCHANGE_CLIENT_ID` and
//! `EXCHANGE_CLIENT_SECRET` (this service's confidential client at the token endpoint)
//! and `EXCHANGE_AUDIENCE` (the next hop's audience) are then required,
//! `EXCHANGE_SCOPE` optional; any of them without `EXCHANGE_TOKEN_URL` is an error.
#![allow(dead_code)]

use jwt_tower::propagate::TokenExchange;

use super::jwt_env::{EnvError, fail, var};

const DEPENDENT: [&str; 4] = [
    "EXCHANGE_CLIENT_ID",
    "EXCHANGE_CLIENT_SECRET",
    "EXCHANGE_AUDIENCE",
    "EXCHANGE_SCOPE",
];

/// The configured exchange, if any.
///
/// # Errors
/// A required variable missing, or one set without `EXCHANGE_TOKEN_URL`.
pub fn from_env() -> Result<Option<TokenExchange>, EnvError> {
    let Some(url) = var("EXCHANGE_TOKEN_URL") else {
        return match DEPENDENT.into_iter().find(|name| var(name).is_some()) {
            Some(name) => fail(
                "EXCHANGE_TOKEN_URL",
                format!("required when {name} is set: the token endpoint to exchange at"),
            ),
            None => Ok(None),
        };
    };
    let required = |name: &'static str, what: &str| {
        var(name).ok_or_else(|| EnvError {
            variable: name,
            problem: format!("required with EXCHANGE_TOKEN_URL: {what}"),
        })
    };
    let client_id = required("EXCHANGE_CLIENT_ID", "this service's client id")?;
    let secret = required("EXCHANGE_CLIENT_SECRET", "this service's client secret")?;
    let audience = required("EXCHANGE_AUDIENCE", "the next hop's audience")?;
    let exchange = TokenExchange::new(url, client_id, secret).audience(audience);
    Ok(Some(match var("EXCHANGE_SCOPE") {
        Some(scope) => exchange.scope(scope),
        None => exchange,
    }))
}

/// A client layer for the next hop: the exchange when configured, else the caller's
/// token forwarded, bound to `origin` (the value of `origin_variable`).
///
/// # Errors
/// A one-line configuration error: `EXCHANGE_TOKEN_URL` not an http(s) URL, or `origin`
/// not an origin.
pub fn client_layer(
    exchange: Option<TokenExchange>,
    origin: &http::Uri,
    origin_variable: &str,
) -> Result<jwt_tower::propagate::PropagateLayer, String> {
    let bound = match exchange {
        Some(exchange) => jwt_tonic::propagate::exchange(exchange)
            .map_err(|e| format!("configuration error: EXCHANGE_TOKEN_URL: {e}"))?
            .to_fixed_origin(origin),
        None => jwt_tonic::propagate::forward_caller().to_fixed_origin(origin),
    };
    bound.map_err(|e| format!("configuration error: {origin_variable}: {e}"))
}
