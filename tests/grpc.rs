//! jwt-tonic over real sockets: a tonic client against a tonic server on loopback TCP.
//! Every refusal is a gRPC status (16, 7, 14), per-method policies and open methods hold,
//! the interceptor form answers the same, and the caller's identity is forwarded by the
//! client layer with no code in the handler.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tonic::{GrpcAuthLayer, JwtInterceptor};
use jwt_tower::auth::Authenticator;
use jwt_tower::propagate::{PropagateService, ServiceToken, ServiceTokenSource};
use jwt_tower::{Algorithm, Keys, RegisteredClaims, Verifier};
use serde_json::json;
use support::*;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::Layer;

type Downstream = IdentityClient<PropagateService<Channel>>;

/// The service under test: answers the caller; `Relay` calls `downstream` (if any).
#[derive(Clone, Default)]
struct Svc {
    downstream: Option<Downstream>,
    calls: Arc<AtomicUsize>,
}

fn caller<T>(request: &Request<T>) -> Result<WhoAmIResponse, Status> {
    let id = jwt_tonic::identity(request).ok_or_else(|| Status::internal("no identity"))?;
    // The typed token is there too, with the layer's claims type.
    let typed = jwt_tonic::verified::<RegisteredClaims, _>(request)
        .ok_or_else(|| Status::internal("no verified token"))?;
    assert_eq!(typed.claims().sub.as_deref(), id.subject());
    Ok(WhoAmIResponse {
        subject: id.subject().unwrap_or_default().into(),
        issuer: id.issuer().unwrap_or_default().into(),
        scopes: id.scopes().iter().map(|s| s.to_string()).collect(),
        token_id: id.token_id().unwrap_or_default().into(),
        ..Default::default()
    })
}

#[tonic::async_trait]
impl Identity for Svc {
    async fn who_am_i(
        &self,
        r: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        caller(&r).map(Response::new)
    }
    async fn admin(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        caller(&r).map(Response::new)
    }
    async fn relay(&self, _: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut downstream = self.downstream.clone().expect("a downstream");
        let reply = downstream.who_am_i(WhoAmIRequest {}).await?;
        Ok(Response::new(reply.into_inner()))
    }
}

