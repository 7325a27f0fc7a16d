//! [`TokenExchange`]: each outgoing call carries the caller's token exchanged (RFC 8693)
//! for one meant for the next service, instead of the caller's own.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use quick_cache::sync::{Cache, EntryAction, EntryResult};
use sha2::{Digest as _, Sha256};
use tower_service::Service;

use super::builder::CredentialsChosen;
use super::client::{Credentials, PropagateBuilder, PropagateFuture, PropagateService};
use super::client_credentials::{TokenEndpointError, TokenRequest};
use super::{BoxError, PropagateError, PropagateLayer};
use crate::oauth::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE};

/// How many exchanged tokens are kept, by default.
const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// How long before its expiry an exchanged token is exchanged again, by default.
const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30);

/// The configuration of [`PropagateLayer::exchange`]: the authorization server's token
/// endpoint, this service's client credentials there, and what to ask for (the next
/// service's `audience`, and optionally a `resource` and a narrower `scope`).
///
/// For each outgoing call made while handling a verified request, the caller's token
/// (the [`Identity`](crate::Identity) in scope) is exchanged with the token-exchange
/// grant (RFC 8693 §2.1: `subject_token` the caller's token, `subject_token_type`
/// `urn:ietf:params:oauth:token-type:access_token`), the client authenticated by
/// `client_secret_basic`, and the call carries the token the server issues, `Bearer`.
///
/// - **Cached** per caller token (the key is its SHA-256, never the token) for this
///   exchange's audience, until `renew_before` (default 30 s, at most half its lifetime)
///   before the issued token expires (`expires_in`, else its `exp`, and never past the
///   caller's token's `exp`); at most [`max_entries`](Self::max_entries) tokens are kept.
/// - **Single-flight**: concurrent calls for one caller token share one exchange, and its
///   failure; the next call after a failure tries again.
/// - **Fails closed**: a refused exchange (the server's OAuth error, e.g.
///   `invalid_target` when this client may not reach that audience) or an unreachable
///   endpoint fails the call with [`PropagateError::Exchange`]; a call outside a verified
///   request fails with [`PropagateError::NoCredentials`]. The call is then not sent:
///   never unauthenticated, never with the caller's own token.
/// - A caller's token bound to its DPoP key or certificate (`cnf`) is exchanged as any
///   other: it goes to the token endpoint only, which decides whether to accept it; what
///   comes back is sent as `Bearer`.
///
/// ```no_run
/// use jwt_tower::propagate::{PropagateLayer, TokenExchange};
///
/// let exchange = TokenExchange::new(
///     "https://auth.internal/token",
///     "gateway",
///     std::env::var("GATEWAY_CLIENT_SECRET")?,
/// )
/// .audience("https://orders.internal")
/// .scope("orders:read");
/// let layer = PropagateLayer::exchange(exchange)?.to(["https://orders.internal"])?;
/// # let _ = layer;
/// # Ok::<(), jwt_tower::propagate::BoxError>(())
/// ```
#[derive(Clone)]
#[must_use = "a TokenExchange does nothing until given to PropagateLayer::exchange"]
pub struct TokenExchange {
    token_url: String,
    client_id: String,
    client_secret: String,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    client: Option<reqwest::Client>,
    max_entries: usize,
    renew_before: Duration,
}

impl std::fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is a credential: never in logs.
        f.debug_struct("TokenExchange")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenExchange {
    /// Exchanges at `token_url`, as the confidential client `client_id`.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            audience: None,
            resource: None,
            scope: None,
            client: None,
            max_entries: DEFAULT_MAX_ENTRIES,
            renew_before: DEFAULT_RENEW_BEFORE,
        }
    }

    /// The `audience` asked for: the next service's (its verifier's accepted audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The `resource` (RFC 8707 URI) asked for, if the server names targets that way.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The `scope` asked for (space-separated): no more than the caller's token has.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The HTTP client (default: reqwest's, no redirects, a 10 s timeout).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How many exchanged tokens are kept (default 10,000): past it, the least used go.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(1);
        self
    }

    /// How long before expiry an exchanged token is exchanged again (default 30 s; at
    /// most half of its lifetime).
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    fn build(self) -> Result<Exchanger, BoxError> {
        // One exchanged token is for one service: two different targets would be refused
        // by an authorization server issuing single-audience tokens (auth_server does) on
        // every call, so they are refused here, once.
        if let (Some(audience), Some(resource)) = (&self.audience, &self.resource)
            && audience != resource
        {
            return Err(format!(
                "a token exchange names one target: audience {audience:?} and resource {resource:?} differ"
            )
            .into());
        }
        let request = TokenRequest::new(
            &self.token_url,
            &self.client_id,
            &self.client_secret,
            self.client,
        )?;
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("subject_token_type", Some(ACCESS_TOKEN_TYPE)),
            ("audience", self.audience.as_deref()),
            ("resource", self.resource.as_deref()),
            ("scope", self.scope.as_deref()),
        ] {
            if let Some(value) = value {
                form.append_pair(name, value);
            }
        }
        Ok(Exchanger {
            inner: Arc::new(Inner {
                request,
                form: form.finish(),
                cache: Cache::new(self.max_entries),
                renew_before: self.renew_before,
            }),
        })
    }
}

