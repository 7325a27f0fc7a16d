//! Serving an axum router over TLS (rustls), with client certificates requested but not
//! required, for certificate-bound tokens (RFC 8705).
//!
//! Environment: `TLS_CERT_FILE` and `TLS_KEY_FILE` (PEM: the certificate chain, leaf
//! first, and its private key) serve HTTPS; `TLS_CLIENT_CA_FILE` (PEM, one or more CA
//! certificates) makes the server ask each client for a certificate signed by one of
//! them. A client without one still connects (its certificate-bound tokens are then
//! refused by the authenticator, not the handshake); a client presenting a certificate
//! the CA did not sign fails the handshake. Without these variables the server speaks
//! plain HTTP, as before.
//!
//! Each request on a TLS connection carries, in its extensions, the connection's verified
//! client certificate as a `jwt_tower::confirmation::ClientCertificate` (what the
//! authenticator and auth_server's `/token` read) and the peer address as axum's
//! `ConnectInfo<SocketAddr>`.
//!
//! axum's own `serve` does the TLS handshake nowhere: its `Listener` would have to do it
//! in `accept`, one client at a time. So this is axum's serving loop with a handshake in
//! each connection's task: tokio-rustls accepts, hyper-util's connection builder serves.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use jwt_tower::confirmation::ClientCertificate;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tower::ServiceExt as _;

/// How long a client may take over the TLS handshake before its connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Error = Box<dyn std::error::Error>;

fn config_error(variable: &str, problem: impl std::fmt::Display) -> Error {
    format!("configuration error: {variable}: {problem}").into()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A TLS server configuration, from `TLS_CERT_FILE`, `TLS_KEY_FILE` and
/// `TLS_CLIENT_CA_FILE`.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    client_certificates: bool,
}

/// The files the `TLS_*` variables name.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// `TLS_CERT_FILE`: the server's certificate chain, leaf first (PEM).
    pub cert_file: String,
    /// `TLS_KEY_FILE`: its private key (PEM).
    pub key_file: String,
    /// `TLS_CLIENT_CA_FILE`: the CA certificates client certificates are checked against.
    pub client_ca_file: Option<String>,
}

impl TlsFiles {
    /// The files, `None` without `TLS_CERT_FILE` and `TLS_KEY_FILE` (plain HTTP); one
    /// without the other, or a client CA without both, is a configuration error.
    pub fn from_env() -> Result<Option<Self>, Error> {
        let client_ca_file = var("TLS_CLIENT_CA_FILE");
        match (var("TLS_CERT_FILE"), var("TLS_KEY_FILE")) {
            (Some(cert_file), Some(key_file)) => Ok(Some(Self {
                cert_file,
                key_file,
                client_ca_file,
            })),
            (None, None) => match client_ca_file {
                Some(_) => Err(config_error(
                    "TLS_CLIENT_CA_FILE",
                    "needs TLS_CERT_FILE and TLS_KEY_FILE (client certificates need TLS)",
                )),
                None => Ok(None),
            },
            (Some(_), None) => Err(config_error(
                "TLS_KEY_FILE",
                "unset, but TLS_CERT_FILE is set",
            )),
            (None, Some(_)) => Err(config_error(
                "TLS_CERT_FILE",
                "unset, but TLS_KEY_FILE is set",
            )),
        }
    }
}

impl Tls {
    /// The configuration the `TLS_*` variables describe; `None` without `TLS_CERT_FILE`
    /// and `TLS_KEY_FILE` (plain HTTP). A bad value is an error naming the variable.
    pub fn from_env() -> Result<Option<Self>, Error> {
        TlsFiles::from_env()?
            .map(|files| Self::from_files(&files))
            .transpose()
    }

    /// The configuration for `files`: every file read and checked, each failure an
    /// error naming its variable.
    pub fn from_files(files: &TlsFiles) -> Result<Self, Error> {
        let TlsFiles {
            cert_file,
            key_file,
            client_ca_file: ca_file,
        } = files;
        let chain = CertificateDer::pem_file_iter(cert_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| config_error("TLS_CERT_FILE", format!("{cert_file:?}: {e}")))?;
        if chain.is_empty() {
            return Err(config_error(
                "TLS_CERT_FILE",
                format!("{cert_file:?} holds no certificate"),
            ));
        }
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| config_error("TLS_KEY_FILE", format!("{key_file:?}: {e}")))?;

        let provider = Arc::new(aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let builder = match &ca_file {
            Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| config_error("TLS_KEY_FILE", format!("{key_file:?}: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            client_certificates: ca_file.is_some(),
        })
    }

    /// Whether clients are asked for a certificate (`TLS_CLIENT_CA_FILE`).
    pub fn requests_client_certificates(&self) -> bool {
        self.client_certificates
    }
}

/// The URL scheme the server answers on: `https` with TLS, else `http`. For the default
/// public URL of a server (its issuer, or the `htu` base of DPoP proofs).
pub fn scheme(tls: Option<&Tls>) -> &'static str {
    if tls.is_some() { "https" } else { "http" }
}

/// Accepts client certificates signed by a CA in `path`, and clients without one.
fn client_verifier(
    path: &str,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn tokio_rustls::rustls::server::danger::ClientCertVerifier>, Error> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| config_error("TLS_CLIENT_CA_FILE", format!("{path:?}: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(
            "TLS_CLIENT_CA_FILE",
            format!("{path:?} holds no certificate"),
        ));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| config_error("TLS_CLIENT_CA_FILE", format!("{path:?}: {e}")))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| config_error("TLS_CLIENT_CA_FILE", format!("{path:?}: {e}")))
}

/// Listens on `bind` (a failure is a configuration error naming `BIND`) and serves `app`
/// over TLS until Ctrl-C: [`serve`] for a program that binds as `cli::serve_http` does.
pub async fn serve_at(bind: &str, app: Router, tls: Tls, what: &str) -> Result<(), Error> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| config_error("BIND", format!("cannot listen on {bind:?}: {e}")))?;
    tracing::info!(addr = %listener.local_addr()?, client_certificates = tls.client_certificates, "{what} listening over TLS");
    serve(listener, app, tls).await
}

/// Serves `app` over TLS on `listener` until Ctrl-C, then lets open connections finish.
pub async fn serve(listener: TcpListener, app: Router, tls: Tls) -> Result<(), Error> {
    let acceptor = TlsAcceptor::from(tls.config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certificate = client_certificate(stream.get_ref().1);
            let service =
                tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    app.clone()
                        .oneshot(with_connection(request, peer, certificate.as_ref()))
                });
            let builder = Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// The end-entity certificate the client presented, which the verifier has checked
/// against `TLS_CLIENT_CA_FILE`.
fn client_certificate(
    connection: &tokio_rustls::rustls::ServerConnection,
) -> Option<ClientCertificate> {
    connection
        .peer_certificates()?
        .first()
        .map(|der| ClientCertificate::from_der(der))
}

/// `request` with what the connection knows of its client in its extensions.
fn with_connection<B>(
    mut request: hyper::Request<B>,
    peer: SocketAddr,
    certificate: Option<&ClientCertificate>,
) -> hyper::Request<B> {
    let extensions = request.extensions_mut();
    extensions.insert(ConnectInfo(peer));
    if let Some(certificate) = certificate {
        extensions.insert(certificate.clone());
    }
    request
}