fn verifier(keys: Keys) -> Verifier<RegisteredClaims> {
    Verifier::builder(keys)
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

fn layer(keys: Keys) -> GrpcAuthLayer<RegisteredClaims> {
    GrpcAuthLayer::new(verifier(keys))
        .open_service("grpc.health.v1.Health")
        .require_scopes("/identity.v1.Identity/Admin", ["admin"])
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `svc` behind `layer`, with an open health service, on a loopback port.
async fn serve_grpc(layer: GrpcAuthLayer<RegisteredClaims>, svc: Svc) -> SocketAddr {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<IdentityServer<Svc>>().await;
    let (listener, addr) = bind().await;
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(health)
            .add_service(IdentityServer::new(svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

async fn client(addr: SocketAddr) -> IdentityClient<Channel> {
    IdentityClient::new(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

fn with_token(token: Option<&str>) -> Request<WhoAmIRequest> {
    let mut request = Request::new(WhoAmIRequest {});
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

fn user() -> String {
    mint_hs256(
        "k1",
        &json!({"sub": "alice", "iss": "https://issuer.test", "scope": "read", "jti": "j-1", "exp": now() + 600}),
    )
}

fn admin() -> String {
    mint_hs256(
        "k1",
        &json!({"sub": "root", "scope": "read admin", "exp": now() + 600}),
    )
}

fn expired() -> String {
    mint_hs256("k1", &json!({"sub": "alice", "exp": now() - 3600}))
}

/// The status of a refused call, checked not to echo the token.
fn refused(result: Result<Response<WhoAmIResponse>, Status>, token: Option<&str>) -> Status {
    let status = result.expect_err("the call should be refused");
    if let Some(token) = token {
        assert!(!status.message().contains(token), "{status:?}");
        let signature = token.rsplit('.').next().unwrap();
        assert!(!status.message().contains(signature), "{status:?}");
    }
    status
}

#[tokio::test]
async fn every_refusal_is_a_grpc_status() {
    let addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), Svc::default()).await;
    let mut c = client(addr).await;

    // No token, a bad one, an expired one: UNAUTHENTICATED (16).
    let status = refused(c.who_am_i(with_token(None)).await, None);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    for token in [expired(), format!("{}x", user()), "not-a-jwt".to_owned()] {
        let status = refused(c.who_am_i(with_token(Some(&token))).await, Some(&token));
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    let status = refused(c.who_am_i(with_token(Some(&expired()))).await, None);
    assert_eq!(status.message(), "the token has expired");

    // A valid token: the handler sees the caller.
    let me = c
        .who_am_i(with_token(Some(&user())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            me.subject.as_str(),
            me.issuer.as_str(),
            me.token_id.as_str()
        ),
        ("alice", "https://issuer.test", "j-1")
    );
    assert_eq!(me.scopes, ["read"]);

    // Per-method policy: Admin needs scope admin, PERMISSION_DENIED (7) without it.
    let status = refused(c.admin(with_token(Some(&user()))).await, Some(&user()));
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.message(),
        "the token lacks the privileges this resource requires"
    );
    let root = c
        .admin(with_token(Some(&admin())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(root.subject, "root");
    // Admin without any token is still UNAUTHENTICATED, not PERMISSION_DENIED.
    let status = refused(c.admin(with_token(None)).await, None);
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn keys_never_loaded_is_unavailable() {
    let addr = serve_grpc(layer(Keys::unloaded()), Svc::default()).await;
    let mut c = client(addr).await;
    let status = refused(c.who_am_i(with_token(Some(&user()))).await, Some(&user()));
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn health_is_open_and_the_rest_is_not() {
    let svc = Svc::default();
    let calls = svc.calls.clone();
    let addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), svc).await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "identity.v1.Identity"] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving);
    }
    // Even with a bad token, an open method is not authenticated at all.
    let mut request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", "Bearer garbage".parse().unwrap());
    health.check(request).await.unwrap();

    // Refused requests never reach the handler.
    let mut c = IdentityClient::new(channel);
    c.who_am_i(with_token(None)).await.unwrap_err();
    c.admin(with_token(Some(&user()))).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Unknown methods are authenticated first, like the rest.
    let status = refused(c.relay(with_token(None)).await, None);
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn service_policies_and_predicates() {
    let layer = GrpcAuthLayer::new(verifier(Keys::from(hs256_key("k1"))))
        .service_policy(
            "identity.v1.Identity",
            jwt_tower::Policy::new().require(|t| t.subject() != Some("mallory")),
        )
        .require_scopes("identity.v1.Identity/Admin", ["admin"]);
    let addr = serve_grpc(layer, Svc::default()).await;
    let mut c = client(addr).await;
    let mallory = mint_hs256(
        "k1",
        &json!({"sub": "mallory", "scope": "admin", "exp": now() + 600}),
    );
    for result in [
        c.who_am_i(with_token(Some(&mallory))).await,
        c.admin(with_token(Some(&mallory))).await,
        c.admin(with_token(Some(&user()))).await,
    ] {
        assert_eq!(refused(result, None).code(), Code::PermissionDenied);
    }
    c.admin(with_token(Some(&admin()))).await.unwrap();
}

#[tokio::test]
async fn the_interceptor_answers_the_same() {
    let interceptor = JwtInterceptor::new(verifier(Keys::from(hs256_key("k1"))));
    let (listener, addr) = bind().await;
    tokio::spawn(
        Server::builder()
            .add_service(IdentityServer::with_interceptor(
                Svc::default(),
                interceptor,
            ))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut c = client(addr).await;
    assert_eq!(
        refused(c.who_am_i(with_token(None)).await, None).code(),
        Code::Unauthenticated
    );
    let status = refused(c.who_am_i(with_token(Some(&expired()))).await, None);
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "the token has expired")
    );
    let me = c
        .who_am_i(with_token(Some(&user())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, "alice");

    let scoped = JwtInterceptor::from_authenticator(
        Authenticator::new(verifier(Keys::from(hs256_key("k1")))).require_scopes(["admin"]),
    );
    let unloaded = JwtInterceptor::new(verifier(Keys::unloaded()));
    let (listener, addr) = bind().await;
    tokio::spawn(
        Server::builder()
            .add_service(IdentityServer::with_interceptor(Svc::default(), scoped))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let (listener2, addr2) = bind().await;
    tokio::spawn(
        Server::builder()
            .add_service(IdentityServer::with_interceptor(Svc::default(), unloaded))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener2)),
    );
    let status = refused(
        client(addr).await.who_am_i(with_token(Some(&user()))).await,
        None,
    );
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = refused(
        client(addr2)
            .await
            .who_am_i(with_token(Some(&user())))
            .await,
        None,
    );
    assert_eq!(status.code(), Code::Unavailable);
}

fn forwarding(addr: SocketAddr) -> Downstream {
    let endpoint = Channel::from_shared(format!("http://{addr}")).unwrap();
    let layer = jwt_tonic::propagate::forward_caller()
        .to_fixed_origin(endpoint.uri())
        .unwrap();
    IdentityClient::new(layer.layer(endpoint.connect_lazy()))
}

#[tokio::test]
async fn the_caller_is_forwarded_with_no_code_in_the_handler() {
    let last = Svc::default();
    let last_calls = last.calls.clone();
    let last_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), last).await;
    let relay = Svc {
        downstream: Some(forwarding(last_addr)),
        ..Svc::default()
    };
    let relay_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), relay).await;

    let mut c = client(relay_addr).await;
    let reply = c
        .relay(with_token(Some(&user())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.subject.as_str(), reply.token_id.as_str()),
        ("alice", "j-1")
    );
    assert_eq!(last_calls.load(Ordering::SeqCst), 1);

    // Outside any request there is no caller: refused locally, nothing sent.
    let status = forwarding(last_addr)
        .who_am_i(WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("no credentials"), "{status:?}");
    assert_eq!(last_calls.load(Ordering::SeqCst), 1);

    // A downstream that does not exist: UNAVAILABLE, as tonic reports it.
    let (gone, gone_addr) = bind().await;
    drop(gone);
    let relay = Svc {
        downstream: Some(forwarding(gone_addr)),
        ..Svc::default()
    };
    let relay_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), relay).await;
    let status = refused(
        client(relay_addr)
            .await
            .relay(with_token(Some(&user())))
            .await,
        None,
    );
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

