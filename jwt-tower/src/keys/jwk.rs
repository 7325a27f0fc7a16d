//! JWK and JWKS (RFC 7517) documents into verification keys, with JWKS hygiene: keys not
//! for signatures, of unsupported types or curves, weaker than we accept, or that a token
//! could not select unambiguously are skipped; so are secrets in a fetched document.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use serde::Deserialize as _;

use super::VerificationKey;
use crate::algorithm::{self, AlgorithmFamily, AlgorithmSet};
use crate::crypto::{self, Material, der};
use crate::{Algorithm, ConfigError};

fn bad(reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidJwk(reason.into())
}

fn b64(field: &str, value: &str) -> Result<Vec<u8>, ConfigError> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| bad(format!("`{field}` is not base64url")))
}

/// The algorithm a JWK's `alg` names, if it is one we verify.
/// Read from the JWK's JSON, not from jsonwebtoken's enum, which knows no RFC 9864 name
/// (`Ed25519`).
fn declared_algorithm(json: &serde_json::Value) -> Result<Option<Algorithm>, ConfigError> {
    let Some(declared) = json.get("alg") else {
        return Ok(None);
    };
    let name = declared.as_str().unwrap_or_default();
    algorithm::from_header(name).map(Some).ok_or_else(|| {
        bad(format!(
            "`alg` {name:?} is not a signature algorithm we verify"
        ))
    })
}

/// Builds a key from a JWK's JSON text; see [`VerificationKey::from_jwk_str`].
pub(crate) fn key_from_jwk_str(jwk: &str) -> Result<VerificationKey, ConfigError> {
    let json: serde_json::Value = serde_json::from_str(jwk).map_err(|e| bad(e.to_string()))?;
    key_from_jwk_value(&json)
}

/// Builds a key from a JWK read as JSON; see [`VerificationKey::from_jwk`].
pub(crate) fn key_from_jwk_value(jwk: &serde_json::Value) -> Result<VerificationKey, ConfigError> {
    let parsed = Jwk::deserialize(jwk).map_err(|e| bad(e.to_string()))?;
    key_from_jwk(&parsed, jwk)
}

/// Builds a key from a JWK; see [`VerificationKey::from_jwk_str`].
fn key_from_jwk(jwk: &Jwk, json: &serde_json::Value) -> Result<VerificationKey, ConfigError> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(PublicKeyUse::Encryption) => {
            return Err(bad("the key is for encryption (`use: enc`)"));
        }
        // RFC 7517 §4.2 allows other values, but a key whose use we cannot read is not
        // one we know to be for signatures.
        Some(PublicKeyUse::Other(other)) => {
            return Err(bad(format!("`use` {other:?} is neither `sig` nor `enc`")));
        }
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err(bad("the key's `key_ops` do not include `verify`"));
    }
    let declared = declared_algorithm(json)?;
    let (family_algs, material) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = b64("n", &rsa.n)?;
            let e = b64("e", &rsa.e)?;
            (
                AlgorithmSet::family(AlgorithmFamily::Rsa),
                Material::RsaPkcs1(der::rsa_pkcs1(&n, &e)),
            )
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (alg, size) = match ec.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return Err(bad("unsupported EC curve (P-256 and P-384 are)")),
            };
            let (x, y) = (b64("x", &ec.x)?, b64("y", &ec.y)?);
            if x.len() != size || y.len() != size {
                return Err(bad("EC coordinates have the wrong length for the curve"));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ([alg].into_iter().collect(), Material::Ec(point))
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err(bad("unsupported OKP curve (Ed25519 is)"));
            }
            let x = b64("x", &okp.x)?;
            if x.len() != 32 {
                return Err(bad("an Ed25519 key is 32 bytes"));
            }
            (AlgorithmSet::family(AlgorithmFamily::Ed), Material::Ed(x))
        }
        AlgorithmParameters::OctetKey(oct) => {
            let k = b64("k", &oct.value)?;
            // Without a declared `alg`, an HMAC secret may verify each HS* its length allows.
            let strong_enough = AlgorithmSet::family(AlgorithmFamily::Hmac)
                .iter()
                .filter(|alg| declared.is_some() || k.len() >= crypto::min_secret_len(*alg))
                .collect();
            (strong_enough, Material::Secret(k))
        }
        _ => return Err(bad("unsupported key type (`kty`)")),
    };
    let algorithms = match declared {
        Some(alg) if family_algs.contains(alg) => [alg].into_iter().collect(),
        Some(alg) => {
            return Err(bad(format!(
                "`alg` {} does not match the key type",
                algorithm::name(alg)
            )));
        }
        None if family_algs.is_empty() => {
            return Err(bad("the HMAC secret is shorter than 32 bytes"));
        }
        None => family_algs,
    };
    let key = VerificationKey::from_material(algorithms, material)?;
    Ok(match &jwk.common.key_id {
        Some(kid) => key.with_kid(kid.as_str()),
        None => key,
    })
}

