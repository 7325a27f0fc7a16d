//! [`RemoteJwks`]: a JWKS endpoint kept fresh by a background task.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use super::discovery::{self, DiscoveryError};
use super::fetch::{self, FetchError};
use crate::algorithm::AlgorithmSet;
use crate::keys::{KeySource, KeysWait, SourceStats};
use crate::{ConfigError, KeySet, Keys};

/// Where the keys are found.
#[derive(Debug, Clone)]
enum Endpoint {
    Jwks(String),
    /// Discovered from the issuer on the first fetch, then remembered.
    Issuer(String),
}

/// Configures a [`RemoteJwks`]. Start from [`RemoteJwks::builder`] or
/// [`RemoteJwks::discover`].
#[must_use]
#[derive(Debug, Clone)]
pub struct RemoteJwksBuilder {
    endpoint: Endpoint,
    client: Option<reqwest::Client>,
    settings: Settings,
}

#[derive(Debug, Clone)]
struct Settings {
    refresh: Duration,
    min_refresh: Duration,
    max_refresh: Duration,
    cooldown: Duration,
    timeout: Duration,
    max_body: usize,
    max_staleness: Option<Duration>,
    startup_wait: Duration,
    allowed: Option<AlgorithmSet>,
}

impl RemoteJwksBuilder {
    /// The HTTP client for every fetch (custom CA, proxy, mTLS). Default: a rustls client.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How often the set is refreshed when the endpoint sends no `Cache-Control:
    /// max-age` (default 5 minutes). Taken as given: [`refresh_bounds`](Self::refresh_bounds)
    /// apply to the endpoint's `max-age` only.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.refresh = interval;
        self
    }

    /// The bounds a `Cache-Control: max-age` is clamped to (default 30 s to 24 h).
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_refresh = min;
        self.settings.max_refresh = max.max(min);
        self
    }

    /// After a fetch triggered by an unknown `kid`, no other such fetch for this long
    /// (default 30 s); tokens with unknown `kid`s meanwhile wait for a fetch already in
    /// flight, if any, and are refused otherwise.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown = cooldown;
        self
    }

    /// The time limit of one fetch (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The largest JWKS document accepted (default 512 KiB).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.settings.max_body = limit;
        self
    }

    /// When the endpoint keeps failing, stop trusting the last good set once it is this
    /// old (requests then get 503). Default: keep it for as long as the endpoint fails.
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.settings.max_staleness = Some(staleness);
        self
    }

    /// How long requests may wait for the very first set (default 5 s); after that,
    /// until the endpoint answers, they get 503 with `Retry-After`.
    pub fn startup_wait(mut self, wait: Duration) -> Self {
        self.settings.startup_wait = wait;
        self
    }

    /// Keep only keys usable with these algorithms. [`RemoteJwks::verifier`] starts a
    /// verifier with the same allow-list, so it is stated once.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = crate::Algorithm>) -> Self {
        self.settings.allowed = Some(algorithms.into_iter().collect());
        self
    }

    /// Starts the background refresh on the current tokio runtime and returns the handle.
    /// The first fetch starts at once; the handle's [`keys`](RemoteJwks::keys) are
    /// "unloaded" until it succeeds.
    ///
    /// # Errors
    /// [`ConfigError::NoRuntime`] outside a tokio runtime, [`ConfigError::Remote`] when
    /// the default HTTP client cannot be built.
    pub fn start(self) -> Result<RemoteJwks, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .user_agent(concat!("jwt-tower/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| ConfigError::Remote(e.to_string()))?,
        };
        let (done, _) = watch::channel(0);
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            endpoint: self.endpoint,
            jwks_uri: Mutex::new(None),
            client,
            settings: self.settings,
            current: Arc::new(ArcSwapOption::empty()),
            state: Mutex::new(State::default()),
            done,
            runtime: runtime.clone(),
            started: Instant::now(),
            fetches_ok: AtomicU64::new(0),
            fetches_failed: AtomicU64::new(0),
            last_success_unix: AtomicI64::new(0),
        });
        runtime.spawn(background(Arc::downgrade(&shared)));
        Ok(RemoteJwks { shared })
    }
}

