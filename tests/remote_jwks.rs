//! Remote JWKS against a misbehaving endpoint on loopback: rotation, unknown-`kid`
//! floods, outages, start-up while down, discovery, Cache-Control, a custom client.

mod support;

use std::time::{Duration, Instant};

use axum::{Json, Router, routing::get};
use jsonwebtoken::Algorithm as JwtAlg;
use jwt_axum::Claims;
use jwt_tower::jwks::RemoteJwks;
use jwt_tower::{Algorithm, JwtLayer, Keys, RegisteredClaims, Verifier};
use support::jwks_server::{Behaviour, JwksServer, document, jwk};
use support::*;

const ISSUER: &str = "https://issuer.test";

async fn me(Claims(c): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(c)
}

fn token(kid: &str) -> String {
    let claims = serde_json::json!({"sub": "alice", "iss": ISSUER, "exp": now() + 600});
    if kid.starts_with("rsa") {
        let mut header = jsonwebtoken::Header::new(JwtAlg::RS256);
        header.kid = Some(kid.to_owned());
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(key_file("rsa2048-private.pem").as_bytes())
                .unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    } else {
        mint_es256(kid, &claims)
    }
}

/// An API behind the layer, verifying with `keys`.
async fn api(keys: Keys) -> String {
    let verifier = Verifier::<RegisteredClaims>::builder(keys)
        .algorithms([Algorithm::ES256, Algorithm::RS256])
        .issuer(ISSUER)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier));
    format!("http://{}/me", serve(app).await)
}

async fn status(url: &str, token: &str) -> u16 {
    send(http().get(url).bearer_auth(token)).await.status
}

/// Waits until `check` holds, up to `limit`.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_the_request_that_names_it() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .cooldown(Duration::from_secs(60))
        .start()
        .unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);
    assert_eq!(server.fetches(), 1);

    // The issuer rotates: the new key appears, the old one is gone.
    server.set_document(document(vec![jwk(JwtAlg::RS256, "rsa-2")]));
    assert_eq!(
        status(&url, &token("rsa-2")).await,
        200,
        "the first request waits for the fetch"
    );
    assert_eq!(server.fetches(), 2);
    assert_eq!(
        status(&url, &token("ec-1")).await,
        401,
        "the retired key is gone"
    );
    assert_eq!(server.fetches(), 2, "within the cooldown: no second fetch");
    assert_eq!(jwks.stats().key_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_makes_one_fetch_per_cooldown() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let cooldown = Duration::from_millis(1500);
    let jwks = RemoteJwks::builder(server.url())
        .cooldown(cooldown)
        .start()
        .unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);
    let before = server.fetches();

    let tokens: Vec<String> = (0..60).map(|i| token(&format!("random-{i}"))).collect();
    let started = Instant::now();
    let mut flood = Vec::new();
    for token in tokens {
        let url = url.clone();
        flood.push(tokio::spawn(async move { status(&url, &token).await }));
    }
    for request in flood {
        assert_eq!(request.await.unwrap(), 401);
    }
    assert!(
        started.elapsed() < cooldown,
        "refused at once, not queued: {:?}",
        started.elapsed()
    );
    assert_eq!(
        server.fetches() - before,
        1,
        "one fetch for the whole flood"
    );

    // A real rotation during the cooldown is delayed by at most one cooldown.
    server.set_document(document(vec![
        jwk(JwtAlg::ES256, "ec-1"),
        jwk(JwtAlg::RS256, "rsa-2"),
    ]));
    assert_eq!(
        status(&url, &token("rsa-2")).await,
        401,
        "still in the cooldown"
    );
    let picked_up = eventually(cooldown * 2, async || {
        status(&url, &token("rsa-2")).await == 200
    })
    .await;
    assert!(picked_up, "the rotation was picked up after the cooldown");
    assert!(started.elapsed() < cooldown * 3);
    assert!(server.fetches() - before <= 3);
}

