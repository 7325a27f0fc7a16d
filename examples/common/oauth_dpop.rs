//! DPoP at `POST /token` (RFC 9449 §5, §8): a token request carrying a `DPoP` proof for
//! `POST <issuer>/token` gets an access token bound to the proof's key (`cnf.jkt`,
//! `token_type: DPoP`), and a public client's refresh tokens are bound to that key too.
//! A request without a proof is answered as before, with Bearer tokens. An authorization
//! request naming a key (`dpop_jkt`, RFC 9449 §10) gets a code only a proof by that key
//! redeems.
//!
//! The proof's `jti` is reserved in the server's store, so a proof replayed on any
//! instance sharing `REDIS_URL` is refused. With `DPOP_NONCE=1`, proofs must carry a
//! server nonce derived from a secret kept in that store (`Store::shared_secret`): every
//! instance accepts a nonce any of them issued.
#![allow(dead_code)]

use std::sync::Arc;

use axum::http::header::HeaderName;
use axum::http::{HeaderMap, HeaderValue, Method};
use jwt_tower::dpop::{CheckedProof, DpopChecker, NonceSecret};
use jwt_tower::oauth::{OAuthError, OAuthErrorCode};
use jwt_tower::store::Store;
use jwt_tower::{Algorithm, AuthError, ConfigError, RejectionKind};

/// The request header carrying the proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The response header carrying a server nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The algorithms proofs at `/token` may be signed with: every asymmetric one jwt-tower
/// verifies (a client picks its key; a resource server narrows the list for itself).
pub const TOKEN_PROOF_ALGORITHMS: [Algorithm; 10] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::Ed25519,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The token endpoint's DPoP checks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenDpop {
    /// `None` when the issuer is not an absolute `http(s)` URL, which no proof's `htu`
    /// can name: a request with a proof is then refused.
    checker: Option<DpopChecker>,
    /// The `htu` every proof must name: the issuer URL plus `/token`.
    htu: Arc<str>,
}

/// A proof that passed every check, its `jti` reserved.
pub struct ProvedKey(CheckedProof);

impl ProvedKey {
    /// The RFC 7638 thumbprint of the proof's key.
    pub fn jkt(&self) -> &str {
        self.0.jkt()
    }
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

impl TokenDpop {
    /// Checks for the token endpoint of `issuer_url`, reserving `jti`s in `store`, and
    /// requiring nonces derived from `nonce` when given.
    ///
    /// # Errors
    /// When nonces are asked for but the issuer is not an absolute `http(s)` URL.
    pub fn new(
        issuer_url: &str,
        store: Arc<dyn Store>,
        nonce: Option<NonceSecret>,
    ) -> Result<Self, ConfigError> {
        let htu = format!("{}/token", issuer_url.trim_end_matches('/'));
        let requires_nonce = nonce.is_some();
        let mut builder = DpopChecker::builder(issuer_url)
            .algorithms(TOKEN_PROOF_ALGORITHMS)
            .replay_store(store);
        if let Some(secret) = nonce {
            builder = builder.require_nonce(secret);
        }
        let checker = match builder.build() {
            Ok(checker) => Some(checker),
            Err(error) if !requires_nonce => {
                tracing::warn!(%error, "JWT_ISSUER is not an http(s) URL: /token refuses DPoP proofs");
                None
            }
            Err(error) => return Err(error),
        };
        Ok(Self {
            checker,
            htu: htu.into(),
        })
    }

    /// The `dpop_signing_alg_values_supported` of the metadata (RFC 9449 §5.1).
    pub fn algorithms(&self) -> Vec<&'static str> {
        TOKEN_PROOF_ALGORITHMS.iter().map(|a| a.name()).collect()
    }

    /// The key the request's proof proves: `None` without a `DPoP` header. Every check
    /// runs, then the proof's `jti` is reserved in the store: the first presentation on
    /// any instance sharing it passes, a replay is `invalid_dpop_proof`.
    ///
    /// Two `DPoP` headers are `invalid_dpop_proof`: RFC 9449 §4.3 makes "not more than
    /// one `DPoP` header" the first check of a proof, and §5 answers every failed check
    /// at the token endpoint with `invalid_dpop_proof` (a resource server answers
    /// `invalid_request`, RFC 6750's code for a malformed request, as §7.1 leaves open).
    pub async fn prove(&self, headers: &HeaderMap) -> Result<Option<ProvedKey>, OAuthError> {
        let mut values = headers.get_all(DPOP).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(refused(&AuthError::new(RejectionKind::DpopMultipleProofs)));
        }
        let Some(checker) = &self.checker else {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "this server's issuer is not an http(s) URL: no proof can name its token endpoint",
            ));
        };
        let proof = value
            .to_str()
            .map_err(|_| refused(&AuthError::new(RejectionKind::DpopMalformed)))?;
        let checked = checker
            .check_for_uri(proof, &Method::POST, &self.htu, None, now())
            .map_err(|e| refused(&e))?;
        checker
            .reserve(&checked, now())
            .await
            .map_err(|e| refused(&e))?;
        Ok(Some(ProvedKey(checked)))
    }

    /// The nonce to send with an answer: always with `use_dpop_nonce`; on success when
    /// the proof's nonce is about to stop being accepted.
    pub fn nonce_header(
        &self,
        proof: Option<&ProvedKey>,
        error: Option<&OAuthError>,
    ) -> Option<HeaderValue> {
        let checker = self.checker.as_ref()?;
        let due = match (error, proof) {
            (Some(error), _) => error.code() == OAuthErrorCode::UseDpopNonce,
            (None, Some(proof)) => proof.0.fresh_nonce_due(),
            (None, None) => false,
        };
        if !due {
            return None;
        }
        checker
            .fresh_nonce(now())
            .and_then(|nonce| HeaderValue::from_str(&nonce).ok())
    }
}

fn refused(refusal: &AuthError) -> OAuthError {
    OAuthError::from_dpop_refusal(refusal)
}

/// Whether `jkt` is the form of an RFC 7638 SHA-256 thumbprint: 32 bytes, base64url.
pub fn is_thumbprint(jkt: &str) -> bool {
    use base64::Engine as _;
    jkt.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jkt)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// The key a new refresh family of `client` is bound to: the proved key for a public
/// client (RFC 9449 §5: its refresh tokens MUST be bound); none for a confidential
/// client, whose refresh tokens its client authentication already constrains (§5), so
/// that it may change keys without losing its grant.
pub fn refresh_binding<'a>(
    client: &jwt_tower::oauth::Client,
    proof: Option<&'a ProvedKey>,
) -> Option<&'a str> {
    proof.filter(|_| client.is_public()).map(ProvedKey::jkt)
}
