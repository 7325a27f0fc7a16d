//! One-time marks (a DPoP proof's `jti`) and shared secrets (what DPoP nonces are
//! derived from) in Redis: each one key, written in one atomic command or script.

use super::{Shared, expire_in, within};
use crate::store::StoreError;

impl Shared {
    /// `SET <prefix>once:<value> 1 NX EX <until - now>`: true iff this call set it. The
    /// lifetime is counted from the caller's clock, as every expiry of the store is.
    pub(super) async fn mark_once(
        &self,
        value: &str,
        until: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let ttl = expire_in(until, now);
        let mut command = ::redis::cmd("SET");
        command
            .arg(self.keys.once(value))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl);
        let mut conn = self.conn();
        let set: Option<String> =
            within(self.timeout, "mark_once", command.query_async(&mut conn)).await?;
        Ok(set.is_some())
    }

    /// The secret kept under `<prefix>secret:<name>`: the first candidate ever offered.
    /// It never expires; a Redis that loses it takes the next candidate offered.
    pub(super) async fn shared_secret(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<String, StoreError> {
        let mut invocation = self.scripts.secret.prepare_invoke();
        invocation.key(self.keys.secret(name)).arg(candidate);
        let mut conn = self.conn();
        within(
            self.timeout,
            "shared_secret",
            invocation.invoke_async(&mut conn),
        )
        .await
    }
}
