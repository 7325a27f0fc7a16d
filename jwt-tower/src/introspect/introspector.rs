//! [`Introspector`]: the introspection endpoint, how to authenticate to it, and how long
//! its answers are kept.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};

use super::response::{self, Reading};
use crate::ConfigError;
use crate::oauth::client_secret_basic;

/// How long an active token's answer is kept by default (never past its `exp`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// How long an inactive token's answer is kept by default.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// How long a failed introspection is remembered: the token's requests are refused
/// (503) meanwhile rather than each sending another request to an endpoint that failed.
const DEFAULT_FAILURE_TTL: Duration = Duration::from_secs(1);
/// The time limit of one introspection request, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most answers a verifier keeps, by default.
const DEFAULT_CAPACITY: usize = 10_000;
/// The largest answer read, by default: an answer is a token's claims.
const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// The most introspections in flight at once, by default.
const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Configures an [`Introspector`]. Start from [`Introspector::builder`].
#[must_use]
#[derive(Clone)]
pub struct IntrospectorBuilder {
    endpoint: String,
    client_id: String,
    client_secret: String,
    client: Option<reqwest::Client>,
    settings: Settings,
}

impl std::fmt::Debug for IntrospectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret is a credential: never in logs.
        f.debug_struct("IntrospectorBuilder")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The timings and bounds an [`Introspector`] keeps to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    pub(crate) cache_ttl: Duration,
    pub(crate) negative_ttl: Duration,
    pub(crate) failure_ttl: Duration,
    pub(crate) capacity: usize,
    pub(crate) max_body: usize,
    pub(crate) max_in_flight: usize,
}

