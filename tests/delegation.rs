//! Delegation end to end, over real sockets, with `examples/auth_server` exchanging the
//! tokens (RFC 8693): a user's token goes two hops down, each hop's token exchanged by
//! the hop before it for the next one's audience, `sub` kept, scope narrowed where asked,
//! and the `act` chain nested (the current actor outermost).
//!
//! - HTTP: services written here (axum, `JwtLayer`, `PropagateLayer::exchange` over
//!   reqwest) in front of `examples/resource_server`, whose `/me` shows the chain.
//! - gRPC: `examples/gateway` → `examples/grpc_service` → `examples/grpc_service`, each
//!   with `EXCHANGE_*`, and a tonic client of our own exchanging through jwt-tonic.
//! - A hop whose client may not reach the next audience is refused by the token endpoint:
//!   502 (or `UNAVAILABLE`) there, and nothing reaches the next service.
//! - The actor policies (`allow_actors`, `require_actor`, `max_actor_depth`): 403
//!   `insufficient_scope` over HTTP, `PERMISSION_DENIED` over gRPC.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_axum::{Claims, CurrentIdentity};
use jwt_tower::propagate::{self, PropagateLayer, PropagateService, TokenExchange};
use jwt_tower::{Algorithm, JwtLayer, KeySet, Policy, RegisteredClaims, Verifier};
use serde_json::{Value, json};
use support::process::{Running, start, start_listening};
use support::*;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};
use tower::{Layer, Service, ServiceExt};

const USERS: &str = "alice:alice-password:orders.read orders.write profile";
const GATEWAY_SECRET: &str = "gateway-secret-0123456789abcdefghij";
const SVC_A_SECRET: &str = "svc-a-secret-0123456789abcdefghijkl";
const NO_B_SECRET: &str = "no-b-secret-0123456789abcdefghijklmn";

/// The clients file: the gateway may exchange for service A, service A for service B,
/// and `no-b` for service A only.
fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let clients = json!([
            {"client_id": "gateway", "client_secret": GATEWAY_SECRET,
             "exchange_audiences": ["svc-a"]},
            {"client_id": "svc-a", "client_secret": SVC_A_SECRET,
             "exchange_audiences": ["svc-b"]},
            {"client_id": "no-b", "client_secret": NO_B_SECRET,
             "exchange_audiences": ["svc-a"]},
        ]);
        let path =
            std::env::temp_dir().join(format!("delegation-clients-{}.json", std::process::id()));
        std::fs::write(&path, clients.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    });
    PATH.clone()
}

/// The authorization server: users' tokens are for the gateway (`aud` `gateway`), and it
/// serves `svc-a` and `svc-b` too.
async fn auth_server() -> Running {
    start(
        "auth_server",
        &[
            ("DEMO_USERS", USERS.to_owned()),
            ("JWT_AUDIENCE", "gateway".to_owned()),
            ("OAUTH_RESOURCES", "gateway,svc-a,svc-b".to_owned()),
            ("OAUTH_CLIENTS_FILE", clients_file()),
            ("REFRESH_COOKIE", "off".to_owned()),
            ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
            ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
        ],
    )
    .await
}

/// Alice's access token from `/login`: `aud` `gateway`, no `act`.
async fn alice(auth: &Running) -> String {
    let reply = send(
        http()
            .post(format!("{}/login", auth.base()))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// The `JWT_*` variables of an example verifying `auth`'s tokens for `audience`.
fn jwt_env(auth: &Running, audience: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "JWT_JWKS_URL",
            format!("{}/.well-known/jwks.json", auth.base()),
        ),
        ("JWT_ALGORITHMS", "ES256".to_owned()),
        ("JWT_ISSUER", auth.base()),
        ("JWT_AUDIENCE", audience.to_owned()),
    ]
}

/// The `EXCHANGE_*` variables: exchange as `client` for `audience`.
fn exchange_env(
    auth: &Running,
    client: &str,
    secret: &str,
    audience: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("EXCHANGE_TOKEN_URL", format!("{}/token", auth.base())),
        ("EXCHANGE_CLIENT_ID", client.to_owned()),
        ("EXCHANGE_CLIENT_SECRET", secret.to_owned()),
        ("EXCHANGE_AUDIENCE", audience.to_owned()),
    ]
}

