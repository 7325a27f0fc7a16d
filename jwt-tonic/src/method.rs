//! [`GrpcAuthLayer`]: the core layer on a tonic server, with per-method policies and open
//! methods.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use jwt_tower::auth::ResponseFuture;
use jwt_tower::reject::OnRejection;
use jwt_tower::{AuthError, JwtLayer, JwtService, Policy, RejectionKind, VerifiedToken, Verifier};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::GrpcRejection;

/// What each method requires, by full method path (`/package.Service/Method`).
struct Methods<C> {
    open_methods: HashSet<Box<str>>,
    open_services: HashSet<Box<str>>,
    method_policies: HashMap<Box<str>, Vec<Policy<C>>>,
    service_policies: HashMap<Box<str>, Vec<Policy<C>>>,
}

impl<C> Default for Methods<C> {
    fn default() -> Self {
        Self {
            open_methods: HashSet::new(),
            open_services: HashSet::new(),
            method_policies: HashMap::new(),
            service_policies: HashMap::new(),
        }
    }
}

impl<C> Clone for Methods<C> {
    fn clone(&self) -> Self {
        Self {
            open_methods: self.open_methods.clone(),
            open_services: self.open_services.clone(),
            method_policies: self.method_policies.clone(),
            service_policies: self.service_policies.clone(),
        }
    }
}

/// `package.Service` of `/package.Service/Method`.
fn service_of(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// `package.Service` from `package.Service` or `/package.Service/`.
fn service_name(service: &str) -> Box<str> {
    service.trim_matches('/').into()
}

/// `/package.Service/Method`, with its leading slash.
fn method_path(path: &str) -> Box<str> {
    if path.starts_with('/') {
        path.into()
    } else {
        format!("/{path}").into()
    }
}

impl<C> Methods<C> {
    fn is_open(&self, path: &str) -> bool {
        (!self.open_methods.is_empty() && self.open_methods.contains(path))
            || (!self.open_services.is_empty() && self.open_services.contains(service_of(path)))
    }

    fn has_policies(&self) -> bool {
        !self.method_policies.is_empty() || !self.service_policies.is_empty()
    }

    fn check(&self, path: &str, token: Option<&VerifiedToken<C>>) -> Result<(), AuthError> {
        let policies = [
            self.service_policies.get(service_of(path)),
            self.method_policies.get(path),
        ];
        for policy in policies.into_iter().flatten().flatten() {
            // Optional mode and no token: a method with a policy needs one.
            let token = token.ok_or_else(|| AuthError::new(RejectionKind::MissingToken))?;
            policy.check(token)?;
        }
        Ok(())
    }
}

/// The [`JwtLayer`] on a tonic server, answering refusals as gRPC statuses
/// ([`GrpcRejection`]), with a policy per method and methods left open.
///
/// - Every method needs a valid token, and meets the [`JwtLayer`]'s own policy if it has
///   one.
/// - [`method_policy`](Self::method_policy) / [`require_scopes`](Self::require_scopes)
///   add requirements for one method, by its full path (`/identity.v1.Identity/Admin`);
///   [`service_policy`](Self::service_policy) for every method of a service. Failing
///   them is `PERMISSION_DENIED`.
/// - [`open_service`](Self::open_service) / [`open_method`](Self::open_method) skip
///   authentication entirely: health checks, reflection.
///
/// ```
/// use jwt_tonic::GrpcAuthLayer;
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
///
/// let verifier = Verifier::<RegisteredClaims>::builder(
///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// )
/// .algorithms([Algorithm::HS256])
/// .build()?;
/// let layer = GrpcAuthLayer::new(verifier)
///     .open_service("grpc.health.v1.Health")
///     .open_service("grpc.reflection.v1.ServerReflection")
///     .require_scopes("/identity.v1.Identity/Admin", ["admin"]);
/// // tonic::transport::Server::builder().layer(layer).add_service(...)
/// # let _ = layer;
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[must_use]
pub struct GrpcAuthLayer<C> {
    jwt: JwtLayer<C, GrpcRejection>,
    methods: Arc<Methods<C>>,
}

impl<C> Clone for GrpcAuthLayer<C> {
    fn clone(&self) -> Self {
        Self {
            jwt: self.jwt.clone(),
            methods: Arc::clone(&self.methods),
        }
    }
}

impl<C> std::fmt::Debug for GrpcAuthLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcAuthLayer")
            .field("jwt", &self.jwt)
            .field("open_methods", &self.methods.open_methods)
            .field("open_services", &self.methods.open_services)
            .field("method_policies", &self.methods.method_policies.keys())
            .field("service_policies", &self.methods.service_policies.keys())
            .finish()
    }
}