/// A JWKS endpoint kept fresh in the background; hand its [`keys`](Self::keys) to a
/// [`Verifier`](crate::Verifier).
///
/// - Refreshes on an interval, honouring `Cache-Control: max-age` within bounds; the new
///   set is swapped in atomically.
/// - A token with an unknown `kid` triggers one fetch (single-flight, at most one per
///   cooldown); that request waits for it, and so does any request with an unknown `kid`
///   arriving while a fetch (this one or a scheduled refresh) is in flight, so a rotation
///   fails no request. Within the cooldown and with no fetch in flight, unknown `kid`s are
///   refused at once. Every wait is bounded by the fetch timeout.
/// - A fetched document is public, so it never provides a secret: its `oct` keys (HMAC
///   secrets) and keys with private members (`d`) are skipped and logged, as are keys
///   [`KeySet::from_jwks_str`] skips; a document left with no usable key counts as a
///   failed fetch.
/// - A refresh that returns the same document keeps the current set (and so the
///   verifiers' token caches).
/// - When the endpoint fails (down, slow, 5xx, garbage, oversized, no usable key) the
///   last good set keeps serving, fetches back off, and the change is logged once.
/// - Before the first success, requests wait up to the start-up wait, then get 503.
///
/// The background task runs for as long as a handle or the [`Keys`] from it are in use,
/// and so for as long as a verifier built over them: the verifier alone keeps its keys
/// fresh, with no other handle to hold. It ends when the last of them is dropped.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_tower::jwks::RemoteJwks;
/// use jwt_tower::{Algorithm, RegisteredClaims};
///
/// let jwks = RemoteJwks::builder("https://id.example.com/.well-known/jwks.json")
///     .algorithms([Algorithm::RS256])
///     .start()?;
/// // The verifier takes the keys and the allow-list from the JWKS.
/// let verifier = jwks
///     .verifier::<RegisteredClaims>()
///     .issuer("https://id.example.com/")
///     .build()?;
/// # let _ = verifier; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteJwks {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

impl RemoteJwks {
    fn with(endpoint: Endpoint) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            endpoint,
            client: None,
            settings: Settings {
                refresh: Duration::from_secs(300),
                min_refresh: Duration::from_secs(30),
                max_refresh: Duration::from_secs(24 * 3600),
                cooldown: Duration::from_secs(30),
                timeout: Duration::from_secs(5),
                max_body: 512 * 1024,
                max_staleness: None,
                startup_wait: Duration::from_secs(5),
                allowed: None,
            },
        }
    }

    /// A JWKS at `url`.
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        Self::with(Endpoint::Jwks(url.into()))
    }

    /// The JWKS of `issuer`, found by OIDC discovery (then RFC 8414) on the first fetch.
    /// The discovery document must name exactly this issuer.
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        Self::with(Endpoint::Issuer(issuer.into()))
    }

    /// The live keys, for a [`Verifier`](crate::Verifier).
    #[must_use]
    pub fn keys(&self) -> Keys {
        Keys::with_source(
            Arc::clone(&self.shared.current),
            Arc::clone(&self.shared) as Arc<dyn KeySource>,
        )
    }

    /// A [`Verifier`](crate::Verifier) builder over these [`keys`](Self::keys), allowing
    /// the algorithms given to [`RemoteJwksBuilder::algorithms`], so the allow-list is
    /// stated once. Without them the builder allows nothing, as
    /// [`Verifier::builder`](crate::Verifier::builder) does: call
    /// [`algorithms`](crate::VerifierBuilder::algorithms) on it (there is no default
    /// allow-list). Calling `algorithms` on it replaces the JWKS's list. The verifier
    /// keeps the background refresh running; this handle may be dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), jwt_tower::ConfigError> {
    /// use jwt_tower::jwks::RemoteJwks;
    /// use jwt_tower::{Algorithm, ConfigError, RegisteredClaims};
    ///
    /// let jwks = RemoteJwks::builder("https://id.example.com/.well-known/jwks.json")
    ///     .algorithms([Algorithm::ES256])
    ///     .start()?;
    /// let verifier = jwks.verifier::<RegisteredClaims>().build()?;
    ///
    /// let unlisted = RemoteJwks::builder("https://id.example.com/.well-known/jwks.json").start()?;
    /// let refused = unlisted.verifier::<RegisteredClaims>().build();
    /// assert!(matches!(refused, Err(ConfigError::NoAlgorithms)));
    /// # Ok(()) }
    /// ```
    pub fn verifier<C>(&self) -> crate::VerifierBuilder<C> {
        let builder = crate::Verifier::builder(self.keys());
        match self.shared.settings.allowed {
            Some(allowed) => builder.algorithms(allowed.iter()),
            None => builder,
        }
    }

    /// Fetches now, whatever the schedule and cooldown (waits for a fetch already in
    /// flight instead of starting a second one).
    ///
    /// # Errors
    /// The [`FetchError`] of the fetch; the last good set stays in use.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        if self.shared.try_begin() {
            return Arc::clone(&self.shared).fetch_once().await;
        }
        let mut rx = self.shared.done.subscribe();
        let _ = rx.changed().await;
        Ok(())
    }

    /// The counters, as of now.
    #[must_use]
    pub fn stats(&self) -> SourceStats {
        self.shared.stats()
    }
}

