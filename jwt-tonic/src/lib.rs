//! tonic integration for [`jwt_tower`]: refusals as real gRPC statuses, per-method
//! policies, and the caller's identity carried on to the services it calls.
//!
//! gRPC clients read `grpc-status`, not the HTTP status: a bare HTTP 401 reaches them as
//! `UNKNOWN`. [`GrpcRejection`] turns every refusal into a trailers-only gRPC response
//! (HTTP 200, `grpc-status`, `grpc-message`), so clients see `UNAUTHENTICATED`,
//! `PERMISSION_DENIED` or `UNAVAILABLE`.
//!
//! ```
//! use jwt_tonic::GrpcRejection;
//! use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier, VerificationKey};
//!
//! let verifier = Verifier::<RegisteredClaims>::builder(
//!     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
//! )
//! .algorithms([Algorithm::HS256])
//! .build()?;
//! // tonic::transport::Server::builder().layer(layer).add_service(...)
//! let layer = JwtLayer::new(verifier).on_rejection(GrpcRejection);
//! # let _ = layer;
//! # Ok::<(), jwt_tower::ConfigError>(())
//! ```
//!
//! Handlers read the caller with [`verified`] / [`identity`] on the `tonic::Request`.
//!
//! - [`GrpcAuthLayer`]: the layer with [`GrpcRejection`], plus a policy per method
//!   (`/identity.v1.Identity/Admin` needs scope `admin`) and open methods (health checks,
//!   reflection).
//! - [`JwtInterceptor`]: the same checks and statuses in a synchronous tonic interceptor,
//!   with its limits (cached keys only).
//! - [`propagate`] (feature `propagate`): while a handler runs, the caller's identity is
//!   in scope; [`propagate::forward_caller`] is a client layer for a `Channel` that sends
//!   the caller's token on to the next service, with no code in the handler.
//!
//! ```
//! use jwt_tonic::GrpcAuthLayer;
//! use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
//! # let verifier = Verifier::<RegisteredClaims>::builder(
//! #     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
//! # ).algorithms([Algorithm::HS256]).build()?;
//!
//! async fn who_am_i(request: tonic::Request<()>) -> Result<tonic::Response<String>, tonic::Status> {
//!     let caller = jwt_tonic::identity(&request).ok_or_else(|| tonic::Status::internal("no layer"))?;
//!     Ok(tonic::Response::new(caller.subject().unwrap_or_default().to_owned()))
//! }
//!
//! let layer = GrpcAuthLayer::new(verifier)
//!     .open_service("grpc.health.v1.Health")
//!     .require_scopes("/identity.v1.Identity/Admin", ["admin"]);
//! // tonic::transport::Server::builder().layer(layer).add_service(...)
//! # let _ = layer;
//! # Ok::<(), jwt_tower::ConfigError>(())
//! ```
//!
//! # Not `JwtLayer` alone on a tonic server
//!
//! jwt-tower's [`JwtLayer`](jwt_tower::JwtLayer) answers refusals with HTTP 401 and a
//! JSON body, which a gRPC client reads as `UNKNOWN`; its default response cannot even be
//! built for tonic's body type, so `.serve()` does not compile, with a note naming this
//! crate's layer. Use [`GrpcAuthLayer`] (or `JwtLayer::new(verifier).on_rejection(GrpcRejection)`):
//!
//! ```
//! use jwt_tonic::GrpcAuthLayer;
//! # use jwt_tower::{RegisteredClaims, Verifier};
//! # #[derive(Clone)]
//! # struct Greeter;
//! # impl tonic::server::NamedService for Greeter {
//! #     const NAME: &'static str = "greet.Greeter";
//! # }
//! # impl tower_service::Service<http::Request<tonic::body::Body>> for Greeter {
//! #     type Response = http::Response<tonic::body::Body>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
//! #         std::task::Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
//! #         std::future::ready(Ok(http::Response::new(tonic::body::Body::empty())))
//! #     }
//! # }
//! # async fn run(verifier: Verifier<RegisteredClaims>) -> Result<(), tonic::transport::Error> {
//! tonic::transport::Server::builder()
//!     .layer(GrpcAuthLayer::new(verifier))
//!     .add_service(Greeter)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! and not jwt-tower's layer, which fails to compile:
//!
//! ```compile_fail,E0277
//! use jwt_tower::JwtLayer;
//! # use jwt_tower::{RegisteredClaims, Verifier};
//! # #[derive(Clone)]
//! # struct Greeter;
//! # impl tonic::server::NamedService for Greeter {
//! #     const NAME: &'static str = "greet.Greeter";
//! # }
//! # impl tower_service::Service<http::Request<tonic::body::Body>> for Greeter {
//! #     type Response = http::Response<tonic::body::Body>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
//! #         std::task::Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
//! #         std::future::ready(Ok(http::Response::new(tonic::body::Body::empty())))
//! #     }
//! # }
//! # async fn run(verifier: Verifier<RegisteredClaims>) -> Result<(), tonic::transport::Error> {
//! tonic::transport::Server::builder()
//!     .layer(JwtLayer::new(verifier)) // `DefaultRejection` cannot answer a refusal with a `Response<tonic::body::Body>`
//!     .add_service(Greeter)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! # Features
//! `aws_lc_rs` (default) and `rust_crypto` select jwt-tower's crypto backend; `propagate`
//! (default) enables [`propagate`]; `remote` (default) passes remote JWKS through;
//! `tls-aws-lc` or `tls-ring` (tonic's TLS features of the same names) enable
//! `ClientCertificateLayer`, the TLS client certificate for certificate-bound tokens.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
mod certificate;
mod interceptor;
mod method;
mod methods;
#[cfg(feature = "propagate")]
pub mod propagate;

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
pub use certificate::{ClientCertificateLayer, ClientCertificateService, peer_certificate};
pub use interceptor::JwtInterceptor;
pub use method::{GrpcAuthFuture, GrpcAuthLayer, GrpcAuthService, MethodPolicyService};

