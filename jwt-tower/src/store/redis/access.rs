//! Opaque access tokens in Redis: each token's record is one JSON value under the
//! token's hash, expiring with the token (`SET … EX`), removed with its value read in one
//! step (the script that takes codes).

use ::redis::AsyncCommands as _;

use super::{Shared, decode, expire_in, within};
use crate::store::{AccessTokenRecord, StoreError};

/// The record Redis held, if it is still active.
fn active(json: Option<String>, now: i64) -> Result<Option<AccessTokenRecord>, StoreError> {
    let record: Option<AccessTokenRecord> = json
        .as_deref()
        .map(|j| decode(j, "access token record"))
        .transpose()?;
    Ok(record.filter(|r| r.is_active(now)))
}

impl Shared {
    pub(super) async fn put_access_token(
        &self,
        token_hash: &str,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(record).map_err(|e| StoreError(format!("cannot encode: {e}")))?;
        // Redis drops the record once the token has expired (at least a second from now).
        let ttl = expire_in(record.expires_at, crate::clock::now());
        let mut conn = self.conn();
        within(
            self.timeout,
            "put_access_token",
            conn.set_ex::<_, _, ()>(self.keys.access_token(token_hash), json, ttl),
        )
        .await
    }

    pub(super) async fn access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let mut conn = self.conn();
        let json: Option<String> = within(
            self.timeout,
            "access_token",
            conn.get(self.keys.access_token(token_hash)),
        )
        .await?;
        active(json, now)
    }

    pub(super) async fn remove_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let mut invocation = self.scripts.take.prepare_invoke();
        invocation.key(self.keys.access_token(token_hash));
        let mut conn = self.conn();
        let json: Option<String> = within(
            self.timeout,
            "remove_access_token",
            invocation.invoke_async(&mut conn),
        )
        .await?;
        active(json, now)
    }
}
