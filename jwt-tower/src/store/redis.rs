//! The Redis store: refresh families and revocations shared by every instance of a
//! service (feature `redis`). See [`RedisStore`].

mod access;
mod builder;
mod connection;
mod families;
mod keys;
mod oauth;
mod once;
mod scripts;
mod subscribers;
mod sync;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::RedisResult;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use self::connection::Connection;
use self::keys::Keys;
use self::scripts::Scripts;
use self::subscribers::Subscribers;
use self::sync::Following;
use super::{AccessTokenRecord, Family, PutClientError, Rotation, Store, StoreError};
use crate::oauth::{AuthorizationCode, Client as OAuthClient};
use crate::revoke::{Revocation, Revocations};

pub use self::builder::RedisStoreBuilder;

/// Refresh families and revocations in Redis, shared by several instances. Clones share
/// the connection and the subscription.
///
/// - Rotation, family creation and revocation are Lua scripts (sent by `EVALSHA`), so
///   each runs atomically inside Redis: of two instances presenting one refresh token
///   at once, exactly one rotates it and the other sees a reuse, which revokes the
///   family. Expiry (absolute and idle) is checked inside the script against the
///   caller's clock. The answers are those of [`MemoryStore`](super::MemoryStore).
/// - Keys expire once their family can no longer be used, plus a retention (see
///   [`RedisStoreBuilder::retain_expired`]); revoked `jti`s are dropped once their
///   `exp` plus the verifiers' leeway has passed (see
///   [`RedisStoreBuilder::keep_revoked_after_exp`]). Subject revocations are kept (as
///   in the in-memory store).
/// - [`revoke`](Store::revoke) writes the revocation and publishes it on a channel.
///   Every instance that [`follow`](Store::follow)s the store applies it to its
///   in-process [`Revocations`] as it arrives (well within a second), and reloads the
///   full set whenever its subscription (re)connects and every
///   [`resync_every`](RedisStoreBuilder::resync_every), so nothing published while it
///   was cut off is lost.
/// - A reload merges into the lists, never replaces them: revocations only grow until
///   they expire. When Redis comes back without revocations an instance holds (a
///   restart without persistence, a failover to a replica that lagged, an eviction),
///   the instance writes them back and publishes them, logs a warning and counts them
///   in [`stats`](RedisStore::stats); instances started afterwards load them again.
/// - When Redis is down, every call returns a [`StoreError`] within the configured
///   [timeout](RedisStoreBuilder::timeout), and the subscription retries in the
///   background; verification keeps working on the local list, unless the list is
///   [fail-closed](RedisStoreBuilder::fail_closed) and the subscription has been down
///   for longer than [a bound](RedisStoreBuilder::out_of_step_after).
///
/// - [`mark_once`](Store::mark_once) is one `SET … NX EX` (a DPoP proof's `jti`, refused
///   on every instance once used), and [`shared_secret`](Store::shared_secret) one
///   script keeping the first candidate offered (the secret DPoP nonces derive from).
///
/// Needs Redis 6 or later (or Valkey): one server (a primary, possibly with replicas),
/// or a Redis Cluster, named by a `redis+cluster://` URL (see
/// [`RedisStore::connect`]). A family keeps its current token and its last
/// [`SPENT_TOKENS_KEPT`](crate::store::SPENT_TOKENS_KEPT) spent ones, as in the memory
/// store: a refresh loop does not grow Redis.
///
/// On one server the keys are `<prefix>fam:<id>`, `<prefix>tok:<token hash>`,
/// `<prefix>chain:<id>`, `<prefix>rev:tok`, `<prefix>rev:sub`, `<prefix>client:<id>`,
/// `<prefix>code:<hash>`, `<prefix>spent:<hash>`, `<prefix>once:<value>`,
/// `<prefix>secret:<name>`; the channel is `<prefix>revocations`.
///
/// # Redis Cluster
/// Each script touches the keys of one hash slot, as a cluster requires: the family,
/// token and chain keys share the hash tag `{<prefix>}` (`{<prefix>}fam:<id>`, …),
/// because the store is handed a token's hash and finds its family from the token's
/// value, so one slot holds every family; it is written once per refresh, not per
/// request. Both revocation keys share another tag (`{<prefix>rev}:tok`,
/// `{<prefix>rev}:sub`), so that a revocation is written and published, and the set
/// read, in one step. Clients, codes, one-time marks and secrets are one key each,
/// untagged, and spread over every primary: the per-request one-time marks of DPoP
/// proofs load the whole cluster. The prefix may not hold a brace.
///
/// Revocations are published with a classic `PUBLISH` (Redis 6 clusters have no
/// sharded pub/sub; revocations are rare), which a cluster delivers to the subscribers
/// of every node. The subscription uses one node, and another after a failure: the
/// URL's, then every node the cluster reports.
///
/// When a primary dies, calls on its slots fail within the timeout (refresh and logout
/// answer 503, a DPoP proof whose mark lands there is refused) while the other
/// primaries keep serving, if the cluster serves partial coverage
/// (`cluster-require-full-coverage no`; with the default `yes` the whole cluster
/// refuses until every slot is served again). If it held the revocations, the
/// followers go out of step until it is back or a replica took over, then resync and
/// write back whatever it lost. With a replica the store follows the failover by
/// itself.
///
/// One-time marks (DPoP proofs seen) and the nonce secret are not written back: run
/// Redis with `maxmemory-policy noeviction` (a mark evicted is a proof usable again
/// within its window; the secret evicted makes instances started afterwards issue
/// nonces the older ones refuse), and know that Redis replicates asynchronously: a
/// mark acknowledged by a primary that fails before its replica has it is lost, and
/// that proof could pass once more until its window (about a minute) ends.
///
/// ```no_run
/// use jwt_tower::refresh::RefreshTokens;
/// use jwt_tower::revoke::{Revocation, Revocations};
/// use jwt_tower::store::{RedisStore, Store};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
///
/// // The list the verifier checks: filled now, kept in step by pub/sub from now on.
/// let revocations = Revocations::new();
/// store.follow(&revocations);
///
/// // Refresh tokens shared with every other instance using the same Redis.
/// let refresh = RefreshTokens::new(store.clone());
/// let grant = refresh.start("alice", "read").await?;
/// let next = refresh.rotate(&grant.token).await?;
///
/// // Logout everywhere: every instance following the store refuses bob's older tokens.
/// store.revoke(Revocation::Subject { sub: "bob".into(), before: 1_700_000_000 }).await?;
/// # let _ = next;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    runtime: Handle,
    /// Started by the first [`follow`](Store::follow); held by the store and by every
    /// list following it.
    subscription: Mutex<Option<Arc<Subscription>>>,
}

