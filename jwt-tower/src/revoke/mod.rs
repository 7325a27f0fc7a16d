//! Revocation: access tokens by `jti`, and every token of a subject issued before a
//! time (logout everywhere, password change).
//!
//! The verifier checks a [`Revocations`] list on every request with an in-process
//! lookup (an atomic pointer load and two hash lookups), never a network round trip.
//! Stores keep the list in step across instances.
//!
//! A list only grows until its entries can no longer matter: a token revocation is kept
//! until the token's `exp` plus a margin at least as long as the leeway of every
//! verifier checking the list (see [`Revocations::keep_after_exp`]), because a verifier
//! accepts a token until `exp + leeway`; a subject revocation is kept for as long as the
//! list lives (one entry per subject, the latest `before` wins), since it covers tokens
//! whose lifetime the list cannot know. A resync from a store merges, never replaces.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::clock::now;
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

/// One revocation, as stored and as published to other instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Revocation {
    /// The access token with this `jti`; forgotten once `exp` plus the list's
    /// [margin](Revocations::keep_after_exp) has passed (no verifier accepts it then).
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`, seconds since the epoch.
        exp: i64,
    },
    /// Every token of `sub` issued (`iat`) before `before`.
    Subject {
        /// The subject.
        sub: String,
        /// Seconds since the epoch.
        before: i64,
    },
}

#[derive(Default, Clone)]
struct Set {
    tokens: HashMap<Box<str>, i64>,
    subjects: HashMap<Box<str>, i64>,
}

impl Set {
    fn apply(&mut self, revocation: &Revocation) {
        match revocation {
            Revocation::Token { jti, exp } => {
                // The later `exp` wins: one `jti` revoked twice stays revoked the longest.
                let entry = self.tokens.entry(jti.as_str().into()).or_insert(*exp);
                *entry = (*entry).max(*exp);
            }
            Revocation::Subject { sub, before } => {
                let entry = self.subjects.entry(sub.as_str().into()).or_insert(*before);
                *entry = (*entry).max(*before);
            }
        }
    }
}

/// The in-process revocation list a [`Verifier`](crate::Verifier) checks. Clones share
/// it. Updates copy the list and swap it in, so lookups never take a lock.
///
/// A list keeps the feed of the store it [follows](crate::store::Store::follow) running
/// (the Redis store's subscription): a verifier given the list keeps it in step for as
/// long as the verifier lives, with no other handle to hold.
///
/// ```
/// use jwt_tower::revoke::{Revocation, Revocations};
///
/// let list = Revocations::new();
/// list.apply(Revocation::Token { jti: "t1".into(), exp: i64::MAX });
/// list.apply(Revocation::Subject { sub: "bob".into(), before: 1_000 });
/// assert!(list.is_revoked(Some("t1"), Some("alice"), Some(2_000)));
/// assert!(list.is_revoked(Some("t2"), Some("bob"), Some(999)));
/// assert!(!list.is_revoked(Some("t2"), Some("bob"), Some(1_000)));
/// ```
#[derive(Clone, Default)]
pub struct Revocations {
    set: Arc<ArcSwap<Set>>,
    health: Arc<Health>,
}

/// Whether the list is known to be in step with its store, what to do when not, and
/// how long token revocations outlive their token.
struct Health {
    /// Set by a store whose feed is down (a Redis subscription that dropped).
    out_of_step: AtomicBool,
    /// Refuse every token while out of step, rather than verify on what is held.
    fail_closed: AtomicBool,
    /// Seconds a token revocation is kept past the token's `exp` (only ever raised).
    keep_after_exp: AtomicU64,
    /// What keeps the feeds of the stores this list follows running (a subscription
    /// task that stops when its last holder is gone).
    feeds: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            out_of_step: AtomicBool::new(false),
            fail_closed: AtomicBool::new(false),
            keep_after_exp: AtomicU64::new(0),
            feeds: Mutex::new(Vec::new()),
        }
    }
}

/// A handle on a list that does not keep it alive: what a store's feed holds, so that
/// the feed (kept running by the list) does not keep the list alive in turn.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct WeakRevocations {
    set: Weak<ArcSwap<Set>>,
    health: Weak<Health>,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl WeakRevocations {
    /// The list, unless every handle on it is gone.
    pub(crate) fn upgrade(&self) -> Option<Revocations> {
        Some(Revocations {
            set: self.set.upgrade()?,
            health: self.health.upgrade()?,
        })
    }
}

