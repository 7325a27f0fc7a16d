//! An immutable set of verification keys, looked up by `kid`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::VerificationKey;
use super::jwk::{JwksOrigin, SkippedKey, parse_jwks};
use crate::ConfigError;
use crate::algorithm::AlgorithmSet;

/// An immutable set of keys. The live set sits in a [`Keys`](super::Keys) handle; changing
/// keys means building a new set and swapping it in.
///
/// Lookup rules:
/// - a token with a `kid` gets the key with that `kid`, or nothing (never a scan);
/// - a token without a `kid` gets the set's default key: the only key when the set has
///   exactly one, or the one named by [`with_default_kid`](Self::with_default_kid);
/// - a key without a `kid` can only be used as that default.
///
/// ```
/// use jwt_tower::{Algorithm, KeySet, VerificationKey};
///
/// let a = VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?.with_kid("a");
/// let b = VerificationKey::hmac(Algorithm::HS256, [2u8; 32])?.with_kid("b");
/// let set = KeySet::new([a, b]);
/// assert!(set.get(Some("a")).is_some());
/// assert!(set.get(Some("c")).is_none());
/// assert!(set.get(None).is_none(), "two keys and no default: a kid is required");
/// assert!(set.with_default_kid("b").get(None).is_some());
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Clone, Default, Debug)]
pub struct KeySet {
    /// Keyed ahash, not the default SipHash: every verification looks a `kid` up here,
    /// and ahash with per-set random keys costs about half as much while still resisting
    /// crafted collisions (the `kid`s come from JWKS documents).
    by_kid: HashMap<Arc<str>, VerificationKey, ahash::RandomState>,
    unnamed: Option<VerificationKey>,
    default_kid: Option<Arc<str>>,
    /// Which set this is: every set built or changed gets a new number (a clone keeps
    /// it, having the same keys). What was verified under one set is not trusted under
    /// another (the verified-token cache keys on it).
    generation: u64,
}

