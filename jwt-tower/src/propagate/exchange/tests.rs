//! The exchange against a real token endpoint (axum, on a socket).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use http::{HeaderValue, Request};
use tower::{Service, ServiceExt};
use tower_layer::Layer;

use super::{ExchangeError, TokenExchange};
use crate::propagate::{self, PropagateError, PropagateLayer};
use crate::{Algorithm, Identity, RegisteredClaims, VerificationKey, Verifier};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const DOWNSTREAM: &str = "https://orders.internal";

/// One token request: its form, and its `authorization`.
type TokenRequestSeen = (HashMap<String, String>, String);

/// What the token endpoint saw: each request.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<TokenRequestSeen>>>);

impl Seen {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A token endpoint: refuses the subjects `refuse-me` and (after 200 ms)
/// `slow-refusal` with `invalid_target`, waits 200 ms for `slow`, and issues
/// `exchanged-<n>` (valid `expires_in` seconds) otherwise.
async fn endpoint(expires_in: u64) -> (String, Seen) {
    async fn token(
        State((seen, expires_in)): State<(Seen, u64)>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> (StatusCode, Json<serde_json::Value>) {
        let authorization = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let subject = claims_sub(form.get("subject_token").map_or("", String::as_str));
        let n = {
            let mut seen = seen.0.lock().unwrap();
            seen.push((form, authorization));
            seen.len()
        };
        if subject == "slow-refusal" {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match subject.as_str() {
            "refuse-me" | "slow-refusal" => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        serde_json::json!({"error": "invalid_target", "error_description": "not for you"}),
                    ),
                );
            }
            "slow" => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => {}
        }
        (
            StatusCode::OK,
            Json(serde_json::json!({
                "access_token": format!("exchanged-{n}"),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": expires_in,
            })),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let seen = Seen::default();
    let app = Router::new()
        .route("/token", post(token))
        .with_state((seen.clone(), expires_in));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// The `sub` of a token made by [`caller`], read without verification.
fn claims_sub(token: &str) -> String {
    use base64::Engine as _;
    let Some(payload) = token.split('.').nth(1) else {
        return String::new();
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["sub"].as_str().unwrap_or_default().to_owned()
}

/// A verified caller with this `sub`.
fn caller(sub: &str) -> Identity {
    #[cfg(feature = "rust_crypto")]
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": sub, "scope": "orders:read orders:write", "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    let verifier = Verifier::<RegisteredClaims>::builder(
        VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    )
    .algorithms([Algorithm::HS256])
    .build()
    .unwrap();
    verifier.verify(&token).unwrap().identity()
}

/// The downstream service: answers with the `authorization` it got, and counts calls.
#[derive(Clone)]
struct Downstream(Arc<AtomicUsize>);

impl Service<Request<()>> for Downstream {
    type Response = Option<HeaderValue>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Option<HeaderValue>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(req.headers().get("authorization").cloned()))
    }
}

type Client = crate::propagate::PropagateService<Downstream>;

/// A client for [`DOWNSTREAM`] exchanging at `url`, and how many calls reached it.
fn client(url: &str) -> (Client, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let exchange = TokenExchange::new(url, "gateway", "gateway secret")
        .audience("orders")
        .scope("orders:read");
    let layer = PropagateLayer::exchange(exchange)
        .unwrap()
        .to([DOWNSTREAM])
        .unwrap();
    (layer.layer(Downstream(Arc::clone(&sent))), sent)
}

async fn call(client: &mut Client) -> Result<Option<HeaderValue>, propagate::BoxError> {
    let request = Request::get(format!("{DOWNSTREAM}/orders"))
        .body(())
        .unwrap();
    client.ready().await?.call(request).await
}

fn propagate_error(error: &propagate::BoxError) -> &PropagateError {
    error
        .downcast_ref::<PropagateError>()
        .expect("a PropagateError")
}

#[tokio::test]
async fn the_callers_token_is_exchanged_once_then_cached() {
    let (url, seen) = endpoint(300).await;
    let (mut client, sent) = client(&url);
    let alice = caller("alice");
    let header = propagate::scope(alice.clone(), call(&mut client))
        .await
        .unwrap();
    assert_eq!(header.unwrap(), "Bearer exchanged-1");
    let again = propagate::scope(alice.clone(), call(&mut client))
        .await
        .unwrap();
    assert_eq!(again.unwrap(), "Bearer exchanged-1");
    assert_eq!((seen.count(), sent.load(Ordering::SeqCst)), (1, 2));

    let (form, authorization) = seen.0.lock().unwrap()[0].clone();
    let expected: HashMap<String, String> = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", alice.token()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", "orders"),
        ("scope", "orders:read"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);
    // client_secret_basic: "gateway:gateway+secret", form-urlencoded then base64.
    assert_eq!(authorization, "Basic Z2F0ZXdheTpnYXRld2F5K3NlY3JldA==");

    // Another caller's token is another exchange.
    let bob = propagate::scope(caller("bob"), call(&mut client))
        .await
        .unwrap();
    assert_eq!(bob.unwrap(), "Bearer exchanged-2");
    assert_eq!(seen.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_for_one_caller_share_one_exchange() {
    let (url, seen) = endpoint(300).await;
    let (client, sent) = client(&url);
    let slow = caller("slow");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(propagate::scope(slow.clone(), async move {
                call(&mut client).await.unwrap().unwrap()
            }))
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "Bearer exchanged-1");
    }
    assert_eq!((seen.count(), sent.load(Ordering::SeqCst)), (1, 16));
}

#[tokio::test]
async fn a_refusal_keeps_its_oauth_error_and_sends_nothing() {
    let (url, seen) = endpoint(300).await;
    let (mut client, sent) = client(&url);
    let refused = caller("refuse-me");
    let error = propagate::scope(refused.clone(), call(&mut client))
        .await
        .unwrap_err();
    match propagate_error(&error) {
        PropagateError::Exchange(ExchangeError::Refused {
            status,
            error,
            description,
        }) => {
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_target");
            assert_eq!(description.as_deref(), Some("not for you"));
        }
        other => panic!("not a refusal: {other:?}"),
    }
    assert_eq!(sent.load(Ordering::SeqCst), 0);
    // A refusal is not kept: the next call asks again.
    propagate::scope(refused, call(&mut client))
        .await
        .unwrap_err();
    assert_eq!((seen.count(), sent.load(Ordering::SeqCst)), (2, 0));
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_closed() {
    // A port nobody listens on: bound, then closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let (mut client, sent) = client(&url);
    let error = propagate::scope(caller("alice"), call(&mut client))
        .await
        .unwrap_err();
    assert!(matches!(
        propagate_error(&error),
        PropagateError::Exchange(ExchangeError::Failed(_))
    ));
    assert_eq!(sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_a_caller_nothing_is_exchanged_nor_sent() {
    let (url, seen) = endpoint(300).await;
    let (mut client, sent) = client(&url);
    let error = call(&mut client).await.unwrap_err();
    assert!(matches!(
        propagate_error(&error),
        PropagateError::NoCredentials
    ));
    assert_eq!((seen.count(), sent.load(Ordering::SeqCst)), (0, 0));
}

#[tokio::test]
async fn an_exchanged_token_is_renewed_before_it_expires() {
    // Valid 2 s: renewed after 1 s (the 30 s margin, capped at half the lifetime).
    let (url, seen) = endpoint(2).await;
    let (mut client, _) = client(&url);
    let alice = caller("alice");
    let first = propagate::scope(alice.clone(), call(&mut client))
        .await
        .unwrap();
    assert_eq!(first.unwrap(), "Bearer exchanged-1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = propagate::scope(alice, call(&mut client)).await.unwrap();
    assert_eq!(renewed.unwrap(), "Bearer exchanged-2");
    assert_eq!(seen.count(), 2);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let (url, seen) = endpoint(300).await;
    let exchanger = TokenExchange::new(&url, "gateway", "s")
        .audience("orders")
        .max_entries(4)
        .build()
        .unwrap();
    for i in 0..64 {
        let token = caller(&format!("user-{i}"));
        let header = exchanger
            .header(super::key(token.token()), token.token(), None)
            .await
            .unwrap();
        assert_eq!(header, format!("Bearer exchanged-{}", i + 1).as_str());
    }
    assert_eq!(seen.count(), 64);
    let kept = exchanger.inner.cache.len();
    assert!((1..=8).contains(&kept), "{kept} kept");
}

/// Two different targets are refused when the layer is built, not on every call; the
/// same value named both ways is one target.
#[test]
fn two_different_targets_are_refused_at_build() {
    let exchange = |resource: &str| {
        TokenExchange::new("http://127.0.0.1:1/token", "gateway", "secret")
            .audience("orders")
            .resource(resource)
    };
    let error = PropagateLayer::exchange(exchange("billing")).unwrap_err();
    assert!(error.to_string().contains("differ"), "{error}");
    assert!(PropagateLayer::exchange(exchange("orders")).is_ok());
}

/// Concurrent calls for one caller share one exchange's refusal as they share its
/// success: one request to the endpoint, every call failed, none sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_refusal() {
    let (url, seen) = endpoint(300).await;
    let (client, sent) = client(&url);
    let refused = caller("slow-refusal");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(propagate::scope(refused.clone(), async move {
                call(&mut client).await.unwrap_err().to_string()
            }))
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap();
        assert!(error.contains("invalid_target"), "{error}");
    }
    assert_eq!((seen.count(), sent.load(Ordering::SeqCst)), (1, 0));
}
