//! [`GrpcAuthLayer`]: the core layer on a tonic server, with per-method policies and open
//! methods.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use jwt_tower::auth::{Refusal, ResponseFuture};
use jwt_tower::reject::OnRejection;
use jwt_tower::{JwtLayer, JwtService, Policy, VerifiedToken, Verifier};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::GrpcRejection;
use crate::methods::{Methods, method_path, service_name};

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
/// - Paths and service names are checked when configured, so a typo cannot drop a
///   requirement silently: a path that is not `/package.Service/Method` panics, and so
///   does a service the server does not have once [`known_services`](Self::known_services)
///   lists them. [`refuse_methods_without_policy`](Self::refuse_methods_without_policy)
///   refuses any method that was not given a policy (nor left open).
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
            .field("known_services", &self.methods.known_services)
            .field("refuse_unlisted", &self.methods.refuse_unlisted)
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

    /// Changes the method table, then checks its names against the known services.
    fn configure(mut self, change: impl FnOnce(&mut Methods<C>)) -> Self {
        let methods = Arc::make_mut(&mut self.methods);
        change(methods);
        methods.check_known();
        self
    }

    /// Leaves every method of `service` (`grpc.health.v1.Health`) open: no token needed.
    ///
    /// # Panics
    /// When `service` is not a service name, or not a known one.
    pub fn open_service(self, service: &str) -> Self {
        let service = service_name(service);
        self.configure(|m| {
            m.open_services.insert(service);
        })
    }

    /// Leaves one method (`/grpc.health.v1.Health/Check`) open: no token needed.
    ///
    /// # Panics
    /// When `path` is not a method path, or not of a known service.
    pub fn open_method(self, path: &str) -> Self {
        let path = method_path(path);
        self.configure(|m| {
            m.open_methods.insert(path);
        })
    }

    /// Adds `policy` for the method at `path` (`/identity.v1.Identity/Admin`).
    ///
    /// # Panics
    /// When `path` is not a method path, or not of a known service.
    pub fn method_policy(self, path: &str, policy: Policy<C>) -> Self {
        let path = method_path(path);
        self.configure(|m| m.method_policies.entry(path).or_default().push(policy))
    }

    /// Adds `policy` for every method of `service` (`identity.v1.Identity`).
    ///
    /// # Panics
    /// When `service` is not a service name, or not a known one.
    pub fn service_policy(self, service: &str, policy: Policy<C>) -> Self {
        let service = service_name(service);
        self.configure(|m| m.service_policies.entry(service).or_default().push(policy))
    }

    /// The services the server has (`identity.v1.Identity`, as generated code's
    /// `NamedService::NAME`): every service and method path configured, before or after,
    /// must name one of them.
    ///
    /// ```should_panic
    /// # use jwt_tonic::GrpcAuthLayer;
    /// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
    /// # let verifier = Verifier::<RegisteredClaims>::builder(
    /// #     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!").unwrap(),
    /// # ).algorithms([Algorithm::HS256]).build().unwrap();
    /// // "Identiy": a typo, refused when the layer is built.
    /// let layer = GrpcAuthLayer::new(verifier)
    ///     .known_services(["identity.v1.Identity", "grpc.health.v1.Health"])
    ///     .require_scopes("/identity.v1.Identiy/Admin", ["admin"]);
    /// ```
    ///
    /// # Panics
    /// When a name is not a service name, or a service already configured is not listed.
    pub fn known_services<'a>(self, services: impl IntoIterator<Item = &'a str>) -> Self {
        let services: Vec<Box<str>> = services.into_iter().map(service_name).collect();
        self.configure(|m| m.known_services.get_or_insert_default().extend(services))
    }

    /// Refuses (`PERMISSION_DENIED`) every method that has no policy of its own or of its
    /// service and is not open: a method added to the server later, or one whose path
    /// was misspelt here, is closed rather than left to the layer-wide policy alone.
    pub fn refuse_methods_without_policy(self) -> Self {
        self.configure(|m| m.refuse_unlisted = true)
    }

    /// The method at `path` requires every one of `scopes`.
    ///
    /// # Panics
    /// When `path` is not a method path, or not of a known service.
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
                claims: std::marker::PhantomData,
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
        Authed { #[pin] future: ResponseFuture<ResponseFuture<F, B, E>, B, E> },
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

/// Checks the per-method policy of a request the [`JwtService`] admitted, refusing
/// through the layer's [`Refusal`] (counted in its verifier's metrics).
pub struct MethodPolicyService<S, C> {
    inner: S,
    methods: Arc<Methods<C>>,
    claims: std::marker::PhantomData<fn() -> C>,
}

impl<S: Clone, C> Clone for MethodPolicyService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            methods: Arc::clone(&self.methods),
            claims: std::marker::PhantomData,
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
    ResBody: Default + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.methods.has_policies() {
            let token = req.extensions().get::<VerifiedToken<C>>();
            if let Err(error) = self.methods.check(req.uri().path(), token) {
                let response = match req.extensions().get::<Refusal<ResBody>>() {
                    Some(layer) => layer.refuse(&error),
                    // Only the layer builds this service, and it always leaves its refusal.
                    None => GrpcRejection.on_rejection(&error),
                };
                return ResponseFuture::rejected(response);
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> GrpcAuthLayer<jwt_tower::RegisteredClaims> {
        GrpcAuthLayer::new(
            Verifier::builder(
                jwt_tower::VerificationKey::hmac(jwt_tower::Algorithm::HS256, [1u8; 32]).unwrap(),
            )
            .algorithms([jwt_tower::Algorithm::HS256])
            .build()
            .unwrap(),
        )
    }

    #[test]
    fn open_methods_and_services() {
        let layer = layer()
            .open_service("grpc.health.v1.Health")
            .open_method("/a.B/Open");
        assert!(layer.methods.is_open("/grpc.health.v1.Health/Check"));
        assert!(layer.methods.is_open("/a.B/Open"));
        assert!(!layer.methods.is_open("/a.B/Closed"));
        assert!(!layer.methods.is_open("/grpc.health.v1.HealthX/Check"));
    }

    #[test]
    fn names_are_checked_against_the_known_services_in_any_order() {
        let known = ["a.B", "grpc.health.v1.Health"];
        let _ = layer()
            .known_services(known)
            .open_service("grpc.health.v1.Health")
            .require_scopes("/a.B/C", ["c"]);
        let before = std::panic::catch_unwind(|| {
            layer()
                .require_scopes("/a.X/C", ["c"])
                .known_services(known)
        });
        assert!(before.is_err());
        let after =
            std::panic::catch_unwind(|| layer().known_services(known).open_method("/a.X/Open"));
        assert!(after.is_err());
    }
}
