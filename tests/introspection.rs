//! Opaque tokens checked by introspection (RFC 7662), over real sockets: an axum
//! introspection endpoint in the test (counting its requests, switchable), in front of
//! `JwtLayer` on a real axum server, and of `examples/resource_server` as a process.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use jwt_axum::Claims;
use jwt_tower::introspect::Introspector;
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, RejectionKind, Verifier, VerifierBuilder};
use serde_json::{Value, json};
use support::process::{run_to_exit, start};
use support::*;

const CLIENT_ID: &str = "resource server";
const CLIENT_SECRET: &str = "p@ss:word";

/// What the test endpoint answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// RFC 7662 answers: the registered token's claims, else `{"active": false}`.
    Up,
    /// HTTP 500.
    Failing,
    /// 200 with a body that is not an introspection answer.
    Garbage,
}

/// The introspection endpoint: tokens and their claims, its requests counted.
#[derive(Clone)]
struct Endpoint {
    tokens: Arc<Mutex<HashMap<String, Value>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<AtomicUsize>,
    authorization: Arc<Mutex<Option<String>>>,
    delay: Duration,
    url: String,
}

impl Endpoint {
    /// An endpoint that takes `delay` to answer each request.
    async fn start(delay: Duration) -> Self {
        let mut endpoint = Self {
            tokens: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour::Up)),
            requests: Arc::default(),
            authorization: Arc::default(),
            delay,
            url: String::new(),
        };
        let app = Router::new()
            .route("/introspect", post(introspect))
            .with_state(endpoint.clone());
        endpoint.url = format!("http://{}/introspect", serve(app).await);
        endpoint
    }

    /// `token` is active with `claims` (`active` is added).
    fn activate(&self, token: &str, claims: Value) {
        self.tokens.lock().unwrap().insert(token.to_owned(), claims);
    }

    fn deactivate(&self, token: &str) {
        self.tokens.lock().unwrap().remove(token);
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn introspector(&self) -> jwt_tower::introspect::IntrospectorBuilder {
        Introspector::builder(&self.url, CLIENT_ID, CLIENT_SECRET)
    }
}

async fn introspect(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, String) {
    endpoint.requests.fetch_add(1, Ordering::SeqCst);
    *endpoint.authorization.lock().unwrap() = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    tokio::time::sleep(endpoint.delay).await;
    let behaviour = *endpoint.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Failing => return (StatusCode::INTERNAL_SERVER_ERROR, "down".into()),
        Behaviour::Garbage => return (StatusCode::OK, "<html>oops</html>".into()),
        Behaviour::Up => {}
    }
    assert_eq!(
        form.get("token_type_hint").map(String::as_str),
        Some("access_token")
    );
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = match endpoint.tokens.lock().unwrap().get(&token) {
        Some(Value::Object(claims)) => {
            let mut answer = claims.clone();
            answer.insert("active".into(), Value::Bool(true));
            Value::Object(answer)
        }
        _ => json!({"active": false}),
    };
    (StatusCode::OK, answer.to_string())
}

/// Claims an introspection endpoint answers for an access token of `sub`.
fn active(sub: &str) -> Value {
    json!({
        "sub": sub, "scope": "read", "client_id": "web", "token_type": "Bearer",
        "iss": "https://auth.test", "aud": "orders", "iat": now(), "exp": now() + 600,
    })
}

/// `GET /me` (the claims) behind a layer over `verifier`, on a real server.
async fn resource(verifier: Verifier<RegisteredClaims>) -> String {
    let app = Router::new()
        .route(
            "/me",
            get(|Claims(claims): Claims<RegisteredClaims>| async move { Json(claims) }),
        )
        .layer(JwtLayer::new(verifier));
    format!("http://{}/me", serve(app).await)
}

async fn get_me(url: &str, token: &str) -> Reply {
    send(http().get(url).bearer_auth(token)).await
}