#[tokio::test]
async fn the_last_good_set_serves_through_every_kind_of_outage() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .timeout(Duration::from_millis(300))
        .max_body_bytes(4096)
        .start()
        .unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);

    let outages = [
        ("500", Behaviour::Error),
        ("garbage", Behaviour::Garbage),
        ("oversized", Behaviour::Oversized(10_000)),
        ("hang", Behaviour::Hang),
    ];
    for (name, behaviour) in outages {
        server.set_behaviour(behaviour);
        let err = jwks.refresh().await.expect_err(name);
        assert_eq!(status(&url, &token("ec-1")).await, 200, "{name}: {err}");
        assert!(jwks.stats().failing, "{name}");
    }
    // A set that no longer holds a usable key is refused too.
    server.set_behaviour(Behaviour::Serve);
    server.set_document(
        r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA","kid":"x"}]}"#.to_owned(),
    );
    assert!(jwks.refresh().await.is_err());
    assert_eq!(status(&url, &token("ec-1")).await, 200, "empty set");
    // Down entirely.
    server.go_down();
    assert!(jwks.refresh().await.is_err());
    assert_eq!(status(&url, &token("ec-1")).await, 200, "down");

    // Back, with a rotated set: picked up, and healthy again.
    server.come_back().await;
    server.set_document(document(vec![jwk(JwtAlg::RS256, "rsa-2")]));
    jwks.refresh().await.unwrap();
    assert!(!jwks.stats().failing);
    assert_eq!(status(&url, &token("rsa-2")).await, 200);
    assert!(jwks.stats().fetches_failed >= 6);
}

#[tokio::test]
async fn starting_while_the_endpoint_is_down_is_503_then_recovers_by_itself() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    server.set_behaviour(Behaviour::Error);
    let jwks = RemoteJwks::builder(server.url())
        .startup_wait(Duration::from_millis(300))
        .start()
        .unwrap();
    let url = api(jwks.keys()).await;
    let reply = send(http().get(&url).bearer_auth(token("ec-1"))).await;
    assert_eq!(reply.status, 503);
    assert!(reply.retry_after.is_some());

    server.set_behaviour(Behaviour::Serve);
    let recovered = eventually(Duration::from_secs(6), async || {
        status(&url, &token("ec-1")).await == 200
    })
    .await;
    assert!(recovered, "recovered without a restart: {:?}", jwks.stats());
}

#[tokio::test]
async fn the_first_requests_wait_for_the_first_fetch() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url()).start().unwrap();
    // No sleep: the request races the first fetch and waits for it.
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_refuses_a_mismatched_issuer() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::discover(server.base()).start().unwrap();
    jwks.refresh().await.unwrap();
    assert_eq!(jwks.stats().key_count, 1);

    let liar = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    liar.set_discovery_issuer("https://someone-else.test");
    let jwks = RemoteJwks::discover(liar.base())
        .startup_wait(Duration::from_millis(100))
        .start()
        .unwrap();
    let err = jwks.refresh().await.unwrap_err();
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert_eq!(jwks.stats().key_count, 0);
    assert_eq!(liar.fetches(), 0, "its JWKS was never fetched");
    let url = api(jwks.keys()).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(status(&url, &token("ec-1")).await, 503);
}

#[tokio::test]
async fn cache_control_max_age_drives_the_refresh() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    server.set_max_age(Some(1));
    let jwks = RemoteJwks::builder(server.url())
        .refresh_interval(Duration::from_secs(3600))
        .refresh_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .start()
        .unwrap();
    let refreshed = eventually(Duration::from_secs(5), async || server.fetches() >= 3).await;
    assert!(
        refreshed,
        "max-age=1 refreshes about every second: {} fetches",
        server.fetches()
    );
    drop(jwks);
}

#[tokio::test]
async fn the_applications_client_is_used_for_every_fetch() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-test-client", "yes".parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let jwks = RemoteJwks::builder(server.url())
        .client(client)
        .cooldown(Duration::ZERO)
        .start()
        .unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);
    assert_eq!(status(&url, &token("unknown")).await, 401);
    jwks.refresh().await.unwrap();
    assert!(server.fetches() >= 3);
    assert_eq!(server.marked_fetches(), server.fetches());
}

