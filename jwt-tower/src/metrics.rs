//! Counters of what a verifier accepted and refused.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::RejectionKind;
use crate::keys::SourceStats;

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    #[inline]
    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Live counters of a [`Verifier`](crate::Verifier) (and the layers using it).
#[derive(Default)]
pub(crate) struct Metrics {
    verified: Counter,
    cache_hits: Counter,
    introspections: Counter,
    introspection_hits: Counter,
    introspection_failures: Counter,
    rejected: Vec<Counter>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            verified: Counter::default(),
            cache_hits: Counter::default(),
            introspections: Counter::default(),
            introspection_hits: Counter::default(),
            introspection_failures: Counter::default(),
            rejected: RejectionKind::ALL
                .iter()
                .map(|_| Counter::default())
                .collect(),
        }
    }

    #[inline]
    pub(crate) fn verified(&self) {
        self.verified.add();
    }

    #[inline]
    pub(crate) fn cache_hit(&self) {
        self.cache_hits.add();
    }

    /// A request sent to the introspection endpoint.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn introspection_request(&self) {
        self.introspections.add();
    }

    /// A token answered from the introspection cache.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    #[inline]
    pub(crate) fn introspection_hit(&self) {
        self.introspection_hits.add();
    }

    /// An introspection request that got no answer.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn introspection_failure(&self) {
        self.introspection_failures.add();
    }

    #[inline]
    pub(crate) fn rejected(&self, kind: RejectionKind) {
        if let Some(counter) = self.rejected.get(kind.index()) {
            counter.add();
        }
    }

    pub(crate) fn snapshot(
        &self,
        keys: Option<SourceStats>,
        key_count: usize,
        cached_tokens: usize,
    ) -> MetricsSnapshot {
        MetricsSnapshot {
            verified: self.verified.get(),
            cache_hits: self.cache_hits.get(),
            cached_tokens,
            introspections: self.introspections.get(),
            introspection_hits: self.introspection_hits.get(),
            introspection_failures: self.introspection_failures.get(),
            rejected: RejectionKind::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(kind, counter)| (*kind, counter.get()))
                .filter(|(_, n)| *n > 0)
                .collect(),
            key_count,
            key_source: keys,
        }
    }
}

/// What a verifier has done so far, read with
/// [`Verifier::metrics`](crate::Verifier::metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Tokens verified.
    pub verified: u64,
    /// Of those, the ones answered by the verified-token cache (see
    /// [`VerifierBuilder::cache`](crate::VerifierBuilder::cache)).
    pub cache_hits: u64,
    /// Tokens held in the verified-token cache now.
    pub cached_tokens: usize,
    /// Requests sent to the introspection endpoint (`VerifierBuilder::introspection`,
    /// feature `remote`).
    pub introspections: u64,
    /// Tokens accepted from the introspection cache (every accepted introspected token
    /// is: the first request after an introspection is a hit too).
    pub introspection_hits: u64,
    /// Introspection requests that got no answer (endpoint down, an error status, too
    /// slow, an answer that is not RFC 7662's).
    pub introspection_failures: u64,
    /// Requests refused, by kind (kinds never seen are left out).
    pub rejected: Vec<(RejectionKind, u64)>,
    /// Keys in the current set (0 when none is loaded).
    pub key_count: usize,
    /// The remote key source's counters (fetches ok / failed, last success), if any.
    pub key_source: Option<SourceStats>,
}

impl MetricsSnapshot {
    /// Refusals of one kind.
    #[must_use]
    pub fn rejected(&self, kind: RejectionKind) -> u64 {
        self.rejected
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// Emits the snapshot as one `tracing` event at `info`.
    pub fn log(&self) {
        tracing::info!(
            verified = self.verified,
            cache_hits = self.cache_hits,
            introspections = self.introspections,
            introspection_hits = self.introspection_hits,
            introspection_failures = self.introspection_failures,
            rejected = ?self.rejected,
            key_count = self.key_count,
            key_source = ?self.key_source,
            "jwt verifier metrics"
        );
    }
}
