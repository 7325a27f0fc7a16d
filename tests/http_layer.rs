//! The layer and the axum extractors over real TCP: every rejection kind, every token
//! source, optional auth, route guards, state-only verification, custom rejections, and
//! key rotation under load.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::FromRef;
use axum::response::IntoResponse;
use axum::{Json, Router, routing::get};
use http::HeaderName;
use jwt_axum::{Authenticated, Claims, CurrentIdentity, RequireScopes, StateClaims};
use jwt_tower::{
    Algorithm, AuthError, JwtLayer, KeySet, Keys, RegisteredClaims, RejectionKind, TokenSource,
    Verifier,
};
use serde_json::{Value, json};
use support::*;

async fn me(Claims(claims): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(claims)
}

fn verifier(keys: impl Into<Keys>) -> Verifier<RegisteredClaims> {
    Verifier::builder(keys)
        .algorithms([Algorithm::HS256, Algorithm::ES256])
        .build()
        .unwrap()
}

fn app(layer: JwtLayer<RegisteredClaims>) -> Router {
    Router::new()
        .route("/admin", get(me).route_layer(RequireScopes::new(["admin"])))
        .route("/me", get(me))
        .layer(layer)
        .route("/health", get(|| async { "ok" }))
}

async fn start(layer: JwtLayer<RegisteredClaims>) -> String {
    format!("http://{}", serve(app(layer)).await)
}

fn client() -> reqwest::Client {
    http()
}

fn bearer(url: &str, token: &str) -> reqwest::RequestBuilder {
    client()
        .get(url)
        .header("authorization", format!("Bearer {token}"))
}

