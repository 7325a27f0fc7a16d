//! jwt-tonic's per-method configuration over real sockets (a tonic client against a
//! tonic server on loopback TCP): a method given no policy can be refused rather than
//! left open to any valid token, a misspelt path or service is refused when the layer is
//! built, and another `authorization` scheme is no token.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::net::SocketAddr;

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tonic::GrpcAuthLayer;
use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier};
use serde_json::json;
use support::*;
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Clone, Default)]
struct Svc;

fn reply<T>(request: &Request<T>) -> Result<Response<WhoAmIResponse>, Status> {
    let id = jwt_tonic::identity(request).ok_or_else(|| Status::internal("no identity"))?;
    Ok(Response::new(WhoAmIResponse {
        subject: id.subject().unwrap_or_default().into(),
        ..WhoAmIResponse::default()
    }))
}

#[tonic::async_trait]
impl Identity for Svc {
    async fn who_am_i(
        &self,
        r: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        reply(&r)
    }
    async fn admin(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        reply(&r)
    }
    async fn relay(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        reply(&r)
    }
}

const IDENTITY: &str = <IdentityServer<Svc> as NamedService>::NAME;
const HEALTH: &str = "grpc.health.v1.Health";

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

async fn serve_grpc(layer: GrpcAuthLayer<RegisteredClaims>) -> Channel {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<IdentityServer<Svc>>().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(health)
            .add_service(IdentityServer::new(Svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn with(authorization: &str) -> Request<WhoAmIRequest> {
    let mut request = Request::new(WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", authorization.parse().unwrap());
    request
}

fn token(scope: &str) -> String {
    format!(
        "Bearer {}",
        mint_hs256(
            "k1",
            &json!({"sub": "alice", "scope": scope, "exp": now() + 600})
        )
    )
}

#[tokio::test]
async fn methods_without_a_policy_can_be_refused() {
    let verifier = verifier();
    let layer = GrpcAuthLayer::new(verifier.clone())
        .known_services([IDENTITY, HEALTH])
        .open_service(HEALTH)
        .require_scopes("/identity.v1.Identity/Admin", ["admin"])
        .method_policy(
            "/identity.v1.Identity/WhoAmI",
            jwt_tower::Policy::new().require_scopes(["read"]),
        )
        .refuse_methods_without_policy();
    let channel = serve_grpc(layer).await;
    let mut client = IdentityClient::new(channel.clone());
    let admin = token("read admin");

    // Listed methods answer by their policy.
    assert!(client.admin(with(&admin)).await.is_ok());
    assert!(client.who_am_i(with(&token("read"))).await.is_ok());
    let refused = client.admin(with(&token("read"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // `Relay` was given no policy: refused, even to a token that has every scope.
    let refused = client.relay(with(&admin)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("no policy"), "{refused:?}");
    // Open services stay open.
    let mut health = HealthClient::new(channel);
    let check = HealthCheckRequest {
        service: String::new(),
    };
    assert!(health.check(check).await.is_ok());

    assert_eq!(
        verifier
            .metrics()
            .rejected(RejectionKind::InsufficientScope),
        2,
        "{:?}",
        verifier.metrics()
    );

    // Without the mode, an unlisted method needs only a valid token (as before).
    let mut client = IdentityClient::new(
        serve_grpc(
            GrpcAuthLayer::new(verifier.clone())
                .require_scopes("/identity.v1.Identity/Admin", ["admin"]),
        )
        .await,
    );
    assert!(client.relay(with(&token("read"))).await.is_ok());
}

/// Builds a layer, or panics on its configuration.
type Build = fn() -> GrpcAuthLayer<RegisteredClaims>;

#[test]
fn misspelt_paths_and_services_are_refused_when_configured() {
    let attempts: [(&str, Build); 4] = [
        ("no leading service", || {
            GrpcAuthLayer::new(verifier()).require_scopes("/Admin", ["admin"])
        }),
        ("dots for the slash", || {
            GrpcAuthLayer::new(verifier()).require_scopes("identity.v1.Identity.Admin", ["admin"])
        }),
        ("a service the server lacks", || {
            GrpcAuthLayer::new(verifier())
                .known_services([IDENTITY])
                .require_scopes("/identity.v1.Identiy/Admin", ["admin"])
        }),
        ("listed after the typo", || {
            GrpcAuthLayer::new(verifier())
                .open_service("grpc.health.v1.Healht")
                .known_services([IDENTITY, HEALTH])
        }),
    ];
    for (name, build) in attempts {
        assert!(std::panic::catch_unwind(build).is_err(), "{name}");
    }
}

#[tokio::test]
async fn another_authorization_scheme_is_no_token() {
    let verifier = verifier();
    let mut client = IdentityClient::new(serve_grpc(GrpcAuthLayer::new(verifier.clone())).await);
    let refused = client
        .who_am_i(with("Basic dXNlcjpwYXNz"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(refused.message(), "no bearer token in the request");
    assert_eq!(verifier.metrics().rejected(RejectionKind::MissingToken), 1);
}
