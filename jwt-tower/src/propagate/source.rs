//! [`ServiceTokenSource`]: a service token from a callback, cached and renewed before it expires,
//! one fetch at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use base64::Engine as _;
use http::HeaderValue;

use super::BoxError;
use super::dpop::DpopSigner;

/// A service token and when it expires.
///
/// [`new`](Self::new) reads the expiry from the token's `exp` claim when the token is a
/// JWT (without verifying it: it is this service's own token, to know when to renew it);
/// [`expires_at`](Self::expires_at) / [`expires_in`](Self::expires_in) set it explicitly.
/// A token with no known expiry is kept for good: give it one if it can expire.
///
/// ```
/// use std::time::Duration;
/// use jwt_tower::propagate::ServiceToken;
/// let token = ServiceToken::new("opaque-token").expires_in(Duration::from_secs(300));
/// assert_eq!(token.token(), "opaque-token");
/// assert!(token.expiry().is_some());
/// ```
#[derive(Clone)]
pub struct ServiceToken {
    token: Arc<str>,
    expires_at: Option<SystemTime>,
}

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never in logs.
        f.debug_struct("ServiceToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ServiceToken {
    /// A token; its expiry is its `exp` claim if it is a JWT that has one.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        let token = token.into();
        let expires_at = jwt_exp(&token);
        Self { token, expires_at }
    }

    /// Sets when the token expires.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the token to expire `lifetime` from now.
    #[must_use]
    pub fn expires_in(self, lifetime: Duration) -> Self {
        self.expires_at(SystemTime::now() + lifetime)
    }

    /// The token.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// When it expires, if known.
    #[must_use]
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

/// The `exp` of a JWT, read without verification.
fn jwt_exp(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: Option<u64>,
    }
    let exp = serde_json::from_slice::<Exp>(&bytes).ok()?.exp?;
    UNIX_EPOCH.checked_add(Duration::from_secs(exp))
}

/// Obtaining a service token failed. Clones share the underlying error: every request
/// that waited for the same fetch gets it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the service token source failed: {0}")]
pub struct ServiceTokenError(Arc<BoxError>);

impl ServiceTokenError {
    #[cfg(feature = "aws_lc_rs")]
    pub(super) fn new(error: BoxError) -> Self {
        Self(Arc::new(error))
    }

    /// The callback's error.
    #[must_use]
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &**self.0
    }
}

/// The fetch callback; it gets the source's DPoP signer, if any, to request tokens
/// bound to its key.
type Fetch = dyn Fn(
        Option<Arc<DpopSigner>>,
    ) -> Pin<Box<dyn Future<Output = Result<ServiceToken, BoxError>> + Send>>
    + Send
    + Sync;

/// A token in the cache, with its `Bearer` (or `DPoP`) header ready.
pub(super) struct Cached {
    pub(super) token: ServiceToken,
    pub(super) header: HeaderValue,
    /// From then on, the next call renews it.
    renew_at: Option<SystemTime>,
}

impl Cached {
    fn fresh(&self, now: SystemTime) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }

    fn usable(&self, now: SystemTime) -> bool {
        self.token.expires_at.is_none_or(|at| now < at)
    }
}

struct Inner {
    fetch: Box<Fetch>,
    /// The service's DPoP key: tokens are bound to it and sent with proofs.
    dpop: Option<Arc<DpopSigner>>,
    renew_before: Duration,
    cached: ArcSwapOption<Cached>,
    /// Held by the one fetch in flight (single-flight).
    renewing: tokio::sync::Mutex<()>,
    /// The last failed fetch, shared with the requests that waited for it.
    failure: Mutex<Option<(Instant, ServiceTokenError)>>,
}

/// Where a service's own token comes from, for calls made on its own behalf (or when
/// there is no caller to forward): a callback, its result cached and renewed before it
/// expires, with one fetch at a time however many requests need it.
///
/// - A token is renewed `renew_before` (default 60 s, at most half its lifetime) before it
///   expires; while a renewal is in flight, other requests keep using the still-valid
///   token instead of waiting.
/// - Requests that must wait (no valid token) share the one fetch and its result, error
///   included; the next request after a failure tries again.
///
/// Cheap to clone; clones share the cache. The self-issued form (a token signed by this
/// service's own issuer) is this with a callback that calls the issuer.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use jwt_tower::propagate::{ServiceToken, ServiceTokenSource};
///
/// let calls = Arc::new(AtomicUsize::new(0));
/// let counter = calls.clone();
/// let source = ServiceTokenSource::from_fn(move || {
///     let n = counter.fetch_add(1, Ordering::SeqCst);
///     async move {
///         Ok::<_, std::io::Error>(ServiceToken::new(format!("token-{n}")).expires_in(Duration::from_secs(600)))
///     }
/// });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(source.token().await.unwrap().token(), "token-0");
/// assert_eq!(source.token().await.unwrap().token(), "token-0"); // cached
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct ServiceTokenSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServiceTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenSource")
            .field("renew_before", &self.inner.renew_before)
            .field(
                "cached",
                &self.inner.cached.load().as_ref().map(|c| &c.token),
            )
            .finish_non_exhaustive()
    }
}

