//! The verified-token cache: a token that verified is answered from memory while it
//! stays valid, so a client reusing its token pays a lookup instead of a signature check
//! (an RSA or ECDSA verify costs 20 to 150 times more than the lookup).
//!
//! What keeps it sound:
//! - The key is the whole token text, compared in full on a hit: two tokens share an
//!   entry only if they are the same bytes. The bucket is chosen by a hash of the
//!   token's last [`HASHED_TAIL`] bytes (inside the signature of any token that
//!   verified), with a hasher randomly keyed per cache, so nobody can aim tokens at one
//!   bucket; and only verified tokens are stored, so a forged token sharing a stored
//!   one's tail costs one failed comparison, nothing more.
//! - Only tokens that verified are stored; refusals never are.
//! - An entry carries the window in which the time checks passed (`nbf`, `exp`, max age,
//!   all with the leeway) and is not served outside it. Tokens without `exp` are not
//!   stored at all.
//! - An entry carries the generation of the key set that verified it; a hit under any
//!   other set is a miss, and the first lookup that sees a new set empties the cache.
//! - The verifier checks revocations and runs its custom checks on every hit: only the
//!   signature and the claims' fixed rules (issuer, audience, types) are skipped.
//!
//! The cache is bounded by entries and evicts with quick_cache's S3-FIFO policy (no
//! background thread, sharded locks taken for reads only briefly).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, UnitWeighter};

use super::VerifiedToken;

/// How many bytes at the end of a token choose its bucket. Hashing the whole token (300
/// to 1000 bytes) was the largest cost of a hit; its last bytes are signature bytes,
/// already as unpredictable as a hash, and the full comparison decides anyway.
const HASHED_TAIL: usize = 32;

fn tail(token: &[u8]) -> &[u8] {
    &token[token.len().saturating_sub(HASHED_TAIL)..]
}

/// A stored token: the whole text, compared in full.
#[derive(PartialEq, Eq)]
struct Stored(Box<[u8]>);

/// A token looked up, borrowed from the request.
struct Lookup<'a>(&'a [u8]);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        tail(self.0).hash(state);
    }
}

impl Hash for Stored {
    /// As its lookup hashes, which `Equivalent` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        Lookup(&self.0).hash(state);
    }
}

impl Equivalent<Stored> for Lookup<'_> {
    fn equivalent(&self, stored: &Stored) -> bool {
        *self.0 == *stored.0
    }
}

/// When a verified token may be served from the cache: `not_before <= now < valid_until`
/// (seconds since the epoch), the window in which every time check passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) not_before: i64,
    pub(crate) valid_until: i64,
}

impl Window {
    fn contains(self, now: i64) -> bool {
        self.not_before <= now && now < self.valid_until
    }
}

struct Entry<C> {
    token: VerifiedToken<C>,
    generation: u64,
    window: Window,
}

// By hand: a derive would ask `C: Clone`, and only the `Arc` inside is cloned.
impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            token: self.token.clone(),
            generation: self.generation,
            window: self.window,
        }
    }
}

type Entries<C> = Cache<Stored, Entry<C>, UnitWeighter, ahash::RandomState>;

/// A bounded map from token text to its verified form.
pub(crate) struct TokenCache<C> {
    entries: Entries<C>,
    /// The key-set generation the entries were verified under (the latest seen).
    generation: AtomicU64,
}

impl<C> TokenCache<C> {
    /// A cache holding up to `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::with(
                capacity,
                capacity as u64,
                UnitWeighter,
                // Keyed from the OS's random source, per cache.
                ahash::RandomState::new(),
                Default::default(),
            ),
            generation: AtomicU64::new(0),
        }
    }

    /// The verified token for exactly `token`, if it was verified under the key set of
    /// `generation` and `now` is inside its window.
    #[inline]
    pub(crate) fn get(&self, token: &[u8], generation: u64, now: i64) -> Option<VerifiedToken<C>> {
        if self.generation.load(Ordering::Relaxed) != generation {
            self.key_set_changed(generation);
            return None;
        }
        let entry = self.entries.get(&Lookup(token))?;
        if entry.generation != generation {
            return None;
        }
        if !entry.window.contains(now) {
            if now >= entry.window.valid_until {
                // Expired for good: free its room now rather than at eviction.
                self.entries.remove(&Lookup(token));
            }
            return None;
        }
        Some(entry.token)
    }

    /// Remembers a token that verified under the key set of `generation`.
    pub(crate) fn insert(
        &self,
        token: &[u8],
        verified: &VerifiedToken<C>,
        generation: u64,
        window: Window,
    ) {
        // Verified under a set that has since been replaced: worthless, and it must not
        // land after the clear that the replacement caused.
        if self.generation.load(Ordering::Relaxed) != generation {
            return;
        }
        self.entries.insert(
            Stored(token.into()),
            Entry {
                token: verified.clone(),
                generation,
                window,
            },
        );
    }

    /// The first lookup under a new key set empties the cache (entries carry their
    /// generation too, so one that slips in during the clear is still never served).
    #[cold]
    fn key_set_changed(&self, generation: u64) {
        // One lookup clears; the others carry on. A lookup still holding the previous set
        // during a swap may flip it back for a moment: that costs a clear, never a wrong
        // answer, since an entry is served only under its own generation.
        let seen = self.generation.load(Ordering::Relaxed);
        if self
            .generation
            .compare_exchange(seen, generation, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.entries.clear();
        }
    }

    /// Tokens held now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The most tokens it holds.
    pub(crate) fn capacity(&self) -> u64 {
        self.entries.capacity()
    }
}
