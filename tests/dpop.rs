//! DPoP (RFC 9449) and certificate-bound tokens (RFC 8705) over real sockets: the
//! `resource_server` example as a process in each DPoP mode, and `JwtLayer` routers
//! sharing one replay store. Tokens are HS256 with `cnf`, proofs come from `DpopKey`.

mod support;

use std::sync::Arc;

use axum::{Router, routing::get};
use jwt_tower::auth::Authenticator;
use jwt_tower::confirmation::ClientCertificate;
use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode};
use jwt_tower::store::{MemoryStore, Store};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use serde_json::{Value, json};
use support::process::{Running, start};
use support::*;

const ALGS: &str = r#"algs="ES256 Ed25519 EdDSA""#;

/// What the tests read of an answer: status, every challenge in order, the nonce.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenges: Vec<String>,
    nonce: Option<String>,
    body: String,
}

async fn call(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request failed");
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status: response.status().as_u16(),
        challenges,
        nonce,
        body: response.text().await.unwrap(),
    }
}

/// `GET url` with `Authorization: DPoP token` and each of `proofs` as a `DPoP` header.
async fn dpop_get(url: &str, token: &str, proofs: &[&str]) -> Answer {
    let mut request = http()
        .get(url)
        .header("authorization", format!("DPoP {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    call(request).await
}

async fn bearer_get(url: &str, token: &str) -> Answer {
    call(http().get(url).bearer_auth(token)).await
}

fn key() -> DpopKey {
    DpopKey::generate(Algorithm::ES256).unwrap()
}

/// An HS256 token for alice bound to `key`.
fn bound_token(key: &DpopKey) -> String {
    mint_hs256(
        "k1",
        &json!({"sub": "alice", "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    )
}

fn plain_token() -> String {
    mint_hs256("k1", &json!({"sub": "bob", "exp": now() + 600}))
}

async fn resource_server(mode: &str, extra: &[(&'static str, &str)]) -> Running {
    let mut env = vec![
        (
            "JWT_HS256_SECRET",
            std::str::from_utf8(SECRET).unwrap().to_owned(),
        ),
        ("JWT_ALGORITHMS", "HS256".to_owned()),
        ("JWT_DPOP", mode.to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    start("resource_server", &env).await
}

fn dpop_challenge(error: &str, description: &str) -> String {
    format!(r#"DPoP realm="api", error="{error}", error_description="{description}", {ALGS}"#)
}

#[tokio::test]
async fn allowed_mode_admits_a_bound_token_with_its_proof_and_refuses_each_bad_proof() {
    let server = resource_server("allowed", &[]).await;
    let me = format!("{}/me", server.base());
    let key = key();
    let token = bound_token(&key);

    let proof = key.proof("GET", &me, Some(&token), None).unwrap();
    let ok = dpop_get(&me, &token, &[&proof]).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&ok.body).unwrap()["sub"],
        "alice"
    );

    // Each refusal: 401, the Bearer challenge first and bare, the DPoP one with the error.
    let refused = |answer: &Answer, description: &str| {
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(
            answer.challenges,
            [
                r#"Bearer realm="api""#.to_owned(),
                dpop_challenge("invalid_dpop_proof", description)
            ],
            "{answer:?}"
        );
    };
    refused(
        &dpop_get(&me, &token, &[&proof]).await,
        "the DPoP proof has been used before",
    );
    let other = self::key();
    refused(
        &dpop_get(
            &me,
            &token,
            &[&other.proof("GET", &me, Some(&token), None).unwrap()],
        )
        .await,
        "the access token is not bound to the DPoP proof's key",
    );
    refused(
        &dpop_get(
            &me,
            &token,
            &[&key.proof("POST", &me, Some(&token), None).unwrap()],
        )
        .await,
        "the DPoP proof is for another HTTP method",
    );
    for htu in [
        format!("{}/admin", server.base()),
        me.replace("127.0.0.1", "localhost"),
        "https://api.example.com/me".to_owned(),
    ] {
        refused(
            &dpop_get(
                &me,
                &token,
                &[&key.proof("GET", &htu, Some(&token), None).unwrap()],
            )
            .await,
            "the DPoP proof is for another URI",
        );
    }
    refused(
        &dpop_get(
            &me,
            &token,
            &[&key.proof("GET", &me, Some("another"), None).unwrap()],
        )
        .await,
        "the DPoP proof's ath does not match the access token",
    );
    for iat in [now() - 120, now() + 120] {
        let proof = key.proof_at("GET", &me, Some(&token), None, iat).unwrap();
        refused(
            &dpop_get(&me, &token, &[&proof]).await,
            "the DPoP proof was not issued within the accepted window",
        );
    }
    refused(
        &dpop_get(&me, &token, &[]).await,
        "the request has no DPoP proof",
    );
    // A token bound to no key, in the DPoP scheme.
    let plain = plain_token();
    let proof = key.proof("GET", &me, Some(&plain), None).unwrap();
    refused(
        &dpop_get(&me, &plain, &[&proof]).await,
        "the access token is not bound to the DPoP proof's key",
    );

    // Two proofs: 400 invalid_request.
    let (a, b) = (
        key.proof("GET", &me, Some(&token), None).unwrap(),
        key.proof("GET", &me, Some(&token), None).unwrap(),
    );
    let two = dpop_get(&me, &token, &[&a, &b]).await;
    assert_eq!(two.status, 400, "{two:?}");
    assert!(two.challenges[1].starts_with(r#"DPoP realm="api", error="invalid_request""#));

    // The bound token as Bearer: invalid_token, in the Bearer challenge.
    let stolen = bearer_get(&me, &token).await;
    assert_eq!(stolen.status, 401);
    assert_eq!(
        stolen.challenges,
        [
            r#"Bearer realm="api", error="invalid_token", error_description="a DPoP-bound token cannot be used as a bearer token""#.to_owned(),
            format!(r#"DPoP realm="api", {ALGS}"#),
        ]
    );
    // A plain Bearer token still passes, and no token gets both bare challenges.
    assert_eq!(bearer_get(&me, &plain).await.status, 200);
    let none = call(http().get(&me)).await;
    assert_eq!(
        (none.status, none.challenges),
        (
            401,
            vec![
                r#"Bearer realm="api""#.to_owned(),
                format!(r#"DPoP realm="api", {ALGS}"#)
            ]
        )
    );
}

#[tokio::test]
async fn required_mode_refuses_bearer_tokens_bound_or_not() {
    let server = resource_server("required", &[]).await;
    let me = format!("{}/me", server.base());
    let key = key();
    let token = bound_token(&key);
    for bearer in [plain_token(), token.clone()] {
        let answer = bearer_get(&me, &bearer).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.challenges,
            [dpop_challenge(
                "invalid_token",
                "this resource requires DPoP-bound tokens"
            )]
        );
    }
    let proof = key.proof("GET", &me, Some(&token), None).unwrap();
    assert_eq!(dpop_get(&me, &token, &[&proof]).await.status, 200);
    let bad = dpop_get(&me, &token, &[&proof]).await;
    assert_eq!(
        bad.challenges,
        [dpop_challenge(
            "invalid_dpop_proof",
            "the DPoP proof has been used before"
        )]
    );
}

#[tokio::test]
async fn a_guard_behind_the_layer_refuses_a_dpop_request_with_the_dpop_challenge() {
    let server = resource_server("required", &[]).await;
    let admin = format!("{}/admin", server.base());
    let key = key();
    let token = bound_token(&key);
    let proof = key.proof("GET", &admin, Some(&token), None).unwrap();
    let answer = dpop_get(&admin, &token, &[&proof]).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.challenges.len(), 1, "{answer:?}");
    let challenge = &answer.challenges[0];
    assert!(
        challenge.starts_with(r#"DPoP realm="api", error="insufficient_scope""#)
            && challenge.contains(r#"scope="admin""#)
            && challenge.ends_with(ALGS),
        "{challenge}"
    );
}

#[tokio::test]
async fn off_mode_refuses_a_bound_token_as_bearer_and_knows_no_dpop_scheme() {
    let server = resource_server("off", &[]).await;
    let me = format!("{}/me", server.base());
    let key = key();
    let token = bound_token(&key);
    let stolen = bearer_get(&me, &token).await;
    assert_eq!(stolen.status, 401);
    assert_eq!(
        stolen.challenges,
        [
            r#"Bearer realm="api", error="invalid_token", error_description="a DPoP-bound token cannot be used as a bearer token""#
        ]
    );
    // The DPoP scheme is another scheme here: as a request without a token.
    let proof = key.proof("GET", &me, Some(&token), None).unwrap();
    let answer = dpop_get(&me, &token, &[&proof]).await;
    assert_eq!(
        (answer.status, answer.challenges),
        (401, vec![r#"Bearer realm="api""#.to_owned()])
    );
    assert_eq!(bearer_get(&me, &plain_token()).await.status, 200);
}

#[tokio::test]
async fn the_nonce_dance() {
    let server = resource_server("required", &[("JWT_DPOP_NONCE", "1")]).await;
    let me = format!("{}/me", server.base());
    let key = key();
    let token = bound_token(&key);

    let first = dpop_get(
        &me,
        &token,
        &[&key.proof("GET", &me, Some(&token), None).unwrap()],
    )
    .await;
    assert_eq!(first.status, 401);
    assert_eq!(
        first.challenges,
        [dpop_challenge(
            "use_dpop_nonce",
            "the DPoP proof must carry the server's nonce"
        )]
    );
    let nonce = first.nonce.expect("a DPoP-Nonce header");

    let proof = key.proof("GET", &me, Some(&token), Some(&nonce)).unwrap();
    let second = dpop_get(&me, &token, &[&proof]).await;
    assert_eq!(second.status, 200, "{second:?}");

    let made_up = key
        .proof("GET", &me, Some(&token), Some("bWFkZS11cA"))
        .unwrap();
    let refused = dpop_get(&me, &token, &[&made_up]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.challenges,
        [dpop_challenge(
            "use_dpop_nonce",
            "the DPoP proof's nonce is not current"
        )]
    );
    assert!(refused.nonce.is_some());
}

/// Two resource servers (here two routers on their own sockets) sharing one store: a
/// proof used on one is refused on the other.
#[tokio::test]
async fn a_proof_replayed_on_another_instance_sharing_the_store_is_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let public = "https://api.example.com";
    let instance = || {
        let checker = DpopChecker::builder(public)
            .mode(DpopMode::Required)
            .replay_store(Arc::clone(&store))
            .build()
            .unwrap();
        let authenticator = Authenticator::new(verifier()).dpop(checker);
        Router::new()
            .route("/me", get(|| async { "ok" }))
            .layer(JwtLayer::from_authenticator(authenticator))
    };
    let (a, b) = (serve(instance()).await, serve(instance()).await);
    let key = key();
    let token = bound_token(&key);
    let proof = key
        .proof("GET", &format!("{public}/me"), Some(&token), None)
        .unwrap();
    assert_eq!(
        dpop_get(&format!("http://{a}/me"), &token, &[&proof])
            .await
            .status,
        200
    );
    let replay = dpop_get(&format!("http://{b}/me"), &token, &[&proof]).await;
    assert_eq!(replay.status, 401);
    assert_eq!(
        replay.challenges,
        [dpop_challenge(
            "invalid_dpop_proof",
            "the DPoP proof has been used before"
        )]
    );
}

/// The same across two `resource_server` processes sharing a real redis-server.
#[tokio::test]
async fn a_proof_replayed_on_a_second_resource_server_sharing_redis_is_refused() {
    let Some(redis) = support::redis::Redis::start() else {
        eprintln!("skipped: no redis-server");
        return;
    };
    let public = "http://api.fleet.test";
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str()), ("JWT_PUBLIC_URL", public)];
    let (one, two) = (
        resource_server("required", &env).await,
        resource_server("required", &env).await,
    );
    let key = key();
    let token = bound_token(&key);
    let proof = key
        .proof("GET", &format!("{public}/me"), Some(&token), None)
        .unwrap();
    assert_eq!(
        dpop_get(&format!("{}/me", one.base()), &token, &[&proof])
            .await
            .status,
        200
    );
    assert_eq!(
        dpop_get(&format!("{}/me", two.base()), &token, &[&proof])
            .await
            .status,
        401
    );
}

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

/// A certificate-bound token passes only with that certificate in the request's
/// extensions, which a TLS server puts there (here a tiny layer stands in for it), or
/// from the configured proxy header.
#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate() {
    let der = b"a client certificate, as DER".to_vec();
    let cert = ClientCertificate::from_der(&der);
    let token = mint_hs256(
        "k1",
        &json!({"sub": "svc", "exp": now() + 600, "cnf": {"x5t#S256": cert.thumbprint()}}),
    );
    let app = |presented: Option<ClientCertificate>| {
        Router::new()
            .route("/me", get(|| async { "ok" }))
            .layer(JwtLayer::new(verifier()))
            .layer(axum::middleware::from_fn(
                move |mut request: axum::extract::Request, next: axum::middleware::Next| {
                    if let Some(cert) = presented.clone() {
                        request.extensions_mut().insert(cert);
                    }
                    next.run(request)
                },
            ))
    };
    let with = serve(app(Some(cert.clone()))).await;
    let other = serve(app(Some(ClientCertificate::from_der(b"another")))).await;
    let without = serve(app(None)).await;
    assert_eq!(
        bearer_get(&format!("http://{with}/me"), &token)
            .await
            .status,
        200
    );
    for addr in [other, without] {
        let answer = bearer_get(&format!("http://{addr}/me"), &token).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.challenges,
            [
                r#"Bearer realm="api", error="invalid_token", error_description="the token is bound to a client certificate the request did not present""#
            ]
        );
    }
}

/// `JWT_MTLS_CERT_HEADER`: the certificate of a certificate-bound token is read from the
/// trusted proxy's header (URL-encoded PEM), and only from the header configured.
#[tokio::test]
async fn a_certificate_bound_token_passes_with_the_trusted_proxy_header() {
    let pem =
        "-----BEGIN CERTIFICATE-----\nYSBjbGllbnQgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let cert = ClientCertificate::from_pem(pem).unwrap();
    let forwarded = pem.replace('\n', "%0A").replace(' ', "%20");
    let token = mint_hs256(
        "k1",
        &json!({"sub": "svc", "exp": now() + 600, "cnf": {"x5t#S256": cert.thumbprint()}}),
    );
    let server = resource_server("off", &[("JWT_MTLS_CERT_HEADER", "x-client-cert")]).await;
    let me = format!("{}/me", server.base());
    let with = |header: &str, value: &str| {
        call(
            http()
                .get(&me)
                .bearer_auth(&token)
                .header(header.to_owned(), value.to_owned()),
        )
    };
    assert_eq!(with("x-client-cert", &forwarded).await.status, 200);
    let other = "-----BEGIN%20CERTIFICATE-----%0AYW5vdGhlcg==%0A-----END%20CERTIFICATE-----%0A";
    for (header, value) in [
        ("x-client-cert", other),
        ("x-client-cert", "not a certificate"),
        ("x-ssl-cert", forwarded.as_str()),
    ] {
        let answer = with(header, value).await;
        assert_eq!(answer.status, 401, "{header}: {value}");
        assert_eq!(
            answer.challenges,
            [
                r#"Bearer realm="api", error="invalid_token", error_description="the token is bound to a client certificate the request did not present""#
            ]
        );
    }
    // Without the variable, the header is never read.
    let plain = resource_server("off", &[]).await;
    let answer = call(
        http()
            .get(format!("{}/me", plain.base()))
            .bearer_auth(&token)
            .header("x-client-cert", forwarded.clone()),
    )
    .await;
    assert_eq!(answer.status, 401);
}
