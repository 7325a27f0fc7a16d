//! [`PropagateLayer`]: the client side, setting `authorization` on outgoing requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::TokenSource;
use super::source::TokenSourceError;

/// The error type of [`PropagateService`]: the inner service's error, boxed as it was, or
/// a boxed [`PropagateError`] (or what [`PropagateLayer::map_error`] made of it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an outgoing request was not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PropagateError {
    /// No credential configured was available: no caller identity in scope (the call is
    /// made outside a verified request) and no service token source configured.
    #[error(
        "no credentials for the outgoing call: no caller identity in scope and no service token source"
    )]
    NoCredentials,
    /// The caller's token cannot be sent as a header value.
    #[error("the caller's token is not a valid header value")]
    InvalidToken,
    /// The [`TokenSource`] could not provide a token.
    #[error(transparent)]
    TokenSource(#[from] TokenSourceError),
}

#[derive(Clone, Debug)]
enum Credential {
    Forward,
    Service(TokenSource),
}

fn boxed(error: PropagateError) -> BoxError {
    Box::new(error)
}

/// A client-side layer that authenticates outgoing requests with the caller's token or a
/// service token, in the order configured.
///
/// - [`forward`](Self::forward): the token of the request being handled (see
///   [`current`](super::current)), if this call is made in its scope;
/// - [`service_token`](Self::service_token): a token from a [`TokenSource`].
///
/// The first available wins; with none, the call fails with
/// [`PropagateError::NoCredentials`] and nothing is sent. A request that already carries
/// `authorization` is sent as it is.
///
/// ```
/// use jwt_tower::propagate::{self, PropagateLayer};
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// use tower::{Service, ServiceExt};
/// use tower_layer::Layer;
///
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
/// // A stand-in for a tonic Channel or a hyper client: answers with the header it got.
/// let client = tower::service_fn(|req: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(req.headers().get("authorization").cloned())
/// });
/// let mut client = PropagateLayer::new().forward().layer(client);
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Outside a request: refused, nothing sent.
/// let error = client.ready().await.unwrap().call(http::Request::new(())).await.unwrap_err();
/// assert!(error.to_string().contains("no credentials"));
///
/// // In the scope of a verified request (as inside a JwtLayer's inner service):
/// let identity = verifier.verify(&token).unwrap().identity();
/// let sent = propagate::scope(identity, async {
///     client.ready().await.unwrap().call(http::Request::new(())).await.unwrap()
/// })
/// .await;
/// assert_eq!(sent.unwrap(), format!("Bearer {token}").as_str());
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct PropagateLayer {
    credentials: Arc<Vec<Credential>>,
    map_error: fn(PropagateError) -> BoxError,
}

impl std::fmt::Debug for PropagateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PropagateLayer")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Default for PropagateLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl PropagateLayer {
    /// A layer with no credential yet: add them in the order they are to be tried.
    pub fn new() -> Self {
        Self {
            credentials: Arc::new(Vec::new()),
            map_error: boxed,
        }
    }

    /// Next, the caller's token, when the call is made in the scope of a verified request.
    pub fn forward(mut self) -> Self {
        Arc::make_mut(&mut self.credentials).push(Credential::Forward);
        self
    }

    /// Next, a service token from `source`.
    pub fn service_token(mut self, source: TokenSource) -> Self {
        Arc::make_mut(&mut self.credentials).push(Credential::Service(source));
        self
    }

    /// How a [`PropagateError`] is reported (default: boxed as it is). Adapters use it
    /// to give the error the shape their clients understand, e.g. a `tonic::Status`.
    pub fn map_error(mut self, map: fn(PropagateError) -> BoxError) -> Self {
        self.map_error = map;
        self
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
}

/// The caller's `Bearer` header, if this runs in the scope of a verified request.
fn forwarded() -> Option<Result<HeaderValue, PropagateError>> {
    super::with_current(|identity| {
        let token = identity?.token();
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
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = PropagateFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if req.headers().contains_key(AUTHORIZATION) {
            return PropagateFuture::inner(self.inner.call(req));
        }
        for credential in self.layer.credentials.iter() {
            let header = match credential {
                Credential::Forward => match forwarded() {
                    None => continue,
                    Some(Ok(header)) => header,
                    Some(Err(error)) => {
                        return PropagateFuture::failed((self.layer.map_error)(error));
                    }
                },
                Credential::Service(source) => match source.fresh_header() {
                    Some(header) => header,
                    None => return self.fetch_then_call(source.clone(), req),
                },
            };
            req.headers_mut().insert(AUTHORIZATION, header);
            return PropagateFuture::inner(self.inner.call(req));
        }
        PropagateFuture::failed((self.layer.map_error)(PropagateError::NoCredentials))
    }
}

impl<S> PropagateService<S> {
    /// The rare path: the service token must be fetched (or renewed) first. The service
    /// polled ready moves into the future; a clone takes its place.
    fn fetch_then_call<B>(
        &mut self,
        source: TokenSource,
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
            let header = source
                .header()
                .await
                .map_err(|e| map_error(PropagateError::TokenSource(e)))?;
            req.headers_mut().insert(AUTHORIZATION, header);
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
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn failed(error: BoxError) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }

    fn fetching(future: Fetching<T>) -> Self {
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