/// Asserts an RFC 6750 refusal: status, challenge error code, JSON body, no token echo.
fn assert_refused(reply: &Reply, status: u16, code: Option<&str>, token: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let challenge = reply
        .challenge
        .as_deref()
        .expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Bearer realm=\"api\""), "{challenge}");
    match code {
        Some(code) => {
            assert!(
                challenge.contains(&format!("error=\"{code}\"")),
                "{challenge}"
            );
            assert!(challenge.contains("error_description=\""), "{challenge}");
            assert_eq!(reply.json()["error"], code);
        }
        None => assert!(!challenge.contains("error="), "{challenge}"),
    }
    assert!(reply.json()["error_description"].is_string());
    if token.len() > 8 {
        assert!(!reply.body.contains(token) && !challenge.contains(token));
        let signature = token.rsplit('.').next().unwrap();
        assert!(signature.len() < 8 || !reply.body.contains(signature));
    }
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_claims() {
    let base = start(JwtLayer::new(verifier(hs256_key("k1")))).await;
    let token = mint_hs256("k1", &claims("alice", "read"));
    let reply = send(bearer(&format!("{base}/me"), &token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
    // Open routes outside the layer need nothing.
    assert_eq!(
        send(client().get(format!("{base}/health"))).await.status,
        200
    );
}

#[tokio::test]
async fn every_rejection_kind_has_its_http_form() {
    let base = start(JwtLayer::new(verifier(hs256_key("k1")))).await;
    let url = format!("{base}/me");
    let good = mint_hs256("k1", &claims("alice", "read"));

    // No token: 401, a bare challenge.
    let reply = send(client().get(&url)).await;
    assert_refused(&reply, 401, None, "");
    assert_eq!(reply.json()["error"], "missing_token");

    // A malformed request: 400 invalid_request.
    let reply = send(
        client()
            .get(&url)
            .header("authorization", format!("Bearer {good} extra")),
    )
    .await;
    assert_refused(&reply, 400, Some("invalid_request"), &good);
    let reply = send(
        client()
            .get(&url)
            .header("authorization", format!("Bearer {good}"))
            .header("authorization", "Bearer x.y.z"),
    )
    .await;
    assert_refused(&reply, 400, Some("invalid_request"), &good);

    // Bad tokens: 401 invalid_token.
    let expired = mint_hs256(
        "k1",
        &json!({"sub": "alice", "iat": now() - 7200, "exp": now() - 3600}),
    );
    let unknown_kid = mint_hs256("k9", &claims("alice", "read"));
    let wrong_key = mint_es256("k1", &claims("alice", "read"));
    let none = format!(
        "{}.{}.",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", // {"alg":"none","typ":"JWT"}
        good.split('.').nth(1).unwrap()
    );
    let tampered = {
        // Change the signature's first character (whatever it was) to another one.
        let (head, signature) = good.rsplit_once('.').unwrap();
        let swapped = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{head}.{swapped}{}", &signature[1..])
    };
    let huge = format!("{}.{}.{}", "a".repeat(5000), "b".repeat(5000), "c");
    let future = mint_hs256(
        "k1",
        &json!({"sub": "a", "nbf": now() + 3600, "exp": now() + 7200}),
    );
    for (name, token, description) in [
        ("expired", &expired, "expired"),
        ("unknown kid", &unknown_kid, "unknown key"),
        ("algorithm confusion", &wrong_key, "algorithm"),
        ("alg none", &none, "algorithm"),
        ("tampered", &tampered, "signature"),
        ("malformed", &"abc.def".to_owned(), "well-formed"),
        ("too large", &huge, "larger"),
        ("not yet valid", &future, "not valid yet"),
    ] {
        let reply = send(bearer(&url, token)).await;
        assert_refused(&reply, 401, Some("invalid_token"), token);
        let got = reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(got.contains(description), "{name}: {got}");
    }

    // Policy not met: 403 insufficient_scope naming the scope.
    let reply = send(bearer(&format!("{base}/admin"), &good)).await;
    assert_refused(&reply, 403, Some("insufficient_scope"), &good);
    assert!(reply.challenge.unwrap().ends_with("scope=\"admin\""));
    let admin = mint_hs256("k1", &claims("root", "read admin"));
    assert_eq!(
        send(bearer(&format!("{base}/admin"), &admin)).await.status,
        200
    );
}

/// RFC 6750 §3.1: a request authenticating in another scheme carries no bearer
/// credentials, so it gets the bare challenge (401, no error code), not 400; a misspelt
/// Bearer header is still malformed.
#[tokio::test]
async fn another_authorization_scheme_is_no_token() {
    let layer = JwtLayer::new(verifier(hs256_key("k1")));
    let verifier = layer.verifier().clone();
    let base = start(layer).await;
    let url = format!("{base}/me");
    for value in [
        "Basic dXNlcjpwYXNz",
        "Digest username=\"alice\"",
        "Negotiate",
    ] {
        let reply = send(client().get(&url).header("authorization", value)).await;
        assert_refused(&reply, 401, None, "");
        assert_eq!(reply.json()["error"], "missing_token", "{value}");
    }
    assert_eq!(verifier.metrics().rejected(RejectionKind::MissingToken), 3);
    for value in ["Bearerx a.b.c", "Bearer", "B@sic abc"] {
        let reply = send(client().get(&url).header("authorization", value)).await;
        assert_refused(&reply, 400, Some("invalid_request"), "");
    }
}

#[tokio::test]
async fn keys_never_loaded_is_503_with_retry_after_then_recovers() {
    let keys = Keys::unloaded();
    let base = start(JwtLayer::new(verifier(keys.clone()))).await;
    let token = mint_hs256("k1", &claims("alice", "read"));
    let reply = send(bearer(&format!("{base}/me"), &token)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.retry_after.as_deref(), Some("5"));
    assert!(reply.challenge.is_none());
    assert_eq!(reply.json()["error"], "keys_unavailable");

    keys.replace(KeySet::single(hs256_key("k1")));
    assert_eq!(
        send(bearer(&format!("{base}/me"), &token)).await.status,
        200
    );
}

/// A fail-closed revocation list out of step with its store refuses with its own kind:
/// 503 and Retry-After (retry later), no challenge, and a body naming the revocation
/// list rather than the keys; once back in step the same token is served.
#[tokio::test]
async fn revocations_out_of_step_is_503_with_its_own_name_then_recovers() {
    use jwt_tower::revoke::Revocations;
    let revocations = Revocations::new().fail_closed(true);
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .revocations(revocations.clone())
        .build()
        .unwrap();
    let base = start(JwtLayer::new(verifier)).await;
    let token = mint_hs256("k1", &claims("alice", "read"));
    assert_eq!(
        send(bearer(&format!("{base}/me"), &token)).await.status,
        200
    );

    revocations.set_in_step(false);
    let reply = send(bearer(&format!("{base}/me"), &token)).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.retry_after.as_deref(), Some("5"));
    assert!(reply.challenge.is_none());
    assert_eq!(reply.json()["error"], "revocations_out_of_step");
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("revocation list")
    );

    revocations.set_in_step(true);
    assert_eq!(
        send(bearer(&format!("{base}/me"), &token)).await.status,
        200
    );
}

