//! The token lifecycle at `examples/auth_server`, over real sockets, with both access
//! token formats (`ACCESS_TOKEN_FORMAT=jwt` and `opaque`): RFC 7662 introspection of
//! access and refresh tokens (every member of an active answer, exactly
//! `{"active":false}` for anything else), RFC 7009 revocation of each kind, the client
//! authentication both endpoints ask for, and two instances sharing one redis-server.

mod support;

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_tower::dpop::DpopKey;
use jwt_tower::{Algorithm, Verifier};
use serde_json::{Value, json};
use support::process::{Running, run_to_exit, start};
use support::redis::Redis;
use support::*;

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const SVC_SECRET: &str = "svc-secret-0123456789abcdefghijkl";
const OTHER_SECRET: &str = "other-secret-0123456789abcdefghij";
const RS_SECRET: &str = "rs-secret-0123456789abcdefghijklm";
const WEB_SECRET: &str = "web-secret-0123456789abcdefghijkl";
const USERS: &str = "alice:alice-password:orders.read profile";
const MCP: &str = "https://mcp.example.com/mcp";

/// The clients file, written once for the whole test binary (tests run at once).
fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let path =
            std::env::temp_dir().join(format!("lifecycle-clients-{}.json", std::process::id()));
        let clients = json!([
            {"client_id": "svc", "client_secret": SVC_SECRET, "scope": "orders.read",
             "grant_types": ["client_credentials"]},
            {"client_id": "other", "client_secret": OTHER_SECRET, "scope": "orders.read",
             "grant_types": ["client_credentials"]},
            {"client_id": "rs", "client_secret": RS_SECRET,
             "grant_types": ["client_credentials"]},
            {"client_id": "web", "client_secret": WEB_SECRET, "redirect_uris": [CALLBACK],
             "scope": "orders.read profile"},
            {"client_id": "cli", "redirect_uris": [CALLBACK]},
        ]);
        std::fs::write(&path, clients.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    });
    PATH.clone()
}

