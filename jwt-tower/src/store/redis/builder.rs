//! [`RedisStoreBuilder`]: a [`RedisStore`]'s options, and the connection it opens.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;

use super::connection;
use super::keys::Keys;
use super::scripts::Scripts;
use super::subscribers::Subscribers;
use super::sync::Following;
use super::{Inner, RedisStore, Shared};
use crate::revoke::DEFAULT_KEEP_AFTER_EXP;
use crate::store::StoreError;

const DEFAULT_PREFIX: &str = "jwt-tower:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_RETAIN: Duration = Duration::from_secs(3600);
const DEFAULT_OUT_OF_STEP_AFTER: Duration = Duration::from_secs(5);
const DEFAULT_RESYNC_EVERY: Duration = Duration::from_secs(30);

/// Options for a [`RedisStore`]: key prefix, timeout, retention of ended families,
/// fail-closed verification while out of step.
///
/// ```no_run
/// use std::time::Duration;
/// use jwt_tower::store::RedisStore;
///
/// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
/// let store = RedisStore::builder("redis://redis.internal:6379/2")
///     .prefix("billing-api:auth:")
///     .timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    retain: Duration,
    client_idle_timeout: Duration,
    fail_closed: bool,
    out_of_step_after: Duration,
    keep_after_exp: Duration,
    resync_every: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("retain", &self.retain)
            .field("client_idle_timeout", &self.client_idle_timeout)
            .field("fail_closed", &self.fail_closed)
            .field("out_of_step_after", &self.out_of_step_after)
            .field("keep_after_exp", &self.keep_after_exp)
            .field("resync_every", &self.resync_every)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Prefixes every key and the revocation channel (default `"jwt-tower:"`). Services
    /// sharing one Redis but not their logins need different prefixes. On a Redis
    /// Cluster the store adds hash tags to it itself, so it may not hold `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long any one call to Redis may take: connecting, each store operation, each
    /// step of the subscription. Past it, the call fails with a [`StoreError`]. Default
    /// 1 second.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Forgets a registered OAuth client once unused for `idle` (default
    /// [`DEFAULT_CLIENT_IDLE_TIMEOUT`](crate::store::DEFAULT_CLIENT_IDLE_TIMEOUT), at
    /// least a second): its key expires, and each look-up renews it.
    pub fn client_idle_timeout(mut self, idle: Duration) -> Self {
        self.client_idle_timeout = idle;
        self
    }

    /// How long a family is kept after it can no longer be used (its absolute end, or
    /// its idle timeout). Within it, a late refresh is answered
    /// [`Expired`](crate::store::Rotation::Expired) (and a replayed one [`Reused`](crate::store::Rotation::Reused))
    /// rather than [`Unknown`](crate::store::Rotation::Unknown); it also absorbs clock skew between
    /// the instances and Redis. Default 1 hour.
    pub fn retain_expired(mut self, retain: Duration) -> Self {
        self.retain = retain;
        self
    }

    /// Makes every list that [`follow`](crate::store::Store::follow)s this store
    /// [fail closed](crate::revoke::Revocations::fail_closed): verification then refuses every token
    /// (503) while the list is out of step, i.e. once the subscription has been down for
    /// longer than [`out_of_step_after`](Self::out_of_step_after), and before the list's
    /// first load. Default `false`: verification goes on with the revocations already
    /// held, which may miss those made during the outage.
    ///
    /// A list can also be made fail-closed on its own, with
    /// [`Revocations::fail_closed`](crate::revoke::Revocations::fail_closed); the store reports every list it feeds in or out of
    /// step either way.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use jwt_tower::revoke::Revocations;
    /// use jwt_tower::store::{RedisStore, Store};
    ///
    /// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
    /// let store = RedisStore::builder("redis://127.0.0.1:6379")
    ///     .fail_closed(true)
    ///     .out_of_step_after(Duration::from_secs(2))
    ///     .connect()
    ///     .await?;
    /// let revocations = Revocations::new();
    /// store.follow(&revocations); // now fail-closed; hand it to the Verifier
    /// # Ok(())
    /// # }
    /// ```
    pub fn fail_closed(mut self, fail_closed: bool) -> Self {
        self.fail_closed = fail_closed;
        self
    }

    /// How long the subscription may be down before the lists it feeds are reported out
    /// of step (and fail-closed lists start refusing). A reconnect that resyncs within
    /// it goes unnoticed by verification. Default 5 seconds.
    pub fn out_of_step_after(mut self, bound: Duration) -> Self {
        self.out_of_step_after = bound;
        self
    }

    /// How long past its `exp` a token revocation is kept in Redis and in the lists
    /// following the store (default 30 s, the verifier's default leeway). The store
    /// uses the longest of this and the [margin](crate::revoke::Revocations::keep_after_exp) of every
    /// list following it, which a verifier raises to its leeway; set it here when
    /// instances that only write revocations (no verifier) share Redis with verifiers
    /// of a longer leeway. Give every instance of a fleet the same margin: the shortest
    /// margin of a writer is what Redis keeps (and what an instance started later loads).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use jwt_tower::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
    /// let store = RedisStore::builder("redis://127.0.0.1:6379")
    ///     .keep_revoked_after_exp(Duration::from_secs(120))
    ///     .connect()
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn keep_revoked_after_exp(mut self, margin: Duration) -> Self {
        self.keep_after_exp = margin;
        self
    }

    /// How often the subscription task reloads every revocation from Redis while the
    /// subscription is up (default 30 s), besides on every reconnect. It catches what a
    /// dropped message or an eviction lost without closing the connection, and gives
    /// Redis back what it lost.
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync_every = every.max(Duration::from_millis(10));
        self
    }

    /// Connects (within the [timeout](Self::timeout)). Must be called within a tokio
    /// runtime, which then runs the subscription task of [`follow`](crate::store::Store::follow).
    ///
    /// # Errors
    /// A [`StoreError`] when the URL is invalid, there is no tokio runtime, Redis
    /// cannot be reached, or the prefix of a cluster store holds a brace.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let runtime = Handle::try_current()
            .map_err(|_| StoreError("RedisStore needs a tokio runtime".into()))?;
        let opened = connection::open(&self.url, self.timeout).await?;
        let keys = Keys::new(&self.prefix, opened.cluster)?;
        let shared = Arc::new(Shared {
            conn: opened.conn,
            subscribers: Subscribers::new(opened.subscribers, opened.cluster),
            keys,
            timeout: self.timeout,
            retain: i64::try_from(self.retain.as_secs()).unwrap_or(i64::MAX),
            client_idle_timeout: self.client_idle_timeout.as_secs().max(1),
            scripts: Scripts::new(),
            follow: Mutex::new(Following::default()),
            synced: AtomicBool::new(false),
            fail_closed: self.fail_closed,
            out_of_step_after: self.out_of_step_after,
            keep_after_exp: self.keep_after_exp,
            resync_every: self.resync_every,
            resyncs: AtomicU64::new(0),
            restored: AtomicU64::new(0),
        });
        Ok(RedisStore {
            inner: Arc::new(Inner {
                shared,
                runtime,
                subscription: Mutex::new(None),
            }),
        })
    }
}

impl RedisStore {
    /// Options, then [`connect`](RedisStoreBuilder::connect).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            retain: DEFAULT_RETAIN,
            client_idle_timeout: crate::store::DEFAULT_CLIENT_IDLE_TIMEOUT,
            fail_closed: false,
            out_of_step_after: DEFAULT_OUT_OF_STEP_AFTER,
            keep_after_exp: DEFAULT_KEEP_AFTER_EXP,
            resync_every: DEFAULT_RESYNC_EVERY,
        }
    }
}
