//! [`ClientCertificateLayer`]: the client certificate of a tonic TLS connection, put in
//! each request's extensions as a [`ClientCertificate`], where the authenticator looks
//! for it to accept a certificate-bound token (RFC 8705, `cnf["x5t#S256"]`).

use std::task::{Context, Poll};

use jwt_tower::confirmation::ClientCertificate;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower_layer::Layer;
use tower_service::Service;

/// A layer that reads the peer certificate tonic's TLS server verified for the
/// connection and inserts it into every request's extensions as a [`ClientCertificate`].
///
/// Place it in front of the authentication layer (tonic's `Server::layer` puts the first
/// layer added outermost), and configure the server to request client certificates,
/// optionally, so that a client without one still connects and only a
/// certificate-bound token is refused:
///
/// ```
/// use jwt_tonic::{ClientCertificateLayer, GrpcAuthLayer};
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
///
/// # fn server(cert_pem: &str, key_pem: &str, client_ca_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
/// # let verifier = Verifier::<RegisteredClaims>::builder(
/// #     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// # ).algorithms([Algorithm::HS256]).build()?;
/// let tls = ServerTlsConfig::new()
///     .identity(Identity::from_pem(cert_pem, key_pem))
///     .client_ca_root(Certificate::from_pem(client_ca_pem))
///     .client_auth_optional(true);
/// let server = Server::builder()
///     .tls_config(tls)?
///     .layer(ClientCertificateLayer)
///     .layer(GrpcAuthLayer::new(verifier));
/// // server.add_service(...).serve(addr).await
/// # let _ = server;
/// # Ok(())
/// # }
/// ```
///
/// Without TLS, or when the client sent no certificate, the request goes on without
/// one. The certificate is the end-entity one (the first the client sent), the one
/// RFC 8705 binds a token to.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCertificateLayer;

impl<S> Layer<S> for ClientCertificateLayer {
    type Service = ClientCertificateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientCertificateService { inner }
    }
}

/// The service of [`ClientCertificateLayer`].
#[derive(Debug, Clone)]
pub struct ClientCertificateService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for ClientCertificateService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(certificate) = peer_certificate(request.extensions()) {
            request.extensions_mut().insert(certificate);
        }
        self.inner.call(request)
    }
}

/// The client certificate tonic's TLS server recorded for the request's connection, if
/// the client sent one.
///
/// ```
/// let extensions = http::Extensions::new();
/// assert!(jwt_tonic::peer_certificate(&extensions).is_none());
/// ```
#[must_use]
pub fn peer_certificate(extensions: &http::Extensions) -> Option<ClientCertificate> {
    let certificates = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    certificates
        .first()
        .map(|der| ClientCertificate::from_der(der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Answers with the certificate the request carried.
    struct Echo;

    impl Service<http::Request<()>> for Echo {
        type Response = Option<ClientCertificate>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(request.extensions().get::<ClientCertificate>().cloned()))
        }
    }

    #[test]
    fn without_tls_the_request_goes_on_without_a_certificate() {
        let seen = ClientCertificateLayer
            .layer(Echo)
            .call(http::Request::new(()))
            .into_inner();
        assert_eq!(seen, Ok(None));
    }
}
