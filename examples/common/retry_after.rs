//! `Retry-After` for a refusal by a `governor` rate limiter: whole seconds, rounded up,
//! so that a client waiting that long finds the budget back.
#![allow(dead_code)]

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue};
use governor::NotUntil;
use governor::clock::{Clock, DefaultClock};

/// The seconds until the limiter that refused with `not_until` lets a request through:
/// rounded up, and at least 1 (`Retry-After: 0` would invite an immediate retry).
pub fn seconds(not_until: &NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Sets `Retry-After: seconds` (at least 1).
pub fn insert(headers: &mut HeaderMap, seconds: u64) {
    headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
}