/// A `Channel` always calls its endpoint; the layer is bound to that origin. A client
/// built `with_origin` another one is a misconfiguration, reported as
/// `FAILED_PRECONDITION` and not sent: without the layer the channel would send it, with
/// the caller's token, to its own endpoint.
#[tokio::test]
async fn a_channel_layer_refuses_calls_naming_another_origin() {
    let bound = Svc::default();
    let bound_calls = bound.calls.clone();
    let bound_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), bound).await;
    let other = Svc::default();
    let other_calls = other.calls.clone();
    let other_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), other).await;

    let endpoint = Channel::from_shared(format!("http://{bound_addr}")).unwrap();
    let channel = jwt_tonic::propagate::forward_caller()
        .to_fixed_origin(endpoint.uri())
        .unwrap()
        .layer(endpoint.connect_lazy());
    let identity = verifier(Keys::from(hs256_key("k1")))
        .verify(&user())
        .unwrap()
        .identity();

    let (to_bound, to_other) = jwt_tower::propagate::scope(identity, async {
        let to_bound = IdentityClient::new(channel.clone())
            .who_am_i(WhoAmIRequest {})
            .await;
        let origin = format!("http://{other_addr}").parse().unwrap();
        let to_other = IdentityClient::with_origin(channel, origin)
            .who_am_i(WhoAmIRequest {})
            .await;
        (to_bound, to_other)
    })
    .await;
    assert_eq!(to_bound.unwrap().into_inner().subject, "alice");
    let status = to_other.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("destination"), "{status:?}");
    assert_eq!(bound_calls.load(Ordering::SeqCst), 1);
    // Not the layer's doing: tonic's channel replaces the request's origin with its
    // endpoint's, so the other server never gets a call from this channel, layer or not.
    assert_eq!(other_calls.load(Ordering::SeqCst), 0, "tonic's AddOrigin");
}