/// A verifier for the claims of [`active`], introspecting every token.
fn alone(
    introspector: jwt_tower::introspect::IntrospectorBuilder,
) -> VerifierBuilder<RegisteredClaims> {
    Verifier::<RegisteredClaims>::introspecting(introspector.build().unwrap())
        .issuer("https://auth.test")
        .audience("orders")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_one_token_costs_one_introspection_per_cache_period() {
    let endpoint = Endpoint::start(Duration::from_millis(200)).await;
    endpoint.activate("opaque-alice", active("alice"));
    let verifier = alone(endpoint.introspector().cache_ttl(Duration::from_secs(2)))
        .build()
        .unwrap();
    let url = resource(verifier.clone()).await;

    let flood = |n: usize| {
        let url = url.clone();
        async move {
            let replies = futures_join_all((0..n).map(|_| {
                let url = url.clone();
                tokio::spawn(async move { get_me(&url, "opaque-alice").await })
            }))
            .await;
            for reply in replies {
                assert_eq!(reply.status, 200, "{}", reply.body);
                assert_eq!(reply.json()["sub"], "alice");
            }
        }
    };
    flood(300).await;
    assert_eq!(
        endpoint.requests(),
        1,
        "one introspection for the whole flood"
    );
    flood(100).await;
    assert_eq!(endpoint.requests(), 1, "served from the cache");
    let metrics = verifier.metrics();
    assert_eq!(metrics.introspections, 1);
    assert_eq!(metrics.introspection_hits, 400);
    assert_eq!(metrics.introspection_failures, 0);

    // The period over, the next flood costs one more.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    flood(200).await;
    assert_eq!(endpoint.requests(), 2);
}

/// Awaits every task, in order.
async fn futures_join_all<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inactive_token_is_401_and_cached_negatively() {
    let endpoint = Endpoint::start(Duration::from_millis(50)).await;
    let verifier = alone(endpoint.introspector().negative_ttl(Duration::from_secs(1)))
        .build()
        .unwrap();
    let url = resource(verifier.clone()).await;

    let replies = futures_join_all((0..50).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { get_me(&url, "opaque-unknown").await })
    }))
    .await;
    for reply in replies {
        assert_eq!(reply.status, 401);
        let challenge = reply.challenge.unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(challenge.contains("the token is not active"), "{challenge}");
    }
    assert_eq!(endpoint.requests(), 1);
    assert!(verifier.metrics().rejected(RejectionKind::InactiveToken) >= 50);

    // Active now, but the negative answer holds for its period.
    endpoint.activate("opaque-unknown", active("bob"));
    assert_eq!(get_me(&url, "opaque-unknown").await.status, 401);
    assert_eq!(endpoint.requests(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = get_me(&url, "opaque-unknown").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sub"], "bob");
    assert_eq!(endpoint.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_endpoint_down_serves_cached_tokens_and_refuses_new_ones() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-alice", active("alice"));
    endpoint.activate("opaque-bob", active("bob"));
    endpoint.activate("opaque-carol", active("carol"));
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let url = resource(verifier.clone()).await;
    assert_eq!(get_me(&url, "opaque-alice").await.status, 200);
    assert_eq!(endpoint.requests(), 1);

    endpoint.set(Behaviour::Failing);
    assert_eq!(get_me(&url, "opaque-alice").await.status, 200, "cached");
    let refused = get_me(&url, "opaque-bob").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.retry_after.as_deref(), Some("5"));
    assert!(refused.challenge.is_none());
    assert_eq!(refused.json()["error"], "introspection_unavailable");
    assert_eq!(endpoint.requests(), 2);
    // The failure is remembered for a moment: a burst of the same token sends nothing.
    for _ in 0..20 {
        assert_eq!(get_me(&url, "opaque-bob").await.status, 503);
    }
    assert_eq!(endpoint.requests(), 2);

    // An answer that is not RFC 7662's is a failure too.
    endpoint.set(Behaviour::Garbage);
    assert_eq!(get_me(&url, "opaque-carol").await.status, 503);
    assert_eq!(get_me(&url, "opaque-alice").await.status, 200, "cached");
    let metrics = verifier.metrics();
    assert_eq!(metrics.introspection_failures, 2);
    assert!(metrics.rejected(RejectionKind::IntrospectionUnavailable) >= 22);

    // Back up: once the failure lapses, the token is introspected again.
    endpoint.set(Behaviour::Up);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = get_me(&url, "opaque-bob").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sub"], "bob");

    // Nothing listening at all: 503 as well.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nowhere = Introspector::builder(format!("http://{closed}/introspect"), "id", "secret")
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let url = resource(
        Verifier::<RegisteredClaims>::introspecting(nowhere)
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(get_me(&url, "opaque-alice").await.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspections_in_flight_are_bounded() {
    let endpoint = Endpoint::start(Duration::from_millis(500)).await;
    let tokens: Vec<String> = (0..5).map(|i| format!("opaque-{i}")).collect();
    for token in &tokens {
        endpoint.activate(token, active("alice"));
    }
    let verifier = alone(endpoint.introspector().max_in_flight(2))
        .build()
        .unwrap();
    let url = resource(verifier).await;
    let replies = futures_join_all(tokens.iter().map(|token| {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move { get_me(&url, &token).await.status })
    }))
    .await;
    let count = |status| replies.iter().filter(|s| **s == status).count();
    assert_eq!((count(200), count(503)), (2, 3), "{replies:?}");
    assert_eq!(endpoint.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exp_bounds_the_cache() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let mut claims = active("alice");
    claims["exp"] = json!(now() + 2);
    endpoint.activate("opaque-short", claims);
    let verifier = alone(endpoint.introspector().cache_ttl(Duration::from_secs(60)))
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let url = resource(verifier).await;
    assert_eq!(get_me(&url, "opaque-short").await.status, 200);
    assert_eq!(get_me(&url, "opaque-short").await.status, 200);
    assert_eq!(endpoint.requests(), 1);

    // Past `exp` the entry is gone, though the TTL is a minute: the token is asked about
    // again, and an endpoint still calling it active is not believed past its `exp`.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let reply = get_me(&url, "opaque-short").await;
    assert_eq!(reply.status, 401);
    assert!(reply.challenge.unwrap().contains("expired"));
    assert_eq!(endpoint.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_audience_and_token_type_apply_to_introspected_claims() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-ok", active("alice"));
    let mut other_audience = active("alice");
    other_audience["aud"] = json!(["billing", "shop"]);
    endpoint.activate("opaque-aud", other_audience);
    let mut other_issuer = active("alice");
    other_issuer["iss"] = json!("https://evil.test");
    endpoint.activate("opaque-iss", other_issuer);
    let mut refresh = active("alice");
    refresh["token_type"] = json!("refresh_token");
    endpoint.activate("opaque-refresh", refresh);
    let mut no_exp = active("alice");
    no_exp.as_object_mut().unwrap().remove("exp");
    endpoint.activate("opaque-no-exp", no_exp);
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let url = resource(verifier.clone()).await;

    assert_eq!(get_me(&url, "opaque-ok").await.status, 200);
    for (token, why) in [
        ("opaque-aud", "audience"),
        ("opaque-iss", "issuer"),
        ("opaque-no-exp", "`exp`"),
        ("opaque-refresh", "not an access token"),
    ] {
        let reply = get_me(&url, token).await;
        assert_eq!(reply.status, 401, "{token}");
        let challenge = reply.challenge.unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(challenge.contains(why), "{token}: {challenge}");
    }
    // Refusals are cached like inactive answers: asked once each.
    assert_eq!(get_me(&url, "opaque-aud").await.status, 401);
    assert_eq!(endpoint.requests(), 5);
    let metrics = verifier.metrics();
    assert_eq!(metrics.rejected(RejectionKind::InvalidAudience), 2);
    assert_eq!(metrics.rejected(RejectionKind::InvalidIssuer), 1);
    assert_eq!(metrics.rejected(RejectionKind::MissingClaim), 1);
    assert_eq!(metrics.rejected(RejectionKind::InvalidType), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_and_opaque_tokens_side_by_side() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-alice", active("alice"));
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .issuer("https://auth.test")
        .audience("orders")
        .introspection(endpoint.introspector().build().unwrap())
        .build()
        .unwrap();
    let url = resource(verifier).await;

    let jwt = mint_hs256("k1", &active("bob"));
    let reply = get_me(&url, &jwt).await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("bob"))
    );
    assert_eq!(endpoint.requests(), 0, "a JWT is checked by its signature");
    // Bob's claims under the signature of Carol's token.
    let carol = mint_hs256("k1", &active("carol"));
    let forged = format!(
        "{}.{}",
        &jwt[..jwt.rfind('.').unwrap()],
        &carol[carol.rfind('.').unwrap() + 1..]
    );
    let reply = get_me(&url, &forged).await;
    assert_eq!(reply.status, 401);
    assert!(reply.challenge.unwrap().contains("signature"));
    assert_eq!(endpoint.requests(), 0);

    let reply = get_me(&url, "opaque-alice").await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("alice"))
    );
    assert_eq!(endpoint.requests(), 1);
    // Not JWT-shaped (one dot): introspected, and unknown to the endpoint.
    assert_eq!(get_me(&url, "opaque.alice").await.status, 401);
    assert_eq!(endpoint.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_opaque_token_as_bearer_is_refused() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let mut bound = active("alice");
    bound["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
    endpoint.activate("opaque-bound", bound);
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let url = resource(verifier.clone()).await;
    let reply = get_me(&url, "opaque-bound").await;
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .challenge
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(
        verifier
            .metrics()
            .rejected(RejectionKind::DpopBoundTokenAsBearer),
        1
    );
    assert_eq!(endpoint.requests(), 1);
}

/// With its proof, the same kind of token passes (`Authorization: DPoP`): the `cnf.jkt`
/// the endpoint answered is checked against the proof's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_opaque_token_passes_with_its_proof() {
    use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode};
    let endpoint = Endpoint::start(Duration::from_millis(50)).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let other = DpopKey::generate(Algorithm::ES256).unwrap();
    let mut bound = active("alice");
    bound["cnf"] = json!({"jkt": key.thumbprint()});
    endpoint.activate("opaque-bound", bound);
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let public = "https://api.example.com";
    let checker = DpopChecker::builder(public)
        .mode(DpopMode::Allowed)
        .replay_store(std::sync::Arc::new(jwt_tower::store::MemoryStore::new()))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Claims(claims): Claims<RegisteredClaims>| async move { Json(claims) }),
        )
        .layer(JwtLayer::from_authenticator(
            jwt_tower::Authenticator::new(verifier.clone()).dpop(checker),
        ));
    let url = format!("http://{}/me", serve(app).await);
    let dpop_get = |key: &DpopKey| {
        let proof = key
            .proof("GET", &format!("{public}/me"), Some("opaque-bound"), None)
            .unwrap();
        send(
            http()
                .get(&url)
                .header("authorization", "DPoP opaque-bound")
                .header("dpop", proof),
        )
    };
    let reply = dpop_get(&key).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
    assert_eq!(dpop_get(&other).await.status, 401, "another key's proof");
    assert_eq!(get_me(&url, "opaque-bound").await.status, 401, "as Bearer");
    let metrics = verifier.metrics();
    assert_eq!(metrics.rejected(RejectionKind::DpopKeyMismatch), 1);
    assert_eq!(metrics.rejected(RejectionKind::DpopBoundTokenAsBearer), 1);
    assert_eq!(endpoint.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_credentials_go_as_basic() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-alice", active("alice"));
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let url = resource(verifier).await;
    assert_eq!(get_me(&url, "opaque-alice").await.status, 200);
    let authorization = endpoint.authorization.lock().unwrap().clone().unwrap();
    let encoded = authorization.strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    // RFC 6749 §2.3.1: each form-encoded, then joined by a colon.
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "resource+server:p%40ss%3Aword"
    );
}