impl PropagateLayer {
    /// A layer sending, on each outgoing call, the caller's token exchanged for one for
    /// the next service: see [`TokenExchange`]. Bind it to that service's origins next.
    ///
    /// # Errors
    /// If the token URL is not an absolute `http`/`https` URL, or the default HTTP client
    /// cannot be built.
    pub fn exchange(
        exchange: TokenExchange,
    ) -> Result<PropagateBuilder<CredentialsChosen>, BoxError> {
        Ok(PropagateBuilder::new(Credentials::Exchange(
            exchange.build()?,
        )))
    }
}

/// A token exchange failed: the call it was for was not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The token endpoint refused the exchange, with this OAuth error (RFC 8693 §2.2.2:
    /// `invalid_target` or `unauthorized_client` for an audience this client may not
    /// reach, `invalid_scope` for more scope than the caller's token has,
    /// `invalid_request` for a caller's token it does not accept, `invalid_client`).
    #[error("the token endpoint refused the exchange ({status}): {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The HTTP status of the answer.
        status: u16,
        /// The OAuth `error` code (`"no OAuth error"` when the answer had none).
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The token endpoint could not be reached, or its answer was not a Bearer token.
    #[error("the token exchange failed: {0}")]
    Failed(Arc<BoxError>),
}

impl ExchangeError {
    /// The OAuth error code of a refusal.
    ///
    /// ```
    /// use jwt_tower::propagate::ExchangeError;
    /// let refused = ExchangeError::Refused {
    ///     status: 400,
    ///     error: "invalid_target".into(),
    ///     description: None,
    /// };
    /// assert_eq!(refused.oauth_error(), Some("invalid_target"));
    /// ```
    #[must_use]
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::Refused { error, .. } => Some(error),
            Self::Failed(_) => None,
        }
    }

    fn from_box(error: BoxError) -> Self {
        match error.downcast::<TokenEndpointError>() {
            Ok(refused) => Self::Refused {
                status: refused.status.as_u16(),
                error: refused.error,
                description: refused.description,
            },
            Err(error) => Self::Failed(Arc::new(error)),
        }
    }
}

/// The cache key of a caller's token: its SHA-256, so that no token sits in memory as
/// a key.
type Key = [u8; 32];

fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

/// A cached exchange: the header to send until `renew_at`, or the failure the calls
/// that waited for it share.
enum Entry {
    Token {
        header: HeaderValue,
        renew_at: SystemTime,
    },
    Failed {
        at: Instant,
        error: ExchangeError,
    },
}

struct Inner {
    request: TokenRequest,
    /// The form's fixed members, after `grant_type` and `subject_token`.
    form: String,
    cache: Cache<Key, Arc<Entry>>,
    renew_before: Duration,
}

/// A configured [`TokenExchange`] and its cache; cheap to clone.
#[derive(Clone)]
pub(super) struct Exchanger {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Exchanger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchanger")
            .field("cached", &self.inner.cache.len())
            .finish_non_exhaustive()
    }
}

impl Exchanger {
    /// The cached header for the caller's token `key`, if it needs no renewal yet.
    fn fresh(&self, key: &Key) -> Option<HeaderValue> {
        match &*self.inner.cache.get(key)? {
            Entry::Token { header, renew_at } if SystemTime::now() < *renew_at => {
                Some(header.clone())
            }
            _ => None,
        }
    }

