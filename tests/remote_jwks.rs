//! Remote JWKS against a misbehaving endpoint on loopback: rotation, unknown-`kid`
//! floods, outages, start-up while down, discovery, Cache-Control, a custom client, and
//! what a published document may not hold (secrets, forgeable or ambiguous keys).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{Json, Router, routing::get};
use jsonwebtoken::Algorithm as JwtAlg;
use jwt_axum::Claims;
use jwt_tower::jwks::{FetchError, RemoteJwks};
use jwt_tower::{Algorithm, JwtLayer, KeySet, Keys, RegisteredClaims, Verifier};
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
    api_allowing(keys, &[Algorithm::ES256, Algorithm::RS256]).await
}

/// An API behind the layer, verifying with `keys` for `algorithms`.
async fn api_allowing(keys: Keys, algorithms: &[Algorithm]) -> String {
    let verifier = Verifier::<RegisteredClaims>::builder(keys)
        .algorithms(algorithms.iter().copied())
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

/// What the `tracing` subscriber of the current thread writes at `warn` and above, while
/// the guard lives (the tests run on one thread, the background fetch included).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWKS document of these JWKs, given as JSON values.
fn document_of(keys: Vec<serde_json::Value>) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

fn jwk_value(alg: JwtAlg, kid: Option<&str>) -> serde_json::Value {
    let mut key = jwk(alg, "unused");
    key.common.key_id = kid.map(str::to_owned);
    serde_json::to_value(key).unwrap()
}

#[tokio::test]
async fn a_secret_published_in_a_remote_jwks_is_never_used() {
    // Whoever can read the JWKS knows an `oct` key in it: HS256 tokens signed with it are refused.
    let hs_claims = serde_json::json!({"sub": "mallory", "iss": ISSUER, "exp": now() + 600});
    let oct = serde_json::json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(SECRET)});
    let doc = document_of(vec![oct.clone(), jwk_value(JwtAlg::ES256, Some("ec-1"))]);
    let (logs, _guard) = Logs::capture();
    let server = JwksServer::start(doc.clone()).await;
    let jwks = RemoteJwks::builder(server.url()).start().unwrap();
    let url = api_allowing(
        jwks.keys(),
        &[Algorithm::ES256, Algorithm::RS256, Algorithm::HS256],
    )
    .await;
    assert_eq!(status(&url, &mint_hs256("hs", &hs_claims)).await, 401);
    assert_eq!(
        status(&url, &token("ec-1")).await,
        200,
        "the other key works"
    );
    let set = jwks.keys().snapshot().unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["ec-1"]);
    let logged = logs.text();
    assert!(
        logged.contains("JWKS key skipped") && logged.contains("\"hs\"") && logged.contains("oct"),
        "{logged}"
    );
    // The same document configured locally is the application's own secret: loaded.
    assert!(
        KeySet::from_jwks_str(&doc)
            .unwrap()
            .get(Some("hs"))
            .is_some()
    );

    // A document with nothing but the secret is unusable: the last good set keeps serving.
    server.set_document(document_of(vec![oct.clone()]));
    assert!(matches!(jwks.refresh().await, Err(FetchError::Invalid(_))));
    assert_eq!(status(&url, &token("ec-1")).await, 200);

    // And with no good set before it, the keys stay unavailable (503).
    let only_secret = JwksServer::start(document_of(vec![oct])).await;
    let jwks = RemoteJwks::builder(only_secret.url())
        .startup_wait(Duration::from_millis(300))
        .start()
        .unwrap();
    let url = api_allowing(jwks.keys(), &[Algorithm::HS256]).await;
    assert_eq!(status(&url, &mint_hs256("hs", &hs_claims)).await, 503);
}

#[tokio::test]
async fn forgeable_and_ambiguous_remote_keys_are_skipped() {
    // The identity point as an Ed25519 key verifies `R = identity, S = 0` for any payload; a
    // kid naming two keys is ambiguous; a kid-less key among several can be selected by no token.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "ed-weak", "alg": "EdDSA", "x": b64(identity)
    });
    let doc = document_of(vec![
        weak,
        jwk_value(JwtAlg::ES256, Some("rsa-dup")),
        jwk_value(JwtAlg::RS256, Some("rsa-dup")),
        jwk_value(JwtAlg::RS256, None),
        jwk_value(JwtAlg::ES256, Some("ec-1")),
    ]);
    let (logs, _guard) = Logs::capture();
    let server = JwksServer::start(doc).await;
    let jwks = RemoteJwks::builder(server.url()).start().unwrap();
    let url = api_allowing(
        jwks.keys(),
        &[Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA],
    )
    .await;
    let mut forged_signature = [0u8; 64];
    forged_signature[0] = 1;
    let forged = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"EdDSA","kid":"ed-weak"}"#),
        b64(serde_json::json!({"sub": "mallory", "iss": ISSUER, "exp": now() + 600}).to_string()),
        b64(forged_signature)
    );
    assert_eq!(status(&url, &forged).await, 401, "the forged token");
    assert_eq!(
        status(&url, &token("rsa-dup")).await,
        401,
        "RS256 under the shared kid"
    );
    assert_eq!(
        status(
            &url,
            &mint_es256(
                "rsa-dup",
                &serde_json::json!({"sub": "alice", "iss": ISSUER, "exp": now() + 600})
            )
        )
        .await,
        401,
        "ES256 under the shared kid"
    );
    assert_eq!(status(&url, &token("ec-1")).await, 200);
    let set = jwks.keys().snapshot().unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["ec-1"]);
    assert_eq!(set.len(), 1, "the kid-less key is not kept");
    let logged = logs.text();
    for expected in [
        "ed-weak",
        "small order",
        "rsa-dup",
        "ambiguous",
        "without a `kid`",
    ] {
        assert!(logged.contains(expected), "{expected} not logged: {logged}");
    }
}