#[tokio::test]
async fn layer_wide_scope_policy_is_403() {
    let layer = JwtLayer::new(verifier(hs256_key("k1"))).require_scopes(["write"]);
    let base = start(layer).await;
    let read = mint_hs256("k1", &claims("alice", "read"));
    let reply = send(bearer(&format!("{base}/me"), &read)).await;
    assert_refused(&reply, 403, Some("insufficient_scope"), &read);
    let write = mint_hs256(
        "k1",
        &json!({"sub": "a", "scp": ["read", "write"], "exp": now() + 60}),
    );
    assert_eq!(
        send(bearer(&format!("{base}/me"), &write)).await.status,
        200
    );
}

#[tokio::test]
async fn every_token_source_works_and_two_tokens_are_refused() {
    let layer = JwtLayer::new(verifier(hs256_key("k1"))).token_sources([
        TokenSource::Bearer,
        TokenSource::cookie("access_token"),
        TokenSource::header(HeaderName::from_static("x-access-token")),
        TokenSource::query("access_token"),
    ]);
    let base = start(layer).await;
    let url = format!("{base}/me");
    let token = mint_hs256("k1", &claims("alice", "read"));
    let other = mint_hs256("k1", &claims("bob", "read"));

    let sources = [
        ("bearer", bearer(&url, &token)),
        (
            "cookie",
            client()
                .get(&url)
                .header("cookie", format!("theme=dark; access_token={token}")),
        ),
        (
            "header",
            client().get(&url).header("x-access-token", &token),
        ),
        ("query", client().get(format!("{url}?access_token={token}"))),
        (
            "same token twice",
            bearer(&url, &token).header("cookie", format!("access_token={token}")),
        ),
    ];
    for (name, request) in sources {
        let reply = send(request).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
        assert_eq!(reply.json()["sub"], "alice", "{name}");
    }

    let reply = send(bearer(&url, &token).header("cookie", format!("access_token={other}"))).await;
    assert_refused(&reply, 400, Some("invalid_request"), &token);
    let reply = send(
        client()
            .get(format!("{url}?access_token={token}"))
            .header("x-access-token", &other),
    )
    .await;
    assert_refused(&reply, 400, Some("invalid_request"), &token);
}