#[tokio::test]
async fn jwks_hygiene_skips_unusable_keys() {
    let mut enc = jwk(JwtAlg::RS256, "rsa-enc");
    enc.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
    let small = serde_json::json!({"kty": "RSA", "kid": "small", "n": "sXch", "e": "AQAB"});
    let mut doc: serde_json::Value = serde_json::from_str(&document(vec![
        enc,
        jwk(JwtAlg::ES256, "ec-1"),
        jwk(JwtAlg::EdDSA, "ed-1"),
    ]))
    .unwrap();
    doc["keys"].as_array_mut().unwrap().push(small);
    let server = JwksServer::start(doc.to_string()).await;
    // EdDSA is outside the allow-list: skipped as well.
    let jwks = RemoteJwks::builder(server.url())
        .algorithms([Algorithm::ES256, Algorithm::RS256])
        .start()
        .unwrap();
    jwks.refresh().await.unwrap();
    let set = jwks.keys().snapshot().unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["ec-1"]);
}

#[tokio::test]
async fn a_set_older_than_the_maximum_staleness_stops_being_trusted() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .max_staleness(Duration::from_millis(300))
        .startup_wait(Duration::ZERO)
        .start()
        .unwrap();
    jwks.refresh().await.unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-1")).await, 200);

    server.set_behaviour(Behaviour::Error);
    assert!(jwks.refresh().await.is_err());
    assert_eq!(
        status(&url, &token("ec-1")).await,
        200,
        "still within the staleness bound"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(jwks.refresh().await.is_err());
    assert_eq!(
        status(&url, &token("ec-1")).await,
        503,
        "too stale: keys dropped"
    );

    server.set_behaviour(Behaviour::Serve);
    jwks.refresh().await.unwrap();
    assert_eq!(
        status(&url, &token("ec-1")).await,
        200,
        "trusted again after a good fetch"
    );
}

/// `refresh_interval` is taken as given (the bounds apply to `Cache-Control` only), and a
/// refresh that brings the same document keeps the set in use, so a verifier's token
/// cache survives it; a changed document replaces the set and empties the cache.
#[tokio::test]
async fn an_unchanged_document_keeps_the_set_and_the_token_cache() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .refresh_interval(Duration::from_millis(100))
        .start()
        .unwrap();
    let verifier = Verifier::<RegisteredClaims>::builder(jwks.keys())
        .algorithms([Algorithm::ES256, Algorithm::RS256])
        .issuer(ISSUER)
        .cache(100)
        .build()
        .unwrap();
    let loaded = eventually(Duration::from_secs(5), async || {
        jwks.keys().snapshot().is_some()
    })
    .await;
    assert!(loaded);
    let ec = token("ec-1");
    verifier.verify(&ec).unwrap();
    let first_set = jwks.keys().snapshot().unwrap();

    let refreshed = eventually(Duration::from_secs(5), async || server.fetches() >= 5).await;
    assert!(refreshed, "a 100 ms interval: {} fetches", server.fetches());
    let same_set = jwks.keys().snapshot().unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first_set, &same_set),
        "the same document kept the same set"
    );
    verifier.verify(&ec).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1, "the cache survived");

    server.set_document(document(vec![
        jwk(JwtAlg::ES256, "ec-1"),
        jwk(JwtAlg::RS256, "rsa-2"),
    ]));
    let replaced = eventually(Duration::from_secs(5), async || {
        jwks.keys().snapshot().is_some_and(|set| set.len() == 2)
    })
    .await;
    assert!(replaced);
    verifier.verify(&ec).unwrap();
    let m = verifier.metrics();
    assert_eq!(m.cache_hits, 1, "verified afresh under the new set");
    verifier.verify(&ec).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 2);
}