impl ServiceTokenSource {
    /// A source calling `fetch` for each new token.
    pub fn from_fn<F, Fut, E>(fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ServiceToken, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        Self::from_fetch(move |_| {
            let future = fetch();
            Box::pin(async move { future.await.map_err(Into::into) })
        })
    }

    pub(super) fn from_fetch<F>(fetch: F) -> Self
    where
        F: Fn(
                Option<Arc<DpopSigner>>,
            ) -> Pin<Box<dyn Future<Output = Result<ServiceToken, BoxError>> + Send>>
            + Send
            + Sync
            + 'static,
    {
        Self {
            inner: Arc::new(Inner {
                fetch: Box::new(fetch),
                dpop: None,
                renew_before: Duration::from_secs(60),
                cached: ArcSwapOption::empty(),
                renewing: tokio::sync::Mutex::new(()),
                failure: Mutex::new(None),
            }),
        }
    }

    /// A self-issued service token: `issuer` signs a token for `subject` with `claims`
    /// (e.g. `{"scope": "orders:read"}`), renewed before it expires, for services that
    /// call others as themselves.
    ///
    /// ```
    /// use jwt_tower::Algorithm;
    /// use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// use jwt_tower::propagate::ServiceTokenSource;
    ///
    /// let issuer = TokenIssuer::builder("https://billing.internal", SigningKey::generate(Algorithm::EdDSA)?)
    ///     .audience("orders")
    ///     .build();
    /// let source = ServiceTokenSource::from_issuer(issuer, "billing", serde_json::json!({"scope": "orders:read"}));
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let token = source.token().await.unwrap();
    /// assert!(token.expiry().is_some());
    /// assert_eq!(token.token().split('.').count(), 3);
    /// # });
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[cfg(feature = "aws_lc_rs")]
    pub fn from_issuer(
        issuer: crate::issue::TokenIssuer,
        subject: impl Into<String>,
        claims: serde_json::Value,
    ) -> Self {
        let subject: Arc<str> = subject.into().into();
        Self::from_fn(move || {
            let issued = issuer.issue(&subject, &claims);
            async move {
                let issued = issued?;
                let expires_at = std::time::UNIX_EPOCH
                    + Duration::from_secs(u64::try_from(issued.expires_at).unwrap_or(0));
                Ok::<_, crate::issue::IssueError>(
                    ServiceToken::new(issued.token).expires_at(expires_at),
                )
            }
        })
    }

    /// A source that always answers `token` (a long-lived credential from configuration).
    pub fn fixed(token: ServiceToken) -> Self {
        Self::from_fn(move || {
            let token = token.clone();
            async move { Ok::<_, std::convert::Infallible>(token) }
        })
    }

