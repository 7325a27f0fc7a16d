//! `examples/resource_server` as a process, driven only by its environment contract.

mod support;

use jsonwebtoken::Algorithm as JwtAlg;
use serde_json::json;
use support::jwks_server::{JwksServer, document, jwk};
use support::process::{run_to_exit, start};
use support::*;

const ISSUER: &str = "https://issuer.e2e.test";

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn claims(sub: &str, scope: &str) -> serde_json::Value {
    json!({"iss": ISSUER, "aud": ["other", "orders"], "sub": sub, "scope": scope, "exp": now() + 600})
}

async fn get(url: &str, token: Option<&str>) -> Reply {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

#[tokio::test]
async fn hs256_secret_routes_and_rejections() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let server = start(
        "resource_server",
        &env(&[
            ("JWT_HS256_SECRET", secret),
            ("JWT_KID", "k1"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", "orders,billing"),
            // The same token on several routes: cache hits must answer as verifies do.
            ("JWT_CACHE_ENTRIES", "1000"),
        ]),
    )
    .await;
    let base = server.base();
    let user = mint_hs256("k1", &claims("alice", "read"));
    let admin = mint_hs256("k1", &claims("root", "read admin"));

    let me = get(&format!("{base}/me"), Some(&user)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["sub"], "alice");
    assert_eq!(get(&format!("{base}/me"), None).await.status, 401);
    assert_eq!(get(&format!("{base}/admin"), Some(&user)).await.status, 403);
    assert_eq!(
        get(&format!("{base}/admin"), Some(&admin)).await.status,
        200
    );

    let anon = get(&format!("{base}/optional"), None).await;
    assert_eq!(
        (anon.status, anon.json()),
        (200, json!({"authenticated": false}))
    );
    let known = get(&format!("{base}/optional"), Some(&user)).await;
    assert_eq!(known.json(), json!({"authenticated": true, "sub": "alice"}));
    assert_eq!(
        get(&format!("{base}/optional"), Some("bad.to.ken"))
            .await
            .status,
        401
    );

    // The audience and issuer lists are enforced.
    let wrong_aud = mint_hs256(
        "k1",
        &json!({"iss": ISSUER, "aud": "shop", "exp": now() + 60}),
    );
    assert_eq!(
        get(&format!("{base}/me"), Some(&wrong_aud)).await.status,
        401
    );
    let wrong_iss = mint_hs256(
        "k1",
        &json!({"iss": "https://x.test", "aud": "orders", "exp": now() + 60}),
    );
    assert_eq!(
        get(&format!("{base}/me"), Some(&wrong_iss)).await.status,
        401
    );
}

#[tokio::test]
async fn jwks_url_with_rotation_through_the_process() {
    let jwks = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let server = start(
        "resource_server",
        &env(&[
            ("JWT_JWKS_URL", &jwks.url()),
            ("JWT_ALGORITHMS", "ES256,RS256"),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", "orders"),
            ("JWT_JWKS_COOLDOWN_SECONDS", "60"),
            ("JWT_JWKS_REFRESH_SECONDS", "300"),
        ]),
    )
    .await;
    let me = format!("{}/me", server.base());
    assert_eq!(
        get(&me, Some(&mint_es256("ec-1", &claims("alice", "read"))))
            .await
            .status,
        200
    );

    jwks.set_document(document(vec![jwk(JwtAlg::RS256, "rsa-2")]));
    let mut header = jsonwebtoken::Header::new(JwtAlg::RS256);
    header.kid = Some("rsa-2".to_owned());
    let rsa = jsonwebtoken::EncodingKey::from_rsa_pem(key_file("rsa2048-private.pem").as_bytes())
        .unwrap();
    let rotated = jsonwebtoken::encode(&header, &claims("bob", "read"), &rsa).unwrap();
    assert_eq!(get(&me, Some(&rotated)).await.status, 200);
    let fetched = jwks.fetches();
    let random = mint_es256("random", &claims("eve", "read"));
    for _ in 0..20 {
        assert_eq!(get(&me, Some(&random)).await.status, 401);
    }
    assert_eq!(jwks.fetches(), fetched, "the cooldown holds back the flood");
}

#[tokio::test]
async fn the_oidc_issuer_is_the_required_issuer_by_default() {
    let idp = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let issuer = idp.base();
    let server = start(
        "resource_server",
        &env(&[("JWT_OIDC_ISSUER", &issuer), ("JWT_ALGORITHMS", "ES256")]),
    )
    .await;
    let me = format!("{}/me", server.base());
    let token = |iss: &str| {
        mint_es256(
            "ec-1",
            &json!({"iss": iss, "sub": "alice", "exp": now() + 60}),
        )
    };
    assert_eq!(get(&me, Some(&token(&issuer))).await.status, 200);
    assert_eq!(
        get(&me, Some(&token("https://elsewhere.example")))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn oidc_issuer_discovery_through_the_process() {
    let idp = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let issuer = idp.base();
    let server = start(
        "resource_server",
        &env(&[
            ("JWT_OIDC_ISSUER", &issuer),
            ("JWT_ALGORITHMS", "ES256"),
            ("JWT_ISSUER", &issuer),
        ]),
    )
    .await;
    let token = mint_es256(
        "ec-1",
        &json!({"iss": issuer, "sub": "alice", "exp": now() + 60}),
    );
    assert_eq!(
        get(&format!("{}/me", server.base()), Some(&token))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn jwks_file_and_pem_file() {
    let dir = std::env::temp_dir().join(format!("jwt-tower-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, document(vec![jwk(JwtAlg::ES256, "ec-1")])).unwrap();
    let pem_path = dir.join("public.pem");
    std::fs::write(&pem_path, key_file("p256-public.pem")).unwrap();
    let token = mint_es256("ec-1", &claims("alice", "read"));

    for (variable, path) in [
        ("JWT_JWKS_FILE", &jwks_path),
        ("JWT_PUBLIC_KEY_PEM_FILE", &pem_path),
    ] {
        let path = path.to_str().unwrap();
        let server = start(
            "resource_server",
            &env(&[
                (variable, path),
                ("JWT_KID", "ec-1"),
                ("JWT_ALGORITHMS", "ES256"),
                ("JWT_ISSUER", ISSUER),
                ("JWT_AUDIENCE", "orders"),
            ]),
        )
        .await;
        let reply = get(&format!("{}/me", server.base()), Some(&token)).await;
        assert_eq!(reply.status, 200, "{variable}: {reply:?}");
    }
}

/// An HS256 token over exactly this header and payload text, with the test secret.
fn sign_hs256_raw(header: &str, payload: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, JwtAlg::HS256).unwrap();
    format!("{input}.{signature}")
}

/// Without `JWT_AUDIENCE` the example is for no audience: a token naming one is refused
/// (RFC 7519 §4.1.3). And a header or claims that are not one JSON object with distinct
/// members are refused at the socket, signed or not.
#[tokio::test]
async fn without_an_audience_a_token_naming_one_is_refused_and_json_is_strict() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let server = start(
        "resource_server",
        &env(&[
            ("JWT_HS256_SECRET", secret),
            ("JWT_KID", "k1"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_ISSUER", ISSUER),
        ]),
    )
    .await;
    let me = format!("{}/me", server.base());
    let exp = now() + 600;
    let no_aud = mint_hs256("k1", &json!({"iss": ISSUER, "sub": "alice", "exp": exp}));
    let reply = get(&me, Some(&no_aud)).await;
    assert_eq!(
        (reply.status, reply.json()["sub"].clone()),
        (200, json!("alice"))
    );

    let refused = [
        ("aud", mint_hs256("k1", &claims("alice", "read"))),
        (
            "header array",
            sign_hs256_raw(
                r#"["HS256"]"#,
                &json!({"iss": ISSUER, "sub": "alice", "exp": exp}).to_string(),
            ),
        ),
        (
            "duplicate sub",
            sign_hs256_raw(
                r#"{"alg":"HS256","kid":"k1"}"#,
                &format!(r#"{{"iss":"{ISSUER}","sub":"alice","sub":null,"exp":{exp}}}"#),
            ),
        ),
    ];
    for (what, token) in refused {
        let reply = get(&me, Some(&token)).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        let challenge = reply.challenge.unwrap_or_default();
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
    }
}

#[test]
fn bad_configuration_exits_with_one_line_naming_the_variable() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let cases = [
        (env(&[("JWT_HS256_SECRET", secret)]), "JWT_ALGORITHMS"),
        (
            env(&[
                ("JWT_HS256_SECRET", secret),
                ("JWT_ALGORITHMS", "HS256,none"),
            ]),
            "JWT_ALGORITHMS",
        ),
        (env(&[("JWT_ALGORITHMS", "RS256")]), "JWT_JWKS_URL"),
        (
            env(&[("JWT_ALGORITHMS", "RS256"), ("JWT_JWKS_URL", "not a url")]),
            "JWT_JWKS_URL",
        ),
        (
            env(&[("JWT_ALGORITHMS", "ES256"), ("JWT_OIDC_ISSUER", "ftp://x")]),
            "JWT_OIDC_ISSUER",
        ),
        (
            env(&[
                ("JWT_ALGORITHMS", "RS256"),
                ("JWT_PUBLIC_KEY_PEM_FILE", "/nonexistent.pem"),
            ]),
            "JWT_PUBLIC_KEY_PEM_FILE",
        ),
        (
            env(&[
                ("JWT_ALGORITHMS", "ES256"),
                ("JWT_JWKS_FILE", "/nonexistent.json"),
            ]),
            "JWT_JWKS_FILE",
        ),
        (
            env(&[("JWT_ALGORITHMS", "HS256"), ("JWT_HS256_SECRET", "short")]),
            "JWT_HS256_SECRET",
        ),
        (
            env(&[
                ("JWT_ALGORITHMS", "HS256"),
                ("JWT_HS256_SECRET", secret),
                ("JWT_LEEWAY_SECONDS", "soon"),
            ]),
            "JWT_LEEWAY_SECONDS",
        ),
        (
            env(&[
                ("JWT_ALGORITHMS", "HS256"),
                ("JWT_HS256_SECRET", secret),
                ("JWT_CACHE_ENTRIES", "lots"),
            ]),
            "JWT_CACHE_ENTRIES",
        ),
    ];
    for (env, variable) in cases {
        let output = run_to_exit("resource_server", &env);
        assert!(!output.status.success(), "{variable}: exited 0");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{variable}: {stderr}");
        assert!(lines[0].contains(variable), "{variable}: {stderr}");
    }
}
