//! DPoP at `examples/auth_server`'s `/token` (RFC 9449 §5, §8), over real sockets: access
//! tokens bound to the proof's key, public clients' refresh tokens bound to it, every
//! refused proof in its RFC form, replays, the nonce dance, and a fleet of two instances
//! sharing one redis-server. Proofs come from jwt-tower's `DpopKey`, or are made by hand
//! for the refusals it would never sign.

mod support;

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_tower::dpop::DpopKey;
use jwt_tower::{Algorithm, KeySet, Verifier};
use serde_json::{Value, json};
use support::process::{Running, start};
use support::redis::Redis;
use support::*;

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const WEB_SECRET: &str = "web-secret-0123456789abcdefghijkl";
const REPORTS_SECRET: &str = "reports-secret-0123456789abcdefg";
const USERS: &str = "alice:alice-password:orders.read profile";

fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let path =
            std::env::temp_dir().join(format!("dpop-token-clients-{}.json", std::process::id()));
        let clients = json!([
            {"client_id": "cli", "redirect_uris": [CALLBACK]},
            {"client_id": "web", "client_secret": WEB_SECRET, "redirect_uris": [CALLBACK],
             "scope": "orders.read"},
            {"client_id": "reports", "client_secret": REPORTS_SECRET, "scope": "orders.read",
             "grant_types": ["client_credentials"]},
        ]);
        std::fs::write(&path, clients.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    });
    PATH.clone()
}

async fn auth_server(extra: &[(&'static str, &str)]) -> Running {
    let mut env = vec![
        ("DEMO_USERS", USERS.to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
        ("OAUTH_CLIENTS_FILE", clients_file()),
        ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
        ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    start("auth_server", &env).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// A `/token` answer: status, JSON body, and the `DPoP-Nonce` header.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    nonce: Option<String>,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    fn access_token(&self) -> &str {
        self.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {self:?}"))
    }
}

/// `POST {base}/token` with the form `pairs`, Basic credentials, and each of `proofs`
/// as a `DPoP` header of its own.
async fn token(
    base: &str,
    pairs: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proofs: &[&str],
) -> Answer {
    let mut request = http()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some((id, secret)) = basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    Answer {
        status,
        body,
        nonce,
    }
}

/// The `reports` client's client-credentials grant, with `proofs`.
async fn service_token(base: &str, proofs: &[&str]) -> Answer {
    token(
        base,
        &[("grant_type", "client_credentials")],
        Some(("reports", REPORTS_SECRET)),
        proofs,
    )
    .await
}

/// The access token's claims, verified against the server's JWKS.
async fn claims_of(base: &str, token: &str) -> Value {
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    let verifier = Verifier::<Value>::builder(KeySet::from_jwks_str(&jwks.body).unwrap())
        .algorithms([Algorithm::ES256])
        .issuer(base)
        .audience("api")
        .require_typ("at+jwt")
        .build()
        .unwrap();
    verifier.verify(token).unwrap().claims().clone()
}

fn key(alg: Algorithm) -> DpopKey {
    DpopKey::generate(alg).unwrap()
}

/// A proof of `key` for `POST {base}/token`.
fn proof(key: &DpopKey, base: &str, nonce: Option<&str>) -> String {
    key.proof("POST", &format!("{base}/token"), None, nonce)
        .unwrap()
}

/// A proof of `key` with exactly these header and claims changes over a good one.
fn altered(key: &DpopKey, base: &str, header: Value, claims: Value) -> String {
    let mut h = key.header();
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).unwrap();
    let mut c = json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": "POST",
                       "htu": format!("{base}/token"), "iat": now()});
    for (target, changes) in [(&mut h, header), (&mut c, claims)] {
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                target.as_object_mut().unwrap().remove(name);
            } else {
                target[name] = value.clone();
            }
        }
    }
    key.sign(&h, &c).unwrap()
}

