//! One DPoP proof (RFC 9449 §4.2), read and verified on its own: a JWS compact string
//! whose header is `typ: dpop+jwt`, an allowed asymmetric `alg` and the public `jwk` that
//! verifies the signature; whose claims are `jti`, `htm`, `htu`, `iat` and, as the
//! request requires, `ath` and `nonce`.
//!
//! The JSON is read strictly, as a token's is (no member named twice, bounded nesting),
//! and nothing in the claims is read before the signature has verified with the key the
//! header carries. The checks that depend on the request (method, URI, time, token,
//! nonce) are the checker's.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::thumbprint::jwk_thumbprint;
use crate::algorithm::{self, AlgorithmSet};
use crate::verify::base64url;
use crate::verify::strict::{self, StrictValue};
use crate::{AuthError, RejectionKind, VerificationKey};

/// The largest proof accepted, in bytes: a proof carries one public key (an RSA-4096
/// JWK is under 1 KiB), so anything near this is not a proof.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// The longest `jti` accepted, in bytes. RFC 9449 asks for 96 bits of randomness; a
/// bound keeps the replay store's keys small whatever a client sends.
pub const MAX_JTI_LEN: usize = 256;

/// The `typ` a proof's header must carry, exactly.
pub const PROOF_TYPE: &str = "dpop+jwt";

fn refuse(kind: RejectionKind, description: &'static str) -> AuthError {
    AuthError::with_description(kind, description)
}

fn malformed(description: &'static str) -> AuthError {
    refuse(RejectionKind::DpopMalformed, description)
}

/// The base64url SHA-256 of an access token's ASCII, as a proof's `ath` names it
/// (RFC 9449 §4.2).
///
/// ```
/// // RFC 9449 §7.1's example token and its `ath`.
/// assert_eq!(
///     jwt_tower::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
///     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
/// );
/// ```
#[must_use]
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The claims of a proof whose signature has verified.
#[derive(Debug, Deserialize)]
pub(crate) struct ProofClaims {
    pub(crate) jti: String,
    pub(crate) htm: String,
    pub(crate) htu: String,
    /// An integer (a fractional or string `iat` is malformed).
    pub(crate) iat: i64,
    #[serde(default)]
    pub(crate) ath: Option<String>,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
}

/// A proof whose form, header and signature are good; its claims are still to be
/// checked against the request.
#[derive(Debug)]
pub(crate) struct SignedProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub(crate) jkt: String,
    pub(crate) claims: ProofClaims,
}

/// Decodes one base64url segment of the proof (canonical, unpadded).
fn segment(b64: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; base64url::decoded_len(b64.len())?];
    base64url::decode(b64.as_bytes(), &mut out)?;
    Some(out)
}

/// A segment as a strictly read JSON object.
fn object(b64: &str, what: &'static str) -> Result<Map<String, Value>, AuthError> {
    let bytes = segment(b64).ok_or_else(|| malformed(what))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| malformed(what))?;
    strict::read_object(text, StrictValue { depth: 0 }).map_err(|_| malformed(what))?;
    serde_json::from_str(text).map_err(|_| malformed(what))
}

/// Verifies `proof`'s form, header and signature: `typ`, `alg` in `allowed`, a public
/// `jwk` for `alg`, the signature under it, and claims of the right types.
pub(crate) fn verify(proof: &str, allowed: AlgorithmSet) -> Result<SignedProof, AuthError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(malformed("the DPoP proof is larger than accepted"));
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "the DPoP proof is not a JWS compact serialization",
        ));
    };
    let header = object(header_b64, "the DPoP proof's header is not a JSON object")?;

    if header.get("typ").and_then(Value::as_str) != Some(PROOF_TYPE) {
        return Err(AuthError::new(RejectionKind::DpopType));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(algorithm::from_header)
        .filter(|alg| allowed.contains(*alg))
        .ok_or_else(|| AuthError::new(RejectionKind::DpopAlgorithm))?;
    if header.contains_key("crit") {
        return Err(malformed(
            "the DPoP proof's header lists critical extensions",
        ));
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| refuse(RejectionKind::DpopKey, "the DPoP proof's header has no jwk"))?;
    let key = public_key(jwk, alg)?;
    let jkt = jwk_thumbprint(jwk).map_err(|_| AuthError::new(RejectionKind::DpopKey))?;

    let signature = segment(signature_b64)
        .ok_or_else(|| malformed("the DPoP proof's signature is not base64url"))?;
    let signing_input = &proof[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verify(alg, signing_input.as_bytes(), &signature) {
        return Err(AuthError::new(RejectionKind::DpopSignature));
    }

    let claims = object(claims_b64, "the DPoP proof's claims are not a JSON object")?;
    let claims: ProofClaims = serde_json::from_value(Value::Object(claims)).map_err(|_| {
        malformed("the DPoP proof lacks jti, htm, htu or iat, or one has the wrong type")
    })?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(malformed("the DPoP proof's jti is empty or too long"));
    }
    Ok(SignedProof { jkt, claims })
}

/// The proof's `jwk` as a key for `alg`: public (no `d`), asymmetric (no `oct`), of a
/// type and curve we verify, and for `alg` (an Ed25519 key for `EdDSA` or `Ed25519`).
fn public_key(
    jwk: &Map<String, Value>,
    alg: algorithm::Algorithm,
) -> Result<VerificationKey, AuthError> {
    let bad = |description| refuse(RejectionKind::DpopKey, description);
    match jwk.get("kty").and_then(Value::as_str) {
        Some("EC" | "OKP" | "RSA") => {}
        Some("oct") => return Err(bad("the DPoP proof's jwk is a symmetric key")),
        _ => return Err(bad("the DPoP proof's jwk is of an unsupported type")),
    }
    if jwk.contains_key("k")
        || crate::keys::jwk::PRIVATE_MEMBERS
            .iter()
            .any(|member| jwk.contains_key(*member))
    {
        return Err(bad("the DPoP proof's jwk holds a private key"));
    }
    let key = VerificationKey::from_jwk(&Value::Object(jwk.clone()))
        .map_err(|_| bad("the DPoP proof's jwk is not a usable public key"))?;
    if !key.algorithms().contains(alg) {
        return Err(bad("the DPoP proof's jwk is not a key for its alg"));
    }
    Ok(key)
}
