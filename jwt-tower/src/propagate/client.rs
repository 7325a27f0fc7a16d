//! [`PropagateLayer`]: the client side, setting `authorization` on outgoing requests to
//! the destinations it is bound to.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::ServiceTokenSource;
use super::builder::{CallerTokenOnly, CredentialsChosen};
use super::destination::{Destinations, IntoOrigin, InvalidOrigin};
use super::dpop::{self, DPOP, DpopSigner};
use super::response::{self, ResponseHead};
use super::source::{Cached, ServiceTokenError};

/// The error type of [`PropagateService`]: the inner service's error, boxed as it was, or
/// a boxed [`PropagateError`] (or what [`PropagateBuilder::map_error`] made of it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an outgoing request was not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PropagateError {
    /// No caller identity in scope (the call is made outside a verified request, e.g. in
    /// a spawned task) and no service-token fallback configured
    /// ([`or_service_token`](PropagateBuilder::or_service_token)).
    #[error(
        "no credentials for the outgoing call: no caller identity in scope (outside a verified request, or in a spawned task without propagate::scope) and no service-token fallback configured"
    )]
    NoCredentials,
    /// The caller's token cannot be sent as a header value.
    #[error("the caller's token is not a valid header value")]
    InvalidToken,
    /// The caller's token is bound to the caller's DPoP key (it has a `cnf.jkt`), which
    /// this service does not hold: it cannot be forwarded, and is never sent. A
    /// service-token fallback ([`or_service_token`](PropagateBuilder::or_service_token))
    /// is sent in its place when configured.
    #[error(
        "the caller's token is DPoP-bound to the caller's key (cnf.jkt), which this service does not hold: it cannot be forwarded, and no service-token fallback is configured"
    )]
    CallerTokenBound,
    /// The [`ServiceTokenSource`] could not provide a token.
    #[error(transparent)]
    ServiceToken(#[from] ServiceTokenError),
    /// The caller's token could not be exchanged for the next service
    /// ([`PropagateLayer::exchange`]): refused by the token endpoint (its OAuth error is
    /// kept), or the endpoint could not be reached.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    #[error(transparent)]
    Exchange(#[from] super::ExchangeError),
    /// The request goes to an origin the layer was not bound to: its credentials are not
    /// sent there, and neither is the request.
    #[error("refused to send a request to {origin}: not one of this client's destinations")]
    DestinationNotAllowed {
        /// The request's scheme and host (and port, when it is an origin).
        origin: String,
    },
    /// The request URI names no origin (no scheme and authority) and the layer has an
    /// allow-list to check it against ([`to`](PropagateBuilder::to)): use absolute URIs,
    /// or [`to_fixed_origin`](PropagateBuilder::to_fixed_origin) for a client bound to one
    /// origin.
    #[error(
        "refused to send a request without a scheme and host: its destination cannot be checked"
    )]
    NoDestination,
}

/// Which token an outgoing request gets.
#[derive(Clone, Debug)]
pub(super) enum Credentials {
    /// The caller's; outside a caller's scope, the fallback's if one was chosen, else an
    /// error.
    Caller {
        fallback: Option<ServiceTokenSource>,
    },
    /// The service's own, always.
    Service(ServiceTokenSource),
    /// The caller's, exchanged for the next service's (RFC 8693); outside a caller's
    /// scope, an error.
    #[cfg(feature = "remote")]
    Exchange(super::exchange::Exchanger),
}

fn boxed(error: PropagateError) -> BoxError {
    Box::new(error)
}

