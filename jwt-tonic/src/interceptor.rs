//! [`JwtInterceptor`]: the synchronous form, for `tonic` interceptors.

use jwt_tower::auth::{Admission, Authenticator, RequestView};
use jwt_tower::{AuthError, RejectionKind, Verifier};
use serde::de::DeserializeOwned;
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Authenticates requests in a tonic interceptor, with the same checks and the same
/// statuses as the layer ([`GrpcAuthLayer`](crate::GrpcAuthLayer)); the verified token and
/// [`Identity`](jwt_tower::Identity) go into the request's extensions.
///
/// # Limits
/// tonic interceptors are synchronous, so this form:
/// - uses only the keys already loaded: it cannot wait for a JWKS fetch. A token signed
///   with a key not fetched yet (a rotation) is `UNAUTHENTICATED` where the layer would
///   have waited for the refresh (it does start the refresh, so calls after it lands
///   pass); before the first key set, `UNAVAILABLE`.
/// - applies one policy to the service it wraps (it does not see the method path); for
///   per-method policies and open methods, use the layer.
/// - does not put the identity in scope for [`propagate`](jwt_tower::propagate): the
///   handler's future is not its to wrap. Read it with [`identity`](crate::identity) and
///   forward it explicitly, or use the layer.
/// - cannot admit DPoP calls: a proof must be reserved in the replay store (an
///   asynchronous call) before the call is admitted. With DPoP configured on the
///   authenticator, a call in the `DPoP` scheme is `UNAVAILABLE`
///   ([`ReplayStoreUnavailable`](RejectionKind::ReplayStoreUnavailable)); use the layer.
///
/// Configure it through the [`Authenticator`] (optional mode, token sources, policy), as
/// for the layer:
///
/// ```
/// use jwt_tonic::JwtInterceptor;
/// use jwt_tower::auth::Authenticator;
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
///
/// let verifier = Verifier::<RegisteredClaims>::builder(
///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// )
/// .algorithms([Algorithm::HS256])
/// .build()?;
/// let mut interceptor =
///     JwtInterceptor::from_authenticator(Authenticator::new(verifier).require_scopes(["read"]));
///
/// // With generated code: IdentityServer::with_interceptor(service, interceptor)
/// use tonic::service::Interceptor;
/// let refused = interceptor.call(tonic::Request::new(())).unwrap_err();
/// assert_eq!(refused.code(), tonic::Code::Unauthenticated);
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[must_use]
pub struct JwtInterceptor<C> {
    authenticator: Authenticator<C>,
}

impl<C> Clone for JwtInterceptor<C> {
    fn clone(&self) -> Self {
        Self {
            authenticator: self.authenticator.clone(),
        }
    }
}

impl<C> std::fmt::Debug for JwtInterceptor<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtInterceptor")
            .field("authenticator", &self.authenticator)
            .finish()
    }
}

impl<C> JwtInterceptor<C> {
    /// Requires a valid bearer token (`authorization` metadata).
    pub fn new(verifier: Verifier<C>) -> Self {
        Self::from_authenticator(Authenticator::new(verifier))
    }

    /// Authenticates with `authenticator`: its token sources, optional mode, policy and
    /// challenge, configured once for the layer and the interceptor alike.
    pub fn from_authenticator(authenticator: Authenticator<C>) -> Self {
        Self { authenticator }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtInterceptor<C> {
    fn authenticate<T>(&self, request: &mut Request<T>) -> Result<(), AuthError> {
        // Metadata is an `http::HeaderMap` inside: borrowed as one, then put back.
        let headers = std::mem::take(request.metadata_mut()).into_headers();
        let uri = http::Uri::default();
        // gRPC calls are POSTs.
        let view = RequestView::new(&http::Method::POST, &uri, &headers, request.extensions());
        let verified = self.authenticator.authenticate(view);
        if let Err(error) = &verified
            && matches!(
                error.kind(),
                RejectionKind::UnknownKey | RejectionKind::IntrospectionUnavailable
            )
        {
            // Starts the refresh (a remote key set, within its cooldown) or the token's
            // introspection without waiting for it: the calls after it lands pass.
            drop(self.authenticator.wait_for_keys(view, error));
        }
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        let verified = match verified? {
            Admission::Admitted(verified) => verified,
            Admission::Pending(_) => {
                return Err(AuthError::with_description(
                    RejectionKind::ReplayStoreUnavailable,
                    "the synchronous interceptor cannot reserve DPoP proofs: use the layer",
                ));
            }
        };
        if let Some(verified) = verified {
            let extensions = request.extensions_mut();
            extensions.insert(verified.identity());
            extensions.insert(verified);
        }
        Ok(())
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Interceptor for JwtInterceptor<C> {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match self.authenticate(&mut request) {
            Ok(()) => Ok(request),
            Err(error) => Err(crate::status(&error)),
        }
    }
}
