//! Identity propagation through the tower layer: the caller's identity is in scope for
//! the inner service (across awaits, per request), and the client layer sends it on.
#![cfg(feature = "propagate")]

mod common;

use std::convert::Infallible;

use http::{Request, Response};
use jsonwebtoken::{EncodingKey, Header};
use jwt_tower::propagate::{self, PropagateLayer, ServiceToken, ServiceTokenSource};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, VerificationKey, Verifier};
use tower::{Service, ServiceExt};
use tower_layer::Layer;

const SECRET: &[u8] = b"propagation-test-secret-32-bytes";
const ORDERS: &str = "https://orders.internal/v1/orders";

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

fn token(sub: &str) -> String {
    common::init();
    jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({"sub": sub, "exp": 4_000_000_000u64}),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

/// A request to the orders service (the destination of every test client).
fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::builder().uri(ORDERS);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(()).unwrap()
}

/// A response body (the layer's rejections need one built from bytes).
fn body(text: Option<String>) -> bytes::Bytes {
    text.unwrap_or_default().into()
}

/// A downstream "client" that answers with the `authorization` it was sent.
fn echo_client()
-> impl Service<Request<()>, Response = Option<String>, Error = Infallible, Future = impl Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|req: Request<()>| async move {
        Ok::<_, Infallible>(
            req.headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_is_in_scope_for_the_inner_service_per_request() {
    let handler = tower::service_fn(|_req: Request<()>| async {
        let before = propagate::current().and_then(|i| i.subject().map(str::to_owned));
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let after = propagate::current().and_then(|i| i.subject().map(str::to_owned));
        assert_eq!(before, after, "the scope holds across awaits");
        Ok::<_, Infallible>(Response::new(body(after)))
    });
    let service = JwtLayer::new(verifier()).optional().layer(handler);

    // Many concurrent requests, each sees its own caller.
    let calls = (0..64).map(|i| {
        let service = service.clone();
        tokio::spawn(async move {
            let sub = format!("user-{i}");
            let token = token(&sub);
            let seen = service.oneshot(request(Some(&token))).await.unwrap();
            (sub, seen.into_body())
        })
    });
    for call in calls {
        let (sub, seen) = call.await.unwrap();
        assert_eq!(seen, sub.as_str());
    }
    // Optional mode without a token: no identity in scope. Nor outside any request.
    let seen = service.oneshot(request(None)).await.unwrap();
    assert_eq!(seen.into_body(), "");
    assert!(propagate::current().is_none());
}

#[tokio::test]
async fn a_client_called_in_the_handler_forwards_the_caller() {
    let client = PropagateLayer::forward()
        .to(["https://orders.internal"])
        .unwrap()
        .layer(echo_client());
    let handler = tower::service_fn(move |_req: Request<()>| {
        let client = client.clone();
        async move {
            // No token passed: the handler only makes the call.
            let sent = client.oneshot(request(None)).await.unwrap();
            Ok::<_, Infallible>(Response::new(body(sent)))
        }
    });
    let service = JwtLayer::new(verifier()).layer(handler);
    let alice = token("alice");
    let sent = service.oneshot(request(Some(&alice))).await.unwrap();
    assert_eq!(sent.into_body(), format!("Bearer {alice}").as_str());
}

fn to_orders<S>(builder: jwt_tower::propagate::PropagateBuilder<S>) -> PropagateLayer {
    builder.to(["https://orders.internal"]).unwrap()
}

#[tokio::test]
async fn the_service_token_only_when_chosen_and_only_outside_the_callers_scope() {
    let service_token = ServiceTokenSource::fixed(ServiceToken::new("svc-token"));
    let alice = token("alice");
    let identity = verifier().verify(&alice).unwrap().identity();

    let forward_only = to_orders(PropagateLayer::forward()).layer(echo_client());
    let with_fallback =
        to_orders(PropagateLayer::forward().or_service_token(service_token.clone()))
            .layer(echo_client());
    let service_layer = to_orders(PropagateLayer::service_token(service_token));
    let service_only = service_layer.layer(echo_client());

    // In a request's scope: the caller's token, unless the client is the service's own.
    let sent = propagate::scope(identity.clone(), async {
        (
            forward_only.clone().oneshot(request(None)).await.unwrap(),
            with_fallback.clone().oneshot(request(None)).await.unwrap(),
            service_only.clone().oneshot(request(None)).await.unwrap(),
        )
    })
    .await;
    let caller = Some(format!("Bearer {alice}"));
    let service = Some("Bearer svc-token".to_owned());
    assert_eq!(sent, (caller.clone(), caller, service.clone()));

    // In a task spawned from that scope: no caller. Refused by default, the service token
    // only where chosen.
    let (default, fallback) = propagate::scope(identity, async {
        let default = tokio::spawn(forward_only.clone().oneshot(request(None)));
        let fallback = tokio::spawn(with_fallback.clone().oneshot(request(None)));
        (default.await.unwrap(), fallback.await.unwrap())
    })
    .await;
    let error = default.unwrap_err();
    assert!(
        matches!(
            error.downcast_ref(),
            Some(propagate::PropagateError::NoCredentials)
        ),
        "{error}"
    );
    assert_eq!(fallback.unwrap(), service);
    // The cached service token is never in a client's Debug output (logs).
    let debug = format!("{service_layer:?}");
    assert!(debug.contains("ServiceTokenSource"), "{debug}");
    assert!(!debug.contains("svc-token"), "{debug}");

    // A request that already has credentials is sent as it is.
    let explicit = service_only
        .oneshot(request(Some("explicit")))
        .await
        .unwrap();
    assert_eq!(explicit.as_deref(), Some("Bearer explicit"));

    // Nothing available: an error, and the client is never called.
    let called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = called.clone();
    let client =
        to_orders(PropagateLayer::forward()).layer(tower::service_fn(move |_req: Request<()>| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, Infallible>(()) }
        }));
    let error = client.oneshot(request(None)).await.unwrap_err();
    assert!(
        error
            .downcast_ref::<propagate::PropagateError>()
            .is_some_and(|e| matches!(e, propagate::PropagateError::NoCredentials)),
        "{error}"
    );
    assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn requests_to_other_destinations_are_refused_before_the_client_is_called() {
    let called = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = called.clone();
    let client =
        to_orders(PropagateLayer::forward()).layer(tower::service_fn(move |_req: Request<()>| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, Infallible>(()) }
        }));
    let identity = verifier().verify(&token("alice")).unwrap().identity();
    let to = |uri: &str| Request::get(uri).body(()).unwrap();
    let outcomes = propagate::scope(identity, async {
        let mut outcomes = Vec::new();
        for uri in [
            "https://orders.internal/v1",
            "https://orders.internal.evil.example/v1",
            "http://orders.internal/v1",
            "https://orders.internal:8443/v1",
            "/v1/orders",
        ] {
            let outcome = client.clone().oneshot(to(uri)).await;
            outcomes.push(match outcome {
                Ok(()) => "sent".to_owned(),
                Err(error) => match error.downcast_ref() {
                    Some(propagate::PropagateError::DestinationNotAllowed { origin }) => {
                        format!("refused {origin}")
                    }
                    Some(propagate::PropagateError::NoDestination) => "no destination".into(),
                    _ => error.to_string(),
                },
            });
        }
        outcomes
    })
    .await;
    assert_eq!(
        outcomes,
        [
            "sent",
            "refused https://orders.internal.evil.example:443",
            "refused http://orders.internal:80",
            "refused https://orders.internal:8443",
            "no destination",
        ]
    );
    assert_eq!(called.load(std::sync::atomic::Ordering::SeqCst), 1);
}
