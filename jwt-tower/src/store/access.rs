//! Opaque access tokens in a store: [`AccessTokenRecord`], what a store keeps for one,
//! and [`AccessTokenRecords`], the memory store's bounded map of them.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a store keeps for one opaque access token, under the SHA-256 hash of the token:
/// the claims it stands for (a JWT access token would carry them) and when it expires.
///
/// ```
/// use jwt_tower::store::AccessTokenRecord;
///
/// let mut claims = serde_json::Map::new();
/// claims.insert("sub".into(), "alice".into());
/// let record = AccessTokenRecord { claims, expires_at: 1_900_000_000 };
/// assert!(record.is_active(1_800_000_000));
/// assert!(!record.is_active(1_900_000_000));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// The token's claims (`iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `scope`, …).
    pub claims: Map<String, Value>,
    /// Its expiry, seconds since the epoch.
    pub expires_at: i64,
}

impl AccessTokenRecord {
    /// Whether the token has not expired at `now`.
    #[must_use]
    pub fn is_active(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// Records by token hash, each until it expires, bounded in number. Expired records are
/// forgotten first; when the map is full of live ones a new record is refused (the
/// token is not issued) rather than forgetting a live one, which would end a token
/// before its time.
#[derive(Debug)]
pub(super) struct AccessTokenRecords {
    records: HashMap<Box<str>, AccessTokenRecord>,
    /// (expiry, hash) of every record, the soonest first.
    ends: BTreeSet<(i64, Box<str>)>,
    capacity: usize,
}

impl AccessTokenRecords {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            records: HashMap::new(),
            ends: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// Keeps `record` under `hash`; `false` when full of live records at `now`.
    pub(super) fn put(&mut self, hash: &str, record: &AccessTokenRecord, now: i64) -> bool {
        self.forget_expired(now);
        if self.records.len() >= self.capacity && !self.records.contains_key(hash) {
            return false;
        }
        let hash: Box<str> = hash.into();
        if let Some(old) = self.records.insert(hash.clone(), record.clone()) {
            self.ends.remove(&(old.expires_at, hash.clone()));
        }
        self.ends.insert((record.expires_at, hash));
        true
    }

    /// The record under `hash`, if it has not expired at `now`.
    pub(super) fn get(&self, hash: &str, now: i64) -> Option<AccessTokenRecord> {
        self.records
            .get(hash)
            .filter(|record| record.is_active(now))
            .cloned()
    }

    /// Removes the record under `hash`; returns it if it had not expired at `now`.
    pub(super) fn remove(&mut self, hash: &str, now: i64) -> Option<AccessTokenRecord> {
        let record = self.records.remove(hash)?;
        self.ends.remove(&(record.expires_at, hash.into()));
        record.is_active(now).then_some(record)
    }

    fn forget_expired(&mut self, now: i64) {
        while let Some((end, _)) = self.ends.first() {
            if *end > now {
                break;
            }
            let (_, hash) = self.ends.pop_first().expect("the first entry exists");
            self.records.remove(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires_at: i64) -> AccessTokenRecord {
        let mut claims = Map::new();
        claims.insert("sub".into(), "alice".into());
        AccessTokenRecord { claims, expires_at }
    }

    #[test]
    fn a_record_is_found_until_it_expires_or_is_removed() {
        let mut records = AccessTokenRecords::new(10);
        assert!(records.put("h", &record(100), 0));
        assert_eq!(records.get("h", 99), Some(record(100)));
        assert_eq!(records.get("h", 100), None);
        assert_eq!(records.get("other", 0), None);
        assert_eq!(records.remove("h", 50), Some(record(100)));
        assert_eq!(records.get("h", 50), None);
        assert_eq!(records.remove("h", 50), None);
        assert!(records.put("e", &record(10), 0));
        assert_eq!(records.remove("e", 10), None, "expired: not active");
        assert_eq!(records.len(), 0);
    }

    #[test]
    fn a_full_map_refuses_new_records_until_some_expire() {
        let mut records = AccessTokenRecords::new(2);
        assert!(records.put("a", &record(10), 0));
        assert!(records.put("b", &record(20), 0));
        assert!(!records.put("c", &record(20), 5));
        assert_eq!(records.get("a", 5), Some(record(10)));
        assert!(records.put("c", &record(30), 10));
        assert_eq!(records.len(), 2);
        assert_eq!(records.get("a", 10), None);
    }
}