#[tokio::test]
async fn a_service_token_when_there_is_no_caller() {
    let last = Svc::default();
    let last_addr = serve_grpc(layer(Keys::from(hs256_key("k1"))), last).await;
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let source = ServiceTokenSource::from_fn(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            let token = mint_hs256("k1", &json!({"sub": "svc:batch", "exp": now() + 600}));
            Ok::<_, std::io::Error>(ServiceToken::new(token))
        }
    });
    let endpoint = Channel::from_shared(format!("http://{last_addr}")).unwrap();
    let layer = jwt_tonic::propagate::forward_caller()
        .or_service_token(source)
        .to_fixed_origin(endpoint.uri())
        .unwrap();
    let mut c = IdentityClient::new(layer.layer(endpoint.connect_lazy()));

    // Outside a request, chosen explicitly: the service token, fetched once, then cached.
    for _ in 0..3 {
        let me = c.who_am_i(WhoAmIRequest {}).await.unwrap().into_inner();
        assert_eq!(me.subject, "svc:batch");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // A source that fails: UNAVAILABLE, nothing sent.
    let failing = ServiceTokenSource::from_fn(|| async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Err::<ServiceToken, _>(std::io::Error::other("issuer down"))
    });
    let endpoint = Channel::from_shared(format!("http://{last_addr}")).unwrap();
    let mut c = IdentityClient::new(
        jwt_tonic::propagate::service_token(failing)
            .to_fixed_origin(endpoint.uri())
            .unwrap()
            .layer(endpoint.connect_lazy()),
    );
    let status = c.who_am_i(WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("issuer down"), "{status:?}");
}

/// After a key rotation at a remote JWKS: the layer waits for the refresh and passes the
/// first call; the interceptor cannot wait, refuses it, but starts the refresh so the
/// calls after it pass.
#[tokio::test]
async fn a_rotated_key_the_layer_waits_the_interceptor_does_not() {
    use jsonwebtoken::Algorithm as JwtAlg;
    use jwt_tower::jwks::RemoteJwks;
    use support::jwks_server::{JwksServer, document, jwk};

    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let es256 = |keys: Keys| {
        Verifier::<RegisteredClaims>::builder(keys)
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap()
    };
    let for_layer = RemoteJwks::builder(server.url())
        .algorithms([Algorithm::ES256])
        .start()
        .unwrap();
    let for_interceptor = RemoteJwks::builder(server.url())
        .algorithms([Algorithm::ES256])
        .start()
        .unwrap();
    let layered = serve_grpc(GrpcAuthLayer::new(es256(for_layer.keys())), Svc::default()).await;
    let (listener, intercepted) = bind().await;
    tokio::spawn(
        Server::builder()
            .add_service(IdentityServer::with_interceptor(
                Svc::default(),
                JwtInterceptor::new(es256(for_interceptor.keys())),
            ))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let (mut layered, mut intercepted) = (client(layered).await, client(intercepted).await);

    let old = mint_es256("ec-1", &claims("alice", "read"));
    // The layer waits for the first key set; then the interceptor has it too.
    layered.who_am_i(with_token(Some(&old))).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while intercepted.who_am_i(with_token(Some(&old))).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "first key set never loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.set_document(document(vec![
        jwk(JwtAlg::ES256, "ec-1"),
        jwk(JwtAlg::ES256, "ec-2"),
    ]));
    let new = mint_es256("ec-2", &claims("alice", "read"));
    let me = layered.who_am_i(with_token(Some(&new))).await.unwrap();
    assert_eq!(me.into_inner().subject, "alice");

    let status = refused(
        intercepted.who_am_i(with_token(Some(&new))).await,
        Some(&new),
    );
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while intercepted.who_am_i(with_token(Some(&new))).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn per_method_refusals_are_counted_in_the_verifiers_metrics() {
    let verifier = verifier(Keys::from(hs256_key("k1")));
    let layer = GrpcAuthLayer::new(verifier.clone())
        .require_scopes("/identity.v1.Identity/Admin", ["admin"]);
    let addr = serve_grpc(layer, Svc::default()).await;
    let mut c = client(addr).await;
    let _ = c.admin(with_token(Some(&user()))).await;
    let _ = c.who_am_i(with_token(None)).await;
    assert!(c.admin(with_token(Some(&admin()))).await.is_ok());
    let metrics = verifier.metrics();
    assert_eq!(
        metrics.rejected(jwt_tower::RejectionKind::InsufficientScope),
        1,
        "{metrics:?}"
    );
    assert_eq!(
        metrics.rejected(jwt_tower::RejectionKind::MissingToken),
        1,
        "{metrics:?}"
    );
    assert_eq!(metrics.verified, 2, "{metrics:?}");
}