    /// How long before expiry a token is renewed (default 60 s; at most half of the
    /// token's lifetime). Set it before cloning the source.
    ///
    /// # Panics
    /// If the source was already cloned.
    #[must_use]
    pub fn renew_before(mut self, margin: Duration) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("ServiceTokenSource::renew_before must be set before the source is cloned")
            .renew_before = margin;
        self
    }

    /// Binds the source's tokens to the service's DPoP key (RFC 9449): a
    /// [`PropagateLayer`](super::PropagateLayer) sends them as `Authorization: DPoP …`
    /// with a fresh proof signed by `key` on each request, and
    /// [`client_credentials`](Self::client_credentials) requests them with a proof. A
    /// [`from_fn`](Self::from_fn) callback must return tokens bound to `key` (`cnf.jkt`
    /// its [thumbprint](crate::dpop::DpopKey::thumbprint)). Set it before cloning the
    /// source.
    ///
    /// ```
    /// use jwt_tower::Algorithm;
    /// use jwt_tower::dpop::DpopKey;
    /// use jwt_tower::propagate::{ServiceToken, ServiceTokenSource};
    ///
    /// let key = DpopKey::generate(Algorithm::ES256)?;
    /// let source = ServiceTokenSource::from_fn(|| async {
    ///     Ok::<_, std::io::Error>(ServiceToken::new("a-dpop-bound-token"))
    /// })
    /// .dpop(key.clone());
    /// assert_eq!(source.dpop_key().unwrap().thumbprint(), key.thumbprint());
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    ///
    /// # Panics
    /// If the source was already cloned.
    #[cfg(feature = "aws_lc_rs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
    #[must_use]
    pub fn dpop(mut self, key: crate::dpop::DpopKey) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("ServiceTokenSource::dpop must be set before the source is cloned")
            .dpop = Some(Arc::new(DpopSigner::new(key)));
        self
    }

    /// The DPoP key the source's tokens are bound to, if any.
    #[cfg(feature = "aws_lc_rs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
    #[must_use]
    pub fn dpop_key(&self) -> Option<&crate::dpop::DpopKey> {
        self.inner.dpop.as_deref().map(DpopSigner::key)
    }

    pub(super) fn signer(&self) -> Option<&Arc<DpopSigner>> {
        self.inner.dpop.as_ref()
    }

    /// The cached token, if it needs no renewal yet: no waiting, no lock.
    pub(super) fn fresh(&self) -> Option<Arc<Cached>> {
        let cached = self.inner.cached.load_full()?;
        cached.fresh(SystemTime::now()).then_some(cached)
    }

    /// The cached `Bearer` header, if the cached token needs no renewal yet: no waiting,
    /// no lock.
    #[cfg(test)]
    pub(crate) fn fresh_header(&self) -> Option<HeaderValue> {
        self.fresh().map(|cached| cached.header.clone())
    }

    /// A valid token: the cached one, or a new one from the callback.
    ///
    /// # Errors
    /// When no valid token is cached and the callback fails (or returns a token that is
    /// not a valid header value).
    pub async fn token(&self) -> Result<ServiceToken, ServiceTokenError> {
        self.cached_or_fetch().await.map(|c| c.token.clone())
    }

    pub(super) async fn cached_or_fetch(&self) -> Result<Arc<Cached>, ServiceTokenError> {
        let inner = &*self.inner;
        let now = SystemTime::now();
        let cached = inner.cached.load_full();
        if let Some(cached) = &cached
            && cached.fresh(now)
        {
            return Ok(Arc::clone(cached));
        }
        // Due for renewal but still valid: renew if nobody else is, else use it.
        if let Some(cached) = cached.filter(|c| c.usable(now)) {
            let Ok(_guard) = inner.renewing.try_lock() else {
                return Ok(cached);
            };
            if let Some(renewed) = inner.cached.load_full()
                && renewed.fresh(SystemTime::now())
            {
                return Ok(renewed);
            }
            return match self.fetch().await {
                Ok(new) => Ok(new),
                Err(error) => {
                    tracing::warn!(%error, "service token renewal failed; the current token is still valid");
                    Ok(cached)
                }
            };
        }
        let waited_from = Instant::now();
        let _guard = inner.renewing.lock().await;
        // Whoever held the lock may have fetched a token, or failed, while we waited.
        if let Some(cached) = inner.cached.load_full()
            && cached.fresh(SystemTime::now())
        {
            return Ok(cached);
        }
        if let Some((at, error)) = &*inner.failure.lock().expect("failure lock")
            && *at >= waited_from
        {
            return Err(error.clone());
        }
        self.fetch().await
    }

    /// Calls the callback (the caller holds the renewal lock) and caches the result.
    async fn fetch(&self) -> Result<Arc<Cached>, ServiceTokenError> {
        let inner = &*self.inner;
        let scheme = if inner.dpop.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        let result = (inner.fetch)(inner.dpop.clone()).await.and_then(|token| {
            let header = HeaderValue::try_from(format!("{scheme} {}", token.token))
                .map_err(|_| BoxError::from("the service token is not a valid header value"))?;
            Ok((token, header))
        });
        match result {
            Ok((token, mut header)) => {
                header.set_sensitive(true);
                let now = SystemTime::now();
                let renew_at = token.expires_at.map(|exp| {
                    let lifetime = exp.duration_since(now).unwrap_or_default();
                    exp - inner.renew_before.min(lifetime / 2)
                });
                let cached = Arc::new(Cached {
                    token,
                    header,
                    renew_at,
                });
                inner.cached.store(Some(Arc::clone(&cached)));
                *inner.failure.lock().expect("failure lock") = None;
                Ok(cached)
            }
            Err(error) => {
                let error = ServiceTokenError(Arc::new(error));
                *inner.failure.lock().expect("failure lock") =
                    Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(lifetime: Duration, fail: bool) -> (ServiceTokenSource, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let source = ServiceTokenSource::from_fn(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if fail {
                    return Err(std::io::Error::other("issuer down"));
                }
                Ok(ServiceToken::new(format!("t{n}")).expires_in(lifetime))
            }
        });
        (source, calls)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_fetch() {
        let (source, calls) = counting(Duration::from_secs(600), false);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await.unwrap().token().to_owned() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), "t0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(source.fresh_header().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_is_shared_by_its_waiters_then_retried() {
        let (source, calls) = counting(Duration::from_secs(600), true);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await.unwrap_err().to_string() })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().contains("issuer down"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        source.token().await.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn renewed_before_expiry() {
        // Lifetime 2 s, renewal margin 60 s capped at half the lifetime: renewed after 1 s.
        let (source, calls) = counting(Duration::from_secs(2), false);
        assert_eq!(source.token().await.unwrap().token(), "t0");
        assert_eq!(source.token().await.unwrap().token(), "t0");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(source.fresh_header().is_none());
        assert_eq!(source.token().await.unwrap().token(), "t1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn expiry_is_read_from_a_jwt() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"exp":4000000000}"#);
        let token = ServiceToken::new(format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig"));
        assert_eq!(
            token.expiry(),
            Some(UNIX_EPOCH + Duration::from_secs(4_000_000_000))
        );
        assert_eq!(ServiceToken::new("opaque").expiry(), None);
    }
}