/// A JWKS key that was left out, and why.
#[derive(Debug, Clone)]
pub struct SkippedKey {
    /// The key's `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it was not used.
    pub reason: String,
}

/// Where a JWKS document comes from, which decides what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwksOrigin {
    /// A file or text the application configured: HMAC secrets (`oct` keys) allowed.
    Local,
    /// Fetched from an endpoint: a published document, so never a secret (an `oct` key,
    /// or a key with private members, is known to whoever can read the document, and
    /// would let them sign tokens).
    Remote,
}

/// The private members of RFC 7518 §6.2.2 and §6.3.2 (and RFC 8037's OKP `d`).
pub(crate) const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Why a key of a fetched document must not be used because the document gives its
/// secret away, if it does: an `oct` key is a shared secret, and a key with private
/// members is a private key. Either lets whoever reads the document sign tokens.
fn published_secret(jwk: &serde_json::Value) -> Option<&'static str> {
    if jwk.get("kty").and_then(|k| k.as_str()) == Some("oct") {
        return Some(
            "a symmetric (`oct`) key in a remote JWKS: secrets are never taken from a fetched \
             document",
        );
    }
    PRIVATE_MEMBERS
        .iter()
        .any(|member| jwk.get(member).is_some())
        .then_some(
            "a private key (private members such as `d`) in a remote JWKS: whoever reads the \
             document can sign with it",
        )
}

/// Parses a JWKS document. Keys that cannot be used are skipped and reported, never
/// fatal; a key whose algorithms fall outside `allowed` is skipped too.
///
/// Rules for the set as a whole, so that a token never meets a key picked silently:
/// keys sharing a `kid` are all skipped (which one a token meant is ambiguous), and in a
/// document with more than one usable key, keys without a `kid` are skipped (no token
/// could select them, and two of them would replace each other).
pub(crate) fn parse_jwks(
    document: &str,
    allowed: Option<AlgorithmSet>,
    origin: JwksOrigin,
) -> Result<(Vec<VerificationKey>, Vec<SkippedKey>), ConfigError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let doc: Document = serde_json::from_str(document)
        .map_err(|e| bad(format!("not a JWKS document (an object with `keys`): {e}")))?;
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for value in doc.keys {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        let skip = |reason: String| SkippedKey {
            kid: kid.clone(),
            reason,
        };
        if origin == JwksOrigin::Remote
            && let Some(reason) = published_secret(&value)
        {
            skipped.push(skip(reason.to_owned()));
            continue;
        }
        let parsed = key_from_jwk_value(&value);
        match parsed {
            Ok(key) => match allowed {
                Some(allowed) if key.algorithms().intersection(allowed).is_empty() => {
                    skipped.push(skip("its algorithms are not in the allow-list".to_owned()));
                }
                _ => usable.push(key),
            },
            Err(e) => skipped.push(skip(e.to_string())),
        }
    }
    let (keys, ambiguous) = without_ambiguous_keys(usable);
    skipped.extend(ambiguous);
    Ok((keys, skipped))
}

/// Splits a document's usable keys into those a token can select unambiguously and the
/// rest: every key of a `kid` that names several, and, when there are several keys,
/// those without a `kid`.
fn without_ambiguous_keys(usable: Vec<VerificationKey>) -> (Vec<VerificationKey>, Vec<SkippedKey>) {
    let several = usable.len() > 1;
    let mut kid_counts: HashMap<Arc<str>, usize> = HashMap::new();
    for kid in usable.iter().filter_map(VerificationKey::kid_arc) {
        *kid_counts.entry(Arc::clone(kid)).or_default() += 1;
    }
    let mut keys = Vec::with_capacity(usable.len());
    let mut skipped = Vec::new();
    for key in usable {
        let reason = match key.kid() {
            Some(kid) => match kid_counts.get(kid) {
                Some(&count) if count > 1 => Some(format!(
                    "{count} keys share this `kid`: which one a token means is ambiguous, \
                     so none is used"
                )),
                _ => None,
            },
            None if several => Some(
                "a key without a `kid` in a set of several keys: no token could select it"
                    .to_owned(),
            ),
            None => None,
        };
        match reason {
            Some(reason) => skipped.push(SkippedKey {
                kid: key.kid().map(str::to_owned),
                reason,
            }),
            None => keys.push(key),
        }
    }
    (keys, skipped)
}
