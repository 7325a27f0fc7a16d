//! `cargo run --example grpc_service`: the `identity.v1.Identity` gRPC service
//! (`examples/proto/identity/v1/identity.proto`) behind jwt-tonic, configured only by
//! environment: the `JWT_*` contract of `resource_server` (see `examples/common/jwt_env.rs`),
//! `BIND` (default `127.0.0.1:50051`) and, optionally, `DOWNSTREAM_URL`.
//!
//! - `WhoAmI`: any valid token; answers the caller's subject, issuer, scopes, `jti`,
//!   audiences and actors (the `sub`s of its `act` chain, current actor first).
//! - `Admin`: needs scope `admin` (`PERMISSION_DENIED` without it).
//! - `Relay`: calls `WhoAmI` on `DOWNSTREAM_URL` as the caller (its token is forwarded by
//!   the client layer, not by this handler). Downstream unreachable: `UNAVAILABLE`; a
//!   downstream refusal comes back with its own status.
//! - `EXCHANGE_TOKEN_URL`, `EXCHANGE_CLIENT_ID`, `EXCHANGE_CLIENT_SECRET`,
//!   `EXCHANGE_AUDIENCE`, `EXCHANGE_SCOPE` (optional): `Relay`'s call carries the
//!   caller's token exchanged (RFC 8693) for one for `EXCHANGE_AUDIENCE`, naming this
//!   service's client as the current actor (see `examples/common/exchange_env.rs`). A
//!   refused exchange is `UNAVAILABLE`, and nothing is sent downstream.
//! - `grpc.health.v1.Health`: open, no token.
//!
//! TLS: `TLS_CERT_FILE` and `TLS_KEY_FILE` serve gRPC over TLS; `TLS_CLIENT_CA_FILE`
//! asks clients for a certificate signed by that CA, without requiring one, and a
//! certificate-bound token (RFC 8705) is accepted only from the client presenting its
//! certificate (`jwt_tonic::ClientCertificateLayer`).
#![forbid(unsafe_code)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/exchange_env.rs"]
mod exchange_env;
#[path = "common/identity_proto.rs"]
mod identity_proto;
#[path = "common/jwt_env.rs"]
mod jwt_env;
#[path = "common/tls.rs"]
mod tls;

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tonic::{ClientCertificateLayer, GrpcAuthLayer};
use jwt_tower::propagate::PropagateService;
use jwt_tower::{Audience, RegisteredClaims};
use tonic::transport::{Certificate, Channel, Endpoint, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};
use tower::Layer;

type Downstream = IdentityClient<PropagateService<Channel>>;

struct IdentityService {
    downstream: Option<Downstream>,
}

/// The caller, as the layer verified it.
fn caller<T>(request: &Request<T>) -> Result<WhoAmIResponse, Status> {
    let missing = || Status::internal("the authentication layer is missing");
    let identity = jwt_tonic::identity(request).ok_or_else(missing)?;
    let verified = jwt_tonic::verified::<RegisteredClaims, _>(request).ok_or_else(missing)?;
    let audiences = match &verified.claims().aud {
        None => Vec::new(),
        Some(Audience::One(one)) => vec![one.clone()],
        Some(Audience::Many(many)) => many.clone(),
    };
    Ok(WhoAmIResponse {
        subject: identity.subject().unwrap_or_default().to_owned(),
        issuer: identity.issuer().unwrap_or_default().to_owned(),
        scopes: identity.scopes().iter().map(|s| s.to_string()).collect(),
        token_id: identity.token_id().unwrap_or_default().to_owned(),
        audiences,
        actors: identity
            .actor()
            .into_iter()
            .flat_map(|actor| actor.chain())
            .map(|actor| actor.sub().to_owned())
            .collect(),
    })
}