/// A client-side layer that authenticates outgoing requests to the destinations it was
/// bound to, with the caller's token or a service token.
///
/// Built in two steps, both required: which token
/// ([`forward`](Self::forward), optionally
/// [`or_service_token`](PropagateBuilder::or_service_token); or
/// [`service_token`](Self::service_token); or the caller's exchanged for the next
/// service's, `exchange` with feature `remote`), then where it may go
/// ([`to`](PropagateBuilder::to) an allow-list of origins, or
/// [`to_fixed_origin`](PropagateBuilder::to_fixed_origin) for a client bound to one origin,
/// such as a tonic `Channel`). Build one layer per downstream client.
///
/// A request is refused with an error, and not sent, when:
/// - its URI names another origin ([`PropagateError::DestinationNotAllowed`]), or no origin
///   while the layer has an allow-list ([`PropagateError::NoDestination`]). This holds for
///   every request, including one that already carries `authorization` (sent as it is
///   otherwise);
/// - there is no credential: [`forward`](Self::forward) alone, called outside a verified
///   request's scope ([`PropagateError::NoCredentials`]); the service token is sent
///   instead only if chosen with [`or_service_token`](PropagateBuilder::or_service_token);
///   `exchange` called outside a verified request's scope, or whose exchange fails
///   (`PropagateError::Exchange`), never falls back to another token.
///
/// DPoP (RFC 9449): when the service token's source holds the service's DPoP key
/// ([`ServiceTokenSource::dpop`]), each request gets `authorization: DPoP …` and a fresh
/// `dpop` proof: `htm` the method, `htu` the request URI's origin and path (for a client
/// bound with [`to_fixed_origin`](PropagateBuilder::to_fixed_origin), that origin plus
/// the path: a gRPC method's full URL), `ath` the token's hash, and the last
/// `DPoP-Nonce` that origin sent (read from every response, see [`ResponseHead`]). A
/// `401` with a `DPoP` challenge `error="use_dpop_nonce"` and a new nonce is sent again,
/// once, with that nonce when the request can be copied: no body, or a body in memory
/// (`()`, `String`, `Vec<u8>`, `Bytes`, `&'static str`, `&'static [u8]`,
/// http-body-util's `Full<Bytes>` and `Empty<Bytes>`). A streaming body (every gRPC
/// call's) cannot be sent twice: that answer is returned, and the next request carries
/// the nonce. A caller's token bound to the caller's key (`cnf.jkt`) is never forwarded
/// ([`PropagateError::CallerTokenBound`]): the service cannot sign its proofs.
///
/// Redirects: the layer checks the requests it sees. A client that follows redirects
/// *inside* it (reqwest, tower-http's `FollowRedirect`) must drop `authorization` on a
/// redirect to another origin (both do by default); a redirect follower placed *outside*
/// the layer has each new request checked here. Proxies: a forward proxy configured in
/// the client (reqwest reads `HTTP_PROXY`) sees the token of a plain-`http` request; bind
/// such clients to `https` origins, or turn the proxy off for them.
///
/// ```
/// use jwt_tower::propagate::{self, PropagateError, PropagateLayer};
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// use tower::{Service, ServiceExt};
/// use tower_layer::Layer;
///
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
/// // A stand-in for a hyper client: answers with the header it got.
/// let client = tower::service_fn(|req: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(req.headers().get("authorization").cloned())
/// });
/// let mut client = PropagateLayer::forward()
///     .to(["https://orders.internal"])?
///     .layer(client);
/// let to = |uri: &str| http::Request::get(uri).body(()).unwrap();
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Outside a request: refused, nothing sent.
/// let error = client.ready().await.unwrap().call(to("https://orders.internal/v1")).await.unwrap_err();
/// assert!(matches!(error.downcast_ref(), Some(PropagateError::NoCredentials)));
///
/// // In the scope of a verified request (as inside a JwtLayer's inner service):
/// let identity = verifier.verify(&token).unwrap().identity();
/// propagate::scope(identity, async {
///     let sent = client.ready().await.unwrap().call(to("https://orders.internal/v1")).await;
///     assert_eq!(sent.unwrap().unwrap(), format!("Bearer {token}").as_str());
///     // Another origin: refused, nothing sent.
///     let error = client.ready().await.unwrap().call(to("https://elsewhere.example/")).await.unwrap_err();
///     assert!(matches!(error.downcast_ref(), Some(PropagateError::DestinationNotAllowed { .. })));
/// })
/// .await;
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct PropagateLayer {
    credentials: Credentials,
    destinations: Arc<Destinations>,
    map_error: fn(PropagateError) -> BoxError,
}

impl std::fmt::Debug for PropagateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PropagateLayer")
            .field("credentials", &self.credentials)
            .field("destinations", &self.destinations)
            .finish_non_exhaustive()
    }
}

impl PropagateLayer {
    /// The caller's token, when the call is made in the scope of a verified request;
    /// outside it, the call fails with [`PropagateError::NoCredentials`] unless a fallback
    /// is chosen with [`or_service_token`](PropagateBuilder::or_service_token).
    pub fn forward() -> PropagateBuilder<CallerTokenOnly> {
        PropagateBuilder::new(Credentials::Caller { fallback: None })
    }

    /// Always the service's own token from `source`, for calls made on the service's own
    /// behalf.
    pub fn service_token(source: ServiceTokenSource) -> PropagateBuilder<CredentialsChosen> {
        PropagateBuilder::new(Credentials::Service(source))
    }
}

