//! The client-side PropagateLayer over real sockets: a gateway (axum behind a JwtLayer)
//! calls downstream HTTP servers through a reqwest client wrapped as a tower service. The
//! caller's token reaches the destinations the layer is bound to and no other, and a
//! call made outside the caller's scope sends the service's own token only when chosen.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use jwt_tower::propagate::{PropagateError, PropagateLayer, ServiceToken, ServiceTokenSource};
use jwt_tower::{Algorithm, JwtLayer, Keys, RegisteredClaims, Verifier};
use support::*;
use tower::{Layer, Service, ServiceExt};

/// What a downstream server received: one `authorization` (or none) per request.
type Received = Arc<Mutex<Vec<Option<String>>>>;

/// A downstream HTTP server recording the `authorization` of every request it receives.
async fn downstream() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = Router::new()
        .fallback(
            |State(received): State<Received>, headers: HeaderMap| async move {
                let authorization = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                received.lock().unwrap().push(authorization);
                "ok"
            },
        )
        .with_state(received.clone());
    (serve(app).await, received)
}

fn received(received: &Received) -> Vec<Option<String>> {
    received.lock().unwrap().clone()
}

/// reqwest as a tower `http` client service, as an application would wrap it. Redirects
/// are not followed, so that what a server receives is what the layer let through.
#[derive(Clone)]
struct Reqwest(reqwest::Client);

impl Service<http::Request<String>> for Reqwest {
    type Response = StatusCode;
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<StatusCode, reqwest::Error>> + Send>,
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
            let request = reqwest::Request::try_from(request)?;
            Ok(client.execute(request).await?.status())
        })
    }
}

fn reqwest_client() -> Reqwest {
    Reqwest(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    )
}

type Client = jwt_tower::propagate::PropagateService<Reqwest>;

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(Keys::from(hs256_key("k1")))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

#[derive(serde::Deserialize)]
struct Target {
    url: String,
    #[serde(default)]
    spawned: bool,
}

/// The outcome of one outgoing call, as the gateway reports it: the downstream's status,
/// or the layer's refusal.
fn outcome(result: Result<StatusCode, jwt_tower::propagate::BoxError>) -> String {
    match result {
        Ok(status) => format!("sent {}", status.as_u16()),
        Err(error) => match error.downcast_ref::<PropagateError>() {
            Some(PropagateError::DestinationNotAllowed { .. }) => "refused: destination".into(),
            Some(PropagateError::NoDestination) => "refused: no destination".into(),
            Some(PropagateError::NoCredentials) => "refused: no credentials".into(),
            _ => format!("failed: {error}"),
        },
    }
}

/// A gateway whose handler calls `?url=` through `client` (in a spawned task, outside
/// the caller's scope, with `&spawned=true`) and answers with the outcome.
async fn gateway(client: Client) -> String {
    let app = Router::new()
        .route(
            "/call",
            get(
                |State(client): State<Client>, Query(target): Query<Target>| async move {
                    let request = http::Request::get(target.url).body(String::new()).unwrap();
                    let call = client.oneshot(request);
                    let result = if target.spawned {
                        tokio::spawn(call).await.unwrap()
                    } else {
                        call.await
                    };
                    outcome(result)
                },
            ),
        )
        .with_state(client)
        .layer(JwtLayer::new(verifier()));
    format!("http://{}", serve(app).await)
}

