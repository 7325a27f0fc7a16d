//! Signing algorithms and the allow-list.

use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037), named exactly as a token's `alg`
/// header names it.
///
/// `none` is not an algorithm here, and neither is an unknown name: [`parse`] and
/// [`FromStr`] refuse them. The display form, the serde form and the parsed form are the
/// JOSE name, case-sensitive.
///
/// ```
/// use jwt_tower::Algorithm;
///
/// let alg: Algorithm = "ES256".parse()?;
/// assert_eq!(alg, Algorithm::ES256);
/// assert_eq!(alg.to_string(), "ES256");
/// assert_eq!(Algorithm::EdDSA.name(), "EdDSA");
/// assert_eq!("Ed25519".parse::<Algorithm>()?, Algorithm::Ed25519);
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("es256".parse::<Algorithm>().is_err());
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC using SHA-256.
    HS256,
    /// HMAC using SHA-384.
    HS384,
    /// HMAC using SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 using SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 using SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 using SHA-512.
    RS512,
    /// RSASSA-PSS using SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS using SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS using SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA using P-256 and SHA-256.
    ES256,
    /// ECDSA using P-384 and SHA-384.
    ES384,
    /// EdDSA (RFC 8037), with Ed25519 keys.
    EdDSA,
    /// Ed25519, the fully-specified name of EdDSA over Ed25519 (RFC 9864): the same
    /// signature as [`EdDSA`](Self::EdDSA) with our keys, under the name newer signers
    /// (panva's jose among them) put in `alg`.
    Ed25519,
}

/// The kind of key an [`Algorithm`] needs.
///
/// ```
/// use jwt_tower::algorithm::{Algorithm, AlgorithmFamily};
/// assert_eq!(Algorithm::PS256.family(), AlgorithmFamily::Rsa);
/// assert_eq!(Algorithm::HS512.family(), AlgorithmFamily::Hmac);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmFamily {
    /// A shared HMAC secret: HS256, HS384, HS512.
    Hmac,
    /// An RSA key: RS256/384/512 and PS256/384/512.
    Rsa,
    /// An elliptic-curve (NIST) key: ES256, ES384.
    Ec,
    /// An Edwards-curve key: EdDSA, Ed25519.
    Ed,
}

impl Algorithm {
    /// The exact JOSE name (`"RS256"`, `"EdDSA"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The kind of key this algorithm needs.
    #[must_use]
    pub const fn family(self) -> AlgorithmFamily {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => AlgorithmFamily::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                AlgorithmFamily::Rsa
            }
            Self::ES256 | Self::ES384 => AlgorithmFamily::Ec,
            Self::EdDSA | Self::Ed25519 => AlgorithmFamily::Ed,
        }
    }

    /// The same algorithm as jsonwebtoken names it, for the key parsers and the RustCrypto
    /// provider we borrow from it; jsonwebtoken's types stay out of our API.
    #[cfg_attr(feature = "aws_lc_rs", allow(dead_code))]
    pub(crate) const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as Jwt;
        match self {
            Self::HS256 => Jwt::HS256,
            Self::HS384 => Jwt::HS384,
            Self::HS512 => Jwt::HS512,
            Self::RS256 => Jwt::RS256,
            Self::RS384 => Jwt::RS384,
            Self::RS512 => Jwt::RS512,
            Self::PS256 => Jwt::PS256,
            Self::PS384 => Jwt::PS384,
            Self::PS512 => Jwt::PS512,
            Self::ES256 => Jwt::ES256,
            Self::ES384 => Jwt::ES384,
            Self::EdDSA | Self::Ed25519 => Jwt::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = ConfigError;

    /// As [`parse`]: the exact JOSE name, never `none`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        parse(name)
    }
}

/// Every algorithm this crate can verify, in a stable order.
pub const SUPPORTED: [Algorithm; 13] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::Ed25519,
];

/// The exact JOSE name of an algorithm (`"RS256"`, `"EdDSA"`); the same as
/// [`Algorithm::name`].
#[must_use]
pub fn name(alg: Algorithm) -> &'static str {
    alg.name()
}