/// A number no earlier set has had.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl KeySet {
    /// A set of these keys. A later key with the same `kid` replaces an earlier one (keys
    /// given in code; a JWKS document refuses both, see
    /// [`from_jwks_str`](Self::from_jwks_str)).
    pub fn new(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        let mut set = Self::default();
        for key in keys {
            set.insert_mut(key);
        }
        set.generation = next_generation();
        set
    }

    /// A set holding one key, used for every token (with or without a `kid`, unless the key
    /// has a `kid` and the token names another).
    #[must_use]
    pub fn single(key: VerificationKey) -> Self {
        Self::new([key])
    }

    /// The usable keys of a JWKS document (RFC 7517) the application configured (a file,
    /// or text it trusts as much as its own configuration: `oct` keys are HMAC secrets
    /// and are loaded). Skipped, and logged at `warn`: keys for encryption or with a `use`
    /// other than `sig`, of unsupported types or curves, weak or malformed keys, every key
    /// of a `kid` that names more than one, and keys without a `kid` when the document
    /// has several usable keys.
    ///
    /// ```
    /// use jwt_tower::KeySet;
    ///
    /// let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
    /// let doc = format!(
    ///     r#"{{"keys":[
    ///         {{"kty":"oct","kid":"a","alg":"HS256","k":"{secret}"}},
    ///         {{"kty":"oct","kid":"b","alg":"HS256","k":"{secret}"}},
    ///         {{"kty":"oct","kid":"b","alg":"HS256","k":"{secret}"}}
    ///     ]}}"#
    /// );
    /// let (set, skipped) = KeySet::from_jwks_filtered(&doc, None)?;
    /// assert_eq!(set.kids().collect::<Vec<_>>(), ["a"], "both keys named `b` are refused");
    /// assert_eq!(skipped.len(), 2);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidJwk`] when the text is not a JWKS document or no key in it
    /// is usable.
    pub fn from_jwks_str(document: &str) -> Result<Self, ConfigError> {
        Self::from_jwks_filtered(document, None).map(|(set, _)| set)
    }

    /// As [`from_jwks_str`](Self::from_jwks_str), keeping only keys usable with one of the
    /// `allowed` algorithms, and returning what was skipped and why.
    ///
    /// # Errors
    /// As [`from_jwks_str`](Self::from_jwks_str).
    pub fn from_jwks_filtered(
        document: &str,
        allowed: Option<AlgorithmSet>,
    ) -> Result<(Self, Vec<SkippedKey>), ConfigError> {
        Self::from_jwks_of(document, allowed, JwksOrigin::Local)
    }

    /// A fetched JWKS document: as [`from_jwks_filtered`](Self::from_jwks_filtered), but
    /// `oct` keys and keys with private members are skipped too (a published document
    /// holds no secret: whoever reads it could sign with one).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn from_remote_jwks(
        document: &str,
        allowed: Option<AlgorithmSet>,
    ) -> Result<(Self, Vec<SkippedKey>), ConfigError> {
        Self::from_jwks_of(document, allowed, JwksOrigin::Remote)
    }

    fn from_jwks_of(
        document: &str,
        allowed: Option<AlgorithmSet>,
        origin: JwksOrigin,
    ) -> Result<(Self, Vec<SkippedKey>), ConfigError> {
        let (keys, skipped) = parse_jwks(document, allowed, origin)?;
        for skip in &skipped {
            tracing::warn!(kid = ?skip.kid, reason = %skip.reason, ?origin, "JWKS key skipped");
        }
        if keys.is_empty() {
            return Err(ConfigError::InvalidJwk(
                "the JWKS document holds no usable key".to_owned(),
            ));
        }
        Ok((Self::new(keys), skipped))
    }

    /// Reads a JWKS document from a file; see [`from_jwks_str`](Self::from_jwks_str).
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, else as
    /// [`from_jwks_str`](Self::from_jwks_str).
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_jwks_str(&text)
    }

    fn insert_mut(&mut self, key: VerificationKey) {
        match key.kid_arc() {
            Some(kid) => {
                self.by_kid.insert(Arc::clone(kid), key);
            }
            None => self.unnamed = Some(key),
        }
    }

    /// A new set with `key` added (replacing a key with the same `kid`).
    #[must_use]
    pub fn with_key(&self, key: VerificationKey) -> Self {
        let mut next = self.clone();
        next.insert_mut(key);
        next.generation = next_generation();
        next
    }

    /// A new set without the key `kid`.
    #[must_use]
    pub fn without_kid(&self, kid: &str) -> Self {
        let mut next = self.clone();
        next.by_kid.remove(kid);
        if next.default_kid.as_deref() == Some(kid) {
            next.default_kid = None;
        }
        next.generation = next_generation();
        next
    }

    /// A new set where tokens without a `kid` use the key `kid`.
    #[must_use]
    pub fn with_default_kid(&self, kid: impl Into<Arc<str>>) -> Self {
        Self {
            default_kid: Some(kid.into()),
            generation: next_generation(),
            ..self.clone()
        }
    }

    /// This set's generation (see the field): equal for two sets only when one is a
    /// clone of the other.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The key for a token's `kid`; see the type's lookup rules.
    #[inline]
    #[must_use]
    pub fn get(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            // A lone key that has no `kid` has no name a token could contradict.
            Some(kid) => self
                .by_kid
                .get(kid)
                .or(self.unnamed.as_ref().filter(|_| self.by_kid.is_empty())),
            None => {
                if let Some(default) = &self.default_kid {
                    return self.by_kid.get(default);
                }
                match (self.by_kid.len(), &self.unnamed) {
                    (0, Some(only)) => Some(only),
                    (1, None) => self.by_kid.values().next(),
                    _ => None,
                }
            }
        }
    }

    /// How many keys the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_kid.len() + usize::from(self.unnamed.is_some())
    }

    /// Whether the set holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `kid`s in the set, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(|k| &**k)
    }
}