/// An authorization code for `client_id`, through the login form, with PKCE.
async fn code_for(base: &str, client_id: &str) -> (String, String) {
    let (location, verifier) = authorize(base, client_id, &[]).await;
    let code = param(&location, "code").expect("a code");
    (code, verifier)
}

fn param(location: &reqwest::Url, name: &str) -> Option<String> {
    location
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// Logs alice in at `/authorize` for `client_id`, with PKCE and `extra` parameters:
/// where it redirects to, and the PKCE verifier.
async fn authorize(base: &str, client_id: &str, extra: &[(&str, &str)]) -> (reqwest::Url, String) {
    let verifier = format!("{client_id}-{}", "v".repeat(50));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(digest);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("state", "s"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let query = form(&pairs);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
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
    (location, verifier)
}

/// Redeems `code` for `client_id` (with `basic` credentials for a confidential one).
async fn redeem(
    base: &str,
    client_id: &str,
    basic: Option<(&str, &str)>,
    (code, verifier): &(String, String),
    proofs: &[&str],
) -> Answer {
    token(
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
        basic,
        proofs,
    )
    .await
}

async fn refresh(
    base: &str,
    client_id: &str,
    basic: Option<(&str, &str)>,
    refresh_token: &str,
    proofs: &[&str],
) -> Answer {
    token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
        basic,
        proofs,
    )
    .await
}

#[tokio::test]
async fn a_proof_binds_the_access_token_to_its_key_and_none_keeps_bearer() {
    let auth = auth_server(&[]).await;
    let base = auth.base();

    let metadata = send(http().get(format!("{base}/.well-known/oauth-authorization-server")))
        .await
        .json();
    let algs = metadata["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for alg in ["ES256", "Ed25519", "EdDSA", "ES384", "RS256", "PS256"] {
        assert!(algs.contains(&json!(alg)), "{alg} in {algs:?}");
    }
    assert!(!algs.contains(&json!("HS256")));

    for alg in [
        Algorithm::ES256,
        Algorithm::Ed25519,
        Algorithm::EdDSA,
        Algorithm::ES384,
        Algorithm::RS256,
    ] {
        let key = key(alg);
        let answer = service_token(&base, &[&proof(&key, &base, None)]).await;
        assert_eq!(answer.status, 200, "{alg:?}: {answer:?}");
        assert_eq!(answer.body["token_type"], "DPoP", "{alg:?}");
        let claims = claims_of(&base, answer.access_token()).await;
        assert_eq!(claims["cnf"], json!({"jkt": key.thumbprint()}), "{alg:?}");
        assert_eq!(claims["client_id"], "reports");
        assert_eq!(answer.nonce, None, "no nonces asked for");
    }

    // Without a proof: a Bearer token, unbound, as before.
    let answer = service_token(&base, &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "Bearer");
    let claims = claims_of(&base, answer.access_token()).await;
    assert_eq!(claims.get("cnf"), None);
}

#[tokio::test]
async fn every_bad_proof_is_refused_with_invalid_dpop_proof() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let key = key(Algorithm::ES256);
    let other_base = "http://127.0.0.1:1";
    let good = proof(&key, &base, None);
    let (header_b64, rest) = good.split_once('.').unwrap();
    let (claims_b64, _) = rest.split_once('.').unwrap();
    let hs256_header = URL_SAFE_NO_PAD.encode(
        json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}})
            .to_string(),
    );
    let mut private_jwk = key.public_jwk().clone();
    private_jwk["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let stranger = self::key(Algorithm::ES256);

    let cases: Vec<(&str, &str, String)> = vec![
        ("not a JWS", "JWS compact", "not-a-proof".to_owned()),
        (
            "a bad signature",
            "signature is invalid",
            format!(
                "{header_b64}.{claims_b64}.{}",
                URL_SAFE_NO_PAD.encode([1u8; 64])
            ),
        ),
        (
            "another key's signature",
            "signature is invalid",
            format!(
                "{header_b64}.{claims_b64}.{}",
                proof(&stranger, &base, None).rsplit('.').next().unwrap()
            ),
        ),
        (
            "typ jwt",
            "typ",
            altered(&key, &base, json!({"typ": "jwt"}), json!({})),
        ),
        (
            "an HMAC alg",
            "algorithm",
            format!(
                "{hs256_header}.{claims_b64}.{}",
                URL_SAFE_NO_PAD.encode([1u8; 32])
            ),
        ),
        (
            "a private key in jwk",
            "private key",
            altered(&key, &base, json!({"jwk": private_jwk}), json!({})),
        ),
        (
            "no jwk",
            "no jwk",
            altered(&key, &base, json!({"jwk": null}), json!({})),
        ),
        (
            "htm GET",
            "method",
            altered(&key, &base, json!({}), json!({"htm": "GET"})),
        ),
        (
            "htu of another server",
            "another URI",
            altered(
                &key,
                &base,
                json!({}),
                json!({"htu": format!("{other_base}/token")}),
            ),
        ),
        (
            "htu of another path",
            "another URI",
            altered(
                &key,
                &base,
                json!({}),
                json!({"htu": format!("{base}/register")}),
            ),
        ),
        (
            "a stale iat",
            "window",
            altered(&key, &base, json!({}), json!({"iat": now() - 300})),
        ),
        (
            "an iat in the future",
            "window",
            altered(&key, &base, json!({}), json!({"iat": now() + 600})),
        ),
        (
            "no jti",
            "lacks jti",
            altered(&key, &base, json!({}), json!({"jti": null})),
        ),
        (
            "a string iat",
            "wrong type",
            altered(&key, &base, json!({}), json!({"iat": now().to_string()})),
        ),
    ];
    for (what, why, bad) in &cases {
        let answer = service_token(&base, &[bad]).await;
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert_eq!(answer.error(), "invalid_dpop_proof", "{what}: {answer:?}");
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap_or_default()
                .contains(why),
            "{what}: {answer:?}"
        );
        assert_eq!(answer.body.get("access_token"), None, "{what}");
    }

    // Two DPoP headers, even of good proofs: invalid_dpop_proof (RFC 9449 §4.3 check 1).
    let answer = service_token(
        &base,
        &[&proof(&key, &base, None), &proof(&key, &base, None)],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "invalid_dpop_proof");
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("more than one")
    );

    // A good proof passes once; replayed, it is refused.
    let once = proof(&key, &base, None);
    assert_eq!(service_token(&base, &[&once]).await.status, 200);
    let replayed = service_token(&base, &[&once]).await;
    assert_eq!(replayed.status, 400, "{replayed:?}");
    assert_eq!(replayed.error(), "invalid_dpop_proof");
    assert!(
        replayed.body["error_description"]
            .as_str()
            .unwrap()
            .contains("used before")
    );

    // The client is authenticated before the proof is looked at.
    let answer = token(
        &base,
        &[("grant_type", "client_credentials")],
        Some(("reports", "wrong-secret-0123456789abcdefghij")),
        &["not-a-proof"],
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error(), "invalid_client");
}