async fn call(gateway: &str, url: &str, spawned: bool) -> String {
    let token = mint_hs256("k1", &claims("alice", "read"));
    let spawned = spawned.to_string();
    let target = reqwest::Url::parse_with_params(
        &format!("{gateway}/call"),
        [("url", url), ("spawned", &spawned)],
    )
    .unwrap();
    let reply = send(http().get(target).bearer_auth(token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

#[tokio::test]
async fn the_callers_token_goes_to_the_bound_destinations_and_nowhere_else() {
    let (orders, at_orders) = downstream().await;
    let (other, at_other) = downstream().await;
    let layer = PropagateLayer::forward()
        .to([format!("http://{orders}")])
        .unwrap();
    let gateway = gateway(layer.layer(reqwest_client())).await;

    // The caller's token reaches the destination the layer is bound to, any path.
    let first = call(&gateway, &format!("http://{orders}/v1/orders?id=7"), false).await;
    assert_eq!(first, "sent 200");
    let got = received(&at_orders);
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .as_deref()
            .is_some_and(|h| h.starts_with("Bearer ey")),
        "{got:?}"
    );

    // Another server, another port on the same host, and another scheme: refused by the
    // client service, and the other server receives nothing at all.
    let other_port = format!("http://{other}/v1/orders");
    let localhost = format!("http://localhost:{}/", orders.port());
    let https = format!("https://{orders}/");
    for url in [other_port.as_str(), localhost.as_str(), https.as_str()] {
        assert_eq!(
            call(&gateway, url, false).await,
            "refused: destination",
            "{url}"
        );
    }
    assert_eq!(received(&at_other), Vec::<Option<String>>::new());
    assert_eq!(received(&at_orders).len(), 1, "nothing more reached orders");
}

#[tokio::test]
async fn outside_the_callers_scope_the_call_fails_unless_a_service_token_is_chosen() {
    let (orders, at_orders) = downstream().await;
    let service_token = ServiceTokenSource::fixed(ServiceToken::new("svc-token"));
    let url = format!("http://{orders}/v1/orders");

    // Default: a call from a spawned task (no caller in scope) fails; nothing is sent.
    let forward_only = PropagateLayer::forward()
        .to([format!("http://{orders}")])
        .unwrap();
    let gateway_a = gateway(forward_only.layer(reqwest_client())).await;
    assert_eq!(
        call(&gateway_a, &url, true).await,
        "refused: no credentials"
    );
    assert_eq!(received(&at_orders), Vec::<Option<String>>::new());

    // The explicit fallback: the service token outside the caller's scope, the caller's
    // token inside it.
    let with_fallback = PropagateLayer::forward()
        .or_service_token(service_token)
        .to([format!("http://{orders}")])
        .unwrap();
    let gateway_b = gateway(with_fallback.layer(reqwest_client())).await;
    assert_eq!(call(&gateway_b, &url, true).await, "sent 200");
    assert_eq!(call(&gateway_b, &url, false).await, "sent 200");
    let got = received(&at_orders);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].as_deref(), Some("Bearer svc-token"));
    assert!(
        got[1]
            .as_deref()
            .is_some_and(|h| h.starts_with("Bearer ey")),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_service_token_client_is_bound_to_its_destinations_too() {
    let (orders, at_orders) = downstream().await;
    let (other, at_other) = downstream().await;
    let mut client =
        PropagateLayer::service_token(ServiceTokenSource::fixed(ServiceToken::new("svc-token")))
            .to([format!("http://{orders}")])
            .unwrap()
            .layer(reqwest_client());
    let get = |url: String| http::Request::get(url).body(String::new()).unwrap();

    let sent = client
        .ready()
        .await
        .unwrap()
        .call(get(format!("http://{orders}/")))
        .await;
    assert_eq!(outcome(sent), "sent 200");
    let refused = client
        .ready()
        .await
        .unwrap()
        .call(get(format!("http://{other}/")))
        .await;
    assert_eq!(outcome(refused), "refused: destination");
    // A relative URI names no destination to check: refused too.
    let relative = client.ready().await.unwrap().call(get("/".into())).await;
    assert_eq!(outcome(relative), "refused: no destination");
    // A request that brings its own credentials is bound by the same rule.
    let mut own = get(format!("http://{other}/"));
    own.headers_mut()
        .insert("authorization", "Bearer own".parse().unwrap());
    let own = client.ready().await.unwrap().call(own).await;
    assert_eq!(outcome(own), "refused: destination");

    assert_eq!(received(&at_orders), vec![Some("Bearer svc-token".into())]);
    assert_eq!(received(&at_other), Vec::<Option<String>>::new());
}

/// A client that follows redirects *inside* the layer (reqwest's default policy): the
/// layer checks only the first request, so the client must drop `authorization` on a
/// redirect to another origin, as the layer's documentation relies on. This tests
/// reqwest's behaviour, not the layer's: it guards the documented assumption against a
/// change in the client.
#[tokio::test]
async fn a_redirect_followed_inside_the_layer_does_not_carry_the_token_to_another_origin() {
    let (other, at_other) = downstream().await;
    let to_other = format!("http://{other}/landed");
    let redirecting = Router::new().fallback(move || {
        let to_other = to_other.clone();
        async move { axum::response::Redirect::temporary(&to_other) }
    });
    let orders = serve(redirecting).await;
    let following = Reqwest(reqwest::Client::new());
    let layer = PropagateLayer::forward()
        .to([format!("http://{orders}")])
        .unwrap();
    let gateway = gateway(layer.layer(following)).await;

    let url = format!("http://{orders}/v1/orders");
    assert_eq!(call(&gateway, &url, false).await, "sent 200");
    assert_eq!(
        received(&at_other),
        vec![None],
        "the other origin got the token"
    );
}
