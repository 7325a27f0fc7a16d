//! DPoP over gRPC, a tonic client against a tonic server on loopback TCP: the call
//! carries `authorization: DPoP …` and a `dpop` proof for `POST` and the method's path;
//! a replay is UNAUTHENTICATED with the DPoP challenge in its metadata.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::net::SocketAddr;

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tonic::GrpcAuthLayer;
use jwt_tower::auth::Authenticator;
use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use serde_json::json;
use support::*;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

const PUBLIC: &str = "http://grpc.example.test";
const WHO_AM_I: &str = "/identity.v1.Identity/WhoAmI";

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

async fn serve(mode: DpopMode) -> Channel {
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let checker = DpopChecker::builder(PUBLIC).mode(mode).build().unwrap();
    let layer = GrpcAuthLayer::from_layer(JwtLayer::from_authenticator(
        Authenticator::new(verifier).dpop(checker),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(IdentityServer::new(Svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn call(token: &str, proof: Option<&str>) -> Request<WhoAmIRequest> {
    let mut request = Request::new(WhoAmIRequest {});
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("DPoP {token}").parse().unwrap());
    if let Some(proof) = proof {
        metadata.insert("dpop", proof.parse().unwrap());
    }
    request
}

fn challenges(status: &Status) -> Vec<String> {
    status
        .metadata()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_dpop_call_passes_once_and_its_replay_is_refused() {
    let mut client = IdentityClient::new(serve(DpopMode::Required).await);
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let token = mint_hs256(
        "k1",
        &json!({"sub": "alice", "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    );
    let htu = format!("{PUBLIC}{WHO_AM_I}");
    let proof = key.proof("POST", &htu, Some(&token), None).unwrap();

    let ok = client.who_am_i(call(&token, Some(&proof))).await.unwrap();
    assert_eq!(ok.into_inner().subject, "alice");

    let replay = client
        .who_am_i(call(&token, Some(&proof)))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);
    assert_eq!(replay.message(), "the DPoP proof has been used before");
    assert_eq!(
        challenges(&replay),
        [
            r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof has been used before", algs="ES256 Ed25519 EdDSA""#
        ]
    );

    // A proof for GET, or for another method's path, is refused.
    for (htm, path) in [("GET", WHO_AM_I), ("POST", "/identity.v1.Identity/Admin")] {
        let proof = key
            .proof(htm, &format!("{PUBLIC}{path}"), Some(&token), None)
            .unwrap();
        let refused = client
            .who_am_i(call(&token, Some(&proof)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{htm} {path}");
    }
    // No proof at all.
    let missing = client.who_am_i(call(&token, None)).await.unwrap_err();
    assert_eq!(missing.message(), "the request has no DPoP proof");
    // The bound token as Bearer.
    let mut bearer = Request::new(WhoAmIRequest {});
    bearer
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let refused = client.who_am_i(bearer).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(
        refused.message(),
        "this resource requires DPoP-bound tokens"
    );
}

/// The synchronous interceptor cannot reserve a proof: it refuses DPoP calls as
/// UNAVAILABLE, saying to use the layer, and still admits Bearer calls.
#[test]
fn the_interceptor_refuses_dpop_calls() {
    use tonic::service::Interceptor as _;
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let checker = DpopChecker::builder(PUBLIC)
        .mode(DpopMode::Allowed)
        .build()
        .unwrap();
    let mut interceptor =
        jwt_tonic::JwtInterceptor::from_authenticator(Authenticator::new(verifier).dpop(checker));
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let token = mint_hs256(
        "k1",
        &json!({"sub": "alice", "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    );
    // The interceptor sees no path: the proof names the root.
    let proof = key
        .proof("POST", &format!("{PUBLIC}/"), Some(&token), None)
        .unwrap();
    let mut request = Request::new(());
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("DPoP {token}").parse().unwrap());
    metadata.insert("dpop", proof.parse().unwrap());
    let refused = interceptor.call(request).unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(
        refused.message(),
        "the synchronous interceptor cannot reserve DPoP proofs: use the layer"
    );

    let plain = mint_hs256("k1", &json!({"sub": "bob", "exp": now() + 600}));
    let mut request = Request::new(());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {plain}").parse().unwrap());
    assert!(interceptor.call(request).is_ok());
}
