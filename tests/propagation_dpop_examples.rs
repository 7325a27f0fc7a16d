//! The client side of DPoP against the examples, as processes: a service's own token
//! from `auth_server`'s `/token` (client credentials, a proof, the nonce dance) sent by
//! `PropagateLayer` with a fresh proof per call to a `resource_server` that requires
//! DPoP and server nonces.

#[path = "support/http_client.rs"]
mod http_client;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use http_client::reqwest_client;
use jwt_tower::Algorithm;
use jwt_tower::dpop::DpopKey;
use jwt_tower::propagate::{PropagateLayer, ServiceTokenSource};
use serde_json::{Value, json};
use support::process::start;
use tower::{Layer, ServiceExt};

const REPORTS_SECRET: &str = "reports-secret: 0123456789&abcdef";

fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let path = std::env::temp_dir().join(format!(
            "propagation-dpop-clients-{}.json",
            std::process::id()
        ));
        let clients = json!([
            {"client_id": "reports", "client_secret": REPORTS_SECRET, "scope": "orders.read",
             "grant_types": ["client_credentials"]},
        ]);
        std::fs::write(&path, clients.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    });
    PATH.clone()
}

#[tokio::test]
async fn a_service_token_from_auth_server_opens_a_dpop_required_resource_server() {
    let auth = start(
        "auth_server",
        &[
            ("DEMO_USERS", "alice:alice-password:orders.read".to_owned()),
            ("JWT_AUDIENCE", "api".to_owned()),
            ("OAUTH_CLIENTS_FILE", clients_file()),
            ("DPOP_NONCE", "1".to_owned()),
        ],
    )
    .await;
    let resource = start(
        "resource_server",
        &[
            (
                "JWT_JWKS_URL",
                format!("{}/.well-known/jwks.json", auth.base()),
            ),
            ("JWT_ISSUER", auth.base()),
            ("JWT_AUDIENCE", "api".to_owned()),
            ("JWT_ALGORITHMS", "ES256".to_owned()),
            ("JWT_DPOP", "required".to_owned()),
            ("JWT_DPOP_NONCE", "1".to_owned()),
        ],
    )
    .await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let source = ServiceTokenSource::client_credentials(
        format!("{}/token", auth.base()),
        "reports",
        REPORTS_SECRET,
    )
    .scope("orders.read")
    .dpop(key.clone())
    .build()
    .unwrap();

    // auth_server asked for its nonce, then bound the token to the key.
    let token = source.token().await.unwrap();
    let payload = token.token().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());

    // What goes on the wire: every request the layer sends, retries included.
    let sent = Arc::new(AtomicUsize::new(0));
    let counting = {
        let (sent, inner) = (Arc::clone(&sent), reqwest_client());
        tower::service_fn(move |request: http::Request<String>| {
            sent.fetch_add(1, Ordering::SeqCst);
            inner.clone().oneshot(request)
        })
    };
    let client = PropagateLayer::service_token(source)
        .to([resource.base()])
        .unwrap()
        .layer(counting);
    // The first call meets the resource server's nonce and is retried with it; every
    // call after carries it from the start, each with its own proof.
    for _ in 0..3 {
        let request = http::Request::get(format!("{}/me", resource.base()))
            .body(String::new())
            .unwrap();
        let answer = client.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), 200, "{answer:?}");
        let me: Value = serde_json::from_str(answer.body()).unwrap();
        assert_eq!(me["sub"], claims["sub"], "{me}");
    }
    assert_eq!(sent.load(Ordering::SeqCst), 4, "one use_dpop_nonce retry");

    // The same token as a plain Bearer token: refused, as a stolen copy would be.
    let stolen = support::http()
        .get(format!("{}/me", resource.base()))
        .bearer_auth(token.token())
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 401);
}