/// The subscription task. It runs while anything holds it: a clone of the store, or a
/// list following the store (and so the verifier checking that list). The lists are
/// held weakly by the task, so they do not keep it running themselves.
struct Subscription(JoinHandle<()>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the subscription task shares with the store.
struct Shared {
    conn: Connection,
    /// The servers the subscription may use, tried in turn.
    subscribers: Subscribers,
    keys: Keys,
    timeout: Duration,
    retain: i64,
    /// Seconds a registered OAuth client is kept unused.
    client_idle_timeout: u64,
    scripts: Scripts,
    follow: Mutex<Following>,
    /// Subscribed, and the lists resynced since.
    synced: AtomicBool,
    fail_closed: bool,
    out_of_step_after: Duration,
    /// The builder's margin past `exp` for token revocations (the lists' may be longer).
    keep_after_exp: Duration,
    resync_every: Duration,
    resyncs: AtomicU64,
    restored: AtomicU64,
}

/// What a [`RedisStore`] has done to keep revocations, read with [`RedisStore::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStoreStats {
    /// Full reloads of the revocations from Redis (on each reconnect of the
    /// subscription, and periodically).
    pub resyncs: u64,
    /// Revocations this instance held that Redis had lost (a restart without
    /// persistence, a failover, an eviction), written back to it. Non-zero means Redis
    /// lost data; without an instance holding them, they would have been un-revoked.
    pub revocations_restored: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `EX` for a key that must live until `until`: the seconds left, at least one (Redis
/// refuses `EX 0`, and a record written at its last second must still be written) and at
/// most `u32::MAX`.
fn expire_in(until: i64, now: i64) -> u64 {
    until.saturating_sub(now).clamp(1, i64::from(u32::MAX)) as u64
}

/// A JSON record read back from Redis; `what` names it in the error.
fn decode<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError(format!("corrupt {what} in redis: {e}")))
}

