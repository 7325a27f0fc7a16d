//! Opaque access tokens in Redis: each token's record is one JSON value under the
//! token's hash, expiring with the token (`SET … EX`), removed with its value read in one
//! step (the script that takes codes).

use ::redis::AsyncCommands as _;

use super::{Shared, within};
use crate::store::{AccessTokenRecord, StoreError};

fn decode(json: &str) -> Result<AccessTokenRecord, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError(format!("corrupt access token record in redis: {e}")))
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
        let ttl = record
            .expires_at
            .saturating_sub(crate::clock::now())
            .clamp(1, i64::from(u32::MAX)) as u64;
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
        let record = json.as_deref().map(decode).transpose()?;
        Ok(record.filter(|r| r.is_active(now)))
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
        let record = json.as_deref().map(decode).transpose()?;
        Ok(record.filter(|r| r.is_active(now)))
    }
}