#[derive(Default)]
struct State {
    in_flight: bool,
    /// When the last fetch triggered by an unknown `kid` started (for the cooldown).
    last_kid_fetch: Option<Instant>,
    /// When the background task should fetch next.
    next_due: Option<Instant>,
    failing: bool,
    backoff: Duration,
    last_success: Option<Instant>,
    /// The document the current set was built from.
    last_document: Option<Vec<u8>>,
}

/// What an unknown `kid` may do about it.
enum KidFetch {
    /// It claimed the fetch slot: start the fetch and wait for it.
    Start,
    /// A fetch is already running: wait for it.
    Join,
    /// Nothing running and within the cooldown: refuse now.
    Refuse,
}

struct Shared {
    /// A weak handle on itself, to hand a spawned fetch an `Arc`.
    me: Weak<Shared>,
    endpoint: Endpoint,
    jwks_uri: Mutex<Option<String>>,
    client: reqwest::Client,
    settings: Settings,
    current: Arc<ArcSwapOption<KeySet>>,
    state: Mutex<State>,
    /// Counts finished fetches; waiters watch it.
    done: watch::Sender<u64>,
    runtime: tokio::runtime::Handle,
    started: Instant,
    fetches_ok: AtomicU64,
    fetches_failed: AtomicU64,
    last_success_unix: AtomicI64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent enough to
        // matter: recover it rather than poisoning every later request.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims the single fetch slot, unless a fetch is in flight.
    fn try_begin(&self) -> bool {
        let mut state = self.state();
        if state.in_flight {
            return false;
        }
        state.in_flight = true;
        true
    }

    /// For an unknown `kid`: join the fetch in flight, or claim the slot and start a new
    /// cooldown, or (within the cooldown) nothing.
    fn begin_for_kid(&self) -> KidFetch {
        let mut state = self.state();
        if state.in_flight {
            return KidFetch::Join;
        }
        if state
            .last_kid_fetch
            .is_some_and(|at| at.elapsed() < self.settings.cooldown)
        {
            return KidFetch::Refuse;
        }
        state.last_kid_fetch = Some(Instant::now());
        state.in_flight = true;
        KidFetch::Start
    }

    async fn jwks_uri(&self) -> Result<String, FetchError> {
        let issuer = match &self.endpoint {
            Endpoint::Jwks(url) => return Ok(url.clone()),
            Endpoint::Issuer(issuer) => issuer,
        };
        if let Some(uri) = self.jwks_uri.lock().ok().and_then(|u| u.clone()) {
            return Ok(uri);
        }
        let uri = discovery::discover(&self.client, issuer, self.settings.timeout)
            .await
            .map_err(|e| match e {
                DiscoveryError::Fetch(e) => e,
                other => FetchError::Invalid(other.to_string()),
            })?;
        if let Ok(mut slot) = self.jwks_uri.lock() {
            *slot = Some(uri.clone());
        }
        Ok(uri)
    }

    /// Whether `document` is the one the set in use was built from.
    fn is_in_use(&self, document: &[u8]) -> bool {
        self.state().last_document.as_deref() == Some(document) && self.current.load().is_some()
    }

