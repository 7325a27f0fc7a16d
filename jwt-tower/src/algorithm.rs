//! Signing algorithms and the allow-list.

use crate::ConfigError;
pub use jsonwebtoken::{Algorithm, AlgorithmFamily};

/// Every algorithm this crate can verify, in a stable order.
pub const SUPPORTED: [Algorithm; 12] = [
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
];

/// The exact JOSE name of an algorithm (`"RS256"`, `"EdDSA"`).
#[must_use]
pub fn name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
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
    SUPPORTED.into_iter().find(|alg| self::name(*alg) == name)
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
        }
    }

    #[test]
    fn none_is_never_an_algorithm() {
        for spelling in ["none", "None", "NONE", "nOnE", ""] {
            assert!(from_header(spelling).is_none(), "{spelling}");
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
