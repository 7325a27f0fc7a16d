//! The Redis store: refresh families and revocations shared by every instance of a
//! service (feature `redis`). See [`RedisStore`].

mod scripts;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisResult};
use futures_util::StreamExt as _;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use self::scripts::Scripts;
use super::{Family, Rotation, SPENT_TOKENS_KEPT, Store, StoreError};
use crate::clock::now;
use crate::revoke::{DEFAULT_KEEP_AFTER_EXP, Revocation, Revocations};

const DEFAULT_PREFIX: &str = "jwt-tower:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_RETAIN: Duration = Duration::from_secs(3600);
const DEFAULT_OUT_OF_STEP_AFTER: Duration = Duration::from_secs(5);
const DEFAULT_RESYNC_EVERY: Duration = Duration::from_secs(30);
/// Revocations given back to Redis per script call, so that one call stays short.
const RESTORE_BATCH: usize = 256;
/// How often the subscription task checks whether it has been down past the bound.
const STEP_CHECK: Duration = Duration::from_millis(50);
/// How often the subscription connection is checked (a silent network cut does not
/// close a socket; a `PING` that gets no answer does end the subscription).
const PING_INTERVAL: Duration = Duration::from_secs(1);
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(1);

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
/// Needs Redis 6 or later (or Valkey), one server (a primary, possibly with replicas
/// and Sentinel), not Redis Cluster: the scripts find a family's key from its token's
/// value. Keys: `<prefix>fam:<id>`, `<prefix>tok:<token hash>`, `<prefix>chain:<id>`,
/// `<prefix>rev:tok`, `<prefix>rev:sub`; channel `<prefix>revocations`. A family keeps
/// its current token and its last [`SPENT_TOKENS_KEPT`] spent ones, as in the memory
/// store: a refresh loop does not grow Redis.
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
            .field("fail_closed", &self.fail_closed)
            .field("out_of_step_after", &self.out_of_step_after)
            .field("keep_after_exp", &self.keep_after_exp)
            .field("resync_every", &self.resync_every)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Prefixes every key and the revocation channel (default `"jwt-tower:"`). Services
    /// sharing one Redis but not their logins need different prefixes.
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

    /// How long a family is kept after it can no longer be used (its absolute end, or
    /// its idle timeout). Within it, a late refresh is answered
    /// [`Expired`](Rotation::Expired) (and a replayed one [`Reused`](Rotation::Reused))
    /// rather than [`Unknown`](Rotation::Unknown); it also absorbs clock skew between
    /// the instances and Redis. Default 1 hour.
    pub fn retain_expired(mut self, retain: Duration) -> Self {
        self.retain = retain;
        self
    }

    /// Makes every list that [`follow`](Store::follow)s this store
    /// [fail closed](Revocations::fail_closed): verification then refuses every token
    /// (503) while the list is out of step, i.e. once the subscription has been down for
    /// longer than [`out_of_step_after`](Self::out_of_step_after), and before the list's
    /// first load. Default `false`: verification goes on with the revocations already
    /// held, which may miss those made during the outage.
    ///
    /// A list can also be made fail-closed on its own, with
    /// [`Revocations::fail_closed`]; the store reports every list it feeds in or out of
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
    /// uses the longest of this and the [margin](Revocations::keep_after_exp) of every
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
    /// runtime, which then runs the subscription task of [`follow`](Store::follow).
    ///
    /// # Errors
    /// A [`StoreError`] when the URL is invalid, there is no tokio runtime, or Redis
    /// cannot be reached.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let runtime = Handle::try_current()
            .map_err(|_| StoreError("RedisStore needs a tokio runtime".into()))?;
        let client = Client::open(self.url.as_str())
            .map_err(|e| StoreError(format!("invalid redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        let conn = within(
            self.timeout,
            "connect",
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await?;
        let shared = Arc::new(Shared {
            conn,
            client,
            keys: Keys::new(&self.prefix),
            timeout: self.timeout,
            retain: i64::try_from(self.retain.as_secs()).unwrap_or(i64::MAX),
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
                task: Mutex::new(None),
            }),
        })
    }
}

struct Inner {
    shared: Arc<Shared>,
    runtime: Handle,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last clone of the store is gone: stop following.
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// What the subscription task shares with the store.
struct Shared {
    conn: ConnectionManager,
    client: Client,
    keys: Keys,
    timeout: Duration,
    retain: i64,
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

/// The lists following the store, and whether they are in step. One lock, so that a
/// resync, a report of the subscription being down and a new follower never interleave.
#[derive(Default)]
struct Following {
    lists: Vec<Revocations>,
    /// Since when the subscription has been down (`None` while it is up and resynced).
    down_since: Option<Instant>,
    /// The lists were told they are out of step (down past the bound).
    reported: bool,
}

struct Keys {
    prefix: String,
    revoked_tokens: String,
    revoked_subjects: String,
    channel: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            revoked_tokens: format!("{prefix}rev:tok"),
            revoked_subjects: format!("{prefix}rev:sub"),
            channel: format!("{prefix}revocations"),
        }
    }