impl<C> GrpcAuthLayer<C> {
    /// Requires a valid bearer token on every method.
    pub fn new(verifier: Verifier<C>) -> Self {
        Self::from_layer(JwtLayer::new(verifier))
    }

    /// From a configured [`JwtLayer`] (token sources, optional mode, a policy for every
    /// method); its rejection is replaced with [`GrpcRejection`].
    pub fn from_layer<R>(layer: JwtLayer<C, R>) -> Self {
        Self {
            jwt: layer.on_rejection(GrpcRejection),
            methods: Arc::new(Methods::default()),
        }
    }

    fn methods(&mut self) -> &mut Methods<C> {
        Arc::make_mut(&mut self.methods)
    }

    /// Leaves every method of `service` (`grpc.health.v1.Health`) open: no token needed.
    pub fn open_service(mut self, service: &str) -> Self {
        self.methods().open_services.insert(service_name(service));
        self
    }

    /// Leaves one method (`/grpc.health.v1.Health/Check`) open: no token needed.
    pub fn open_method(mut self, path: &str) -> Self {
        self.methods().open_methods.insert(method_path(path));
        self
    }

    /// Adds `policy` for the method at `path` (`/identity.v1.Identity/Admin`).
    pub fn method_policy(mut self, path: &str, policy: Policy<C>) -> Self {
        let path = method_path(path);
        self.methods()
            .method_policies
            .entry(path)
            .or_default()
            .push(policy);
        self
    }

    /// Adds `policy` for every method of `service` (`identity.v1.Identity`).
    pub fn service_policy(mut self, service: &str, policy: Policy<C>) -> Self {
        let service = service_name(service);
        self.methods()
            .service_policies
            .entry(service)
            .or_default()
            .push(policy);
        self
    }

    /// The method at `path` requires every one of `scopes`.
    pub fn require_scopes<S: Into<Box<str>>>(
        self,
        path: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.method_policy(path, Policy::new().require_scopes(scopes))
    }

    /// The layer verifying tokens.
    pub fn jwt_layer(&self) -> &JwtLayer<C, GrpcRejection> {
        &self.jwt
    }
}

impl<S: Clone, C> Layer<S> for GrpcAuthLayer<C> {
    type Service = GrpcAuthService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuthService {
            open: inner.clone(),
            authed: self.jwt.layer(MethodPolicyService {
                inner,
                methods: Arc::clone(&self.methods),
                verifier: self.jwt.verifier().clone(),
            }),
            methods: Arc::clone(&self.methods),
        }
    }
}

/// The service made by [`GrpcAuthLayer`]: open methods go straight to the inner service,
/// the others through the [`JwtService`] and their method policy.
pub struct GrpcAuthService<S, C> {
    open: S,
    authed: JwtService<MethodPolicyService<S, C>, C, GrpcRejection>,
    methods: Arc<Methods<C>>,
}