/// How long past the token's `exp` the stores keep a token revocation, and have the
/// lists following them keep it, unless configured otherwise: the verifier's default
/// leeway ([`DEFAULT_LEEWAY`](crate::verify::DEFAULT_LEEWAY)).
pub const DEFAULT_KEEP_AFTER_EXP: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.set.load();
        f.debug_struct("Revocations")
            .field("tokens", &set.tokens.len())
            .field("subjects", &set.subjects.len())
            .finish()
    }
}

/// Whether a token revocation with this `exp` can be forgotten at `now`: no verifier
/// with a leeway up to `keep` seconds accepts the token any more.
fn expired(exp: i64, keep: i64, now: i64) -> bool {
    exp.saturating_add(keep) < now
}

impl Revocations {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuse every token (HTTP 503) while the store feeding this list reports it out of
    /// step, instead of verifying on the revocations already held (the default, which
    /// keeps serving through a store outage).
    #[must_use]
    pub fn fail_closed(self, fail_closed: bool) -> Self {
        self.health
            .fail_closed
            .store(fail_closed, Ordering::Relaxed);
        self
    }

    /// A handle on this list that does not keep it alive.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn downgrade(&self) -> WeakRevocations {
        WeakRevocations {
            set: Arc::downgrade(&self.set),
            health: Arc::downgrade(&self.health),
        }
    }

    /// Keeps `feed` alive for as long as this list (any clone of it) is: a store's feed
    /// runs while a list it fills is in use.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn hold(&self, feed: Arc<dyn Any + Send + Sync>) {
        self.health
            .feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(feed);
    }

    /// Called by stores: whether their feed of revocations is up and the list resynced.
    pub fn set_in_step(&self, in_step: bool) {
        self.health.out_of_step.store(!in_step, Ordering::Relaxed);
    }

    /// Whether verification must refuse: fail-closed and out of step.
    #[inline]
    pub(crate) fn refusing(&self) -> bool {
        self.health.out_of_step.load(Ordering::Relaxed)
            && self.health.fail_closed.load(Ordering::Relaxed)
    }

    /// Adds one revocation (and forgets token revocations that have expired).
    pub fn apply(&self, revocation: Revocation) {
        self.apply_all(std::slice::from_ref(&revocation));
    }

    /// Adds several revocations in one swap (and forgets token revocations that have
    /// expired). A resync from a store goes through here too: what the list holds is
    /// kept, whatever the store answered.
    pub fn apply_all(&self, revocations: &[Revocation]) {
        let now = now();
        let keep = self.keep_after_exp_secs();
        self.set.rcu(|current| {
            let mut next = Set::clone(current);
            next.tokens.retain(|_, exp| !expired(*exp, keep, now));
            for revocation in revocations {
                next.apply(revocation);
            }
            next
        });
    }

    /// Keeps every token revocation for at least `margin` past the token's `exp`. Only
    /// ever raises the margin (none at first); clones share it. A verifier given this
    /// list raises it to its own leeway when built, since it accepts a token until
    /// `exp + leeway`: a revocation forgotten sooner would let the token in again for the
    /// rest of the leeway. A store the list follows raises it to the store's margin
    /// (default [`DEFAULT_KEEP_AFTER_EXP`]). Call it yourself when you check the list
    /// by hand and accept tokens past their `exp`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jwt_tower::revoke::Revocations;
    ///
    /// let list = Revocations::new();
    /// list.keep_after_exp(Duration::from_secs(120));
    /// list.keep_after_exp(Duration::from_secs(10)); // lower: ignored
    /// assert_eq!(list.kept_after_exp(), Duration::from_secs(120));
    /// ```
    pub fn keep_after_exp(&self, margin: Duration) {
        self.health
            .keep_after_exp
            .fetch_max(margin.as_secs(), Ordering::Relaxed);
    }

    /// How long token revocations are kept past the token's `exp` (see
    /// [`keep_after_exp`](Self::keep_after_exp)).
    #[must_use]
    pub fn kept_after_exp(&self) -> Duration {
        Duration::from_secs(self.health.keep_after_exp.load(Ordering::Relaxed))
    }

    fn keep_after_exp_secs(&self) -> i64 {
        i64::try_from(self.health.keep_after_exp.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
    }

    /// The revocations this list holds that `held` (a store's copy) lacks or holds for a
    /// shorter time: what a store that lost data must be given back. Token revocations
    /// past their margin are left out.
    #[cfg(feature = "redis")]
    pub(crate) fn missing_from(&self, held: &[Revocation]) -> Vec<Revocation> {
        let mut theirs = Set::default();
        for revocation in held {
            theirs.apply(revocation);
        }
        let now = now();
        let keep = self.keep_after_exp_secs();
        let set = self.set.load();
        let tokens = set
            .tokens
            .iter()
            .filter(|(jti, exp)| {
                !expired(**exp, keep, now) && theirs.tokens.get(*jti).is_none_or(|e| e < *exp)
            })
            .map(|(jti, exp)| Revocation::Token {
                jti: jti.to_string(),
                exp: *exp,
            });
        let subjects = set
            .subjects
            .iter()
            .filter(|(sub, before)| theirs.subjects.get(*sub).is_none_or(|b| b < *before))
            .map(|(sub, before)| Revocation::Subject {
                sub: sub.to_string(),
                before: *before,
            });
        tokens.chain(subjects).collect()
    }

    /// Whether a token with this `jti`, `sub` and `iat` is revoked. A token of a revoked
    /// subject that has no `iat` is revoked (it cannot prove it is newer).
    #[must_use]
    #[inline]
    pub fn is_revoked(&self, jti: Option<&str>, sub: Option<&str>, iat: Option<i64>) -> bool {
        let set = self.set.load();
        if let Some(jti) = jti
            && set.tokens.contains_key(jti)
        {
            return true;
        }
        if let Some(sub) = sub
            && let Some(before) = set.subjects.get(sub)
        {
            return iat.is_none_or(|iat| iat < *before);
        }
        false
    }

    /// The current list, for publishing or a resync.
    #[must_use]
    pub fn snapshot(&self) -> Vec<Revocation> {
        let set = self.set.load();
        let tokens = set.tokens.iter().map(|(jti, exp)| Revocation::Token {
            jti: jti.to_string(),
            exp: *exp,
        });
        let subjects = set
            .subjects
            .iter()
            .map(|(sub, before)| Revocation::Subject {
                sub: sub.to_string(),
                before: *before,
            });
        tokens.chain(subjects).collect()
    }

    /// How many revocations are held.
    #[must_use]
    pub fn len(&self) -> usize {
        let set = self.set.load();
        set.tokens.len() + set.subjects.len()
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token revocation outlives its token's `exp` by the list's margin: pruned (on
    /// the next update) only once `exp` plus the margin has passed.
    #[test]
    fn token_revocations_are_kept_for_the_margin_after_exp() {
        let list = Revocations::new();
        list.keep_after_exp(Duration::from_secs(30));
        let now = now();
        list.apply_all(&[
            Revocation::Token {
                jti: "within".into(),
                exp: now - 10,
            },
            Revocation::Token {
                jti: "past".into(),
                exp: now - 40,
            },
        ]);
        list.apply(Revocation::Subject {
            sub: "bob".into(),
            before: 1,
        });
        assert!(list.is_revoked(Some("within"), None, None));
        assert!(!list.is_revoked(Some("past"), None, None));
        assert!(
            list.is_revoked(None, Some("bob"), Some(0)),
            "subjects are kept"
        );
    }

    /// A verifier raises its list's margin to its leeway, whatever the order of the
    /// builder calls; a lower margin never lowers it.
    #[test]
    fn a_verifier_keeps_revocations_for_its_leeway() {
        let list = Revocations::new();
        let key = crate::VerificationKey::hmac(crate::Algorithm::HS256, [7u8; 32]).unwrap();
        let _verifier = crate::Verifier::<crate::RegisteredClaims>::builder(key)
            .algorithms([crate::Algorithm::HS256])
            .revocations(list.clone())
            .leeway(Duration::from_secs(120))
            .build()
            .unwrap();
        assert_eq!(list.kept_after_exp(), Duration::from_secs(120));
        list.keep_after_exp(Duration::from_secs(5));
        assert_eq!(list.kept_after_exp(), Duration::from_secs(120));
    }

    /// One `jti` revoked twice keeps the later `exp`; a merge never drops what is held;
    /// `missing_from` names what a store's copy lacks or holds for less.
    #[test]
    fn merges_keep_the_most_and_name_what_a_store_lost() {
        let list = Revocations::new();
        let far = now() + 600;
        list.apply(Revocation::Token {
            jti: "j".into(),
            exp: far,
        });
        list.apply(Revocation::Token {
            jti: "j".into(),
            exp: far - 300,
        });
        list.apply_all(&[]);
        list.apply(Revocation::Subject {
            sub: "bob".into(),
            before: 100,
        });
        let store_copy = [Revocation::Subject {
            sub: "bob".into(),
            before: 50,
        }];
        list.apply_all(&store_copy);
        let mut missing = list.missing_from(&store_copy);
        missing.sort();
        assert_eq!(
            missing,
            [
                Revocation::Token {
                    jti: "j".into(),
                    exp: far
                },
                Revocation::Subject {
                    sub: "bob".into(),
                    before: 100
                },
            ]
        );
        assert!(list.missing_from(&list.snapshot()).is_empty());
    }
}