    fn family(&self, id: &str) -> String {
        format!("{}fam:{id}", self.prefix)
    }

    fn token(&self, hash: &str) -> String {
        format!("{}tok:{hash}", self.prefix)
    }

    fn chain(&self, id: &str) -> String {
        format!("{}chain:{id}", self.prefix)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

/// `ZRANGEBYSCORE … WITHSCORES`: (member, score).
type Scored = Vec<(String, f64)>;
/// `HGETALL`: (field, value).
type Fields = Vec<(String, String)>;

fn parse_family(json: &str) -> Result<Family, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError(format!("corrupt family in redis: {e}")))
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("RedisStore")
            .field("prefix", &shared.keys.prefix)
            .field("timeout", &shared.timeout)
            .field("followers", &lock(&shared.follow).lists.len())
            .field("synced", &self.is_synced())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`, or `rediss://` with
    /// TLS support enabled in the `redis` crate) with the default options.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), jwt_tower::store::StoreError> {
    /// let store = jwt_tower::store::RedisStore::connect("redis://127.0.0.1:6379").await?;
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

    /// Options, then [`connect`](RedisStoreBuilder::connect).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            retain: DEFAULT_RETAIN,
            fail_closed: false,
            out_of_step_after: DEFAULT_OUT_OF_STEP_AFTER,
            keep_after_exp: DEFAULT_KEEP_AFTER_EXP,
            resync_every: DEFAULT_RESYNC_EVERY,
        }
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

impl Shared {
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Seconds past `exp` token revocations are kept: the builder's margin, or the
    /// longest of the followed lists' (each raised to its verifier's leeway).
    fn keep_after_exp(&self) -> i64 {
        let lists = self.lists();
        let longest = lists
            .iter()
            .map(Revocations::kept_after_exp)
            .fold(self.keep_after_exp, Duration::max);
        i64::try_from(longest.as_secs()).unwrap_or(i64::MAX)
    }

