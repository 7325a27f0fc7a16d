//! The one wall clock every time check reads: seconds since the Unix epoch, as JWT
//! `NumericDate`s are.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in whole seconds since the Unix epoch. A clock set before 1970 reads 0 (every
/// token then looks not yet valid, rather than the check panicking); one past `i64::MAX`
/// seconds saturates.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