/// A standalone verifier (no layer) waits for the introspection itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_waiting_introspects_once() {
    let endpoint = Endpoint::start(Duration::from_millis(100)).await;
    endpoint.activate("opaque-alice", active("alice"));
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let err = verifier.verify("opaque-alice").unwrap_err();
    assert_eq!(err.kind(), RejectionKind::IntrospectionUnavailable);
    let verified = verifier.verify_waiting("opaque-alice").await.unwrap();
    assert_eq!(verified.subject(), Some("alice"));
    assert!(verified.header().is_none());
    assert!(verified.identity().has_scope("read"));
    assert_eq!(
        verifier.verify("opaque-alice").unwrap().subject(),
        Some("alice")
    );
    assert_eq!(endpoint.requests(), 1);
}

// `examples/resource_server` with the `JWT_INTROSPECTION_*` variables.

fn env(endpoint: &Endpoint, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("JWT_INTROSPECTION_URL", endpoint.url.clone()),
        ("JWT_INTROSPECTION_CLIENT_ID", CLIENT_ID.to_owned()),
        ("JWT_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_server_introspects_alone() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-alice", active("alice"));
    endpoint.activate("opaque-admin", {
        let mut claims = active("root");
        claims["scope"] = json!("read admin");
        claims
    });
    let server = start(
        "resource_server",
        &env(
            &endpoint,
            &[
                ("JWT_ISSUER", "https://auth.test"),
                ("JWT_AUDIENCE", "orders"),
                ("JWT_INTROSPECTION_CACHE_SECONDS", "1"),
            ],
        ),
    )
    .await;
    let base = server.base();
    let reply = get_me(&format!("{base}/me"), "opaque-alice").await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("alice"))
    );
    let admin = |token: &'static str| {
        let url = format!("{base}/admin");
        async move { send(http().get(url).bearer_auth(token)).await.status }
    };
    assert_eq!(admin("opaque-alice").await, 403);
    assert_eq!(admin("opaque-admin").await, 200);
    assert_eq!(
        get_me(&format!("{base}/me"), "opaque-nobody").await.status,
        401
    );
    assert_eq!(endpoint.requests(), 3);

    // Revoked at the authorization server: accepted until the entry lapses.
    endpoint.deactivate("opaque-alice");
    assert_eq!(
        get_me(&format!("{base}/me"), "opaque-alice").await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get_me(&format!("{base}/me"), "opaque-alice").await.status,
        401
    );

    // A JWT is introspected too when there are no keys: unknown to this endpoint.
    let jwt = mint_hs256("k1", &active("bob"));
    assert_eq!(get_me(&format!("{base}/me"), &jwt).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_server_takes_both_kinds() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    endpoint.activate("opaque-alice", active("alice"));
    let secret = std::str::from_utf8(SECRET).unwrap();
    let server = start(
        "resource_server",
        &env(
            &endpoint,
            &[
                ("JWT_HS256_SECRET", secret),
                ("JWT_ALGORITHMS", "HS256"),
                ("JWT_ISSUER", "https://auth.test"),
                ("JWT_AUDIENCE", "orders"),
            ],
        ),
    )
    .await;
    let me = format!("{}/me", server.base());
    let reply = get_me(&me, "opaque-alice").await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("alice"))
    );
    let reply = get_me(&me, &mint_hs256("k1", &active("bob"))).await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("bob"))
    );
    assert_eq!(endpoint.requests(), 1);
    // `JWT_AUDIENCE` applies to introspected claims.
    let mut billing = active("carol");
    billing["aud"] = json!("billing");
    endpoint.activate("opaque-billing", billing);
    assert_eq!(get_me(&me, "opaque-billing").await.status, 401);
}