/// A verifier of `auth`'s tokens for `audience`, as a service written here holds it.
async fn verifier(auth: &Running, audience: &str) -> Verifier<RegisteredClaims> {
    let jwks = send(http().get(format!("{}/.well-known/jwks.json", auth.base()))).await;
    Verifier::builder(KeySet::from_jwks_str(&jwks.body).unwrap())
        .algorithms([Algorithm::ES256])
        .issuer(auth.base())
        .audience(audience)
        .build()
        .unwrap()
}

/// The `sub`s of a token's `act` chain, current actor first.
fn actors(identity: &jwt_tower::Identity) -> Vec<String> {
    identity
        .actor()
        .into_iter()
        .flat_map(|a| a.chain())
        .map(|a| a.sub().to_owned())
        .collect()
}

// ---------------------------------------------------------------- HTTP

/// reqwest as a tower `http` client service: the status and body text.
#[derive(Clone)]
struct Reqwest(reqwest::Client);

impl Service<http::Request<String>> for Reqwest {
    type Response = http::Response<String>;
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, reqwest::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<String>) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move {
            let response = client.execute(reqwest::Request::try_from(request)?).await?;
            let status = response.status();
            let body = response.text().await?;
            Ok(http::Response::builder().status(status).body(body).unwrap())
        })
    }
}

/// A hop written here: what it saw, and what the next hop answered through a client
/// that exchanges the caller's token.
#[derive(Clone)]
struct Hop {
    next: PropagateService<Reqwest>,
    next_url: String,
}

async fn hop(
    State(hop): State<Hop>,
    Claims(claims): Claims<RegisteredClaims>,
    CurrentIdentity(caller): CurrentIdentity,
) -> Json<Value> {
    let request = http::Request::get(&hop.next_url)
        .body(String::new())
        .unwrap();
    let mut next = hop.next.clone();
    let next = match next.ready().await.unwrap().call(request).await {
        Ok(response) => json!({
            "status": response.status().as_u16(),
            "body": serde_json::from_str::<Value>(response.body()).unwrap_or(Value::Null),
        }),
        Err(error) => json!({"not_sent": error.to_string()}),
    };
    Json(json!({
        "seen": {"sub": claims.sub, "aud": claims.aud, "scope": claims.scope, "actors": actors(&caller)},
        "next": next,
    }))
}