use jwt_tower::reject::OnRejection;
use jwt_tower::{AuthError, ErrorCategory, Identity, VerifiedToken};
use tonic::{Code, Status};

/// The gRPC code for a refusal.
///
/// | category | code |
/// |---|---|
/// | no token, malformed request, bad token | `UNAUTHENTICATED` (16) |
/// | policy not met | `PERMISSION_DENIED` (7) |
/// | keys not loaded, revocation list out of step, introspection unavailable | `UNAVAILABLE` (14) |
#[must_use]
pub fn code(error: &AuthError) -> Code {
    match error.category() {
        ErrorCategory::MissingToken
        | ErrorCategory::InvalidRequest
        | ErrorCategory::InvalidToken
        | ErrorCategory::InvalidDpopProof
        | ErrorCategory::UseDpopNonce => Code::Unauthenticated,
        ErrorCategory::InsufficientScope => Code::PermissionDenied,
        ErrorCategory::Unavailable => Code::Unavailable,
    }
}

/// The `tonic::Status` for a refusal; its message is the error's description, which
/// never contains the token.
///
/// ```
/// use jwt_tower::{AuthError, RejectionKind};
/// let status = jwt_tonic::status(&AuthError::new(RejectionKind::Expired));
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// assert_eq!(status.message(), "the token has expired");
/// ```
///
/// A refusal of a DPoP-enabled authenticator also carries its challenges as
/// `www-authenticate` metadata (RFC 9449 §7.1's, as over HTTP) and, for
/// `use_dpop_nonce`, the nonce as `dpop-nonce` metadata.
#[must_use]
pub fn status(error: &AuthError) -> Status {
    let mut status = Status::new(code(error), error.description());
    if let Some(dpop) = error.dpop() {
        let metadata = status.metadata_mut();
        for challenge in jwt_tower::reject::DefaultRejection::default().www_authenticate_all(error)
        {
            if let Ok(value) = tonic::metadata::MetadataValue::try_from(challenge.as_bytes()) {
                metadata.append("www-authenticate", value);
            }
        }
        if let Some(nonce) = dpop.nonce()
            && let Ok(value) = tonic::metadata::MetadataValue::try_from(nonce)
        {
            metadata.insert("dpop-nonce", value);
        }
    }
    status
}

/// The layer's rejection for gRPC: a trailers-only response carrying the status.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcRejection;

impl<B: Default> OnRejection<B> for GrpcRejection {
    fn on_rejection(&self, error: &AuthError) -> http::Response<B> {
        status(error).into_http()
    }
}

/// The verified token of a request that went through the layer (with the same `C`).
///
/// ```
/// # use jwt_tower::RegisteredClaims;
/// let request = tonic::Request::new(());
/// assert!(jwt_tonic::verified::<RegisteredClaims, _>(&request).is_none());
/// ```
#[must_use]
pub fn verified<C: Send + Sync + 'static, T>(
    request: &tonic::Request<T>,
) -> Option<&VerifiedToken<C>> {
    request.extensions().get::<VerifiedToken<C>>()
}

/// The caller's identity, whatever the layer's claims type.
///
/// ```
/// let request = tonic::Request::new(());
/// assert!(jwt_tonic::identity(&request).is_none());
/// ```
#[must_use]
pub fn identity<T>(request: &tonic::Request<T>) -> Option<&Identity> {
    request.extensions().get::<Identity>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_tower::RejectionKind;

    #[test]
    fn rejections_are_trailers_only_grpc_responses() {
        for (kind, code) in [
            (RejectionKind::MissingToken, "16"),
            (RejectionKind::MultipleTokens, "16"),
            (RejectionKind::InvalidSignature, "16"),
            (RejectionKind::InsufficientScope, "7"),
            (RejectionKind::KeysUnavailable, "14"),
            (RejectionKind::RevocationsOutOfStep, "14"),
            (RejectionKind::InactiveToken, "16"),
            (RejectionKind::IntrospectionUnavailable, "14"),
        ] {
            let response: http::Response<tonic::body::Body> =
                GrpcRejection.on_rejection(&AuthError::new(kind));
            assert_eq!(response.status(), 200, "{kind}");
            assert_eq!(response.headers()["grpc-status"], code, "{kind}");
            assert_eq!(response.headers()["content-type"], "application/grpc");
            assert!(response.headers().contains_key("grpc-message"));
        }
    }
}

#[cfg(test)]
mod dpop_tests {
    use super::*;
    use jwt_tower::RejectionKind;
    use jwt_tower::dpop::{DpopChallenge, DpopMode};

    #[test]
    fn dpop_refusals_carry_their_challenge_and_nonce_as_metadata() {
        let error = AuthError::new(RejectionKind::DpopNonceRequired)
            .with_dpop(DpopChallenge::new(DpopMode::Required, "ES256").with_nonce("n-1"));
        let response: http::Response<tonic::body::Body> = GrpcRejection.on_rejection(&error);
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"DPoP realm="api", error="use_dpop_nonce", error_description="the DPoP proof must carry the server's nonce", algs="ES256""#
        );
        assert_eq!(response.headers()["dpop-nonce"], "n-1");
    }
}