#[test]
fn resource_server_refuses_an_incomplete_introspection_setup() {
    for (missing, keep) in [
        (
            "JWT_INTROSPECTION_CLIENT_ID",
            "JWT_INTROSPECTION_CLIENT_SECRET",
        ),
        (
            "JWT_INTROSPECTION_CLIENT_SECRET",
            "JWT_INTROSPECTION_CLIENT_ID",
        ),
    ] {
        let output = run_to_exit(
            "resource_server",
            &[
                (
                    "JWT_INTROSPECTION_URL",
                    "http://127.0.0.1:9/introspect".into(),
                ),
                (keep, "value".into()),
            ],
        );
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(missing), "{missing}: {stderr}");
    }
    let output = run_to_exit(
        "resource_server",
        &[
            (
                "JWT_INTROSPECTION_URL",
                "http://127.0.0.1:9/introspect".into(),
            ),
            ("JWT_INTROSPECTION_CLIENT_ID", "id".into()),
            ("JWT_INTROSPECTION_CLIENT_SECRET", "secret".into()),
            ("JWT_INTROSPECTION_CACHE_SECONDS", "soon".into()),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JWT_INTROSPECTION_CACHE_SECONDS"),
        "{stderr}"
    );
}

// End to end: `examples/auth_server` issuing opaque access tokens, and
// `examples/resource_server` introspecting them at its `/introspect`.

