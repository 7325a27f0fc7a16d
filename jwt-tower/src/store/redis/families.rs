//! Refresh-token families in Redis: creation, rotation and revocation, each one Lua
//! script run atomically (see `scripts`).

use super::{Shared, within};
use crate::store::{Family, Rotation, SPENT_TOKENS_KEPT, StoreError};

fn parse_family(json: &str) -> Result<Family, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError(format!("corrupt family in redis: {e}")))
}

impl Shared {
    pub(super) async fn create_family(
        &self,
        family: &Family,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let shared = self;
        let json = serde_json::to_string(family)
            .map_err(|e| StoreError(format!("cannot encode family: {e}")))?;
        let mut invocation = shared.scripts.create.prepare_invoke();
        invocation
            .key(shared.keys.family(&family.id))
            .key(shared.keys.token(token_hash))
            .key(shared.keys.chain(&family.id))
            .arg(&shared.keys.families)
            .arg(shared.retain)
            .arg(json)
            .arg(family.created_at)
            .arg(family.expires_at)
            .arg(family.idle_timeout)
            .arg(&family.id);
        let mut conn = shared.conn();
        within(
            shared.timeout,
            "create_family",
            invocation.invoke_async::<i64>(&mut conn),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn rotate(
        &self,
        presented: &str,
        next: &str,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let shared = self;
        let mut invocation = shared.scripts.rotate.prepare_invoke();
        invocation
            .key(shared.keys.token(presented))
            .key(shared.keys.token(next))
            .arg(&shared.keys.families)
            .arg(shared.retain)
            .arg(now)
            .arg(SPENT_TOKENS_KEPT);
        let mut conn = shared.conn();
        let reply: Vec<String> =
            within(shared.timeout, "rotate", invocation.invoke_async(&mut conn)).await?;
        match (reply.first().map(String::as_str), reply.get(1)) {
            (Some("rotated"), Some(family)) => Ok(Rotation::Rotated(parse_family(family)?)),
            (Some("reused"), Some(family)) => Ok(Rotation::Reused(parse_family(family)?)),
            (Some("unknown"), _) => Ok(Rotation::Unknown),
            (Some("expired"), _) => Ok(Rotation::Expired),
            _ => Err(StoreError(format!(
                "unexpected reply from the rotation script: {reply:?}"
            ))),
        }
    }

    pub(super) async fn current_family(
        &self,
        token_hash: &str,
    ) -> Result<Option<Family>, StoreError> {
        let mut invocation = self.scripts.current_family.prepare_invoke();
        invocation
            .key(self.keys.token(token_hash))
            .arg(&self.keys.families)
            .arg(self.retain)
            .arg(crate::clock::now());
        let mut conn = self.conn();
        let family: Option<String> = within(
            self.timeout,
            "current_family",
            invocation.invoke_async(&mut conn),
        )
        .await?;
        family.as_deref().map(parse_family).transpose()
    }

    pub(super) async fn revoke_family(
        &self,
        token_hash: &str,
    ) -> Result<Option<Family>, StoreError> {
        let shared = self;
        let mut invocation = shared.scripts.revoke_family.prepare_invoke();
        invocation
            .key(shared.keys.token(token_hash))
            .arg(&shared.keys.families)
            .arg(shared.retain);
        let mut conn = shared.conn();
        let family: Option<String> = within(
            shared.timeout,
            "revoke_family",
            invocation.invoke_async(&mut conn),
        )
        .await?;
        family.as_deref().map(parse_family).transpose()
    }
}