fn env(format: &str, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ACCESS_TOKEN_FORMAT", format.to_owned()),
        ("DEMO_USERS", USERS.to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
        ("OAUTH_RESOURCES", format!("{MCP},api")),
        ("OAUTH_CLIENTS_FILE", clients_file()),
        ("REFRESH_COOKIE", "off".to_owned()),
        ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
        ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

async fn auth_server(format: &str, extra: &[(&'static str, &str)]) -> Running {
    start("auth_server", &env(format, extra)).await
}

/// `pairs` form-urlencoded (by the url crate, independently of the server's parser).
fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// How a request authenticates its client.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    Public(&'a str),
    Nothing,
}

const RS: Auth<'static> = Auth::Basic("rs", RS_SECRET);
const SVC: Auth<'static> = Auth::Basic("svc", SVC_SECRET);
const WEB: Auth<'static> = Auth::Basic("web", WEB_SECRET);

/// A form POST to `path` with `pairs` and the client authentication `auth`.
async fn post_form(base: &str, path: &str, pairs: &[(&str, &str)], auth: Auth<'_>) -> Reply {
    let mut pairs = pairs.to_vec();
    let mut request = http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded");
    match auth {
        Auth::Basic(id, secret) => {
            let encode = |s: &str| form(&[(s, "")]).trim_end_matches('=').to_owned();
            let credentials = format!("{}:{}", encode(id), encode(secret));
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        Auth::Post(id, secret) => {
            pairs.push(("client_id", id));
            pairs.push(("client_secret", secret));
        }
        Auth::Public(id) => pairs.push(("client_id", id)),
        Auth::Nothing => {}
    }
    send(request.body(form(&pairs))).await
}

/// The introspection answer for `token`, checked to be a 200 that no cache keeps.
async fn introspect(base: &str, token: &str, hint: Option<&str>, auth: Auth<'_>) -> Value {
    let mut pairs = vec![("token", token)];
    if let Some(hint) = hint {
        pairs.push(("token_type_hint", hint));
    }
    let response = http()
        .post(format!("{base}/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .basic_auth(
            match auth {
                Auth::Basic(id, _) => id,
                _ => unreachable!("introspect() authenticates with Basic"),
            },
            match auth {
                Auth::Basic(_, secret) => Some(secret),
                _ => None,
            },
        )
        .body(form(&pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn assert_inactive(base: &str, token: &str, why: &str) {
    for hint in [None, Some("access_token"), Some("refresh_token")] {
        assert_eq!(
            introspect(base, token, hint, RS).await,
            json!({"active": false}),
            "{why} (hint {hint:?})"
        );
    }
}

async fn revoke(base: &str, token: &str, hint: Option<&str>, auth: Auth<'_>) -> Reply {
    let mut pairs = vec![("token", token)];
    if let Some(hint) = hint {
        pairs.push(("token_type_hint", hint));
    }
    post_form(base, "/revoke", &pairs, auth).await
}

/// Logs alice in: (access token, refresh token), issued to no client.
async fn login(base: &str) -> (String, String) {
    let reply = send(
        http()
            .post(format!("{base}/login"))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A client-credentials access token of `auth`'s client, optionally DPoP-bound.
async fn service_token(base: &str, auth: Auth<'_>, dpop: Option<&DpopKey>) -> Value {
    let pairs = [("grant_type", "client_credentials")];
    let mut request = http()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(key) = dpop {
        let proof = key
            .proof("POST", &format!("{base}/token"), None, None)
            .unwrap();
        request = request.header("dpop", proof);
    }
    let Auth::Basic(id, secret) = auth else {
        unreachable!()
    };
    let reply = send(request.basic_auth(id, Some(secret)).body(form(&pairs))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// The authorization-code flow for the confidential client `web`, with PKCE: its token
/// response (a refresh token issued to `web`).
async fn code_flow(base: &str) -> Value {
    let verifier = format!("lifecycle-{}", "v".repeat(50));
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let query = form(&[
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", CALLBACK),
        ("state", "s"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(format!("{base}/authorize?{query}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", "alice"),
            ("password", "alice-password"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let reply = post_form(
        base,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
        Auth::Basic("web", WEB_SECRET),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// The payload of a JWT, read without checking it (the test compares it with what
/// introspection says).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Checks the shape of an access token in `format`.
fn check_format(format: &str, token: &str) {
    match format {
        "opaque" => {
            assert_eq!(token.len(), 43, "256 bits, base64url: {token}");
            assert!(URL_SAFE_NO_PAD.decode(token).is_ok());
        }
        _ => assert_eq!(token.split('.').count(), 3, "a JWT: {token}"),
    }
}

/// Every member of an active access token's answer.
fn check_active_access(format: &str, base: &str, token: &str, answer: &Value, expected: &Value) {
    let object = answer.as_object().unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["iss"], base);
    for (name, value) in expected.as_object().unwrap() {
        if value.is_null() {
            assert!(!object.contains_key(name), "no {name}: {answer}");
        } else {
            assert_eq!(&answer[name], value, "{name}: {answer}");
        }
    }
    let (iat, exp) = (
        answer["iat"].as_i64().unwrap(),
        answer["exp"].as_i64().unwrap(),
    );
    assert!((now() - iat).abs() <= 5, "iat {iat}");
    assert_eq!(exp - iat, 900, "ACCESS_TTL_SECONDS' default");
    assert!(answer["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let allowed = [
        "active",
        "sub",
        "scope",
        "client_id",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
        "token_type",
        "cnf",
        "act",
    ];
    for name in object.keys() {
        assert!(allowed.contains(&name.as_str()), "unexpected {name}");
    }
    if format == "jwt" {
        // What introspection says is what the token says.
        let claims = payload(token);
        for name in [
            "sub",
            "aud",
            "iss",
            "exp",
            "iat",
            "jti",
            "scope",
            "client_id",
            "cnf",
        ] {
            assert_eq!(claims.get(name), object.get(name), "{name}");
        }
    }
}

/// Every field of every kind of active token, in both formats; the hint is only a hint.
#[tokio::test]
async fn introspection_describes_each_active_token_in_both_formats() {
    for format in ["jwt", "opaque"] {
        let server = auth_server(format, &[]).await;
        let base = server.base();

        // A login's tokens: issued to no client.
        let (access, refresh) = login(&base).await;
        check_format(format, &access);
        let answer = introspect(&base, &access, None, RS).await;
        let expected = json!({"sub": "alice", "scope": "orders.read profile", "aud": "api",
            "token_type": "Bearer", "client_id": null, "cnf": null, "act": null});
        check_active_access(format, &base, &access, &answer, &expected);
        // A wrong hint is no reason to miss the token.
        let hinted = introspect(&base, &access, Some("refresh_token"), RS).await;
        assert_eq!(hinted, answer, "{format}");
        let hinted = introspect(&base, &access, Some("no_such_kind"), RS).await;
        assert_eq!(hinted, answer, "{format}");

        // A refresh token is described to the client it was issued to alone: a login's
        // was issued to none.
        assert_inactive(&base, &refresh, "a login's refresh token").await;
        let refreshed = send(
            http()
                .post(format!("{base}/refresh"))
                .json(&json!({"refresh_token": refresh})),
        )
        .await;
        assert_eq!(refreshed.status, 200, "{refreshed:?}");
        let rotated = refreshed.json();
        check_format(format, rotated["access_token"].as_str().unwrap());
        assert_inactive(&base, &refresh, "a spent refresh token").await;
        let answer = introspect(&base, rotated["access_token"].as_str().unwrap(), None, RS).await;
        assert_eq!(answer["active"], true);

        // A client's token, for another resource, and one bound to a DPoP key.
        let issued = service_token(&base, SVC, None).await;
        let token = issued["access_token"].as_str().unwrap();
        check_format(format, token);
        let answer = introspect(&base, token, Some("access_token"), RS).await;
        let expected = json!({"sub": "svc", "scope": "orders.read", "aud": "api",
            "client_id": "svc", "token_type": "Bearer", "cnf": null});
        check_active_access(format, &base, token, &answer, &expected);

        let key = DpopKey::generate(Algorithm::ES256).unwrap();
        let issued = service_token(&base, SVC, Some(&key)).await;
        assert_eq!(issued["token_type"], "DPoP");
        let token = issued["access_token"].as_str().unwrap();
        let answer = introspect(&base, token, None, RS).await;
        let expected = json!({"sub": "svc", "client_id": "svc", "token_type": "DPoP",
            "cnf": {"jkt": key.thumbprint()}});
        check_active_access(format, &base, token, &answer, &expected);

        // A refresh token issued to a client, for a resource: described to that client,
        // every member; to any other, not active.
        let granted = code_flow(&base).await;
        let web_refresh = granted["refresh_token"].as_str().unwrap();
        let answer = introspect(&base, web_refresh, None, WEB).await;
        let created = answer["iat"].as_i64().unwrap();
        assert!((now() - created).abs() <= 5);
        assert_eq!(
            answer,
            json!({"active": true, "sub": "alice", "scope": granted["scope"],
                "client_id": "web", "aud": "api", "iss": base, "iat": created,
                "exp": created + 30 * 86_400, "token_type": "refresh_token"}),
            "{format}"
        );
        assert_eq!(
            introspect(&base, web_refresh, Some("access_token"), WEB).await,
            answer
        );
        assert_inactive(&base, web_refresh, "another client's refresh token").await;
        // Introspection did not spend it.
        let reply = post_form(
            &base,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", web_refresh),
            ],
            WEB,
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let answer = introspect(&base, granted["access_token"].as_str().unwrap(), None, RS).await;
        assert_eq!(answer["client_id"], "web");
        assert_eq!(answer["token_type"], "Bearer");
    }
}

/// Unknown, foreign, malformed, expired: exactly `{"active":false}`, for either format.
#[tokio::test]
async fn anything_but_an_active_token_is_exactly_inactive() {
    for format in ["jwt", "opaque"] {
        let server = auth_server(format, &[("ACCESS_TTL_SECONDS", "1")]).await;
        let base = server.base();
        let random = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_inactive(&base, &random, "an unknown opaque-shaped token").await;
        assert_inactive(&base, "not-a-token", "garbage").await;
        assert_inactive(&base, "a.b.c", "a malformed JWT").await;
        // Signed by another key, with this server's issuer and audience.
        let foreign = mint_es256(
            "foreign",
            &json!({"iss": base, "aud": "api", "sub": "alice", "scope": "orders.read",
                "iat": now(), "exp": now() + 600, "jti": "j"}),
        );
        assert_inactive(&base, &foreign, "a foreign JWT").await;

        // Expired: the server issues one-second tokens here.
        let (access, _) = login(&base).await;
        let service = service_token(&base, SVC, None).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_inactive(&base, &access, "an expired login token").await;
        let token = service["access_token"].as_str().unwrap();
        assert_inactive(&base, token, "an expired service token").await;
        // Revoking an expired token is no error either.
        assert_eq!(revoke(&base, token, None, SVC).await.status, 200);
    }
}

/// `/revoke` of each kind, then introspection says inactive and the token no longer
/// works; `/logout` likewise; a token of another client is not the client's to revoke.
#[tokio::test]
async fn revocation_of_each_kind_makes_it_inactive() {
    for format in ["jwt", "opaque"] {
        let server = auth_server(format, &[]).await;
        let base = server.base();

        // A login's access token: any client may revoke it; public ones by client_id.
        let (access, refresh) = login(&base).await;
        let reply = revoke(&base, &access, Some("access_token"), Auth::Public("cli")).await;
        assert_eq!((reply.status, reply.body.as_str()), (200, ""), "{reply:?}");
        assert_inactive(&base, &access, "a revoked login access token").await;
        // Its refresh token lives on until revoked itself, through client_secret_post.
        let reply = revoke(
            &base,
            &refresh,
            Some("refresh_token"),
            Auth::Post("svc", SVC_SECRET),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_inactive(&base, &refresh, "a revoked refresh token").await;
        let refreshed = send(
            http()
                .post(format!("{base}/refresh"))
                .json(&json!({"refresh_token": refresh})),
        )
        .await;
        assert_eq!(
            refreshed.status, 401,
            "the family is revoked: {refreshed:?}"
        );

        // A client's access token: another client may not revoke it.
        let issued = service_token(&base, SVC, None).await;
        let token = issued["access_token"].as_str().unwrap();
        let reply = revoke(&base, token, None, Auth::Basic("other", OTHER_SECRET)).await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.json()["error"], "unauthorized_client");
        assert_eq!(introspect(&base, token, None, RS).await["active"], true);
        // Its own client may; the wrong hint does not matter.
        let reply = revoke(&base, token, Some("refresh_token"), SVC).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_inactive(&base, token, "a revoked service token").await;
        // Twice, or an unknown token: still 200.
        assert_eq!(revoke(&base, token, None, SVC).await.status, 200);
        assert_eq!(
            revoke(&base, "unknown", Some("odd_hint"), SVC).await.status,
            200
        );

        // A refresh token issued to `web`: not `svc`'s to revoke, `web`'s own.
        let granted = code_flow(&base).await;
        let web_refresh = granted["refresh_token"].as_str().unwrap();
        let reply = revoke(&base, web_refresh, None, SVC).await;
        assert_eq!(reply.json()["error"], "unauthorized_client", "{reply:?}");
        assert_eq!(
            introspect(&base, web_refresh, None, WEB).await["active"],
            true
        );
        let reply = revoke(&base, web_refresh, None, WEB).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            introspect(&base, web_refresh, None, WEB).await,
            json!({"active": false})
        );

        // `/logout` revokes both tokens of a login.
        let (access, refresh) = login(&base).await;
        let reply = send(
            http()
                .post(format!("{base}/logout"))
                .bearer_auth(&access)
                .json(&json!({"refresh_token": refresh})),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["access_token_revoked"], true, "{format}");
        assert_eq!(reply.json()["refresh_family_revoked"], true);
        assert_inactive(&base, &access, "an access token after logout").await;
        assert_inactive(&base, &refresh, "a refresh token after logout").await;
    }
}

/// Only an authenticated confidential client may introspect; `/revoke` asks a
/// confidential client for its secret too. Every refusal is 401 `invalid_client` with a
/// Basic challenge, and nothing is revoked.
#[tokio::test]
async fn client_authentication_is_required() {
    let server = auth_server("opaque", &[]).await;
    let base = server.base();
    let (access, _) = login(&base).await;
    let refused = [
        Auth::Nothing,
        Auth::Public("cli"),
        Auth::Public("rs"),
        Auth::Basic("rs", "wrong-secret-0123456789abcdefghij"),
        Auth::Post("rs", "wrong"),
        Auth::Basic("nobody", RS_SECRET),
    ];
    for auth in refused {
        for path in ["/introspect", "/revoke"] {
            if path == "/revoke" && matches!(auth, Auth::Public("cli")) {
                // A public client may revoke with its client_id alone.
                continue;
            }
            let reply = post_form(&base, path, &[("token", &access)], auth).await;
            assert_eq!(reply.status, 401, "{path}: {reply:?}");
            assert_eq!(reply.json()["error"], "invalid_client", "{path}");
            assert!(reply.challenge.unwrap().starts_with("Basic"), "{path}");
        }
    }
    assert_eq!(introspect(&base, &access, None, RS).await["active"], true);
    // client_secret_post introspects too; no token is invalid_request.
    let reply = post_form(
        &base,
        "/introspect",
        &[("token", &access)],
        Auth::Post("rs", RS_SECRET),
    )
    .await;
    assert_eq!(reply.json()["active"], true, "{reply:?}");
    for path in ["/introspect", "/revoke"] {
        let reply = post_form(&base, path, &[], RS).await;
        assert_eq!(reply.status, 400, "{path}: {reply:?}");
        assert_eq!(reply.json()["error"], "invalid_request");
    }
}

/// The metadata names both endpoints and how clients authenticate there.
#[tokio::test]
async fn the_metadata_names_introspection_and_revocation() {
    let server = auth_server("jwt", &[]).await;
    let base = server.base();
    let metadata = send(http().get(format!("{base}/.well-known/oauth-authorization-server")))
        .await
        .json();
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{base}/introspect")
    );
    assert_eq!(metadata["revocation_endpoint"], format!("{base}/revoke"));
    assert_eq!(
        metadata["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        metadata["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

/// An opaque token is no JWT: a resource server verifying JWTs refuses it, and the
/// issuer's JWKS cannot check it.
#[tokio::test]
async fn opaque_tokens_are_not_jwts_and_a_bad_format_is_refused_at_start() {
    let server = auth_server("opaque", &[]).await;
    let base = server.base();
    let (access, _) = login(&base).await;
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    let keys = jwt_tower::KeySet::from_jwks_str(&jwks.body).unwrap();
    let verifier = Verifier::<Value>::builder(keys)
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    assert!(verifier.verify(&access).is_err());

    let output = run_to_exit("auth_server", &env("paseto", &[]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("configuration error: ACCESS_TOKEN_FORMAT"),
        "{stderr}"
    );
}

/// Two instances sharing one redis-server: a token issued by one is active at the
/// other, and revoked at one is inactive at both; JWTs through the shared revocations,
/// opaque tokens through their shared records.
#[tokio::test]
async fn a_fleet_sharing_redis_shares_the_lifecycle() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = redis.url();
    // One issuer and one signing key for the fleet, so each verifies the other's JWTs.
    let key = format!(
        "{}/jwt-tower/tests/keys/p256-private.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let fleet = [
        ("REDIS_URL", url.as_str()),
        ("JWT_ISSUER", "https://auth.example.com"),
        ("JWT_SIGNING_KEY_PEM_FILE", key.as_str()),
    ];
    for format in ["opaque", "jwt"] {
        let a = auth_server(format, &fleet).await;
        let b = auth_server(format, &fleet).await;
        let (base_a, base_b) = (a.base(), b.base());

        let issued = service_token(&base_a, SVC, None).await;
        let token = issued["access_token"].as_str().unwrap();
        let answer = introspect(&base_b, token, None, RS).await;
        assert_eq!(answer["active"], true, "{format}: {answer}");
        assert_eq!(answer["client_id"], "svc");
        assert_eq!(answer["iss"], "https://auth.example.com");
        assert_eq!(revoke(&base_b, token, None, SVC).await.status, 200);
        // Opaque: at once. JWT: once the revocation's message has arrived.
        let mut inactive = false;
        for _ in 0..50 {
            if introspect(&base_a, token, None, RS).await == json!({"active": false}) {
                inactive = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(inactive, "{format}: revoked at b, still active at a");
        assert_inactive(&base_b, token, "revoked here").await;

        // A client's refresh token, likewise.
        let granted = code_flow(&base_a).await;
        let refresh = granted["refresh_token"].as_str().unwrap();
        assert_eq!(
            introspect(&base_b, refresh, None, WEB).await["active"],
            true
        );
        assert_eq!(revoke(&base_b, refresh, None, WEB).await.status, 200);
        assert_eq!(
            introspect(&base_a, refresh, None, WEB).await,
            json!({"active": false}),
            "a refresh token revoked at b"
        );
    }
}

/// A resource server introspecting opaque tokens and following the store's revocations
/// refuses a token revoked at the authorization server at once, its cached
/// introspection answer notwithstanding.
#[tokio::test]
async fn a_revoked_opaque_token_is_refused_at_once_where_the_store_is_followed() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = redis.url();
    let auth = auth_server("opaque", &[("REDIS_URL", url.as_str())]).await;
    let base = auth.base();
    let server = start(
        "resource_server",
        &[
            ("REDIS_URL", url.clone()),
            ("JWT_INTROSPECTION_URL", format!("{base}/introspect")),
            ("JWT_INTROSPECTION_CLIENT_ID", "rs".into()),
            ("JWT_INTROSPECTION_CLIENT_SECRET", RS_SECRET.into()),
            ("JWT_INTROSPECTION_CACHE_SECONDS", "600".into()),
            ("JWT_AUDIENCE", "api".into()),
        ],
    )
    .await;
    let me = format!("{}/me", server.base());
    let status = |token: String| {
        let me = me.clone();
        async move {
            let response = http().get(&me).bearer_auth(token).send().await.unwrap();
            response.status().as_u16()
        }
    };
    let issued = service_token(&base, SVC, None).await;
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(status(token.clone()).await, 200, "active, and now cached");
    assert_eq!(revoke(&base, &token, None, SVC).await.status, 200);
    let mut refused = false;
    for _ in 0..50 {
        if status(token.clone()).await == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "revoked, yet accepted from the cache");
}

/// panva's oauth4webapi (npm; `.ci/run` installs it with `npm ci --prefix tests/node`) as
/// an independent client of both endpoints, in tests/node/introspect_client.mjs:
/// discovery, every member of active answers, the inactive forms, client
/// authentication, and revocation followed by introspection. No skipping: without node
/// or the packages the test fails and says how to install them.
#[tokio::test(flavor = "multi_thread")]
async fn oauth4webapi_introspects_and_revokes_in_both_formats() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    for package in ["oauth4webapi", "dpop", "jose"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "the npm package {package} is required: npm ci --prefix tests/node"
        );
    }
    for format in ["jwt", "opaque"] {
        let server = auth_server(format, &[]).await;
        let args = [
            ("--issuer", server.base()),
            ("--format", format.to_owned()),
            ("--introspector", format!("rs:{RS_SECRET}")),
            ("--service", format!("svc:{SVC_SECRET}")),
            ("--other", format!("other:{OTHER_SECRET}")),
            ("--public", "cli".to_owned()),
            ("--user", "alice:alice-password".to_owned()),
        ];
        let mut command = std::process::Command::new("node");
        command
            .arg(dir.join("introspect_client.mjs"))
            .current_dir(&dir);
        for (name, value) in args {
            command.arg(name).arg(value);
        }
        let (passed, printed) = tokio::task::spawn_blocking(move || {
            support::process::run_client(command, Duration::from_secs(120))
        })
        .await
        .unwrap();
        assert!(
            passed,
            "the oauth4webapi client failed ({format}):\n{printed}"
        );
        println!("{printed}");
    }
}
