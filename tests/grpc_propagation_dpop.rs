//! DPoP from a tonic client: a `Channel` behind jwt-tonic's propagation layer with a
//! service token bound to the service's key calls a tonic server that requires DPoP.
//! Each call's proof is in the `dpop` metadata with `htu` the full URL of the method
//! path; a server nonce is learnt from a refusal and carried by the next call (a gRPC
//! call's body is a stream: it is not sent twice).

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode, NonceSecret};
use jwt_tower::propagate::{ServiceToken, ServiceTokenSource};
use jwt_tower::{Algorithm, Keys, RejectionKind, Verifier};
use serde_json::{Value, json};
use support::*;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tower::{Layer, Service};

struct Svc;

#[tonic::async_trait]
impl Identity for Svc {
    async fn who_am_i(
        &self,
        _: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        Ok(Response::new(WhoAmIResponse {
            subject: "ok".into(),
            ..WhoAmIResponse::default()
        }))
    }
    async fn admin(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
    async fn relay(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
}

/// The server side of the test: every call's token and proof checked by the dpop
/// module, as a resource server requiring DPoP and nonces would.
struct Gatekeeper {
    verifier: Verifier<Value>,
    checker: DpopChecker,
    /// The `jti` of every admitted call, and the `htu` its proof named.
    admitted: Mutex<Vec<String>>,
    refused: Mutex<Vec<RejectionKind>>,
}

impl Gatekeeper {
    /// The refusal of a call, with the fresh nonce when that is what it lacks.
    fn refuse(&self, kind: RejectionKind, now: i64) -> http::Response<tonic::body::Body> {
        self.refused.lock().unwrap().push(kind);
        let mut response = Status::unauthenticated(format!("{kind:?}")).into_http();
        if matches!(
            kind,
            RejectionKind::DpopNonceRequired | RejectionKind::DpopNonceInvalid
        ) {
            response.headers_mut().insert(
                "dpop-nonce",
                self.checker.fresh_nonce(now).unwrap().parse().unwrap(),
            );
        }
        response
    }

    async fn admit(
        &self,
        request: &http::request::Parts,
    ) -> Result<(), http::Response<tonic::body::Body>> {
        let now = now();
        let headers = &request.headers;
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("DPoP "))
            .ok_or_else(|| self.refuse(RejectionKind::DpopRequired, now))?;
        let proof = headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.refuse(RejectionKind::DpopProofMissing, now))?;
        let verified = self
            .verifier
            .verify(token)
            .map_err(|e| self.refuse(e.kind(), now))?;
        let checked = self
            .checker
            .check(
                proof,
                &request.method,
                request.uri.path(),
                headers,
                Some(token),
                now,
            )
            .map_err(|e| self.refuse(e.kind(), now))?;
        if verified.claims()["cnf"]["jkt"] != checked.jkt() {
            return Err(self.refuse(RejectionKind::DpopKeyMismatch, now));
        }
        self.checker
            .reserve(&checked, now)
            .await
            .map_err(|e| self.refuse(e.kind(), now))?;
        self.admitted.lock().unwrap().push(checked.jti().to_owned());
        Ok(())
    }
}

/// A tower layer putting the gatekeeper in front of the tonic routes.
#[derive(Clone)]
struct Gated<S> {
    inner: S,
    gate: Arc<Gatekeeper>,
}

