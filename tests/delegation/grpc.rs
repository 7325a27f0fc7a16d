//! The gRPC hops: `examples/gateway` → `examples/grpc_service` → `examples/grpc_service`,
//! upstreams written here (tonic), and a tonic client of our own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jwt_tower::propagate::{self, TokenExchange};
use jwt_tower::{Policy, RegisteredClaims};
use serde_json::json;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};
use tower::Layer;

use crate::identity_proto::identity_client::IdentityClient;
use crate::identity_proto::identity_server::{Identity, IdentityServer};
use crate::identity_proto::{WhoAmIRequest, WhoAmIResponse};
use crate::setup::*;
use crate::support::process::{start, start_listening};
use crate::support::{http, send};

/// A gRPC upstream written here: no authentication, counts the calls that reach it.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

#[tonic::async_trait]
impl Identity for Counting {
    async fn who_am_i(
        &self,
        _: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(WhoAmIResponse::default()))
    }
    async fn admin(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
    async fn relay(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
}

async fn serve_grpc<S: Identity>(
    service: S,
    layer: Option<jwt_tonic::GrpcAuthLayer<RegisteredClaims>>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let service = IdentityServer::new(service);
    match layer {
        Some(layer) => tokio::spawn(
            Server::builder()
                .layer(layer)
                .add_service(service)
                .serve_with_incoming(incoming),
        ),
        None => tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        ),
    };
    format!("http://{addr}")
}

#[tokio::test]
async fn the_gateway_and_grpc_service_exchange_at_each_hop() {
    let auth = auth_server().await;
    let b = start_listening("grpc_service", &jwt_env(&auth, "svc-b")).await;
    let mut a_env = jwt_env(&auth, "svc-a");
    a_env.extend(exchange_env(&auth, "svc-a", SVC_A_SECRET, "svc-b"));
    a_env.push(("EXCHANGE_SCOPE", "orders.read".to_owned()));
    a_env.push(("DOWNSTREAM_URL", b.base()));
    let a = start_listening("grpc_service", &a_env).await;
    let mut gateway_env = jwt_env(&auth, "gateway");
    gateway_env.extend(exchange_env(&auth, "gateway", GATEWAY_SECRET, "svc-a"));
    gateway_env.push(("UPSTREAM_GRPC_URL", a.base()));
    let gateway = start("gateway", &gateway_env).await;

    let token = alice(&auth).await;
    let reply = send(
        http()
            .get(format!("{}/whoami", gateway.base()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({"gateway": {"sub": "alice"}, "upstream": {
            "subject": "alice", "issuer": auth.base(),
            "scopes": ["orders.read", "orders.write", "profile"],
            "audiences": ["svc-a"], "actors": ["gateway"]}})
    );
    let reply = send(
        http()
            .get(format!("{}/relay", gateway.base()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json()["upstream"],
        json!({"subject": "alice", "issuer": auth.base(), "scopes": ["orders.read"],
               "audiences": ["svc-b"], "actors": ["svc-a", "gateway"]})
    );

    // A tonic client of our own, exchanging the caller's token through jwt-tonic, calls
    // A's Relay: B sees the chain with A outermost, then our client.
    let endpoint = Endpoint::from_shared(a.base()).unwrap();
    let exchange = TokenExchange::new(format!("{}/token", auth.base()), "gateway", GATEWAY_SECRET)
        .audience("svc-a");
    let channel = jwt_tonic::propagate::exchange(exchange)
        .unwrap()
        .to_fixed_origin(endpoint.uri())
        .unwrap()
        .layer(endpoint.connect_lazy());
    let user = verifier(&auth, "gateway")
        .await
        .verify(&token)
        .unwrap()
        .identity();
    let seen = propagate::scope(user, async move {
        IdentityClient::new(channel).relay(WhoAmIRequest {}).await
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(seen.subject, "alice");
    assert_eq!(seen.audiences, ["svc-b"]);
    assert_eq!(seen.actors, ["svc-a", "gateway"]);

    // The user's own token is not for A.
    let status = IdentityClient::new(
        Channel::from_shared(a.base())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
    .who_am_i(bearer(&token))
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

fn bearer(token: &str) -> Request<WhoAmIRequest> {
    let mut request = Request::new(WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn a_refused_exchange_is_502_and_sends_nothing() {
    let auth = auth_server().await;
    let token = alice(&auth).await;

    // The gateway's client may not reach svc-a: 502, the upstream never called.
    let upstream = Counting::default();
    let calls = Arc::clone(&upstream.0);
    let upstream_url = serve_grpc(upstream, None).await;
    let mut env = jwt_env(&auth, "gateway");
    env.extend(exchange_env(&auth, "svc-a", SVC_A_SECRET, "svc-a"));
    env.push(("UPSTREAM_GRPC_URL", upstream_url));
    let gateway = start("gateway", &env).await;
    let reply = send(
        http()
            .get(format!("{}/whoami", gateway.base()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // grpc_service's client may not reach svc-b: Relay is UNAVAILABLE (502 through the
    // gateway), and the downstream is never called; A itself still answers.
    let downstream = Counting::default();
    let calls = Arc::clone(&downstream.0);
    let downstream_url = serve_grpc(downstream, None).await;
    let mut a_env = jwt_env(&auth, "svc-a");
    a_env.extend(exchange_env(&auth, "no-b", NO_B_SECRET, "svc-b"));
    a_env.push(("DOWNSTREAM_URL", downstream_url));
    let a = start_listening("grpc_service", &a_env).await;
    let mut env = jwt_env(&auth, "gateway");
    env.extend(exchange_env(&auth, "gateway", GATEWAY_SECRET, "svc-a"));
    env.push(("UPSTREAM_GRPC_URL", a.base()));
    let gateway = start("gateway", &env).await;
    let relay = send(
        http()
            .get(format!("{}/relay", gateway.base()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(relay.status, 502, "{relay:?}");
    let whoami = send(
        http()
            .get(format!("{}/whoami", gateway.base()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(whoami.status, 200, "{whoami:?}");

    let for_a = exchanged(&auth, &token, ("gateway", GATEWAY_SECRET), "svc-a").await;
    let status = IdentityClient::new(
        Channel::from_shared(a.base())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
    .relay(bearer(&for_a))
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("unauthorized_client"),
        "{status:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn actor_policies_are_permission_denied() {
    let auth = auth_server().await;
    let layer = jwt_tonic::GrpcAuthLayer::new(verifier(&auth, "svc-a").await)
        .method_policy(
            "/identity.v1.Identity/WhoAmI",
            Policy::new().require_actor().allow_actors(["gateway"]),
        )
        .method_policy(
            "/identity.v1.Identity/Admin",
            Policy::new().max_actor_depth(0),
        );
    let url = serve_grpc(Counting::default(), Some(layer)).await;
    let mut client =
        IdentityClient::new(Channel::from_shared(url).unwrap().connect().await.unwrap());
    let user = alice(&auth).await;
    let by_gateway = exchanged(&auth, &user, ("gateway", GATEWAY_SECRET), "svc-a").await;
    let by_other = exchanged(&auth, &user, ("no-b", NO_B_SECRET), "svc-a").await;

    client.who_am_i(bearer(&by_gateway)).await.unwrap();
    let status = client.who_am_i(bearer(&by_other)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // No delegated token at all where none may act.
    let status = client.admin(bearer(&by_gateway)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}
