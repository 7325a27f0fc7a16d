//! What sits behind the layer refuses as the layer does, over real TCP: route guards and
//! extractors answer with the layer's realm and rejection and are counted in its
//! verifier's metrics; a handler asking for claims no layer provides is a 500 that names
//! the types, not a 401 blaming the client.

mod support;

use axum::response::IntoResponse;
use axum::{Json, Router, routing::get};
use jwt_axum::{Authenticated, Claims, CurrentIdentity, RequireScopes};
use jwt_tower::{Algorithm, AuthError, JwtLayer, RegisteredClaims, RejectionKind, Verifier};
use serde_json::json;
use support::*;

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

async fn me(Claims(claims): Claims<RegisteredClaims>) -> String {
    claims.sub.unwrap_or_default()
}

fn bearer(url: &str, token: &str) -> reqwest::RequestBuilder {
    http()
        .get(url)
        .header("authorization", format!("Bearer {token}"))
}

/// Another claims type than the layer's.
#[derive(Clone, serde::Deserialize)]
struct Other {
    #[allow(dead_code)]
    sub: String,
}

#[tokio::test]
async fn guards_and_extractors_refuse_with_the_layers_realm_and_metrics() {
    let verifier = verifier();
    let app = Router::new()
        .route("/admin", get(me).route_layer(RequireScopes::new(["admin"])))
        .route(
            "/strict",
            get(
                |Authenticated(t): Authenticated<RegisteredClaims>| async move {
                    t.subject().unwrap_or_default().to_owned()
                },
            ),
        )
        .layer(JwtLayer::new(verifier.clone()).realm("orders").optional());
    let base = format!("http://{}", serve(app).await);
    let reader = mint_hs256("k1", &claims("alice", "read"));

    // The guard: 403 with the layer's realm, counted.
    let reply = send(bearer(&format!("{base}/admin"), &reader)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="admin""#
        )
    );
    // Anonymous (the layer is optional): the guard's 401, with the layer's realm.
    let reply = send(http().get(format!("{base}/admin"))).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="orders""#));
    // An extractor requiring identity: the same.
    let reply = send(http().get(format!("{base}/strict"))).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="orders""#));

    let metrics = verifier.metrics();
    assert_eq!(metrics.rejected(RejectionKind::InsufficientScope), 1);
    assert_eq!(metrics.rejected(RejectionKind::MissingToken), 2);
}

#[tokio::test]
async fn guards_use_the_layers_own_rejection() {
    let layer = JwtLayer::new(verifier()).on_rejection(|error: &AuthError| {
        let body = json!({"problem": error.kind().as_str()});
        (http::StatusCode::IM_A_TEAPOT, Json(body)).into_response()
    });
    let app = Router::new()
        .route("/admin", get(me).route_layer(RequireScopes::new(["admin"])))
        .layer(layer);
    let base = format!("http://{}", serve(app).await);
    let reader = mint_hs256("k1", &claims("alice", "read"));
    let reply = send(bearer(&format!("{base}/admin"), &reader)).await;
    assert_eq!(reply.status, 418, "{reply:?}");
    assert_eq!(reply.json(), json!({"problem": "insufficient_scope"}));
}

#[tokio::test]
async fn claims_of_another_type_or_without_a_layer_are_a_500_naming_the_types() {
    async fn other(Claims(_): Claims<Other>) -> &'static str {
        "unreachable"
    }
    async fn maybe_other(claims: Option<Claims<Other>>) -> &'static str {
        if claims.is_some() { "some" } else { "none" }
    }
    async fn who(CurrentIdentity(identity): CurrentIdentity) -> String {
        identity.subject().unwrap_or_default().to_owned()
    }
    let app = Router::new()
        .route("/other", get(other))
        .route("/maybe-other", get(maybe_other))
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier()).optional())
        // Added after the layer: no layer in front of these.
        .route("/late", get(me))
        .route("/late-who", get(who));
    let base = format!("http://{}", serve(app).await);
    let token = mint_hs256("k1", &claims("alice", "read"));

    assert_eq!(
        send(bearer(&format!("{base}/me"), &token)).await.body,
        "alice"
    );
    for path in ["/other", "/maybe-other"] {
        let reply = send(bearer(&format!("{base}{path}"), &token)).await;
        assert_eq!(reply.status, 500, "{path}: {reply:?}");
        assert!(reply.body.contains("Other"), "{path}: {}", reply.body);
        assert!(
            reply.body.contains("RegisteredClaims"),
            "{path}: {}",
            reply.body
        );
    }
    // Anonymous through the optional layer: no claims of any type, not a mismatch.
    assert_eq!(
        send(http().get(format!("{base}/maybe-other"))).await.body,
        "none"
    );

    for path in ["/late", "/late-who"] {
        let reply = send(bearer(&format!("{base}{path}"), &token)).await;
        assert_eq!(reply.status, 500, "{path}: {reply:?}");
        assert!(reply.body.contains("no JwtLayer"), "{path}: {}", reply.body);
    }
}

/// `StateClaims` (no layer, the verifier in router state) takes the layer's path: a token
/// naming a key the remote JWKS has not delivered yet waits for the fetch it starts.
#[tokio::test]
async fn state_claims_wait_for_a_rotated_key_as_the_layer_does() {
    use axum::extract::FromRef;
    use jsonwebtoken::Algorithm as JwtAlg;
    use jwt_axum::StateClaims;
    use jwt_tower::jwks::RemoteJwks;
    use support::jwks_server::{JwksServer, document, jwk};

    #[derive(Clone, FromRef)]
    struct AppState {
        verifier: Verifier<RegisteredClaims>,
    }
    async fn state_me(StateClaims(claims): StateClaims<RegisteredClaims>) -> String {
        claims.sub.unwrap_or_default()
    }

    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .cooldown(std::time::Duration::from_secs(60))
        .start()
        .unwrap();
    let verifier = Verifier::builder(jwks.keys())
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(state_me))
        .with_state(AppState { verifier });
    let url = format!("http://{}/me", serve(app).await);
    let minted = |kid: &str| mint_es256(kid, &claims("alice", "read"));

    assert_eq!(send(bearer(&url, &minted("ec-1"))).await.body, "alice");
    // The issuer publishes a new key: the first request naming it waits for the fetch.
    server.set_document(document(vec![
        jwk(JwtAlg::ES256, "ec-1"),
        jwk(JwtAlg::ES256, "ec-2"),
    ]));
    let reply = send(bearer(&url, &minted("ec-2"))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(server.fetches(), 2);
}
