//! JWK and JWKS (RFC 7517) documents into verification keys, with JWKS hygiene: keys for
//! encryption, of unsupported types or curves, or weaker than we accept are skipped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::AlgorithmFamily;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};

use super::VerificationKey;
use crate::algorithm::{self, AlgorithmSet};
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
fn declared_algorithm(jwk: &Jwk) -> Result<Option<Algorithm>, ConfigError> {
    let Some(declared) = &jwk.common.key_algorithm else {
        return Ok(None);
    };
    let name = serde_json::to_value(declared)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    algorithm::from_header(&name).map(Some).ok_or_else(|| {
        bad(format!(
            "`alg` {name:?} is not a signature algorithm we verify"
        ))
    })
}

/// Builds a key from a JWK; see [`VerificationKey::from_jwk_str`].
pub(crate) fn key_from_jwk(jwk: &Jwk) -> Result<VerificationKey, ConfigError> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err(bad("the key is for encryption (`use: enc`)"));
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err(bad("the key's `key_ops` do not include `verify`"));
    }
    let declared = declared_algorithm(jwk)?;
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
            ([Algorithm::EdDSA].into_iter().collect(), Material::Ed(x))
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

/// Parses a JWKS document. Keys that cannot be used are skipped and reported, never
/// fatal; a key whose algorithms fall outside `allowed` is skipped too.
pub(crate) fn parse_jwks(
    document: &str,
    allowed: Option<AlgorithmSet>,
) -> Result<(Vec<VerificationKey>, Vec<SkippedKey>), ConfigError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let doc: Document = serde_json::from_str(document)
        .map_err(|e| bad(format!("not a JWKS document (an object with `keys`): {e}")))?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for value in doc.keys {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        let parsed = serde_json::from_value::<Jwk>(value)
            .map_err(|e| bad(e.to_string()))
            .and_then(|jwk| key_from_jwk(&jwk));
        match parsed {
            Ok(key) => match allowed {
                Some(allowed) if key.algorithms().intersection(allowed).is_empty() => {
                    skipped.push(SkippedKey {
                        kid,
                        reason: "its algorithms are not in the allow-list".to_owned(),
                    });
                }
                _ => keys.push(key),
            },
            Err(e) => skipped.push(SkippedKey {
                kid,
                reason: e.to_string(),
            }),
        }
    }
    Ok((keys, skipped))
}
