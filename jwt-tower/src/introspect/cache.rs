//! A verifier's introspection answers, each kept until its deadline and found by the
//! SHA-256 of its token, and the introspections in flight: one per token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_cache::UnitWeighter;
use quick_cache::sync::Cache;
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use super::Introspector;
use crate::keys::KeysWait;
use crate::{AuthError, VerifiedToken};

/// A token's SHA-256: what the cache is keyed on, so that its keys are no credential.
pub(crate) type Digest = [u8; 32];

/// The SHA-256 of `token`.
pub(crate) fn digest(token: &[u8]) -> Digest {
    Sha256::digest(token).into()
}

/// Now, in milliseconds since the Unix epoch (0 before it): the deadlines' clock, finer
/// than the claims' seconds so that a TTL of one second lasts one second.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `now_ms` plus `ttl`, saturating.
pub(crate) fn after(now_ms: i64, ttl: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// What a verifier concluded from an introspection.
pub(crate) enum Answer<C> {
    /// The endpoint said active and the claims passed this verifier's checks: served
    /// from `not_before` (seconds; `nbf`/`iat` less the leeway) on.
    Active {
        token: VerifiedToken<C>,
        not_before: i64,
    },
    /// Inactive, or active with claims this verifier refuses: this refusal.
    Refused(AuthError),
    /// The endpoint gave no answer.
    Unavailable,
}

// By hand: a derive would ask `C: Clone`, and only the `Arc` inside is cloned.
impl<C> Clone for Answer<C> {
    fn clone(&self) -> Self {
        match self {
            Self::Active { token, not_before } => Self::Active {
                token: token.clone(),
                not_before: *not_before,
            },
            Self::Refused(error) => Self::Refused(error.clone()),
            Self::Unavailable => Self::Unavailable,
        }
    }
}

struct Entry<C> {
    answer: Answer<C>,
    /// Served while `now_ms() < until_ms`.
    until_ms: i64,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            answer: self.answer.clone(),
            until_ms: self.until_ms,
        }
    }
}

type Flights = Arc<Mutex<HashMap<Digest, watch::Receiver<()>>>>;

/// A verifier's introspection: the endpoint, the answers, the requests in flight.
pub(crate) struct IntrospectionCache<C> {
    pub(crate) introspector: Introspector,
    /// Whether every token is introspected (a verifier with no keys), rather than only
    /// those that are not JWT-shaped.
    pub(crate) alone: bool,
    entries: Cache<Digest, Entry<C>, UnitWeighter, ahash::RandomState>,
    flights: Flights,
}

impl<C> IntrospectionCache<C> {
    pub(crate) fn new(introspector: Introspector, alone: bool) -> Self {
        let capacity = introspector.settings().capacity;
        Self {
            introspector,
            alone,
            entries: Cache::with(
                capacity,
                capacity as u64,
                UnitWeighter,
                ahash::RandomState::new(),
                Default::default(),
            ),
            flights: Arc::default(),
        }
    }

    /// The answer for the token of `digest`, while it lasts.
    #[inline]
    pub(crate) fn get(&self, digest: &Digest, now_ms: i64) -> Option<Answer<C>> {
        let entry = self.entries.get(digest)?;
        if now_ms >= entry.until_ms {
            // Lapsed for good: free its room now rather than at eviction.
            self.entries.remove(digest);
            return None;
        }
        Some(entry.answer)
    }

    /// Keeps `answer` for the token of `digest` until `until_ms`.
    pub(crate) fn insert(&self, digest: Digest, answer: Answer<C>, until_ms: i64) {
        self.entries.insert(digest, Entry { answer, until_ms });
    }

    /// A wait for the introspection of the token of `digest`: the one in flight, or one
    /// that `start` begins (given the guard to drop once the answer is stored). The wait
    /// ends when that introspection is over, or after `limit`. `None` when it is not in
    /// flight and `max_in_flight` others are.
    pub(crate) fn flight(
        &self,
        digest: Digest,
        limit: Duration,
        start: impl FnOnce(FlightGuard),
    ) -> Option<KeysWait> {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = match flights.get(&digest) {
            Some(rx) => rx.clone(),
            // Checked again under the lock: a flight is forgotten only after its answer is
            // stored, so a request that missed the answer just before the flight ended
            // finds it here rather than starting a second introspection.
            None if self.get(&digest, now_ms()).is_some() => {
                return Some(Box::pin(std::future::ready(())));
            }
            None if flights.len() >= self.introspector.settings().max_in_flight => return None,
            None => {
                let (tx, rx) = watch::channel(());
                flights.insert(digest, rx.clone());
                drop(flights);
                start(FlightGuard {
                    flights: Arc::clone(&self.flights),
                    digest,
                    _done: tx,
                });
                rx
            }
        };
        Some(Box::pin(async move {
            let mut rx = rx;
            // Nothing is ever sent: the sender dropped is the signal.
            let _ = tokio::time::timeout(limit, rx.changed()).await;
        }))
    }
}

/// Held by the one introspection of a token; dropped once its answer is stored, it
/// ends the flight and wakes every request waiting on it.
pub(crate) struct FlightGuard {
    flights: Flights,
    digest: Digest,
    _done: watch::Sender<()>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        // Forgotten before the sender goes (fields drop after this body): a request that
        // finds no flight finds the stored answer instead.
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.digest);
    }
}