impl<S: Clone, C> Clone for GrpcAuthService<S, C> {
    fn clone(&self) -> Self {
        Self {
            open: self.open.clone(),
            authed: self.authed.clone(),
            methods: Arc::clone(&self.methods),
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for GrpcAuthService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcAuthService")
            .field("authed", &self.authed)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcAuthService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    C: DeserializeOwned + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = GrpcAuthFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both routes ready (as tower's `Steer` does), so either can take the request.
        ready!(self.authed.poll_ready(cx))?;
        self.open.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.methods.is_open(req.uri().path()) {
            GrpcAuthFuture {
                kind: GrpcAuthKind::Open {
                    future: self.open.call(req),
                },
            }
        } else {
            GrpcAuthFuture {
                kind: GrpcAuthKind::Authed {
                    future: self.authed.call(req),
                },
            }
        }
    }
}

pin_project! {
    /// Response future of [`GrpcAuthService`].
    pub struct GrpcAuthFuture<F, B, E> {
        #[pin]
        kind: GrpcAuthKind<F, B, E>,
    }
}

pin_project! {
    #[project = GrpcAuthProj]
    enum GrpcAuthKind<F, B, E> {
        Open { #[pin] future: F },
        Authed { #[pin] future: ResponseFuture<MethodPolicyFuture<F, B>, B, E> },
    }
}

impl<F, B, E> Future for GrpcAuthFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            GrpcAuthProj::Open { future } => future.poll(cx),
            GrpcAuthProj::Authed { future } => future.poll(cx),
        }
    }
}

/// Checks the per-method policy of a request the [`JwtService`] admitted.
pub struct MethodPolicyService<S, C> {
    inner: S,
    methods: Arc<Methods<C>>,
    /// Counts the policy refusals decided here in the verifier's metrics.
    verifier: Verifier<C>,
}

impl<S: Clone, C> Clone for MethodPolicyService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            methods: Arc::clone(&self.methods),
            verifier: self.verifier.clone(),
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for MethodPolicyService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodPolicyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for MethodPolicyService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = MethodPolicyFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.methods.has_policies() {
            let token = req.extensions().get::<VerifiedToken<C>>();
            if let Err(error) = self.methods.check(req.uri().path(), token) {
                self.verifier.record_rejection(error.kind());
                return MethodPolicyFuture {
                    kind: MethodPolicyKind::Rejected {
                        response: Some(GrpcRejection.on_rejection(&error)),
                    },
                };
            }
        }
        MethodPolicyFuture {
            kind: MethodPolicyKind::Inner {
                future: self.inner.call(req),
            },
        }
    }
}

pin_project! {
    /// Response future of [`MethodPolicyService`].
    pub struct MethodPolicyFuture<F, B> {
        #[pin]
        kind: MethodPolicyKind<F, B>,
    }
}

pin_project! {
    #[project = MethodPolicyProj]
    enum MethodPolicyKind<F, B> {
        // The policy was met.
        Inner { #[pin] future: F },
        // The policy was not met: a trailers-only gRPC refusal.
        Rejected { response: Option<Response<B>> },
    }
}

impl<F, B, E> Future for MethodPolicyFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            MethodPolicyProj::Inner { future } => future.poll(cx),
            MethodPolicyProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("MethodPolicyFuture polled after completion"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_services() {
        assert_eq!(
            service_of("/identity.v1.Identity/Admin"),
            "identity.v1.Identity"
        );
        assert_eq!(
            &*service_name("/grpc.health.v1.Health/"),
            "grpc.health.v1.Health"
        );
        assert_eq!(&*method_path("a.B/C"), "/a.B/C");
        let layer = GrpcAuthLayer::<jwt_tower::RegisteredClaims>::from_layer(JwtLayer::new(
            Verifier::builder(
                jwt_tower::VerificationKey::hmac(jwt_tower::Algorithm::HS256, [1u8; 32]).unwrap(),
            )
            .algorithms([jwt_tower::Algorithm::HS256])
            .build()
            .unwrap(),
        ))
        .open_service("grpc.health.v1.Health")
        .open_method("/a.B/Open");
        assert!(layer.methods.is_open("/grpc.health.v1.Health/Check"));
        assert!(layer.methods.is_open("/a.B/Open"));
        assert!(!layer.methods.is_open("/a.B/Closed"));
        assert!(!layer.methods.is_open("/grpc.health.v1.HealthX/Check"));
    }
}