/// Builds a [`PropagateLayer`]: the credentials are chosen, the destinations come next
/// ([`to`](Self::to) or [`to_fixed_origin`](Self::to_fixed_origin)). `State` (see
/// [`builder`](super::builder)) says whether a fallback can still be chosen.
#[derive(Clone, Debug)]
#[must_use = "a PropagateBuilder does nothing until bound to its destinations with `to` or `to_fixed_origin`"]
pub struct PropagateBuilder<State> {
    credentials: Credentials,
    map_error: fn(PropagateError) -> BoxError,
    state: std::marker::PhantomData<State>,
}

impl<State> PropagateBuilder<State> {
    pub(super) fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            map_error: boxed,
            state: std::marker::PhantomData,
        }
    }

    /// How a [`PropagateError`] is reported (default: boxed as it is). Adapters use it
    /// to give the error the shape their clients understand, e.g. a `tonic::Status`.
    ///
    /// ```
    /// use jwt_tower::propagate::{BoxError, PropagateError, PropagateLayer};
    ///
    /// /// The shape this client's callers understand.
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("upstream call not sent: {0}")]
    /// struct NotSent(PropagateError);
    ///
    /// fn not_sent(error: PropagateError) -> BoxError {
    ///     Box::new(NotSent(error))
    /// }
    ///
    /// let layer = PropagateLayer::forward()
    ///     .map_error(not_sent)
    ///     .to(["https://orders.internal"])?;
    /// # let _ = layer;
    /// # Ok::<(), jwt_tower::propagate::InvalidOrigin>(())
    /// ```
    pub fn map_error(mut self, map: fn(PropagateError) -> BoxError) -> Self {
        self.map_error = map;
        self
    }

    /// Binds the layer to `origins` (scheme, host and port, see [`Origin`](super::Origin)), for a client
    /// that takes absolute URIs (a hyper client, reqwest behind a tower service): a
    /// request to any other origin, or with a relative URI, is refused.
    ///
    /// ```
    /// # use jwt_tower::propagate::PropagateLayer;
    /// let layer = PropagateLayer::forward().to(["https://orders.internal", "https://stock.internal:8443"])?;
    /// assert!(PropagateLayer::forward().to(["https://orders.internal/v1"]).is_err());
    /// assert!(PropagateLayer::forward().to(Vec::<&str>::new()).is_err());
    /// # let _ = layer;
    /// # Ok::<(), jwt_tower::propagate::InvalidOrigin>(())
    /// ```
    ///
    /// # Errors
    /// If an entry is not an `http`/`https` origin, or there is none.
    pub fn to<I>(self, origins: I) -> Result<PropagateLayer, InvalidOrigin>
    where
        I: IntoIterator,
        I::Item: IntoOrigin,
    {
        let origins = origins
            .into_iter()
            .map(IntoOrigin::into_origin)
            .collect::<Result<Box<[_]>, _>>()?;
        if origins.is_empty() {
            return Err(InvalidOrigin::no_destination());
        }
        Ok(self.build(Destinations::AllowList(origins)))
    }

    /// Binds the layer to the one origin the wrapped client always sends to, whatever a
    /// request's URI says: a tonic `Channel`, whose requests carry only a path and go to
    /// its `Endpoint`. Give it that endpoint's URI (`endpoint.uri()`); a request naming
    /// another origin is refused.
    ///
    /// ```
    /// # use jwt_tower::propagate::PropagateLayer;
    /// // let endpoint = tonic::transport::Endpoint::from_static("http://orders:50051");
    /// let endpoint_uri = http::Uri::from_static("http://orders:50051");
    /// let layer = PropagateLayer::forward().to_fixed_origin(&endpoint_uri)?;
    /// # let _ = layer;
    /// # Ok::<(), jwt_tower::propagate::InvalidOrigin>(())
    /// ```
    ///
    /// # Errors
    /// If `origin` is not an `http`/`https` origin.
    pub fn to_fixed_origin(self, origin: impl IntoOrigin) -> Result<PropagateLayer, InvalidOrigin> {
        let origin = origin.into_origin()?;
        Ok(self.build(Destinations::Fixed(origin)))
    }

    fn build(self, destinations: Destinations) -> PropagateLayer {
        PropagateLayer {
            credentials: self.credentials,
            destinations: Arc::new(destinations),
            map_error: self.map_error,
        }
    }
}