impl IntrospectorBuilder {
    /// The HTTP client for every request (custom CA, proxy, mTLS). Default: a rustls
    /// client that follows no redirects. Its own timeout, if any, applies besides
    /// [`timeout`](Self::timeout). Give it no redirect policy of its own: a 307 or 308
    /// would re-post the token to wherever the answer points.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The time limit of one introspection request (default 5 s). A request waiting for
    /// it waits no longer, then is refused with 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How long an active token's answer is served from the cache (default 60 s), never
    /// past the token's `exp`. A token revoked at the authorization server is accepted
    /// until its entry lapses: this bounds how long.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.settings.cache_ttl = ttl;
        self
    }

    /// How long an inactive token's answer (and the refusal of an active token whose
    /// claims fail this verifier's checks) is served from the cache (default 5 s).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.settings.negative_ttl = ttl;
        self
    }

    /// How many answers a verifier keeps (default 10,000); the least useful are evicted
    /// first (S3-FIFO).
    pub fn capacity(mut self, entries: usize) -> Self {
        self.settings.capacity = entries.max(1);
        self
    }

    /// The largest answer read (default 64 KiB); a larger one is a failure (503).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.settings.max_body = limit;
        self
    }

    /// The most introspections in flight at once (default 256), each for another token:
    /// past it, a token not cached is refused with 503 at once, so that a flood of
    /// made-up tokens cannot turn into as many requests to the authorization server.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.settings.max_in_flight = requests.max(1);
        self
    }

    /// Finishes the introspector.
    ///
    /// # Errors
    /// [`ConfigError::Introspection`] when the endpoint is not an absolute `http(s)` URL
    /// or the default HTTP client cannot be built.
    pub fn build(self) -> Result<Introspector, ConfigError> {
        let bad = |why: String| ConfigError::Introspection(why);
        let url = url::Url::parse(&self.endpoint).map_err(|e| {
            bad(format!(
                "the endpoint {:?} is not a URL: {e}",
                self.endpoint
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(bad(format!(
                "the endpoint {:?} is not an http(s) URL",
                self.endpoint
            )));
        }
        let client = match self.client {
            Some(client) => client,
            // No redirects: a 307/308 would re-post the body, the token itself, to
            // wherever the answer points.
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("jwt-tower/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| bad(e.to_string()))?,
        };
        let mut authorization =
            HeaderValue::try_from(client_secret_basic(&self.client_id, &self.client_secret))
                .map_err(|_| bad("the client credentials cannot be sent".into()))?;
        authorization.set_sensitive(true);
        Ok(Introspector {
            inner: Arc::new(Inner {
                endpoint: url,
                client_id: self.client_id,
                authorization,
                client,
                settings: self.settings,
            }),
        })
    }
}

/// An RFC 7662 introspection endpoint and this resource server's credentials for it
/// (`client_secret_basic`): the source of verified tokens for opaque access tokens.
/// Cheap to clone; hand it to
/// [`VerifierBuilder::introspection`](crate::VerifierBuilder::introspection), or to
/// [`Verifier::introspecting`](crate::Verifier::introspecting) for opaque tokens alone.
/// See [the module](crate::introspect) for how answers are cached.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jwt_tower::ConfigError> {
/// use std::time::Duration;
/// use jwt_tower::introspect::Introspector;
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
///
/// let introspector = Introspector::builder(
///     "https://auth.example.com/introspect",
///     "orders-api",
///     "the-client-secret",
/// )
/// .cache_ttl(Duration::from_secs(30))
/// .build()?;
///
/// // Opaque tokens only:
/// let opaque = Verifier::<RegisteredClaims>::introspecting(introspector.clone())
///     .issuer("https://auth.example.com")
///     .audience("orders")
///     .build()?;
///
/// // JWTs by their signature, every other token by introspection:
/// let both = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [7u8; 32])?)
///     .algorithms([Algorithm::HS256])
///     .introspection(introspector)
///     .build()?;
/// # let _ = (opaque, both);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: url::Url,
    client_id: String,
    /// `Basic …`, built once.
    authorization: HeaderValue,
    client: reqwest::Client,
    settings: Settings,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("client_id", &self.inner.client_id)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Why an introspection gave no answer. The token is refused with 503 meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    /// The endpoint could not be reached, or did not answer in time.
    #[error("introspection endpoint unreachable: {0}")]
    Unreachable(String),
    /// The endpoint answered with a non-success status.
    #[error("introspection endpoint answered HTTP {0}")]
    Status(u16),
    /// The answer was larger than the limit.
    #[error("introspection answer larger than {0} bytes")]
    TooLarge(usize),
    /// The answer was not an RFC 7662 answer.
    #[error("introspection answer unusable: {0}")]
    Invalid(&'static str),
}

impl Introspector {
    /// An introspector for the endpoint at `endpoint`, authenticating as `client_id`
    /// with `client_secret` (HTTP Basic, RFC 6749 §2.3.1).
    pub fn builder(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> IntrospectorBuilder {
        IntrospectorBuilder {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            client: None,
            settings: Settings {
                timeout: DEFAULT_TIMEOUT,
                cache_ttl: DEFAULT_CACHE_TTL,
                negative_ttl: DEFAULT_NEGATIVE_TTL,
                failure_ttl: DEFAULT_FAILURE_TTL,
                capacity: DEFAULT_CAPACITY,
                max_body: DEFAULT_MAX_BODY,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            },
        }
    }

    /// The endpoint.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Asks the endpoint about `token` (RFC 7662 §2.1), within the time limit.
    pub(crate) async fn introspect(&self, token: &str) -> Result<Reading, Failure> {
        let inner = &*self.inner;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let attempt = async {
            let response = inner
                .client
                .post(inner.endpoint.clone())
                .header(AUTHORIZATION, inner.authorization.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| Failure::Unreachable(e.without_url().to_string()))?;
            let status = response.status();
            if !status.is_success() {
                return Err(Failure::Status(status.as_u16()));
            }
            read_limited(response, inner.settings.max_body).await
        };
        let timeout = inner.settings.timeout;
        let body = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| Failure::Unreachable(format!("no answer within {timeout:?}")))??;
        response::read(&body).map_err(Failure::Invalid)
    }
}

/// Reads a body, refusing it once it exceeds `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Failure> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Failure::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Unreachable(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(Failure::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
