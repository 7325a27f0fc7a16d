//! The `JWT_INTROSPECTION_*` variables: opaque access tokens checked at the
//! authorization server's introspection endpoint (RFC 7662), alone or beside one of the
//! key variables (then JWTs by their signature, every other token by introspection).
//!
//! - `JWT_INTROSPECTION_URL`: the endpoint; set, the two below are required.
//! - `JWT_INTROSPECTION_CLIENT_ID`, `JWT_INTROSPECTION_CLIENT_SECRET`: this server's
//!   client credentials there (HTTP Basic).
//! - `JWT_INTROSPECTION_CACHE_SECONDS` (default 60): how long an active token's answer
//!   is kept (never past its `exp`), and so how long a token revoked at the
//!   authorization server is still accepted here.

use std::time::Duration;

use jwt_tower::introspect::Introspector;

use super::{EnvError, fail, var};

/// The introspector the variables describe; `None` when `JWT_INTROSPECTION_URL` is unset.
pub fn introspector() -> Result<Option<Introspector>, EnvError> {
    let Some(url) = var("JWT_INTROSPECTION_URL") else {
        return Ok(None);
    };
    let required = |name: &'static str| {
        var(name).map_or_else(|| fail(name, "required with JWT_INTROSPECTION_URL"), Ok)
    };
    let client_id = required("JWT_INTROSPECTION_CLIENT_ID")?;
    let client_secret = required("JWT_INTROSPECTION_CLIENT_SECRET")?;
    let mut builder = Introspector::builder(url.trim(), client_id, client_secret);
    if let Some(seconds) = var("JWT_INTROSPECTION_CACHE_SECONDS") {
        match seconds.trim().parse::<u64>() {
            Ok(n) => builder = builder.cache_ttl(Duration::from_secs(n)),
            Err(_) => {
                return fail(
                    "JWT_INTROSPECTION_CACHE_SECONDS",
                    format!("{seconds:?} is not a whole number of seconds"),
                );
            }
        }
    }
    builder
        .build()
        .map(Some)
        .or_else(|e| fail("JWT_INTROSPECTION_URL", e))
}