    /// One fetch; the caller holds the slot from [`try_begin`](Self::try_begin).
    async fn fetch_once(self: Arc<Self>) -> Result<(), FetchError> {
        let s = &self.settings;
        let result = match self.jwks_uri().await {
            Ok(uri) => {
                let in_use = |document: &[u8]| self.is_in_use(document);
                fetch::fetch_jwks(&self.client, &uri, s.timeout, s.max_body, s.allowed, in_use)
                    .await
            }
            Err(e) => Err(e),
        };
        let now = Instant::now();
        let mut state = self.state();
        let outcome = match result {
            Ok(fetched) => {
                // The same document again (`set` is `None`): keep the set in use. A new one
                // would be a new key-set generation and empty every verifier's token cache
                // for nothing.
                if let Some(set) = fetched.set {
                    self.current.store(Some(Arc::new(set)));
                    state.last_document = Some(fetched.document);
                }
                let keys = self.current.load().as_ref().map_or(0, |set| set.len());
                self.fetches_ok.fetch_add(1, Ordering::Relaxed);
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                self.last_success_unix.store(unix, Ordering::Relaxed);
                if state.failing {
                    tracing::info!(keys, "JWKS endpoint recovered");
                } else {
                    tracing::debug!(keys, "JWKS refreshed");
                }
                let interval = match fetched.max_age {
                    Some(max_age) => max_age.clamp(s.min_refresh, s.max_refresh),
                    None => s.refresh,
                };
                state.failing = false;
                state.backoff = Duration::ZERO;
                state.last_success = Some(now);
                state.next_due = Some(now + interval);
                Ok(())
            }
            Err(error) => {
                self.fetches_failed.fetch_add(1, Ordering::Relaxed);
                if !state.failing {
                    tracing::warn!(%error, "JWKS refresh failed; serving the last good key set");
                }
                state.failing = true;
                let cap = s
                    .refresh
                    .min(Duration::from_secs(60))
                    .max(Duration::from_secs(1));
                state.backoff = (state.backoff * 2).clamp(Duration::from_secs(1), cap);
                state.next_due = Some(now + state.backoff);
                let too_stale = s.max_staleness.is_some_and(|max| {
                    state
                        .last_success
                        .is_some_and(|at| now.duration_since(at) > max)
                });
                if too_stale && self.current.load().is_some() {
                    tracing::error!("JWKS key set older than the maximum staleness: dropped");
                    self.current.store(None);
                }
                Err(error)
            }
        };
        state.in_flight = false;
        drop(state);
        self.done.send_modify(|n| *n += 1);
        outcome
    }

    /// A wait on the next finished fetch, bounded by `limit`.
    fn wait_for_next(&self, limit: Duration) -> KeysWait {
        wait_on(self.done.subscribe(), limit)
    }
}

/// Resolves when `rx` sees the next finished fetch, or after `limit`.
fn wait_on(mut rx: watch::Receiver<u64>, limit: Duration) -> KeysWait {
    Box::pin(async move {
        let _ = tokio::time::timeout(limit, rx.changed()).await;
    })
}

impl KeySource for Shared {
    fn unknown_kid(&self) -> Option<KeysWait> {
        // Subscribed before looking at the state: a fetch seen in flight cannot finish
        // unnoticed in between.
        let rx = self.done.subscribe();
        let wait = wait_on(rx, self.settings.timeout + Duration::from_millis(100));
        match self.begin_for_kid() {
            KidFetch::Refuse => None,
            KidFetch::Join => Some(wait),
            KidFetch::Start => {
                let Some(this) = self.me.upgrade() else {
                    self.state().in_flight = false;
                    return None;
                };
                self.runtime.spawn(async move {
                    let _ = this.fetch_once().await;
                });
                Some(wait)
            }
        }
    }

    fn stats(&self) -> SourceStats {
        let last = self.last_success_unix.load(Ordering::Relaxed);
        SourceStats {
            fetches_ok: self.fetches_ok.load(Ordering::Relaxed),
            fetches_failed: self.fetches_failed.load(Ordering::Relaxed),
            last_success: (last > 0).then(|| UNIX_EPOCH + Duration::from_secs(last as u64)),
            key_count: self.current.load().as_ref().map_or(0, |set| set.len()),
            failing: self.state().failing,
        }
    }

    fn unloaded(&self) -> Option<KeysWait> {
        let deadline = self.started + self.settings.startup_wait;
        let remaining = deadline.checked_duration_since(Instant::now())?;
        if self.current.load().is_some() {
            return None;
        }
        Some(self.wait_for_next(remaining))
    }
}

/// The refresh loop: fetch when due, until every handle is gone.
async fn background(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let due = shared.state().next_due;
        let now = Instant::now();
        match due {
            Some(due) if due > now => {
                drop(shared);
                tokio::time::sleep_until(due.into()).await;
            }
            _ => {
                if shared.try_begin() {
                    let _ = shared.fetch_once().await;
                } else {
                    drop(shared);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}