    /// Every revocation still in force, in one atomic read.
    async fn read_all(&self) -> Result<Vec<Revocation>, StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .cmd("ZRANGEBYSCORE")
            .arg(&self.keys.revoked_tokens)
            .arg(now().saturating_sub(self.keep_after_exp()))
            .arg("+inf")
            .arg("WITHSCORES")
            .cmd("HGETALL")
            .arg(&self.keys.revoked_subjects);
        let mut conn = self.conn();
        let (tokens, subjects): (Scored, Fields) =
            within(self.timeout, "revocations", pipe.query_async(&mut conn)).await?;
        let tokens = tokens.into_iter().map(|(jti, exp)| Revocation::Token {
            jti,
            // Saturates: `i64::MAX` comes back as 2^63 in a double.
            exp: exp as i64,
        });
        let subjects = subjects.into_iter().filter_map(|(sub, before)| {
            let before = before.parse().ok()?;
            Some(Revocation::Subject { sub, before })
        });
        Ok(tokens.chain(subjects).collect())
    }

    fn lists(&self) -> Vec<Revocations> {
        lock(&self.follow).lists.clone()
    }

    /// Merges `all` into every list and reports them in step (the subscription is up).
    /// Returns what the lists hold and `all` lacks: what Redis lost.
    fn resynced(&self, all: &[Revocation]) -> Vec<Revocation> {
        let mut follow = lock(&self.follow);
        let mut lost = Vec::new();
        for list in &follow.lists {
            list.apply_all(all);
            list.set_in_step(true);
            lost.extend(list.missing_from(all));
        }
        follow.down_since = None;
        follow.reported = false;
        self.synced.store(true, Ordering::Release);
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        lost.sort_unstable();
        lost.dedup();
        lost
    }

    /// Reads every revocation, merges it into the lists, and writes back to Redis what
    /// it lost.
    async fn resync(&self) -> Result<(), StoreError> {
        let all = self.read_all().await?;
        let lost = self.resynced(&all);
        tracing::debug!(revocations = all.len(), "revocations resynced from redis");
        if lost.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        for batch in lost.chunks(RESTORE_BATCH) {
            written += self.write(batch, "restore revocations").await?;
        }
        if written > 0 {
            self.restored.fetch_add(written, Ordering::Relaxed);
            tracing::warn!(
                restored = written,
                "redis had lost revocations this instance holds (a restart without \
                 persistence, a failover or an eviction); written back"
            );
        }
        Ok(())
    }

    /// Writes `revocations` (each only if Redis lacks it or holds less) and publishes
    /// the ones written. Returns how many were.
    async fn write(&self, revocations: &[Revocation], what: &str) -> Result<u64, StoreError> {
        let mut invocation = self.scripts.revoke.prepare_invoke();
        invocation
            .key(&self.keys.revoked_tokens)
            .key(&self.keys.revoked_subjects)
            .arg(&self.keys.prefix)
            .arg(self.keep_after_exp())
            .arg(now())
            .arg(&self.keys.channel);
        for revocation in revocations {
            let message = serde_json::to_string(revocation)
                .map_err(|e| StoreError(format!("cannot encode revocation: {e}")))?;
            let (kind, id, value) = match revocation {
                Revocation::Token { jti, exp } => ("token", jti, exp),
                Revocation::Subject { sub, before } => ("subject", sub, before),
            };
            invocation.arg(kind).arg(id).arg(*value).arg(message);
        }
        let mut conn = self.conn();
        within(
            self.timeout,
            what,
            invocation.invoke_async::<u64>(&mut conn),
        )
        .await
    }

    /// The subscription is down: the clock for [`out_of_step_after`] starts.
    fn lost(&self) -> bool {
        let mut follow = lock(&self.follow);
        follow.down_since.get_or_insert_with(Instant::now);
        self.synced.swap(false, Ordering::AcqRel)
    }

    /// Reports the lists out of step once the subscription has been down past the bound.
    async fn watch_step(&self) {
        let mut tick = tokio::time::interval(STEP_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut follow = lock(&self.follow);
            if let Some(since) = follow.down_since
                && !follow.reported
                && since.elapsed() >= self.out_of_step_after
            {
                for list in &follow.lists {
                    list.set_in_step(false);
                }
                follow.reported = true;
                tracing::warn!(
                    down_for = ?since.elapsed(),
                    "revocation lists out of step with redis"
                );
            }
        }
    }

    fn deliver(&self, payload: &[u8]) {
        match serde_json::from_slice::<Revocation>(payload) {
            Ok(revocation) => {
                for list in self.lists() {
                    list.apply(revocation.clone());
                }
            }
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed revocation message"),
        }
    }

    /// Subscribes, resyncs every list, then applies messages until the connection
    /// fails. Returns why it ended.
    async fn follow_once(&self, delay: &mut Duration) -> StoreError {
        let result: Result<(), StoreError> = async {
            let pubsub = within(self.timeout, "subscribe", self.client.get_async_pubsub()).await?;
            let (mut sink, mut messages) = pubsub.split();
            within(
                self.timeout,
                "subscribe",
                sink.subscribe(&self.keys.channel),
            )
            .await?;
            // Subscribed first, read second: a revocation written before the read is
            // in it, one written after reaches us as a message (queued meanwhile).
            self.resync().await?;
            *delay = RECONNECT_MIN;
            let mut ping = tokio::time::interval(PING_INTERVAL);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping.tick().await;
            let mut resync = tokio::time::interval(self.resync_every);
            resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            resync.tick().await;
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => self.deliver(message.get_payload_bytes()),
                        None => return Err(StoreError("redis subscription closed".into())),
                    },
                    _ = ping.tick() => {
                        within(self.timeout, "ping", sink.ping::<::redis::Value>()).await?;
                    }
                    _ = resync.tick() => self.resync().await?,
                }
            }
        }
        .await;
        match result {
            Err(e) => e,
            Ok(()) => StoreError("redis subscription ended".into()),
        }
    }

    /// The subscription task: follows, reconnects (then resyncs) whenever it fails, and
    /// reports the lists out of step when it stays down.
    async fn follow_loop(self: Arc<Self>) {
        lock(&self.follow)
            .down_since
            .get_or_insert_with(Instant::now);
        tokio::join!(self.reconnect_loop(), self.watch_step());
    }

    async fn reconnect_loop(&self) {
        let mut delay = RECONNECT_MIN;
        loop {
            let error = self.follow_once(&mut delay).await;
            let was_synced = self.lost();
            if was_synced {
                tracing::warn!(%error, "revocation subscription lost; reconnecting");
            } else {
                tracing::debug!(%error, "revocation subscription still down");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn create_family(&self, family: &Family, token_hash: &str) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let json = serde_json::to_string(family)
            .map_err(|e| StoreError(format!("cannot encode family: {e}")))?;
        let mut invocation = shared.scripts.create.prepare_invoke();
        invocation
            .key(shared.keys.family(&family.id))
            .key(shared.keys.token(token_hash))
            .key(shared.keys.chain(&family.id))
            .arg(&shared.keys.prefix)
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

    async fn rotate(&self, presented: &str, next: &str, now: i64) -> Result<Rotation, StoreError> {
        let shared = &self.inner.shared;
        let mut invocation = shared.scripts.rotate.prepare_invoke();
        invocation
            .key(shared.keys.token(presented))
            .key(shared.keys.token(next))
            .arg(&shared.keys.prefix)
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

    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        let shared = &self.inner.shared;
        let mut invocation = shared.scripts.revoke_family.prepare_invoke();
        invocation
            .key(shared.keys.token(token_hash))
            .arg(&shared.keys.prefix)
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
    fn follow(&self, list: &Revocations) {
        let shared = &self.inner.shared;
        if shared.fail_closed {
            let _ = list.clone().fail_closed(true);
        }
        list.keep_after_exp(shared.keep_after_exp);
        {
            let mut follow = lock(&shared.follow);
            list.set_in_step(false);
            follow.lists.push(list.clone());
        }
        let mut task = lock(&self.inner.task);
        if task.is_none() {
            *task = Some(self.inner.runtime.spawn(Arc::clone(shared).follow_loop()));
        } else {
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
        }
    }
}
