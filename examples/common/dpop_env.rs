//! The sender-constrained part of `resource_server`'s environment contract: DPoP
//! (`JWT_DPOP`, `JWT_DPOP_NONCE`, `JWT_DPOP_ALGORITHMS`, `JWT_PUBLIC_URL`,
//! `JWT_TRUST_FORWARDED`) and the trusted proxy's client-certificate header
//! (`JWT_MTLS_CERT_HEADER`). `REDIS_URL`'s store, when set, reserves proofs and keeps
//! the nonce secret, so every instance sharing it refuses a replay and accepts a nonce
//! any of them issued; without it both stay in this process.
#![allow(dead_code)]

use std::sync::Arc;

use jwt_tower::dpop::{DpopChecker, DpopMode, NonceSecret};
use jwt_tower::resource::TrustForwarded;
use jwt_tower::store::{MemoryStore, Store};
use jwt_tower::{Algorithm, Authenticator};

use crate::jwt_env::{EnvError, fail, var};

/// The public base URL proofs' `htu` must name when `JWT_PUBLIC_URL` is unset: the one
/// place that default is decided (`https` when the server itself serves TLS).
pub fn default_public_url(bind: &str, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{bind}")
}

fn flag(name: &'static str) -> Result<bool, EnvError> {
    match var(name).as_deref().map(str::trim) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => fail(name, format!("{other:?} is neither 1 nor 0")),
    }
}

/// `authenticator` with the DPoP checker and certificate header the variables describe.
/// `store` (the `REDIS_URL` store) reserves proofs and shares the nonce secret; `None`
/// keeps both in memory.
pub async fn configure<C>(
    authenticator: Authenticator<C>,
    bind: &str,
    tls: bool,
    store: Option<Arc<dyn Store>>,
) -> Result<Authenticator<C>, EnvError> {
    let mut authenticator = authenticator;
    if let Some(name) = var("JWT_MTLS_CERT_HEADER") {
        match http::HeaderName::try_from(name.trim()) {
            Ok(header) => authenticator = authenticator.trusted_certificate_header(header),
            Err(e) => return fail("JWT_MTLS_CERT_HEADER", e),
        }
    }
    let mode = match var("JWT_DPOP") {
        None => DpopMode::Off,
        Some(value) => match value.trim().parse::<DpopMode>() {
            Ok(mode) => mode,
            Err(e) => return fail("JWT_DPOP", e),
        },
    };
    if mode == DpopMode::Off {
        return Ok(authenticator);
    }
    let public_url = var("JWT_PUBLIC_URL").unwrap_or_else(|| default_public_url(bind, tls));
    let trust = if flag("JWT_TRUST_FORWARDED")? {
        TrustForwarded::On
    } else {
        TrustForwarded::Off
    };
    let names = var("JWT_DPOP_ALGORITHMS").unwrap_or_else(|| "ES256,Ed25519,EdDSA".to_owned());
    let mut algorithms = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.parse::<Algorithm>() {
            Ok(alg) => algorithms.push(alg),
            Err(e) => return fail("JWT_DPOP_ALGORITHMS", e),
        }
    }
    let store: Arc<dyn Store> = store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
    let mut builder = DpopChecker::builder(public_url)
        .mode(mode)
        .algorithms(algorithms)
        .trust_forwarded(trust)
        .replay_store(Arc::clone(&store));
    if flag("JWT_DPOP_NONCE")? {
        let mut candidate = [0u8; 32];
        if let Err(e) = aws_lc_rs::rand::fill(&mut candidate) {
            return fail("JWT_DPOP_NONCE", e);
        }
        match NonceSecret::from_store(&*store, &candidate).await {
            Ok(secret) => builder = builder.require_nonce(secret),
            Err(e) => return fail("REDIS_URL", e),
        }
    }
    match builder.build() {
        Ok(checker) => Ok(authenticator.dpop(checker)),
        Err(e) => fail("JWT_DPOP_ALGORITHMS", e),
    }
}