impl<S, B> Service<http::Request<B>> for Gated<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = Arc::clone(&self.gate);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            match gate.admit(&parts).await {
                Ok(()) => inner.call(http::Request::from_parts(parts, body)).await,
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

async fn serve(gate: Arc<Gatekeeper>, listener: tokio::net::TcpListener) {
    let layer = tower::layer::layer_fn(move |inner| Gated {
        inner,
        gate: Arc::clone(&gate),
    });
    Server::builder()
        .layer(layer)
        .add_service(IdentityServer::new(Svc))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
        .unwrap();
}

async fn dpop_server() -> (SocketAddr, Arc<Gatekeeper>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(Gatekeeper {
        verifier: Verifier::builder(Keys::from(hs256_key("k1")))
            .algorithms([Algorithm::HS256])
            .build()
            .unwrap(),
        checker: DpopChecker::builder(format!("http://{addr}"))
            .mode(DpopMode::Required)
            .require_nonce(NonceSecret::new([5u8; 32]))
            .build()
            .unwrap(),
        admitted: Mutex::default(),
        refused: Mutex::default(),
    });
    tokio::spawn(serve(Arc::clone(&gate), listener));
    (addr, gate)
}

#[tokio::test]
async fn a_tonic_channel_sends_a_fresh_proof_per_call_and_learns_the_nonce() {
    let (addr, gate) = dpop_server().await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let token = mint_hs256(
        "k1",
        &json!({"sub": "billing", "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    );
    let source = ServiceTokenSource::fixed(ServiceToken::new(token)).dpop(key);
    let endpoint = Channel::from_shared(format!("http://{addr}")).unwrap();
    let channel = jwt_tonic::propagate::service_token(source)
        .to_fixed_origin(endpoint.uri())
        .unwrap()
        .layer(endpoint.connect_lazy());
    let mut client = IdentityClient::new(channel);

    // No nonce yet: refused, and the refusal's nonce is remembered.
    let status = client.who_am_i(WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        *gate.refused.lock().unwrap(),
        [RejectionKind::DpopNonceRequired]
    );
    // Then every call passes (the proof names htu http://addr/identity.v1.Identity/…),
    // each with its own proof.
    for _ in 0..3 {
        let reply = client.who_am_i(WhoAmIRequest {}).await.unwrap();
        assert_eq!(reply.into_inner().subject, "ok");
    }
    client.admin(WhoAmIRequest {}).await.unwrap();
    let mut admitted = gate.admitted.lock().unwrap().clone();
    assert_eq!(admitted.len(), 4);
    admitted.sort();
    admitted.dedup();
    assert_eq!(admitted.len(), 4, "a fresh jti per call");
    assert_eq!(gate.refused.lock().unwrap().len(), 1);
}

/// The same client against jwt-tonic's own layer requiring DPoP and server nonces: the
/// refusal's nonce travels in its metadata, and the next calls pass (each proof can be
/// used once: the layer reserves its `jti`).
#[tokio::test]
async fn a_tonic_channel_passes_grpc_auth_layer_in_dpop_required_mode() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let verifier = Verifier::<jwt_tower::RegisteredClaims>::builder(Keys::from(hs256_key("k1")))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let checker = DpopChecker::builder(format!("http://{addr}"))
        .mode(DpopMode::Required)
        .require_nonce(NonceSecret::new([6u8; 32]))
        .build()
        .unwrap();
    let layer = jwt_tonic::GrpcAuthLayer::from_layer(jwt_tower::JwtLayer::from_authenticator(
        jwt_tower::auth::Authenticator::new(verifier).dpop(checker),
    ));
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(IdentityServer::new(Svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let key = DpopKey::generate(Algorithm::Ed25519).unwrap();
    let token = mint_hs256(
        "k1",
        &json!({"sub": "billing", "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    );
    let source = ServiceTokenSource::fixed(ServiceToken::new(token)).dpop(key);
    let endpoint = Channel::from_shared(format!("http://{addr}")).unwrap();
    let mut client = IdentityClient::new(
        jwt_tonic::propagate::service_token(source)
            .to_fixed_origin(endpoint.uri())
            .unwrap()
            .layer(endpoint.connect_lazy()),
    );

    let status = client.who_am_i(WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.metadata().contains_key("dpop-nonce"), "{status:?}");
    for _ in 0..3 {
        let reply = client.who_am_i(WhoAmIRequest {}).await.unwrap();
        assert_eq!(reply.into_inner().subject, "ok");
    }
}