#[tonic::async_trait]
impl Identity for IdentityService {
    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        caller(&request).map(Response::new)
    }

    async fn admin(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        // The scope is enforced by the layer's per-method policy; nothing to check here.
        caller(&request).map(Response::new)
    }

    async fn relay(
        &self,
        _request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let Some(downstream) = &self.downstream else {
            return Err(Status::failed_precondition(
                "DOWNSTREAM_URL is not configured",
            ));
        };
        // No token handling here: the caller's identity is in scope, and the client
        // layer on the channel forwards it.
        match downstream.clone().who_am_i(WhoAmIRequest {}).await {
            Ok(response) => Ok(Response::new(response.into_inner())),
            // The downstream's status, code and message, without its metadata.
            Err(status) => Err(Status::new(status.code(), status.message())),
        }
    }
}

#[tokio::main]
async fn main() {
    cli::run_and_exit(run()).await;
}

/// `DOWNSTREAM_URL` as a lazily connected channel that forwards the caller's token (or,
/// configured, exchanges it for the downstream's), to that origin only.
fn downstream() -> Result<Option<Downstream>, String> {
    let exchange = exchange_env::from_env().map_err(|e| e.to_string())?;
    let Some(url) = jwt_env::var("DOWNSTREAM_URL") else {
        if exchange.is_some() {
            return Err(
                "configuration error: DOWNSTREAM_URL: required with EXCHANGE_TOKEN_URL".into(),
            );
        }
        return Ok(None);
    };
    let endpoint = grpc_endpoint(&url)
        .map_err(|problem| format!("configuration error: DOWNSTREAM_URL: {problem}"))?;
    let channel = exchange_env::client_layer(exchange, endpoint.uri(), "DOWNSTREAM_URL")?
        .layer(endpoint.connect_lazy());
    Ok(Some(IdentityClient::new(channel)))
}

/// An `http://` or `https://` gRPC endpoint.
fn grpc_endpoint(url: &str) -> Result<Endpoint, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| format!("{url:?}: {e}"))?;
    Ok(endpoint.connect_timeout(std::time::Duration::from_secs(5)))
}

/// tonic's TLS configuration from the `TLS_*` variables (checked as the HTTP servers
/// check them), with client certificates requested, not required.
fn server_tls() -> Result<Option<ServerTlsConfig>, Box<dyn std::error::Error>> {
    let Some(files) = tls::TlsFiles::from_env()? else {
        return Ok(None);
    };
    tls::Tls::from_files(&files)?;
    let read = |variable: &str, path: &str| {
        std::fs::read(path)
            .map_err(|e| format!("configuration error: {variable}: cannot read {path:?}: {e}"))
    };
    let identity = tonic::transport::Identity::from_pem(
        read("TLS_CERT_FILE", &files.cert_file)?,
        read("TLS_KEY_FILE", &files.key_file)?,
    );
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(path) = &files.client_ca_file {
        config = config
            .client_ca_root(Certificate::from_pem(read("TLS_CLIENT_CA_FILE", path)?))
            .client_auth_optional(true);
    }
    Ok(Some(config))
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bind = jwt_env::bind("127.0.0.1:50051");
    let verifier = jwt_env::from_env()?;
    let tls = server_tls()?;
    let downstream = downstream()?;

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<IdentityServer<IdentityService>>()
        .await;
    let layer = GrpcAuthLayer::new(verifier)
        .open_service("grpc.health.v1.Health")
        .require_scopes("/identity.v1.Identity/Admin", ["admin"]);

    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => {
            return Err(
                format!("configuration error: BIND: cannot listen on {bind:?}: {e}").into(),
            );
        }
    };
    tracing::info!(addr = %listener.local_addr()?, tls = tls.is_some(), "gRPC identity service listening");
    let mut server = Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls)?;
    }
    server
        // The connection's client certificate, where the authenticator looks for it.
        .layer(ClientCertificateLayer)
        .layer(layer)
        .add_service(health)
        .add_service(IdentityServer::new(IdentityService { downstream }))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
    Ok(())
}