#[tokio::test]
async fn a_private_key_published_in_a_remote_jwks_is_never_used() {
    // A JWK with private members in a public document is a leaked key: anyone can sign with it.
    let mut leaked = jwk_value(JwtAlg::ES256, Some("ec-leaked"));
    leaked["d"] = serde_json::json!(b64([7u8; 32]));
    let mut leaked_rsa = jwk_value(JwtAlg::RS256, Some("rsa-leaked"));
    leaked_rsa["p"] = serde_json::json!(b64([7u8; 128]));
    let doc = document_of(vec![
        leaked,
        leaked_rsa,
        jwk_value(JwtAlg::RS256, Some("rsa-1")),
    ]);
    let (logs, _guard) = Logs::capture();
    let server = JwksServer::start(doc).await;
    let jwks = RemoteJwks::builder(server.url()).start().unwrap();
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("ec-leaked")).await, 401);
    assert_eq!(status(&url, &token("rsa-leaked")).await, 401);
    assert_eq!(status(&url, &token("rsa-1")).await, 200);
    let set = jwks.keys().snapshot().unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["rsa-1"]);
    let logged = logs.text();
    assert!(
        logged.contains("ec-leaked") && logged.contains("rsa-leaked") && logged.contains("private"),
        "{logged}"
    );
}

#[tokio::test]
async fn skipped_keys_are_logged_once_per_document_not_on_every_refresh() {
    // An unchanged document is not parsed again: its skipped keys do not flood the log.
    let oct = serde_json::json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(SECRET)});
    let (logs, _guard) = Logs::capture();
    let server = JwksServer::start(document_of(vec![
        oct.clone(),
        jwk_value(JwtAlg::ES256, Some("ec-1")),
    ]))
    .await;
    let jwks = RemoteJwks::builder(server.url()).start().unwrap();
    for _ in 0..3 {
        jwks.refresh().await.unwrap();
    }
    assert!(server.fetches() >= 3);
    let skips = |logs: &Logs| logs.text().matches("JWKS key skipped").count();
    assert_eq!(skips(&logs), 1, "{}", logs.text());
    assert_eq!(jwks.stats().key_count, 1);

    // A new document is parsed, and its skipped key logged, once.
    server.set_document(document_of(vec![
        oct,
        jwk_value(JwtAlg::RS256, Some("rsa-1")),
    ]));
    for _ in 0..2 {
        jwks.refresh().await.unwrap();
    }
    assert_eq!(skips(&logs), 2, "{}", logs.text());
    let url = api(jwks.keys()).await;
    assert_eq!(status(&url, &token("rsa-1")).await, 200);
}

#[tokio::test]
async fn the_verifier_takes_the_allow_list_given_to_the_jwks() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let jwks = RemoteJwks::builder(server.url())
        .algorithms([Algorithm::ES256])
        .start()
        .unwrap();
    // Stated once: the verifier builds with no `algorithms` call of its own.
    let verifier = jwks
        .verifier::<RegisteredClaims>()
        .issuer(ISSUER)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier));
    let url = format!("http://{}/me", serve(app).await);
    assert_eq!(status(&url, &token("ec-1")).await, 200);

    // An explicit allow-list on the verifier replaces the JWKS's.
    let narrowed = jwks
        .verifier::<RegisteredClaims>()
        .algorithms([Algorithm::RS256])
        .issuer(ISSUER)
        .build()
        .unwrap();
    let err = narrowed.verify(&token("ec-1")).unwrap_err();
    assert_eq!(err.kind(), jwt_tower::RejectionKind::AlgorithmNotAllowed);

    // No allow-list anywhere is still refused: there is no default.
    let unlisted = RemoteJwks::builder(server.url()).start().unwrap();
    let refused = unlisted.verifier::<RegisteredClaims>().build();
    assert!(
        matches!(refused, Err(jwt_tower::ConfigError::NoAlgorithms)),
        "{refused:?}"
    );
}

/// A verifier built from a remote JWKS keeps the background refresh running once every
/// other handle is gone: a rotation on the server reaches it with no request asking for
/// it (the retired key stops verifying). The refresh ends with the verifier.
#[tokio::test]
async fn a_verifier_alone_keeps_the_refresh_running() {
    let server = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let verifier = RemoteJwks::builder(server.url())
        .algorithms([Algorithm::ES256, Algorithm::RS256])
        .refresh_interval(Duration::from_millis(300))
        .cooldown(Duration::from_secs(3600))
        .start()
        .unwrap()
        .verifier::<RegisteredClaims>()
        .issuer(ISSUER)
        .build()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || verifier
            .verify(&token("ec-1"))
            .is_ok())
        .await,
        "the first set loads"
    );

    // The issuer rotates. Only the scheduled refresh can retire ec-1: no token names
    // the new key yet.
    server.set_document(document(vec![jwk(JwtAlg::RS256, "rsa-2")]));
    assert!(
        eventually(Duration::from_secs(3), async || verifier
            .verify(&token("ec-1"))
            .is_err())
        .await,
        "the refresh retired ec-1: {} fetches",
        server.fetches()
    );
    assert!(
        verifier.verify(&token("rsa-2")).is_ok(),
        "and brought rsa-2"
    );

    drop(verifier);
    // A fetch in flight may finish; none starts after it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = server.fetches();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        server.fetches(),
        after,
        "the refresh ends with the verifier"
    );
}