    /// The header for the caller's `token` (whose `exp` is `caller_exp`): cached, the
    /// one exchange in flight for it, or a new exchange.
    async fn header(
        &self,
        key: Key,
        token: &str,
        caller_exp: Option<i64>,
    ) -> Result<HeaderValue, ExchangeError> {
        let inner = &*self.inner;
        let started = Instant::now();
        let now = SystemTime::now();
        let entry = inner
            .cache
            .entry_async(&key, |_, entry| match &**entry {
                Entry::Token { header, renew_at } if now < *renew_at => {
                    EntryAction::Retain(Ok(header.clone()))
                }
                // The failure of the exchange this call waited for; a later call retries.
                Entry::Failed { at, error } if *at >= started => {
                    EntryAction::Retain(Err(error.clone()))
                }
                _ => EntryAction::ReplaceWithGuard,
            })
            .await;
        let guard = match entry {
            EntryResult::Retained(answer) => return answer,
            EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _) => guard,
            // Neither is asked for (no `Remove`, no timeout): exchange without the cache.
            EntryResult::Removed(..) | EntryResult::Timeout => {
                return self.exchange(token, caller_exp).await.map(|(h, _)| h);
            }
        };
        let answer = self.exchange(token, caller_exp).await;
        let entry = match &answer {
            Ok((header, renew_at)) => Entry::Token {
                header: header.clone(),
                renew_at: *renew_at,
            },
            Err(error) => Entry::Failed {
                at: Instant::now(),
                error: error.clone(),
            },
        };
        let _ = guard.insert(Arc::new(entry));
        answer.map(|(header, _)| header)
    }

    /// One exchange: the header to send, and when to exchange again.
    async fn exchange(
        &self,
        token: &str,
        caller_exp: Option<i64>,
    ) -> Result<(HeaderValue, SystemTime), ExchangeError> {
        let inner = &*self.inner;
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            body.append_pair("grant_type", TOKEN_EXCHANGE);
            body.append_pair("subject_token", token);
            format!("{}&{}", body.finish(), inner.form)
        };
        let issued = inner
            .request
            .send(&body, None)
            .await
            .map_err(ExchangeError::from_box)?;
        let mut header =
            HeaderValue::try_from(format!("Bearer {}", issued.token())).map_err(|_| {
                ExchangeError::Failed(Arc::new(
                    "the exchanged token is not a valid header value".into(),
                ))
            })?;
        header.set_sensitive(true);
        let caller_exp = caller_exp
            .and_then(|exp| u64::try_from(exp).ok())
            .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
        let expires_at = match (issued.expiry(), caller_exp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let now = SystemTime::now();
        // With no known expiry the token is used for this call only.
        let renew_at = expires_at.map_or(now, |at| {
            let lifetime = at.duration_since(now).unwrap_or_default();
            at - inner.renew_before.min(lifetime / 2)
        });
        Ok((header, renew_at))
    }
}

impl<S> PropagateService<S> {
    /// The caller's token exchanged: from the cache at once when fresh, else after the
    /// exchange (the service polled ready moves into the future; a clone takes its
    /// place). No caller in scope, or a failed exchange, and nothing is sent.
    pub(super) fn call_exchanged<B>(
        &mut self,
        exchanger: &Exchanger,
        mut req: Request<B>,
    ) -> PropagateFuture<S::Future, S::Response>
    where
        S: Service<Request<B>> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: Into<BoxError>,
        B: Send + 'static,
    {
        let map_error = self.map_error();
        let caller = super::with_current(|identity| {
            let identity = identity?;
            let key = key(identity.token());
            Some(match exchanger.fresh(&key) {
                Some(header) => Ok(header),
                None => Err((key, identity.token().to_owned(), identity.expires_at())),
            })
        });
        let (key, token, caller_exp) = match caller {
            None => return PropagateFuture::failed(map_error(PropagateError::NoCredentials)),
            Some(Ok(header)) => {
                req.headers_mut().insert(AUTHORIZATION, header);
                return PropagateFuture::inner(self.call_inner(req));
            }
            Some(Err(missing)) => missing,
        };
        let exchanger = exchanger.clone();
        let mut inner = self.take_ready();
        PropagateFuture::fetching(Box::pin(async move {
            let header = exchanger
                .header(key, &token, caller_exp)
                .await
                .map_err(|e| map_error(PropagateError::Exchange(e)))?;
            req.headers_mut().insert(AUTHORIZATION, header);
            inner.call(req).await.map_err(Into::into)
        }))
    }
}

#[cfg(test)]
mod tests;