#[tokio::test]
async fn a_public_clients_refresh_tokens_are_bound_to_its_key() {
    let auth = auth_server(&[("REFRESH_COOKIE", "off")]).await;
    let base = auth.base();
    let key = key(Algorithm::ES256);
    let thief = self::key(Algorithm::ES256);

    let code = code_for(&base, "cli").await;
    let first = redeem(&base, "cli", None, &code, &[&proof(&key, &base, None)]).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["token_type"], "DPoP");
    let claims = claims_of(&base, first.access_token()).await;
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    let refresh_token = first.body["refresh_token"].as_str().unwrap().to_owned();

    // Another key's proof, or none: refused, and the grant is kept.
    let answer = refresh(
        &base,
        "cli",
        None,
        &refresh_token,
        &[&proof(&thief, &base, None)],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "invalid_dpop_proof");
    let answer = refresh(&base, "cli", None, &refresh_token, &[]).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "invalid_dpop_proof");

    // The same key: rotated, and the new access token bound again.
    let second = refresh(
        &base,
        "cli",
        None,
        &refresh_token,
        &[&proof(&key, &base, None)],
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["token_type"], "DPoP");
    let claims = claims_of(&base, second.access_token()).await;
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    let next = second.body["refresh_token"].as_str().unwrap();
    assert_ne!(next, refresh_token, "rotated");
    let third = refresh(&base, "cli", None, next, &[&proof(&key, &base, None)]).await;
    assert_eq!(third.status, 200, "{third:?}");
    // The spent token replayed, even with the key: reuse, as for any refresh token.
    let replay = refresh(
        &base,
        "cli",
        None,
        &refresh_token,
        &[&proof(&key, &base, None)],
    )
    .await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.error(), "invalid_grant");

    // A public client that used no proof keeps an unbound, Bearer grant.
    let plain = redeem(&base, "cli", None, &code_for(&base, "cli").await, &[]).await;
    assert_eq!(plain.body["token_type"], "Bearer", "{plain:?}");
    let again = refresh(
        &base,
        "cli",
        None,
        plain.body["refresh_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["token_type"], "Bearer");
}

#[tokio::test]
async fn a_confidential_clients_refresh_tokens_stay_bound_to_the_client_only() {
    // RFC 9449 §5: a confidential client's refresh tokens are constrained by its client
    // authentication, not by a key; its access tokens are bound to each request's key.
    let auth = auth_server(&[("REFRESH_COOKIE", "off")]).await;
    let base = auth.base();
    let basic = Some(("web", WEB_SECRET));
    let key = key(Algorithm::Ed25519);
    let code = code_for(&base, "web").await;
    let first = redeem(&base, "web", basic, &code, &[&proof(&key, &base, None)]).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["token_type"], "DPoP");
    let refresh_token = first.body["refresh_token"].as_str().unwrap();

    let rotated_key = self::key(Algorithm::ES256);
    let second = refresh(
        &base,
        "web",
        basic,
        refresh_token,
        &[&proof(&rotated_key, &base, None)],
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    let claims = claims_of(&base, second.access_token()).await;
    assert_eq!(claims["cnf"]["jkt"], rotated_key.thumbprint());
    let third = refresh(
        &base,
        "web",
        basic,
        second.body["refresh_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(third.status, 200, "{third:?}");
    assert_eq!(third.body["token_type"], "Bearer");
}

#[tokio::test]
async fn a_code_bound_to_a_key_is_redeemed_only_with_a_proof_by_it() {
    let auth = auth_server(&[("REFRESH_COOKIE", "off")]).await;
    let base = auth.base();
    let key = key(Algorithm::ES256);
    let thief = self::key(Algorithm::ES256);
    let bound_code = || async {
        let (location, verifier) = authorize(&base, "cli", &[("dpop_jkt", key.thumbprint())]).await;
        (param(&location, "code").expect("a code"), verifier)
    };

    // RFC 9449 §10: the code names the key; without a proof of it, it is refused.
    for proofs in [vec![], vec![proof(&thief, &base, None)]] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let answer = redeem(&base, "cli", None, &bound_code().await, &proofs).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(answer.error(), "invalid_dpop_proof");
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("dpop_jkt")
        );
    }
    let answer = redeem(
        &base,
        "cli",
        None,
        &bound_code().await,
        &[&proof(&key, &base, None)],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        claims_of(&base, answer.access_token()).await["cnf"]["jkt"],
        key.thumbprint()
    );

    // A dpop_jkt that is no thumbprint: invalid_request, back to the client.
    for malformed in ["short", &"!".repeat(43), &URL_SAFE_NO_PAD.encode([1u8; 33])] {
        let (location, _) = authorize(&base, "cli", &[("dpop_jkt", malformed)]).await;
        assert_eq!(
            param(&location, "error").as_deref(),
            Some("invalid_request"),
            "{malformed}"
        );
        assert_eq!(param(&location, "code"), None);
    }
}

#[tokio::test]
async fn with_nonces_a_proof_needs_a_current_one() {
    let auth = auth_server(&[("DPOP_NONCE", "1"), ("REFRESH_COOKIE", "off")]).await;
    let base = auth.base();
    let key = key(Algorithm::ES256);

    // No nonce: 400 use_dpop_nonce with one to use.
    let answer = service_token(&base, &[&proof(&key, &base, None)]).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "use_dpop_nonce");
    let nonce = answer.nonce.clone().expect("a DPoP-Nonce header");

    // With it: a bound token.
    let answer = service_token(&base, &[&proof(&key, &base, Some(&nonce))]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "DPoP");

    // A made-up nonce, and another server's: use_dpop_nonce again, with a fresh one.
    let other = auth_server(&[("DPOP_NONCE", "1")]).await;
    let foreign = service_token(&other.base(), &[&proof(&key, &other.base(), None)])
        .await
        .nonce
        .unwrap();
    for made_up in [
        URL_SAFE_NO_PAD.encode([0u8; 40]),
        "made-up".to_owned(),
        foreign,
    ] {
        let answer = service_token(&base, &[&proof(&key, &base, Some(&made_up))]).await;
        assert_eq!(answer.status, 400, "{made_up}: {answer:?}");
        assert_eq!(answer.error(), "use_dpop_nonce");
        assert!(answer.nonce.is_some());
    }

    // Without a proof, nothing changes: Bearer, no nonce needed.
    let answer = service_token(&base, &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "Bearer");

    // The dance does not spend a code: the first try is refused before redemption.
    let code = code_for(&base, "cli").await;
    let refused = redeem(&base, "cli", None, &code, &[&proof(&key, &base, None)]).await;
    assert_eq!(refused.error(), "use_dpop_nonce", "{refused:?}");
    let nonce = refused.nonce.unwrap();
    let answer = redeem(
        &base,
        "cli",
        None,
        &code,
        &[&proof(&key, &base, Some(&nonce))],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "DPoP");
    let refresh_token = answer.body["refresh_token"].as_str().unwrap();
    let answer = refresh(
        &base,
        "cli",
        None,
        refresh_token,
        &[&proof(&key, &base, Some(&nonce))],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_sharing_redis_shares_nonces_and_refuses_replays() {
    let Some(redis) = Redis::start() else {
        return;
    };
    // One issuer for the fleet, as behind one load balancer: proofs name its /token.
    let issuer = "https://auth.fleet.test";
    let env = [
        ("REDIS_URL", redis.url()),
        ("JWT_ISSUER", issuer.to_owned()),
        ("DPOP_NONCE", "1".to_owned()),
    ];
    let env: Vec<(&'static str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = auth_server(&env).await;
    let b = auth_server(&env).await;
    let key = key(Algorithm::ES256);
    let proof = |nonce: Option<&str>| self::proof(&key, issuer, nonce);

    // A nonce from A is accepted by B.
    let nonce = service_token(&a.base(), &[&proof(None)])
        .await
        .nonce
        .unwrap();
    let answer = service_token(&b.base(), &[&proof(Some(&nonce))]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "DPoP");

    // A proof used on B is refused on A.
    let once = proof(Some(&nonce));
    assert_eq!(service_token(&b.base(), &[&once]).await.status, 200);
    let replayed = service_token(&a.base(), &[&once]).await;
    assert_eq!(replayed.status, 400, "{replayed:?}");
    assert_eq!(replayed.error(), "invalid_dpop_proof");

    // A made-up nonce is refused by both.
    for server in [&a, &b] {
        let answer = service_token(&server.base(), &[&proof(Some("made-up"))]).await;
        assert_eq!(answer.error(), "use_dpop_nonce");
    }
}