#[tokio::test]
async fn query_and_cookie_are_ignored_unless_configured() {
    let base = start(JwtLayer::new(verifier(hs256_key("k1")))).await;
    let token = mint_hs256("k1", &claims("alice", "read"));
    let reply = send(client().get(format!("{base}/me?access_token={token}"))).await;
    assert_refused(&reply, 401, None, &token);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_through_but_not_bad_tokens() {
    async fn optional(claims: Option<Claims<RegisteredClaims>>) -> Json<Value> {
        Json(match claims {
            Some(Claims(c)) => json!({"authenticated": true, "sub": c.sub}),
            None => json!({"authenticated": false}),
        })
    }
    async fn who(identity: Option<CurrentIdentity>) -> String {
        identity
            .and_then(|CurrentIdentity(i)| i.subject().map(str::to_owned))
            .unwrap_or_else(|| "nobody".to_owned())
    }
    async fn strict(Authenticated(token): Authenticated<RegisteredClaims>) -> String {
        token.header().unwrap().kid.clone().unwrap_or_default()
    }
    let app = Router::new()
        .route("/optional", get(optional))
        .route("/who", get(who))
        .route("/strict", get(strict))
        .layer(JwtLayer::new(verifier(hs256_key("k1"))).optional());
    let base = format!("http://{}", serve(app).await);
    let token = mint_hs256("k1", &claims("alice", "read"));

    let anon = send(client().get(format!("{base}/optional"))).await;
    assert_eq!(
        (anon.status, anon.json()),
        (200, json!({"authenticated": false}))
    );
    let known = send(bearer(&format!("{base}/optional"), &token)).await;
    assert_eq!(known.json(), json!({"authenticated": true, "sub": "alice"}));
    let bad = send(bearer(&format!("{base}/optional"), "x.y.z")).await;
    assert_refused(&bad, 401, Some("invalid_token"), "");

    assert_eq!(
        send(client().get(format!("{base}/who"))).await.body,
        "nobody"
    );
    assert_eq!(
        send(bearer(&format!("{base}/who"), &token)).await.body,
        "alice"
    );
    // A handler that requires identity still refuses the anonymous request itself.
    let reply = send(client().get(format!("{base}/strict"))).await;
    assert_refused(&reply, 401, None, "");
    assert_eq!(
        send(bearer(&format!("{base}/strict"), &token)).await.body,
        "k1"
    );
}

#[tokio::test]
async fn state_claims_verify_without_a_layer() {
    #[derive(Clone, FromRef)]
    struct AppState {
        verifier: Verifier<RegisteredClaims>,
    }
    async fn handler(StateClaims(c): StateClaims<RegisteredClaims>) -> String {
        c.sub.unwrap_or_default()
    }
    async fn maybe(c: Option<StateClaims<RegisteredClaims>>) -> String {
        c.and_then(|StateClaims(c)| c.sub)
            .unwrap_or_else(|| "anonymous".into())
    }
    let app = Router::new()
        .route("/me", get(handler))
        .route("/maybe", get(maybe))
        .with_state(AppState {
            verifier: verifier(hs256_key("k1")),
        });
    let base = format!("http://{}", serve(app).await);
    let token = mint_hs256("k1", &claims("carol", "read"));
    assert_eq!(
        send(bearer(&format!("{base}/me"), &token)).await.body,
        "carol"
    );
    assert_refused(
        &send(client().get(format!("{base}/me"))).await,
        401,
        None,
        "",
    );
    let expired = mint_hs256("k1", &json!({"sub": "c", "exp": now() - 600}));
    assert_refused(
        &send(bearer(&format!("{base}/me"), &expired)).await,
        401,
        Some("invalid_token"),
        &expired,
    );
    assert_eq!(
        send(client().get(format!("{base}/maybe"))).await.body,
        "anonymous"
    );
    assert_eq!(
        send(bearer(&format!("{base}/maybe"), &token)).await.body,
        "carol"
    );
    assert_eq!(
        send(bearer(&format!("{base}/maybe"), &expired))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_rejection_response_can_be_replaced() {
    let layer = JwtLayer::new(verifier(hs256_key("k1"))).on_rejection(|error: &AuthError| {
        let body = json!({"problem": error.kind().as_str()});
        (http::StatusCode::IM_A_TEAPOT, Json(body)).into_response()
    });
    let app = Router::new().route("/me", get(me)).layer(layer);
    let base = format!("http://{}", serve(app).await);
    let reply = send(client().get(format!("{base}/me"))).await;
    assert_eq!(reply.status, 418);
    assert_eq!(reply.json(), json!({"problem": "missing_token"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_under_load_without_failing_a_valid_request() {
    let keys = Keys::new(KeySet::new([hs256_key("stable"), es256_key("rotating-0")]));
    let base = start(JwtLayer::new(verifier(keys.clone()))).await;
    let url = format!("{base}/me");
    let stable = mint_hs256("stable", &claims("alice", "read"));
    let retired = mint_es256("rotating-0", &claims("alice", "read"));

    let stop = Arc::new(AtomicBool::new(false));
    let rotator = {
        let (keys, stop) = (keys.clone(), stop.clone());
        tokio::spawn(async move {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                keys.insert(es256_key(&format!("rotating-{round}")));
                keys.retire(&format!("rotating-{}", round - 1));
                if round.is_multiple_of(5) {
                    keys.replace(KeySet::new([
                        hs256_key("stable"),
                        es256_key(&format!("rotating-{round}")),
                    ]));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            round
        })
    };

    let client = client();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, url, stable) = (client.clone(), url.clone(), stable.clone());
        workers.push(tokio::spawn(async move {
            let mut failures = 0;
            for _ in 0..150 {
                let reply = send(
                    client
                        .get(&url)
                        .header("authorization", format!("Bearer {stable}")),
                )
                .await;
                if reply.status != 200 {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for worker in workers {
        failures += worker.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = rotator.await.unwrap();
    assert_eq!(
        failures, 0,
        "valid requests failed during {rounds} rotations"
    );
    assert!(
        rounds > 5,
        "the rotation ran concurrently ({rounds} rounds)"
    );
    // The key retired during the run no longer verifies.
    assert_eq!(send(bearer(&url, &retired)).await.status, 401);
}

/// With the verified-token cache, the layer answers a reused `Bearer` token from the cache
/// before checking its characters: every answer must still be the one the full path
/// gives (spelling of the scheme, two headers, a changed byte, the layer's policy,
/// revocation after the token was cached).
#[tokio::test]
async fn cache_hits_through_the_layer_answer_as_the_full_path_does() {
    use jwt_tower::revoke::{Revocation, Revocations};
    let revocations = Revocations::new();
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .revocations(revocations.clone())
        .cache(100)
        .build()
        .unwrap();
    let layer = JwtLayer::new(verifier.clone()).require_scopes(["read"]);
    let base = start(layer).await;
    let url = format!("{base}/me");
    let token = mint_hs256(
        "k1",
        &json!({"sub": "alice", "scope": "read", "jti": "t-1", "exp": now() + 600}),
    );

    // First the full path (a miss that stores the token), then hits, however the
    // header spells the scheme and pads the space.
    for header in [
        format!("Bearer {token}"),
        format!("Bearer {token}"),
        format!("bearer   {token}"),
        format!("BEARER {token}"),
    ] {
        let reply = send(client().get(&url).header("authorization", &header)).await;
        assert_eq!(reply.status, 200, "{header}: {reply:?}");
        assert_eq!(reply.json()["sub"], "alice");
    }
    let metrics = verifier.metrics();
    assert_eq!(
        (metrics.verified, metrics.cache_hits),
        (4, 3),
        "{metrics:?}"
    );

    // What the full path refuses stays refused, the cached token inside it or not.
    let two_headers = client()
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"));
    assert_refused(
        &send(two_headers).await,
        400,
        Some("invalid_request"),
        &token,
    );
    for (header, status, code) in [
        (format!("Bearer {token}x"), 401, Some("invalid_token")),
        (format!("Bearer {token}!"), 400, Some("invalid_request")),
        // Another scheme carries no bearer token (RFC 6750 §3.1): the bare challenge.
        (format!("Token {token}"), 401, None),
        (format!("Bearer{token}"), 400, Some("invalid_request")),
    ] {
        let reply = send(client().get(&url).header("authorization", &header)).await;
        assert_refused(&reply, status, code, &token);
    }
    // The layer's scope policy applies to hits too.
    let write_only = mint_hs256(
        "k1",
        &json!({"sub": "bob", "scope": "write", "exp": now() + 600}),
    );
    for _ in 0..2 {
        let reply = send(bearer(&url, &write_only)).await;
        assert_refused(&reply, 403, Some("insufficient_scope"), &write_only);
    }
    // A revocation reaches a token already in the cache.
    revocations.apply(Revocation::Token {
        jti: "t-1".into(),
        exp: now() + 600,
    });
    let reply = send(bearer(&url, &token)).await;
    assert_refused(&reply, 401, Some("invalid_token"), &token);
    // Hits served: the three above and bob's second request (refused by the policy after
    // the cache answered); the revoked token was found but not served.
    assert_eq!(verifier.metrics().cache_hits, 4);
}

/// Without a cache, the layer verifies a lone `Authorization: Bearer` token before
/// checking its characters: every refusal must still blame the same party as checking
/// first did (400 for a header that is not `Bearer <b64token>`, 401 for a bad token), and
/// be counted once, under that kind.
#[tokio::test]
async fn unchecked_bearer_tokens_are_refused_and_counted_as_the_full_path_does() {
    let verifier = verifier(hs256_key("k1"));
    let base = start(JwtLayer::new(verifier.clone())).await;
    let url = format!("{base}/me");
    let token = mint_hs256("k1", &claims("alice", "read"));
    let cases = [
        (format!("Bearer {token}"), 200, None),
        (format!("bearer   {token}"), 200, None),
        (format!("Bearer {token}x"), 401, Some("invalid_token")),
        (format!("Bearer {token}!"), 400, Some("invalid_request")),
        (format!("Bearer {token}~"), 401, Some("invalid_token")),
        (format!("Bearer {token}=="), 401, Some("invalid_token")),
        ("Bearer ".to_owned(), 400, Some("invalid_request")),
        ("Bearer a.b".to_owned(), 401, Some("invalid_token")),
        ("Bearer a b.c.d".to_owned(), 400, Some("invalid_request")),
    ];
    for (header, status, code) in &cases {
        let reply = send(client().get(&url).header("authorization", header)).await;
        match code {
            None => assert_eq!(reply.status, *status, "{header}: {reply:?}"),
            Some(code) => assert_refused(&reply, *status, Some(code), &token),
        }
    }
    // Not valid UTF-8 (nor a b64token): the header's fault, as before.
    let mut raw = format!("Bearer {token}").into_bytes();
    raw.push(0xE9);
    let value = http::HeaderValue::from_bytes(&raw).unwrap();
    let reply = send(client().get(&url).header("authorization", value)).await;
    assert_refused(&reply, 400, Some("invalid_request"), &token);

    let metrics = verifier.metrics();
    assert_eq!(metrics.verified, 2, "{metrics:?}");
    assert_eq!(
        metrics.rejected(RejectionKind::InvalidAuthorizationHeader),
        4,
        "{metrics:?}"
    );
    let all: u64 = metrics.rejected.iter().map(|(_, n)| n).sum();
    assert_eq!(all, 8, "one count per refusal: {metrics:?}");
}

/// The cache-first path in optional mode, with a custom check that starts refusing after
/// the token was cached, and behind a multi-issuer verifier (whose routes keep their own
/// caches, so the layer takes the full path): each answers as without a cache.
#[tokio::test]
async fn cache_hits_in_optional_mode_custom_checks_and_several_issuers() {
    let allowed = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&allowed);
    let checked = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .validate(move |_| {
            if flag.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("tenant suspended".into())
            }
        })
        .cache(100)
        .build()
        .unwrap();
    let open = Router::new()
        .route(
            "/who",
            get(|CurrentIdentity(id): CurrentIdentity| async move {
                id.subject().unwrap_or("?").to_owned()
            }),
        )
        .route("/anyone", get(|| async { "anyone" }))
        .layer(JwtLayer::new(checked.clone()).optional());
    let open = format!("http://{}", serve(open).await);
    let token = mint_hs256("k1", &claims("alice", "read"));
    for _ in 0..3 {
        let reply = send(bearer(&format!("{open}/who"), &token)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "alice"),
            "{reply:?}"
        );
    }
    assert_eq!(checked.metrics().cache_hits, 2);
    // Anonymous requests still pass in optional mode; a bad token still does not.
    assert_eq!(
        send(client().get(format!("{open}/anyone"))).await.status,
        200
    );
    let reply = send(bearer(&format!("{open}/anyone"), &format!("{token}x"))).await;
    assert_refused(&reply, 401, Some("invalid_token"), &token);
    // The custom check runs on the hit and now refuses.
    allowed.store(false, Ordering::SeqCst);
    let reply = send(bearer(&format!("{open}/who"), &token)).await;
    assert_refused(&reply, 401, Some("invalid_token"), &token);

    // Two issuers, each with its cache: the layer verifies through the router.
    let per_issuer = |kid: &str, iss: &str| {
        Verifier::<RegisteredClaims>::builder(hs256_key(kid))
            .algorithms([Algorithm::HS256])
            .issuer(iss)
            .cache(100)
            .build()
            .unwrap()
    };
    let a = per_issuer("k1", "https://a.test");
    let b = per_issuer("k2", "https://b.test");
    let both = Verifier::by_issuer([("https://a.test", a.clone()), ("https://b.test", b)]).unwrap();
    let base = start(JwtLayer::new(both)).await;
    let from_a = mint_hs256(
        "k1",
        &json!({"sub": "carol", "iss": "https://a.test", "exp": now() + 600}),
    );
    let forged = mint_hs256(
        "k1",
        &json!({"sub": "mallory", "iss": "https://b.test", "exp": now() + 600}),
    );
    for _ in 0..3 {
        let reply = send(bearer(&format!("{base}/me"), &from_a)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["sub"], "carol");
        let reply = send(bearer(&format!("{base}/me"), &forged)).await;
        assert_refused(&reply, 401, Some("invalid_token"), &forged);
    }
    assert_eq!(a.metrics().cache_hits, 2);
}

/// A preflight as a browser sends it before a cross-origin `GET /me` with a token.
fn preflight(base: &str) -> reqwest::RequestBuilder {
    client()
        .request(reqwest::Method::OPTIONS, format!("{base}/me"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
}

/// The status and `Access-Control-Allow-Origin` of a reply.
async fn cors_reply(request: reqwest::RequestBuilder) -> (u16, Option<String>) {
    let response = request.send().await.unwrap();
    let allow_origin = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), allow_origin)
}

fn cors() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new()
        .allow_origin(http::HeaderValue::from_static("https://app.example"))
        .allow_methods([http::Method::GET])
        .allow_headers([http::header::AUTHORIZATION])
}

#[tokio::test]
async fn cors_preflights_pass_only_when_allowed_and_only_as_preflights() {
    // The CORS handler inside the JWT layer: preflights (never credentialed) are 401
    // unless the layer lets them through.
    let inside = |layer: JwtLayer<RegisteredClaims>| {
        Router::new()
            .route("/me", get(me))
            .layer(cors())
            .layer(layer)
    };
    let strict = format!(
        "http://{}",
        serve(inside(JwtLayer::new(verifier(hs256_key("k1"))))).await
    );
    assert_eq!(cors_reply(preflight(&strict)).await.0, 401);

    let open = JwtLayer::new(verifier(hs256_key("k1"))).allow_cors_preflight();
    let base = format!("http://{}", serve(inside(open)).await);
    let (status, allow_origin) = cors_reply(preflight(&base)).await;
    assert_eq!(status, 200);
    assert_eq!(allow_origin.as_deref(), Some("https://app.example"));

    // Only preflights: an OPTIONS without Origin or without the requested method, and the
    // real call without a token, are still authenticated.
    let no_origin = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/me"))
        .header("access-control-request-method", "GET");
    assert_eq!(cors_reply(no_origin).await.0, 401);
    let no_method = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/me"))
        .header("origin", "https://app.example");
    assert_eq!(cors_reply(no_method).await.0, 401);
    let anonymous = client()
        .get(format!("{base}/me"))
        .header("origin", "https://app.example");
    assert_eq!(cors_reply(anonymous).await.0, 401);
    let token = mint_hs256("k1", &claims("alice", "read"));
    let (status, allow_origin) =
        cors_reply(bearer(&format!("{base}/me"), &token).header("origin", "https://app.example"))
            .await;
    assert_eq!(status, 200);
    assert_eq!(allow_origin.as_deref(), Some("https://app.example"));
}

#[tokio::test]
async fn a_cors_layer_outside_answers_preflights_and_labels_refusals() {
    // The recommended order: CorsLayer outside JwtLayer needs no option, and the browser
    // can read the 401 because it carries the CORS headers.
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier(hs256_key("k1"))))
        .layer(cors());
    let base = format!("http://{}", serve(app).await);
    let (status, allow_origin) = cors_reply(preflight(&base)).await;
    assert_eq!(status, 200);
    assert_eq!(allow_origin.as_deref(), Some("https://app.example"));
    let (status, allow_origin) = cors_reply(
        client()
            .get(format!("{base}/me"))
            .header("origin", "https://app.example"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(allow_origin.as_deref(), Some("https://app.example"));
}

#[tokio::test]
async fn route_layer_leaves_unknown_paths_404_where_layer_makes_them_401() {
    let layer = JwtLayer::new(verifier(hs256_key("k1")));
    let routed = Router::new()
        .route("/me", get(me))
        .route_layer(layer.clone());
    let wrapped = Router::new().route("/me", get(me)).layer(layer);
    let routed = format!("http://{}", serve(routed).await);
    let wrapped = format!("http://{}", serve(wrapped).await);
    assert_eq!(
        send(client().get(format!("{routed}/nowhere"))).await.status,
        404
    );
    // A known path with another method is still authenticated before axum answers 405.
    assert_eq!(
        send(client().post(format!("{routed}/me"))).await.status,
        401
    );
    assert_eq!(send(client().get(format!("{routed}/me"))).await.status, 401);
    assert_eq!(
        send(client().get(format!("{wrapped}/nowhere")))
            .await
            .status,
        401
    );
}
