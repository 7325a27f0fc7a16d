//! The HTTP hops: services written here (axum) in front of `examples/resource_server`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jwt_axum::{Claims, CurrentIdentity};
use jwt_tower::propagate::{PropagateLayer, PropagateService, TokenExchange};
use jwt_tower::{JwtLayer, RegisteredClaims};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

use crate::setup::*;
use crate::support::process::{Running, start};
use crate::support::{http, send, serve};

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
/// that exchanges the caller's token; 502 when that call was not sent.
#[derive(Clone)]
struct Hop {
    next: PropagateService<Reqwest>,
    next_url: String,
}

async fn hop(
    State(hop): State<Hop>,
    Claims(claims): Claims<RegisteredClaims>,
    CurrentIdentity(caller): CurrentIdentity,
) -> (axum::http::StatusCode, Json<Value>) {
    let request = http::Request::get(&hop.next_url)
        .body(String::new())
        .unwrap();
    let mut next = hop.next.clone();
    let (status, next) = match next.ready().await.unwrap().call(request).await {
        Ok(response) => (
            axum::http::StatusCode::OK,
            json!({
                "status": response.status().as_u16(),
                "body": serde_json::from_str::<Value>(response.body()).unwrap_or(Value::Null),
            }),
        ),
        Err(error) => (
            axum::http::StatusCode::BAD_GATEWAY,
            json!({"not_sent": error.to_string()}),
        ),
    };
    let seen = json!({"sub": claims.sub, "aud": claims.aud, "scope": claims.scope, "actors": actors(&caller)});
    (status, Json(json!({"seen": seen, "next": next})))
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
async fn two_exchanges_carry_the_user_and_nest_the_actors() {
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
async fn a_hop_not_allowed_to_the_next_audience_sends_nothing() {
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
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(reply.json()["seen"]["aud"], "svc-a");
    let not_sent = reply.json()["next"]["not_sent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(not_sent.contains("unauthorized_client"), "{not_sent}");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn only_the_allowed_actor_may_act() {
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
