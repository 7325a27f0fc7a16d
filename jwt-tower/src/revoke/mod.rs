//! Revocation: access tokens by `jti` (kept until their `exp`), and every token of a
//! subject issued before a time (logout everywhere, password change).
//!
//! The verifier checks a [`Revocations`] list on every request with an in-process
//! lookup (an atomic pointer load and two hash lookups), never a network round trip.
//! Stores keep the list in step across instances.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

/// One revocation, as stored and as published to other instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Revocation {
    /// The access token with this `jti`; forgotten after `exp` (it has expired anyway).
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
                self.tokens.insert(jti.as_str().into(), *exp);
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

/// Whether the list is known to be in step with its store, and what to do when not.
#[derive(Default)]
struct Health {
    /// Set by a store whose feed is down (a Redis subscription that dropped).
    out_of_step: AtomicBool,
    /// Refuse every token while out of step, rather than verify on what is held.
    fail_closed: AtomicBool,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.set.load();
        f.debug_struct("Revocations")
            .field("tokens", &set.tokens.len())
            .field("subjects", &set.subjects.len())
            .finish()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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

    /// Adds several revocations in one swap.
    pub fn apply_all(&self, revocations: &[Revocation]) {
        let now = now();
        self.set.rcu(|current| {
            let mut next = Set::clone(current);
            next.tokens.retain(|_, exp| *exp >= now);
            for revocation in revocations {
                next.apply(revocation);
            }
            next
        });
    }

    /// Replaces the whole list (a resync from the store).
    pub fn replace_all(&self, revocations: &[Revocation]) {
        let mut next = Set::default();
        for revocation in revocations {
            next.apply(revocation);
        }
        self.set.store(Arc::new(next));
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