const RS_SECRET: &str = "rs-secret-0123456789abcdefghijklm";

/// A clients file with one confidential client, `rs`, the resource server's.
fn clients_file() -> String {
    let path =
        std::env::temp_dir().join(format!("introspection-clients-{}.json", std::process::id()));
    let clients = json!([
        {"client_id": "rs", "client_secret": RS_SECRET, "grant_types": ["client_credentials"]},
    ]);
    std::fs::write(&path, clients.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_servers_opaque_tokens_through_resource_server() {
    let auth = start(
        "auth_server",
        &[
            ("ACCESS_TOKEN_FORMAT", "opaque".into()),
            (
                "DEMO_USERS",
                "alice:alice-password:orders.read profile".into(),
            ),
            ("JWT_AUDIENCE", "api".into()),
            ("OAUTH_CLIENTS_FILE", clients_file()),
            ("REFRESH_COOKIE", "off".into()),
        ],
    )
    .await;
    let auth_base = auth.base();
    let login = send(
        http()
            .post(format!("{auth_base}/login"))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    let tokens = login.json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(!access.contains('.'), "an opaque token: {access}");

    let server = start(
        "resource_server",
        &[
            ("JWT_INTROSPECTION_URL", format!("{auth_base}/introspect")),
            ("JWT_INTROSPECTION_CLIENT_ID", "rs".into()),
            ("JWT_INTROSPECTION_CLIENT_SECRET", RS_SECRET.into()),
            ("JWT_INTROSPECTION_CACHE_SECONDS", "1".into()),
            ("JWT_AUDIENCE", "api".into()),
        ],
    )
    .await;
    let me = format!("{}/me", server.base());
    let reply = get_me(&me, &access).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
    // The refresh token is no access token: issued to no client, it is not active to the
    // resource server's client either.
    let reply = get_me(&me, &refresh).await;
    assert_eq!(reply.status, 401);
    assert!(reply.challenge.unwrap().contains("the token is not active"));

    // Revoked (RFC 7009, by the resource server's client: the token was issued to no
    // client): accepted until the cache entry lapses, then refused.
    let revoked = send(
        http()
            .post(format!("{auth_base}/revoke"))
            .basic_auth("rs", Some(RS_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={access}&token_type_hint=access_token")),
    )
    .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(get_me(&me, &access).await.status, 200, "cached");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = get_me(&me, &access).await;
    assert_eq!(reply.status, 401);
    assert!(reply.challenge.unwrap().contains("the token is not active"));
}

// The other ways in: axum's state extractor and tonic's layer and interceptor, each
// waiting for (or starting) the introspection as the layer does.

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

#[derive(Clone, axum::extract::FromRef)]
struct AppState {
    verifier: Verifier<RegisteredClaims>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_extractor_waits_for_the_introspection() {
    let endpoint = Endpoint::start(Duration::from_millis(100)).await;
    endpoint.activate("opaque-alice", active("alice"));
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(
                |jwt_axum::StateClaims(claims): jwt_axum::StateClaims<RegisteredClaims>| async move {
                    claims.sub.unwrap_or_default()
                },
            ),
        )
        .with_state(AppState { verifier });
    let url = format!("http://{}/me", serve(app).await);
    let reply = get_me(&url, "opaque-alice").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "alice"));
    assert_eq!(get_me(&url, "opaque-nobody").await.status, 401);
    assert_eq!(endpoint.requests(), 2);
}

#[derive(Clone, Default)]
struct Svc;

#[tonic::async_trait]
impl identity_proto::identity_server::Identity for Svc {
    async fn who_am_i(
        &self,
        request: tonic::Request<identity_proto::WhoAmIRequest>,
    ) -> Result<tonic::Response<identity_proto::WhoAmIResponse>, tonic::Status> {
        let id = jwt_tonic::identity(&request).expect("an identity");
        Ok(tonic::Response::new(identity_proto::WhoAmIResponse {
            subject: id.subject().unwrap_or_default().into(),
            ..Default::default()
        }))
    }
    async fn admin(
        &self,
        request: tonic::Request<identity_proto::WhoAmIRequest>,
    ) -> Result<tonic::Response<identity_proto::WhoAmIResponse>, tonic::Status> {
        self.who_am_i(request).await
    }
    async fn relay(
        &self,
        request: tonic::Request<identity_proto::WhoAmIRequest>,
    ) -> Result<tonic::Response<identity_proto::WhoAmIResponse>, tonic::Status> {
        self.who_am_i(request).await
    }
}

type Client = identity_proto::identity_client::IdentityClient<tonic::transport::Channel>;

/// The identity service behind `layer` (the layer, or an interceptor when `None`) on a
/// loopback port, and a client for it.
async fn grpc(
    layer: Option<jwt_tonic::GrpcAuthLayer<RegisteredClaims>>,
    verifier: Verifier<RegisteredClaims>,
) -> Client {
    use identity_proto::identity_server::IdentityServer;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    match layer {
        Some(layer) => tokio::spawn(
            tonic::transport::Server::builder()
                .layer(layer)
                .add_service(IdentityServer::new(Svc))
                .serve_with_incoming(incoming),
        ),
        None => tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(IdentityServer::with_interceptor(
                    Svc,
                    jwt_tonic::JwtInterceptor::new(verifier),
                ))
                .serve_with_incoming(incoming),
        ),
    };
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Client::new(channel)
}

fn call(token: &str) -> tonic::Request<identity_proto::WhoAmIRequest> {
    let mut request = tonic::Request::new(identity_proto::WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_waits_for_the_introspection_and_answers_in_grpc_statuses() {
    let endpoint = Endpoint::start(Duration::from_millis(100)).await;
    endpoint.activate("opaque-alice", active("alice"));
    endpoint.activate("opaque-bob", active("bob"));
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let mut client = grpc(
        Some(jwt_tonic::GrpcAuthLayer::new(verifier.clone())),
        verifier,
    )
    .await;
    let reply = client.who_am_i(call("opaque-alice")).await.unwrap();
    assert_eq!(reply.into_inner().subject, "alice");
    let inactive = client.who_am_i(call("opaque-nobody")).await.unwrap_err();
    assert_eq!(inactive.code(), tonic::Code::Unauthenticated);
    assert_eq!(inactive.message(), "the token is not active");
    endpoint.set(Behaviour::Failing);
    let unavailable = client.who_am_i(call("opaque-bob")).await.unwrap_err();
    assert_eq!(unavailable.code(), tonic::Code::Unavailable);
    assert_eq!(
        client
            .who_am_i(call("opaque-alice"))
            .await
            .unwrap()
            .into_inner()
            .subject,
        "alice"
    );

    // The synchronous interceptor cannot wait: it starts the introspection, refuses the
    // call (UNAVAILABLE), and the calls after the answer has landed pass.
    endpoint.set(Behaviour::Up);
    let verifier = alone(endpoint.introspector()).build().unwrap();
    let mut client = grpc(None, verifier).await;
    let first = client.who_am_i(call("opaque-alice")).await.unwrap_err();
    assert_eq!(first.code(), tonic::Code::Unavailable);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = client.who_am_i(call("opaque-alice")).await.unwrap();
    assert_eq!(reply.into_inner().subject, "alice");
}
