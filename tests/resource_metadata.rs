//! Protected resource metadata (RFC 9728) over real TCP: every 401 and 403 challenge of
//! the layer, its guards and its extractors names the metadata URL, and jwt-axum serves
//! the metadata there and at the root form.

mod support;

use axum::{Json, Router, routing::get};
use jwt_axum::{Claims, RequireScopes};
use jwt_tower::{Algorithm, JwtLayer, ProtectedResourceMetadata, RegisteredClaims, Verifier};
use serde_json::json;
use support::*;

const RESOURCE: &str = "https://api.example.com/mcp";
const METADATA_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

async fn me(Claims(claims): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(claims)
}

fn metadata(resource: &str) -> ProtectedResourceMetadata {
    ProtectedResourceMetadata::builder(resource)
        .authorization_servers(["https://auth.example.com"])
        .scopes_supported(["orders.read", "orders.write"])
        .bearer_methods_supported(["header"])
        .build()
        .unwrap()
}

/// Tokens must be for `RESOURCE`; `/orders` needs `orders.write` (a guard behind the
/// layer), `/me` is behind an optional layer (so its extractor refuses a missing token).
async fn start(layer: JwtLayer<RegisteredClaims>) -> String {
    let layer = layer.resource_metadata(&metadata(RESOURCE));
    let app = Router::new()
        .route(
            "/orders",
            get(me).route_layer(RequireScopes::new(["orders.write"])),
        )
        .route("/mcp", get(me))
        .layer(layer.clone())
        .merge(Router::new().route("/me", get(me)).layer(layer.optional()));
    format!("http://{}", serve(app).await)
}

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .audience(RESOURCE)
        .build()
        .unwrap()
}

fn token(aud: &str, scope: &str) -> String {
    let mut claims = claims("alice", scope);
    claims["aud"] = json!(aud);
    mint_hs256("k1", &claims)
}

async fn get_with(url: &str, token: Option<&str>) -> Reply {
    let request = http().get(url);
    send(match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    })
    .await
}

/// The challenge's `resource_metadata` parameter, which must close it.
fn resource_metadata(reply: &Reply) -> &str {
    let challenge = reply.challenge.as_deref().expect("a challenge");
    challenge
        .rsplit_once(", resource_metadata=\"")
        .or_else(|| challenge.split_once(" resource_metadata=\""))
        .and_then(|(_, value)| value.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no resource_metadata at the end of {challenge}"))
}

#[tokio::test]
async fn every_401_and_403_names_the_metadata_url() {
    let base = start(JwtLayer::new(verifier())).await;
    let good = token(RESOURCE, "orders.read");

    let admitted = get_with(&format!("{base}/mcp"), Some(&good)).await;
    assert_eq!(admitted.status, 200, "{admitted:?}");
    assert!(admitted.challenge.is_none());

    // No token: the layer's bare challenge, with the metadata URL.
    let reply = get_with(&format!("{base}/mcp"), None).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(format!(r#"Bearer realm="api", resource_metadata="{METADATA_URL}""#).as_str())
    );

    // A bad token and a token for another audience: invalid_token, with the URL.
    let forged = format!("{}x", &good[..good.len() - 1]);
    for (what, bad) in [
        ("bad signature", forged),
        ("not a JWT", "not-a-jwt".to_owned()),
        (
            "wrong audience",
            token("https://other.example.com/mcp", "orders.read"),
        ),
    ] {
        let reply = get_with(&format!("{base}/mcp"), Some(&bad)).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        let challenge = reply.challenge.as_deref().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="api", error="invalid_token", "#),
            "{what}: {challenge}"
        );
        assert_eq!(resource_metadata(&reply), METADATA_URL, "{what}");
        assert_eq!(reply.json()["error"], "invalid_token");
    }

    // A guard behind the layer: 403 insufficient_scope naming the scope it needs.
    let reply = get_with(&format!("{base}/orders"), Some(&good)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            format!(
                r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="orders.write", resource_metadata="{METADATA_URL}""#
            )
            .as_str()
        )
    );
    let writer = token(RESOURCE, "orders.read orders.write");
    assert_eq!(
        get_with(&format!("{base}/orders"), Some(&writer))
            .await
            .status,
        200
    );

    // An extractor behind an optional layer, with no token: 401, with the URL.
    let reply = get_with(&format!("{base}/me"), None).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(resource_metadata(&reply), METADATA_URL);
}

#[tokio::test]
async fn the_layers_own_policy_names_its_scopes_and_the_url() {
    let base =
        start(JwtLayer::new(verifier()).require_scopes(["orders.read", "orders.write"])).await;
    let reply = get_with(
        &format!("{base}/mcp"),
        Some(&token(RESOURCE, "orders.read")),
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap();
    assert!(
        challenge.contains(r#", scope="orders.read orders.write", "#),
        "{challenge}"
    );
    assert_eq!(resource_metadata(&reply), METADATA_URL);
    assert_eq!(reply.json()["error"], "insufficient_scope");
}

#[tokio::test]
async fn without_metadata_challenges_carry_no_url() {
    let app = Router::new()
        .route("/mcp", get(me))
        .layer(JwtLayer::new(verifier()));
    let base = format!("http://{}", serve(app).await);
    let reply = get_with(&format!("{base}/mcp"), None).await;
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="api""#));
    let reply = get_with(&format!("{base}/mcp"), Some("not-a-jwt")).await;
    assert!(!reply.challenge.unwrap().contains("resource_metadata"));
}