/// Parses an algorithm name exactly as RFC 7518 spells it (case-sensitive).
///
/// `none`, in any casing, is never an algorithm here.
///
/// ```
/// use jwt_tower::algorithm::{parse, Algorithm};
/// assert_eq!(parse("ES256").unwrap(), Algorithm::ES256);
/// assert!(parse("none").is_err());
/// assert!(parse("hs256").is_err());
/// ```
pub fn parse(name: &str) -> Result<Algorithm, ConfigError> {
    from_header(name).ok_or_else(|| ConfigError::UnknownAlgorithm(name.to_owned()))
}

/// The algorithm a token header names, if it is one we support.
pub(crate) fn from_header(name: &str) -> Option<Algorithm> {
    SUPPORTED.into_iter().find(|alg| alg.name() == name)
}

/// The index of an algorithm in [`SUPPORTED`], for bit sets.
fn bit(alg: Algorithm) -> u16 {
    let index = SUPPORTED.iter().position(|a| *a == alg).unwrap_or(15);
    1 << index
}

/// A small set of algorithms: the verifier's allow-list, or the algorithms one key may
/// verify. Copy, no allocation.
///
/// ```
/// use jwt_tower::algorithm::{Algorithm, AlgorithmSet};
/// let set: AlgorithmSet = [Algorithm::RS256, Algorithm::ES256].into_iter().collect();
/// assert!(set.contains(Algorithm::RS256));
/// assert!(!set.contains(Algorithm::HS256));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    #[must_use]
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every algorithm of one family (`Rsa` is RS* and PS*).
    #[must_use]
    pub fn family(family: AlgorithmFamily) -> Self {
        SUPPORTED
            .into_iter()
            .filter(|alg| alg.family() == family)
            .collect()
    }

    /// Whether `alg` is in the set.
    #[must_use]
    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & bit(alg) != 0
    }

    /// Adds `alg`.
    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= bit(alg);
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in both sets.
    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The algorithms in the set, in [`SUPPORTED`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        SUPPORTED.into_iter().filter(move |alg| self.contains(*alg))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut set = Self::empty();
        for alg in iter {
            set.insert(alg);
        }
        set
    }
}

impl std::fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in SUPPORTED {
            assert_eq!(parse(name(alg)).unwrap(), alg);
            assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.name()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    /// The names jsonwebtoken's algorithm parses are ours, one for one; RFC 9864's
    /// `Ed25519`, which it does not know, is its `EdDSA`.
    #[test]
    fn jsonwebtoken_names_agree() {
        assert_eq!(
            Algorithm::Ed25519.to_jsonwebtoken(),
            jsonwebtoken::Algorithm::EdDSA
        );
        for alg in SUPPORTED.into_iter().filter(|a| *a != Algorithm::Ed25519) {
            let theirs = alg.to_jsonwebtoken();
            assert_eq!(
                alg.name().parse::<jsonwebtoken::Algorithm>().unwrap(),
                theirs
            );
        }
    }

    #[test]
    fn serde_refuses_what_parse_refuses() {
        for spelling in ["\"none\"", "\"hs256\"", "\"\"", "0"] {
            assert!(
                serde_json::from_str::<Algorithm>(spelling).is_err(),
                "{spelling}"
            );
        }
    }

    #[test]
    fn none_is_never_an_algorithm() {
        for spelling in ["none", "None", "NONE", "nOnE", ""] {
            assert!(from_header(spelling).is_none(), "{spelling}");
            assert!(spelling.parse::<Algorithm>().is_err(), "{spelling}");
        }
    }

    #[test]
    fn rsa_family_holds_pss() {
        let rsa = AlgorithmSet::family(AlgorithmFamily::Rsa);
        assert!(rsa.contains(Algorithm::PS512));
        assert!(!rsa.contains(Algorithm::ES256));
        assert_eq!(rsa.iter().count(), 6);
    }
}
