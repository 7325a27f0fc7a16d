//! OAuth clients and authorization codes in Redis: a client is one JSON value, expiring
//! when unused; a code is
//! one JSON value with the code's expiry, taken by a script that reads and deletes it in
//! one step (see `scripts`).

use ::redis::AsyncCommands as _;

use super::{Shared, decode, expire_in, within};
use crate::oauth::{AuthorizationCode, Client};
use crate::store::StoreError;

fn encode(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("cannot encode: {e}")))
}

impl Shared {
    pub(super) async fn put_client(&self, client: &Client) -> Result<(), StoreError> {
        let json = encode(client)?;
        let mut conn = self.conn();
        within(
            self.timeout,
            "put_client",
            conn.set_ex::<_, _, ()>(
                self.keys.client(&client.client_id),
                json,
                self.client_idle_timeout,
            ),
        )
        .await
    }

    pub(super) async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let mut invocation = self.scripts.client.prepare_invoke();
        invocation
            .key(self.keys.client(client_id))
            .arg(self.client_idle_timeout);
        let mut conn = self.conn();
        let json: Option<String> =
            within(self.timeout, "client", invocation.invoke_async(&mut conn)).await?;
        json.as_deref().map(|j| decode(j, "client")).transpose()
    }

    pub(super) async fn put_code(
        &self,
        code_hash: &str,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        let json = encode(code)?;
        // Redis drops the key once the code has expired (at least a second from now).
        let ttl = expire_in(code.expires_at, crate::clock::now());
        let mut conn = self.conn();
        within(
            self.timeout,
            "put_code",
            conn.set_ex::<_, _, ()>(self.keys.code(code_hash), json, ttl),
        )
        .await
    }

    pub(super) async fn mark_code_spent(
        &self,
        code_hash: &str,
        token_hash: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        let ttl = expire_in(until, crate::clock::now());
        let mut conn = self.conn();
        within(
            self.timeout,
            "mark_code_spent",
            conn.set_ex::<_, _, ()>(self.keys.spent_code(code_hash), token_hash, ttl),
        )
        .await
    }

    pub(super) async fn spent_code(&self, code_hash: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn();
        within(
            self.timeout,
            "spent_code",
            conn.get(self.keys.spent_code(code_hash)),
        )
        .await
    }

    pub(super) async fn take_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let mut invocation = self.scripts.take.prepare_invoke();
        invocation.key(self.keys.code(code_hash));
        let mut conn = self.conn();
        let json: Option<String> = within(
            self.timeout,
            "take_code",
            invocation.invoke_async(&mut conn),
        )
        .await?;
        let code: Option<AuthorizationCode> =
            json.as_deref().map(|j| decode(j, "code")).transpose()?;
        Ok(code.filter(|c| now < c.expires_at))
    }
}