impl PropagateBuilder<CallerTokenOnly> {
    /// Outside a caller's scope (a call made on the service's own behalf, or from a task
    /// spawned without [`scope`](super::scope)), sends the service's own token from
    /// `source` instead of failing. That token is usually more privileged than a caller's:
    /// choose this only for clients whose every call may be made as the service.
    ///
    /// ```
    /// use jwt_tower::propagate::{self, PropagateLayer, ServiceToken, ServiceTokenSource};
    /// use tower::{Service, ServiceExt};
    /// use tower_layer::Layer;
    ///
    /// let source = ServiceTokenSource::from_fn(|| async {
    ///     Ok::<_, std::io::Error>(ServiceToken::new("the-service-token"))
    /// });
    /// let client = tower::service_fn(|req: http::Request<()>| async move {
    ///     Ok::<_, std::convert::Infallible>(req.headers().get("authorization").cloned())
    /// });
    /// let mut client = PropagateLayer::forward()
    ///     .or_service_token(source)
    ///     .to(["https://stock.internal"])?
    ///     .layer(client);
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// // No caller in scope (say, a scheduled job): the service's own token goes instead.
    /// assert!(propagate::current().is_none());
    /// let request = http::Request::get("https://stock.internal/levels").body(()).unwrap();
    /// let sent = client.ready().await.unwrap().call(request).await.unwrap();
    /// assert_eq!(sent.unwrap(), "Bearer the-service-token");
    /// # });
    /// # Ok::<(), jwt_tower::propagate::InvalidOrigin>(())
    /// ```
    pub fn or_service_token(
        self,
        source: ServiceTokenSource,
    ) -> PropagateBuilder<CredentialsChosen> {
        PropagateBuilder {
            credentials: Credentials::Caller {
                fallback: Some(source),
            },
            map_error: self.map_error,
            state: std::marker::PhantomData,
        }
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = PropagateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`PropagateLayer`].
#[derive(Clone, Debug)]
pub struct PropagateService<S> {
    inner: S,
    layer: PropagateLayer,
}

impl<S> PropagateService<S> {
    /// The wrapped client.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub(super) fn map_error(&self) -> fn(PropagateError) -> BoxError {
        self.layer.map_error
    }

    /// Calls the wrapped client at once (it was polled ready).
    pub(super) fn call_inner<B>(&mut self, req: Request<B>) -> S::Future
    where
        S: Service<Request<B>>,
    {
        self.inner.call(req)
    }

    /// The client polled ready, for a future that calls it later; a clone takes its
    /// place.
    pub(super) fn take_ready(&mut self) -> S
    where
        S: Clone,
    {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// The caller's `Bearer` header, if this runs in the scope of a verified request; a
/// DPoP-bound token is [`PropagateError::CallerTokenBound`].
fn forwarded() -> Option<Result<HeaderValue, PropagateError>> {
    super::with_current(|identity| {
        let token = identity?.token();
        if dpop::is_key_bound(token) {
            return Some(Err(PropagateError::CallerTokenBound));
        }
        Some(
            HeaderValue::try_from(format!("Bearer {token}"))
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                })
                .map_err(|_| PropagateError::InvalidToken),
        )
    })
}

impl<S, B> Service<Request<B>> for PropagateService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    S::Response: ResponseHead,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = PropagateFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let layer = &self.layer;
        if let Err(error) = layer.destinations.check(req.uri()) {
            return PropagateFuture::failed((layer.map_error)(error));
        }
        if req.headers().contains_key(AUTHORIZATION) {
            return PropagateFuture::inner(self.inner.call(req));
        }
        let source = match &layer.credentials {
            Credentials::Caller { fallback } => match (forwarded(), fallback) {
                (Some(Ok(header)), _) => {
                    req.headers_mut().insert(AUTHORIZATION, header);
                    return PropagateFuture::inner(self.inner.call(req));
                }
                // The service's own token goes in place of a bound one it cannot prove.
                (Some(Err(PropagateError::CallerTokenBound)), Some(source)) => source,
                (Some(Err(error)), _) => {
                    return PropagateFuture::failed((layer.map_error)(error));
                }
                (None, Some(source)) => source,
                (None, None) => {
                    return PropagateFuture::failed((layer.map_error)(
                        PropagateError::NoCredentials,
                    ));
                }
            },
            Credentials::Service(source) => source,
            #[cfg(feature = "remote")]
            Credentials::Exchange(exchanger) => {
                let exchanger = exchanger.clone();
                return self.call_exchanged(&exchanger, req);
            }
        };
        if let Some(signer) = source.signer() {
            let (source, signer) = (source.clone(), Arc::clone(signer));
            return self.call_with_proof(source, signer, req);
        }
        match source.fresh() {
            Some(cached) => {
                req.headers_mut()
                    .insert(AUTHORIZATION, cached.header.clone());
                PropagateFuture::inner(self.inner.call(req))
            }
            None => {
                let source = source.clone();
                self.fetch_then_call(source, req)
            }
        }
    }
}