/// Serves a hop verifying tokens for `audience` (under `layer`'s policy), exchanging as
/// `client` for `next_audience` to call `next_url`.
async fn serve_hop(
    auth: &Running,
    layer: JwtLayer<RegisteredClaims>,
    (client, secret): (&str, &str),
    (next_audience, scope): (&str, Option<&str>),
    next_url: &str,
) -> String {
    let mut exchange = TokenExchange::new(format!("{}/token", auth.base()), client, secret)
        .audience(next_audience);
    if let Some(scope) = scope {
        exchange = exchange.scope(scope);
    }
    let next_origin = reqwest::Url::parse(next_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let next = PropagateLayer::exchange(exchange)
        .unwrap()
        .to([next_origin.as_str()])
        .unwrap()
        .layer(Reqwest(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        ));
    let app = Router::new()
        .route("/hop", get(hop))
        .with_state(Hop {
            next,
            next_url: next_url.to_owned(),
        })
        .layer(layer);
    format!("http://{}/hop", serve(app).await)
}

#[tokio::test]
async fn http_two_exchanges_carry_the_user_and_nest_the_actors() {
    let auth = auth_server().await;
    let b = start("resource_server", &jwt_env(&auth, "svc-b")).await;
    // Service A: only the gateway may act for users here.
    let a_layer = JwtLayer::new(verifier(&auth, "svc-a").await)
        .require_actor()
        .allow_actors(["gateway"]);
    let a = serve_hop(
        &auth,
        a_layer,
        ("svc-a", SVC_A_SECRET),
        ("svc-b", Some("orders.read")),
        &format!("{}/me", b.base()),
    )
    .await;
    let front_layer = JwtLayer::new(verifier(&auth, "gateway").await);
    let front = serve_hop(
        &auth,
        front_layer,
        ("gateway", GATEWAY_SECRET),
        ("svc-a", None),
        &a,
    )
    .await;

    let token = alice(&auth).await;
    let reply = send(http().get(&front).bearer_auth(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    // The gateway: the user's own token.
    assert_eq!(
        body["seen"],
        json!({"sub": "alice", "aud": "gateway", "scope": "orders.read orders.write profile", "actors": []})
    );
    // Service A: for its audience, the gateway acting.
    let at_a = &body["next"]["body"];
    assert_eq!(body["next"]["status"], 200, "{body}");
    assert_eq!(
        at_a["seen"],
        json!({"sub": "alice", "aud": "svc-a", "scope": "orders.read orders.write profile", "actors": ["gateway"]})
    );
    // Service B (resource_server's /me): its audience, the scope A asked for, and the
    // chain nested with A's client outermost.
    assert_eq!(at_a["next"]["status"], 200, "{at_a}");
    let at_b = &at_a["next"]["body"];
    assert_eq!(at_b["sub"], "alice");
    assert_eq!(at_b["aud"], "svc-b");
    assert_eq!(at_b["scope"], "orders.read");
    assert_eq!(
        at_b["act"],
        json!({"sub": "svc-a", "act": {"sub": "gateway"}})
    );

    // Each hop accepts only its own audience: the user's token straight to B is refused.
    let direct = send(http().get(format!("{}/me", b.base())).bearer_auth(&token)).await;
    assert_eq!(direct.status, 401);
}

#[tokio::test]
async fn http_a_hop_not_allowed_to_the_next_audience_sends_nothing() {
    let auth = auth_server().await;
    // B written here, counting what reaches it.
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reached);
    let b = serve(Router::new().route(
        "/me",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "reached" }
        }),
    ))
    .await;
    // A exchanges as `no-b`, which may not reach svc-b.
    let a = serve_hop(
        &auth,
        JwtLayer::new(verifier(&auth, "svc-a").await),
        ("no-b", NO_B_SECRET),
        ("svc-b", None),
        &format!("http://{b}/me"),
    )
    .await;
    let token = exchanged(
        &auth,
        &alice(&auth).await,
        ("gateway", GATEWAY_SECRET),
        "svc-a",
    )
    .await;
    let reply = send(http().get(&a).bearer_auth(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let not_sent = reply.json()["next"]["not_sent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(not_sent.contains("unauthorized_client"), "{not_sent}");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

/// `pairs` form-urlencoded.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// `subject` exchanged at `auth` by `client` for `audience`.
async fn exchanged(auth: &Running, subject: &str, client: (&str, &str), audience: &str) -> String {
    let reply = send(
        http()
            .post(format!("{}/token", auth.base()))
            .basic_auth(client.0, Some(client.1))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", subject),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("audience", audience),
            ])),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn http_only_the_allowed_actor_may_act() {
    let auth = auth_server().await;
    let layer = JwtLayer::new(verifier(&auth, "svc-a").await)
        .require_actor()
        .allow_actors(["gateway"]);
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer);
    let url = format!("http://{}/", serve(app).await);
    let user = alice(&auth).await;
    let by_gateway = exchanged(&auth, &user, ("gateway", GATEWAY_SECRET), "svc-a").await;
    let by_other = exchanged(&auth, &user, ("no-b", NO_B_SECRET), "svc-a").await;

    assert_eq!(
        send(http().get(&url).bearer_auth(&by_gateway)).await.status,
        200
    );
    let reply = send(http().get(&url).bearer_auth(&by_other)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        !challenge.contains(" scope="),
        "no scope to name: {challenge}"
    );
    assert_eq!(
        reply.json(),
        json!({"error": "insufficient_scope", "error_description": "the token's actor may not act for its subject here"})
    );
    // The user's own token is not for this audience at all: 401, not 403.
    assert_eq!(send(http().get(&url).bearer_auth(&user)).await.status, 401);
}

// ---------------------------------------------------------------- gRPC

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
async fn grpc_the_gateway_and_grpc_service_exchange_at_each_hop() {
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
async fn grpc_a_refused_exchange_is_502_and_sends_nothing() {
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
async fn grpc_actor_policies_are_permission_denied() {
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
