//! The live key set: an `ArcSwap`, read without a lock on every request.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::{KeySet, KeySource, VerificationKey};

/// A handle on the live [`KeySet`]. Clones share the same set.
///
/// Requests read the set through an atomic pointer load (no lock, no contention between
/// cores); [`replace`](Self::replace), [`insert`](Self::insert) and
/// [`retire`](Self::retire) build a new set and swap it in, so a request sees either the
/// old set or the new one, never a mix.
///
/// ```
/// use jwt_tower::{Algorithm, KeySet, Keys, VerificationKey};
///
/// let old = VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?.with_kid("old");
/// let keys = Keys::new(KeySet::single(old));
///
/// // Rotation: publish the new key, then retire the old one.
/// keys.insert(VerificationKey::hmac(Algorithm::HS256, [2u8; 32])?.with_kid("new"));
/// assert_eq!(keys.snapshot().map(|s| s.len()), Some(2));
/// assert!(keys.retire("old"));
/// assert_eq!(keys.snapshot().map(|s| s.len()), Some(1));
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Keys {
    current: Arc<ArcSwapOption<KeySet>>,
    /// Where fresh keys come from, for sets that refresh themselves (a remote JWKS).
    source: Option<Arc<dyn KeySource>>,
}

impl Keys {
    /// A handle on `set`.
    #[must_use]
    pub fn new(set: KeySet) -> Self {
        Self {
            current: Arc::new(ArcSwapOption::from_pointee(set)),
            source: None,
        }
    }

    /// A handle on a set kept up to date by `source`.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn with_source(
        current: Arc<ArcSwapOption<KeySet>>,
        source: Arc<dyn KeySource>,
    ) -> Self {
        Self {
            current,
            source: Some(source),
        }
    }

    /// The source that refreshes this set, if any.
    pub(crate) fn source(&self) -> Option<&dyn KeySource> {
        self.source.as_deref()
    }

    /// A handle with no key set loaded yet: every verification is refused with
    /// [`KeysUnavailable`](crate::RejectionKind::KeysUnavailable) (HTTP 503) until a set is
    /// [`replace`](Self::replace)d in. Remote key sources start this way.
    #[must_use]
    pub fn unloaded() -> Self {
        Self::default()
    }

    /// The current set, or `None` when none was ever loaded.
    #[must_use]
    pub fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// A cheap, lock-free view of the current set for the request path.
    #[inline]
    pub(crate) fn load(&self) -> arc_swap::Guard<Option<Arc<KeySet>>> {
        self.current.load()
    }

    /// Swaps in a whole new set.
    pub fn replace(&self, set: KeySet) {
        self.current.store(Some(Arc::new(set)));
    }

    /// Adds a key (or replaces the key with the same `kid`).
    pub fn insert(&self, key: VerificationKey) {
        self.current.rcu(|current| {
            let base = current.as_deref().cloned().unwrap_or_default();
            Some(Arc::new(base.with_key(key.clone())))
        });
    }

    /// Removes the key `kid`; returns whether it was there.
    pub fn retire(&self, kid: &str) -> bool {
        let previous = self
            .current
            .rcu(|current| current.as_deref().map(|set| Arc::new(set.without_kid(kid))));
        previous.is_some_and(|set| set.get(Some(kid)).is_some_and(|k| k.kid() == Some(kid)))
    }
}

impl From<KeySet> for Keys {
    fn from(set: KeySet) -> Self {
        Self::new(set)
    }
}

impl From<VerificationKey> for Keys {
    fn from(key: VerificationKey) -> Self {
        Self::new(KeySet::single(key))
    }
}