/// Sets `authorization: DPoP …` and a fresh proof for `req`, with `nonce`.
fn sign<B>(
    req: &mut Request<B>,
    signer: &DpopSigner,
    cached: &Cached,
    htu: &str,
    nonce: Option<&str>,
) -> Result<(), PropagateError> {
    let proof = signer.proof(req.method(), htu, Some(cached.token.token()), nonce)?;
    req.headers_mut()
        .insert(AUTHORIZATION, cached.header.clone());
    req.headers_mut().insert(DPOP.clone(), proof);
    Ok(())
}

impl<S> PropagateService<S> {
    /// A service token bound to the service's DPoP key: each request gets a fresh proof
    /// (with the last nonce its origin sent). A `401` asking for a nonce
    /// (`use_dpop_nonce` with a new `DPoP-Nonce`) is retried once with it when the
    /// request can be copied (see [`PropagateLayer`]); else that answer is returned, and
    /// the next request carries the nonce.
    fn call_with_proof<B>(
        &mut self,
        source: ServiceTokenSource,
        signer: Arc<DpopSigner>,
        mut req: Request<B>,
    ) -> PropagateFuture<S::Future, S::Response>
    where
        S: Service<Request<B>> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: Into<BoxError>,
        S::Response: ResponseHead,
        B: Send + 'static,
    {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let map_error = self.layer.map_error;
        let Some((origin, htu)) = dpop::target(req.uri(), self.layer.destinations.fixed()) else {
            return PropagateFuture::failed(map_error(PropagateError::NoDestination));
        };
        PropagateFuture::fetching(Box::pin(async move {
            let cached = match source.fresh() {
                Some(cached) => cached,
                None => source
                    .cached_or_fetch()
                    .await
                    .map_err(|e| map_error(PropagateError::ServiceToken(e)))?,
            };
            let again = response::copy(&req);
            let used = signer.nonce(&origin);
            sign(&mut req, &signer, &cached, &htu, used.as_deref()).map_err(map_error)?;
            let (nonce, mut again) = {
                let response = inner.call(req).await.map_err(Into::into)?;
                let retry_with = response.head().and_then(|(status, headers)| {
                    let sent = signer.remember(&origin, headers)?;
                    (Some(&sent) != used.as_ref() && dpop::asks_for_nonce(status, headers))
                        .then_some(sent)
                });
                match (retry_with, again) {
                    (Some(nonce), Some(again)) => (nonce, again),
                    _ => return Ok(response),
                }
            };
            sign(&mut again, &signer, &cached, &htu, Some(&nonce)).map_err(map_error)?;
            std::future::poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = inner.call(again).await.map_err(Into::into)?;
            if let Some((_, headers)) = response.head() {
                signer.remember(&origin, headers);
            }
            Ok(response)
        }))
    }

    /// The rare path: the service token must be fetched (or renewed) first. The service
    /// polled ready moves into the future; a clone takes its place.
    fn fetch_then_call<B>(
        &mut self,
        source: ServiceTokenSource,
        mut req: Request<B>,
    ) -> PropagateFuture<S::Future, S::Response>
    where
        S: Service<Request<B>> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: Into<BoxError>,
        B: Send + 'static,
    {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let map_error = self.layer.map_error;
        PropagateFuture::fetching(Box::pin(async move {
            let cached = source
                .cached_or_fetch()
                .await
                .map_err(|e| map_error(PropagateError::ServiceToken(e)))?;
            req.headers_mut()
                .insert(AUTHORIZATION, cached.header.clone());
            inner.call(req).await.map_err(Into::into)
        }))
    }
}

type Fetching<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project! {
    /// Response future of [`PropagateService`].
    pub struct PropagateFuture<F, T> {
        #[pin]
        kind: Kind<F, T>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, T> {
        Inner { #[pin] future: F },
        Failed { error: Option<BoxError> },
        Fetching { future: Fetching<T> },
    }
}

impl<F, T> PropagateFuture<F, T> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn failed(error: BoxError) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }

    pub(super) fn fetching(future: Fetching<T>) -> Self {
        Self {
            kind: Kind::Fetching { future },
        }
    }
}

impl<F, T, E> Future for PropagateFuture<F, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx).map_err(Into::into),
            KindProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .expect("PropagateFuture polled after completion"))),
            KindProj::Fetching { future } => future.as_mut().poll(cx),
        }
    }
}