/// Runs one Redis call, bounded by `timeout`.
async fn within<T>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(StoreError(format!("redis {what}: {e}"))),
        Err(_) => Err(StoreError(format!(
            "redis {what}: no answer within {timeout:?}"
        ))),
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("RedisStore")
            .field("prefix", &shared.keys.prefix)
            .field("timeout", &shared.timeout)
            .field("followers", &shared.lists().len())
            .field("synced", &self.is_synced())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` with the default options: one server as
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` with TLS support enabled
    /// in the `redis` crate), or a Redis Cluster as
    /// `redis+cluster://[user:password@]host:port[,host:port…]` (or `rediss+cluster://`,
    /// with TLS support enabled in the `redis` crate): the nodes are seeds, the cluster
    /// tells the rest; the credentials, path and query apply to every node. List
    /// several nodes, so that a restarted instance finds one alive. A plain `redis://`
    /// URL naming a cluster node talks to that node alone, and fails on the keys of
    /// the others.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
    /// let store = jwt_tower::store::RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
    /// let url = "redis+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379";
    /// let store = jwt_tower::store::RedisStore::connect(url).await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// See [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// How many times the revocations were reloaded from Redis, and how many this
    /// instance had to write back because Redis had lost them.
    ///
    /// ```no_run
    /// # async fn run(store: jwt_tower::store::RedisStore) {
    /// let stats = store.stats();
    /// if stats.revocations_restored > 0 {
    ///     // Redis lost revocations at some point: check its persistence.
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn stats(&self) -> RedisStoreStats {
        let shared = &self.inner.shared;
        RedisStoreStats {
            resyncs: shared.resyncs.load(Ordering::Relaxed),
            revocations_restored: shared.restored.load(Ordering::Relaxed),
        }
    }

    /// Whether the lists that [`follow`](Store::follow) this store are in step: the
    /// subscription is up and they were resynced since it (re)connected. False before
    /// the first `follow`, and while Redis is unreachable (the lists then keep what
    /// they had, and verification goes on with it).
    ///
    /// Verification itself refuses only with [fail-closed](RedisStoreBuilder::fail_closed)
    /// lists; this is for a readiness check or a metric.
    ///
    /// ```no_run
    /// # async fn run(store: jwt_tower::store::RedisStore) {
    /// let ready = store.is_synced();
    /// # let _ = ready;
    /// # }
    /// ```
    #[must_use]
    pub fn is_synced(&self) -> bool {
        self.inner.shared.synced.load(Ordering::Acquire)
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn create_family(&self, family: &Family, token_hash: &str) -> Result<(), StoreError> {
        self.inner.shared.create_family(family, token_hash).await
    }

    async fn rotate(&self, presented: &str, next: &str, now: i64) -> Result<Rotation, StoreError> {
        self.inner.shared.rotate(presented, next, now).await
    }

    async fn current_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        self.inner.shared.current_family(token_hash).await
    }

    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        self.inner.shared.revoke_family(token_hash).await
    }

    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        shared
            .write(std::slice::from_ref(&revocation), "revoke")
            .await?;
        // This instance's lists at once (the published message follows; applying twice
        // is harmless).
        for list in shared.lists() {
            list.apply(revocation.clone());
        }
        Ok(())
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.inner.shared.read_all().await
    }

    async fn put_client(&self, client: &OAuthClient, _now: i64) -> Result<(), PutClientError> {
        Ok(self.inner.shared.put_client(client).await?)
    }

    async fn client(&self, client_id: &str, _now: i64) -> Result<Option<OAuthClient>, StoreError> {
        self.inner.shared.client(client_id).await
    }

    async fn put_code(&self, code_hash: &str, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.inner.shared.put_code(code_hash, code).await
    }

    async fn mark_code_spent(
        &self,
        code_hash: &str,
        token_hash: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .shared
            .mark_code_spent(code_hash, token_hash, until)
            .await
    }

    async fn spent_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let _ = now; // Redis drops the marker when it expires.
        self.inner.shared.spent_code(code_hash).await
    }

    async fn mark_once(&self, value: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        self.inner.shared.mark_once(value, until, now).await
    }

    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        self.inner.shared.shared_secret(name, candidate).await
    }

    async fn take_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        self.inner.shared.take_code(code_hash, now).await
    }

    async fn put_access_token(
        &self,
        token_hash: &str,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        self.inner.shared.put_access_token(token_hash, record).await
    }

    async fn access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.inner.shared.access_token(token_hash, now).await
    }

    async fn remove_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.inner.shared.remove_access_token(token_hash, now).await
    }

    /// Adds `list` to the lists this store keeps in step, and returns at once. The first
    /// call starts the subscription task (on the runtime the store was connected in),
    /// which loads the full set into every list as soon as it has subscribed, applies
    /// published revocations as they arrive, and reloads the full set after every
    /// reconnect. Later calls load the current set into their list in the background.
    ///
    /// The list is reported [out of step](Revocations::set_in_step) until it is loaded,
    /// and again whenever the subscription has been down for longer than
    /// [`out_of_step_after`](RedisStoreBuilder::out_of_step_after); that refuses
    /// verification only for [fail-closed](RedisStoreBuilder::fail_closed) lists.
    ///
    /// The subscription runs for as long as the store or any list following it is in
    /// use: a verifier holding the list keeps it in step, even once every clone of the
    /// store is dropped. It stops when the last of them is gone.
    fn follow(&self, list: &Revocations) {
        let shared = &self.inner.shared;
        if shared.fail_closed {
            let _ = list.clone().fail_closed(true);
        }
        list.keep_after_exp(shared.keep_after_exp);
        {
            let mut follow = lock(&shared.follow);
            list.set_in_step(false);
            follow.lists.push(list.downgrade());
        }
        let mut subscription = lock(&self.inner.subscription);
        if let Some(running) = subscription.as_ref() {
            list.hold(Arc::clone(running) as Arc<dyn std::any::Any + Send + Sync>);
            let shared = Arc::clone(shared);
            let list = list.clone();
            self.inner.runtime.spawn(async move {
                match shared.read_all().await {
                    Ok(all) => {
                        let follow = lock(&shared.follow);
                        list.apply_all(&all);
                        // In step if the subscription is (else the next resync does it).
                        if follow.down_since.is_none() {
                            list.set_in_step(true);
                        }
                    }
                    // The subscription task resyncs every list when Redis is back.
                    Err(error) => tracing::warn!(%error, "cannot load revocations"),
                }
            });
        } else {
            let task = self.inner.runtime.spawn(Arc::clone(shared).follow_loop());
            let running = Arc::new(Subscription(task));
            list.hold(Arc::clone(&running) as Arc<dyn std::any::Any + Send + Sync>);
            *subscription = Some(running);
        }
    }
}
