//! Identity propagation through the tower layer: the caller's identity is in scope for
//! the inner service (across awaits, per request), and the client layer sends it on.
#![cfg(feature = "propagate")]

mod common;

use std::convert::Infallible;

use http::{Request, Response};
use jsonwebtoken::{EncodingKey, Header};
use jwt_tower::propagate::{self, PropagateLayer, ServiceToken, TokenSource};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, VerificationKey, Verifier};
use tower::{Service, ServiceExt};
use tower_layer::Layer;

const SECRET: &[u8] = b"propagation-test-secret-32-bytes";

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
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::builder();
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
    let client = PropagateLayer::new().forward().layer(echo_client());
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

#[tokio::test]
async fn credentials_in_the_order_configured() {
    let service_token = TokenSource::fixed(ServiceToken::new("svc-token"));
    let alice = token("alice");
    let identity = verifier().verify(&alice).unwrap().identity();

    let forward_first = PropagateLayer::new()
        .forward()
        .service_token(service_token.clone())
        .layer(echo_client());
    let source_first = PropagateLayer::new()
        .service_token(service_token)
        .forward()
        .layer(echo_client());

    // In a request's scope.
    let (a, b) = propagate::scope(identity, async {
        (
            forward_first.clone().oneshot(request(None)).await.unwrap(),
            source_first.clone().oneshot(request(None)).await.unwrap(),
        )
    })
    .await;
    assert_eq!(a, Some(format!("Bearer {alice}")));
    assert_eq!(b.as_deref(), Some("Bearer svc-token"));

    // Outside: the service token either way.
    let a = forward_first.oneshot(request(None)).await.unwrap();
    assert_eq!(a.as_deref(), Some("Bearer svc-token"));

    // A request that already has credentials is sent as it is.
    let explicit = source_first
        .oneshot(request(Some("explicit")))
        .await
        .unwrap();
    assert_eq!(explicit.as_deref(), Some("Bearer explicit"));

    // Nothing configured available: an error, and the client is never called.
    let called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = called.clone();
    let client =
        PropagateLayer::new()
            .forward()
            .layer(tower::service_fn(move |_req: Request<()>| {
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
