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
