//! RFC 7638 JWK thumbprints: the SHA-256 of a public key's required members, in
//! lexicographic order, as compact JSON; base64url without padding. A DPoP-bound token
//! names its key by this value (`cnf.jkt`, RFC 9449 §6.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Why a JWK has no thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbprintError {
    /// `kty` is absent, not a string, or not `EC`, `OKP` or `RSA`.
    #[error("the JWK's kty is not EC, OKP or RSA")]
    UnsupportedKeyType,
    /// A member the key type requires is absent or not a string.
    #[error("the JWK lacks its required member `{0}`")]
    MissingMember(&'static str),
}

/// The members RFC 7638 §3.2 hashes for each key type, in lexicographic order.
fn required_members(kty: &str) -> Option<&'static [&'static str]> {
    match kty {
        "EC" => Some(&["crv", "kty", "x", "y"]),
        "OKP" => Some(&["crv", "kty", "x"]),
        "RSA" => Some(&["e", "kty", "n"]),
        _ => None,
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding.
///
/// Only the required members are hashed, so `kid`, `alg`, `use` and the like do not
/// change it.
///
/// # Errors
/// [`ThumbprintError`] for a key type other than `EC`, `OKP` or `RSA`, or a required
/// member that is missing or not a string.
///
/// ```
/// use jwt_tower::dpop::jwk_thumbprint;
///
/// // RFC 7638 §3.1.
/// let jwk = serde_json::json!({
///     "kty": "RSA",
///     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
///     "e": "AQAB",
///     "alg": "RS256",
///     "kid": "2011-04-29",
/// });
/// assert_eq!(
///     jwk_thumbprint(jwk.as_object().unwrap())?,
///     "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
/// );
/// # Ok::<(), jwt_tower::dpop::ThumbprintError>(())
/// ```
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, ThumbprintError> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or(ThumbprintError::UnsupportedKeyType)?;
    let members = required_members(kty).ok_or(ThumbprintError::UnsupportedKeyType)?;
    // Written member by member in the table's (lexicographic) order; serde_json writes
    // each string compactly, escaped as RFC 7638 §3.3 asks.
    let mut text = String::from("{");
    for (i, member) in members.iter().enumerate() {
        let value = jwk
            .get(*member)
            .filter(|v| v.is_string())
            .ok_or(ThumbprintError::MissingMember(member))?;
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::from(*member).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(jwk: Value) -> Result<String, ThumbprintError> {
        jwk_thumbprint(jwk.as_object().unwrap())
    }

    #[test]
    fn rfc8037_a3_okp_thumbprint() {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(
            of(jwk).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn optional_members_do_not_change_it_and_order_does_not_matter() {
        let a = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"});
        let b = json!({"y": "BBBB", "x": "AAAA", "kid": "k", "alg": "ES256", "crv": "P-256", "kty": "EC"});
        assert_eq!(of(a).unwrap(), of(b).unwrap());
    }

    #[test]
    fn missing_or_unsupported_members_are_errors() {
        assert_eq!(
            of(json!({"kty": "oct", "k": "AAAA"})),
            Err(ThumbprintError::UnsupportedKeyType)
        );
        assert_eq!(
            of(json!({"crv": "P-256"})),
            Err(ThumbprintError::UnsupportedKeyType)
        );
        assert_eq!(
            of(json!({"kty": "EC", "crv": "P-256", "x": "AAAA"})),
            Err(ThumbprintError::MissingMember("y"))
        );
        assert_eq!(
            of(json!({"kty": "RSA", "n": "AAAA", "e": 65537})),
            Err(ThumbprintError::MissingMember("e"))
        );
    }
}
