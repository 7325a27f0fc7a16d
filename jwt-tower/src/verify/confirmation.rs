//! The `cnf` claim (RFC 7800 §3.1): what a token is bound to. Read strictly, as every
//! claim is: an object, no member twice; `jkt` (RFC 9449 §6.1) and `x5t#S256`
//! (RFC 8705 §3.1) are strings when present, any other member is kept out.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::claims::BorrowedStr;
use super::strict::{MemberNames, StrictValue};

/// The confirmation (`cnf`) of a token bound to a key or a certificate.
///
/// ```
/// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # #[cfg(feature = "rust_crypto")]
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64, "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
/// let verified = verifier.verify(&token).unwrap();
/// let cnf = verified.confirmation().unwrap();
/// assert_eq!(cnf.jkt(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
/// assert_eq!(cnf.x5t_s256(), None);
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    jkt: Option<Box<str>>,
    x5t_s256: Option<Box<str>>,
}

impl Confirmation {
    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key the token is bound to.
    #[must_use]
    pub fn jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    /// `cnf["x5t#S256"]`: the SHA-256 thumbprint of the client certificate the token is
    /// bound to (RFC 8705).
    #[must_use]
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }
}

/// Reads `cnf` (null: absent); `depth` is how many objects enclose it (1 for a claim).
#[derive(Clone, Copy)]
pub(crate) struct CnfSeed {
    pub(crate) depth: usize,
}

impl<'de> DeserializeSeed<'de> for CnfSeed {
    type Value = Option<Confirmation>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(CnfVisitor { depth: self.depth })
    }
}

struct CnfVisitor {
    depth: usize,
}

impl<'de> Visitor<'de> for CnfVisitor {
    type Value = Option<Confirmation>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cnf object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut cnf = Confirmation::default();
        let mut names = MemberNames::default();
        while let Some(BorrowedStr(key)) = map.next_key::<BorrowedStr<'de>>()? {
            names.insert(key.clone())?;
            match &*key {
                "jkt" => {
                    cnf.jkt = map
                        .next_value::<Option<BorrowedStr<'de>>>()?
                        .map(|s| s.0.into())
                }
                "x5t#S256" => {
                    cnf.x5t_s256 = map
                        .next_value::<Option<BorrowedStr<'de>>>()?
                        .map(|s| s.0.into());
                }
                _ => map.next_value_seed(StrictValue {
                    depth: self.depth + 1,
                })?,
            }
        }
        Ok(Some(cnf))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit as _, Mac as _};

    use crate::{Algorithm, RegisteredClaims, RejectionKind, VerificationKey, Verifier};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// An HS256 token over exactly `claims`.
    fn token(claims: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    fn verify(claims: &str) -> Result<Option<super::Confirmation>, RejectionKind> {
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        )
        .algorithms([Algorithm::HS256])
        .require_exp(false)
        .build()
        .unwrap();
        verifier
            .verify(&token(claims))
            .map(|v| v.confirmation().cloned())
            .map_err(|e| e.kind())
    }

    #[test]
    fn cnf_members_are_read_and_others_kept_out() {
        let cnf = verify(r#"{"sub":"a","cnf":{"jkt":"J","x5t#S256":"X","kid":{"n":[1]}}}"#)
            .unwrap()
            .unwrap();
        assert_eq!((cnf.jkt(), cnf.x5t_s256()), (Some("J"), Some("X")));
        assert_eq!(verify(r#"{"sub":"a"}"#), Ok(None));
        assert_eq!(verify(r#"{"sub":"a","cnf":null}"#), Ok(None));
        let escaped = verify(r#"{"cnf":{"jkt":"J\u0041"}}"#).unwrap().unwrap();
        assert_eq!(escaped.jkt(), Some("JA"));
    }

    #[test]
    fn cnf_is_read_strictly() {
        assert_eq!(
            verify(r#"{"cnf":{"jkt":"A","jkt":"B"}}"#),
            Err(RejectionKind::Malformed)
        );
        assert_eq!(
            verify(r#"{"cnf":{"jkt":1}}"#),
            Err(RejectionKind::InvalidClaim)
        );
        assert_eq!(verify(r#"{"cnf":"J"}"#), Err(RejectionKind::InvalidClaim));
        assert_eq!(
            verify(r#"{"cnf":{"jkt":"A"},"cnf":{"jkt":"B"}}"#),
            Err(RejectionKind::Malformed)
        );
    }

    #[test]
    fn the_fast_path_leaves_a_token_with_cnf_to_serde() {
        let seed = super::super::claims::ViewSeed {
            required: &[],
            roles_claim: None,
        };
        assert!(super::super::scan::view(r#"{"sub":"a","cnf":{"jkt":"J"}}"#, &seed).is_none());
        assert!(super::super::scan::view(r#"{"sub":"a"}"#, &seed).is_some());
    }
}
