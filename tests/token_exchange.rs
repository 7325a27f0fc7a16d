//! RFC 8693 token exchange at `examples/auth_server`'s `/token`, over real sockets: the
//! exchanged token's fields (checked against the server's JWKS), exchanging an exchanged
//! token (nested `act`), `actor_token`, every refusal with its code and status, revoked
//! and expired subject tokens, DPoP, the metadata, the clients file's checks, and
//! panva's `oauth4webapi` (tests/node/exchange_client.mjs) as an independent client.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jwt_tower::dpop::DpopKey;
use jwt_tower::{Algorithm, KeySet, Verifier};
use serde_json::{Value, json};
use support::process::{Running, run_client, run_to_exit, start};
use support::*;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const INVENTORY: &str = "https://inventory.example.com";
const GATEWAY_SECRET: &str = "gateway-secret-0123456789abcdefgh";
const ORDERS_SECRET: &str = "orders-svc-secret-0123456789abcdef";
const REPORTS_SECRET: &str = "reports-secret-0123456789abcdefgh";
const USERS: &str = "alice:alice-password:orders.read orders.write profile";
const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// The clients file, written once for the whole test binary.
fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let clients = json!([
            {"client_id": "gateway", "client_secret": GATEWAY_SECRET,
             "exchange_audiences": ["orders", INVENTORY]},
            {"client_id": "orders-svc", "client_secret": ORDERS_SECRET,
             "exchange_audiences": ["billing"]},
            {"client_id": "reports", "client_secret": REPORTS_SECRET, "scope": "orders.read",
             "grant_types": ["client_credentials"]},
            {"client_id": "cli", "redirect_uris": [CALLBACK]},
        ]);
        write_file("clients", &clients)
    });
    PATH.clone()
}

fn write_file(name: &str, value: &Value) -> String {
    let path =
        std::env::temp_dir().join(format!("token-exchange-{name}-{}.json", std::process::id()));
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn env(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DEMO_USERS", USERS.to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
        ("OAUTH_RESOURCES", format!("api,orders,billing,{INVENTORY}")),
        ("OAUTH_CLIENTS_FILE", clients_file()),
        ("REFRESH_COOKIE", "off".to_owned()),
        ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
        ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

async fn auth_server(extra: &[(&'static str, &str)]) -> Running {
    start("auth_server", &env(extra)).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// A `/token` answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    cache_control: Option<String>,
    challenge: Option<String>,
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

/// `POST {base}/token` with `pairs`, Basic credentials, and a `DPoP` proof.
async fn token_with(
    base: &str,
    pairs: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: Option<&str>,
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
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, cache_control, challenge) = (
        response.status().as_u16(),
        header("cache-control"),
        header("www-authenticate"),
    );
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    Answer {
        status,
        body,
        cache_control,
        challenge,
    }
}

async fn token(base: &str, pairs: &[(&str, &str)], basic: Option<(&str, &str)>) -> Answer {
    token_with(base, pairs, basic, None).await
}

/// A form's pairs.
type Form<'a> = Vec<(&'a str, &'a str)>;
/// Basic client credentials, if any.
type Basic<'a> = Option<(&'a str, &'a str)>;

const GATEWAY: Basic = Some(("gateway", GATEWAY_SECRET));
const ORDERS_SVC: Basic = Some(("orders-svc", ORDERS_SECRET));

/// The exchange form for `subject` to `audience`, plus `extra`.
fn exchange_form<'a>(
    subject: &'a str,
    audience: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
        ("audience", audience),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

/// Alice's access token from `/login` (audience `api`).
async fn alice(base: &str) -> String {
    let reply = send(
        http()
            .post(format!("{base}/login"))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// A token's claims, verified against the server's JWKS for `audience`.
async fn claims_of(base: &str, token: &str, audience: &str) -> Value {
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    let verifier = Verifier::<Value>::builder(KeySet::from_jwks_str(&jwks.body).unwrap())
        .algorithms([Algorithm::ES256])
        .issuer(base)
        .audience(audience)
        .require_typ("at+jwt")
        .build()
        .unwrap();
    verifier
        .verify(token)
        .unwrap_or_else(|e| panic!("{e}: {token}"))
        .claims()
        .clone()
}

#[tokio::test]
async fn an_exchange_keeps_the_subject_for_the_target_with_act_and_no_later_exp() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let subject_claims = claims_of(&base, &subject, "api").await;
    // The exchanged token would outlive its subject token without the cap: a second on,
    // the issuer's usual lifetime ends a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let answer = token(
        &base,
        &exchange_form(&subject, "orders", &[("scope", "orders.read")]),
        GATEWAY,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
    let body = answer.body.as_object().unwrap();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "orders.read");
    assert!(!body.contains_key("refresh_token"), "{body:?}");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        expires_in > 0 && expires_in <= subject_claims["exp"].as_i64().unwrap() - now(),
        "{expires_in}"
    );

    let claims = claims_of(&base, answer.access_token(), "orders").await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["scope"], "orders.read");
    assert_eq!(claims["act"], json!({"sub": "gateway"}));
    assert_eq!(claims["client_id"], "gateway");
    assert_eq!(
        claims["exp"], subject_claims["exp"],
        "capped at the subject's"
    );
    assert_ne!(claims["jti"], subject_claims["jti"]);
    // Not for the subject token's audience.
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    let for_api = Verifier::<Value>::builder(KeySet::from_jwks_str(&jwks.body).unwrap())
        .algorithms([Algorithm::ES256])
        .audience("api")
        .build()
        .unwrap();
    assert!(for_api.verify(answer.access_token()).is_err());

    // Without scope: the subject token's whole scope. A target by `resource` as well.
    let answer = token(
        &base,
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("resource", INVENTORY),
        ],
        GATEWAY,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["scope"], "orders.read orders.write profile");
    let claims = claims_of(&base, answer.access_token(), INVENTORY).await;
    assert_eq!(claims["aud"], INVENTORY);
    assert_eq!(claims["scope"], "orders.read orders.write profile");

    // client_secret_post authenticates as well as Basic.
    let answer = token(
        &base,
        &exchange_form(
            &subject,
            "orders",
            &[("client_id", "gateway"), ("client_secret", GATEWAY_SECRET)],
        ),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn an_exchanged_token_is_exchanged_again_with_the_current_actor_outermost() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let first = token(
        &base,
        &exchange_form(&subject, "orders", &[("scope", "orders.read orders.write")]),
        GATEWAY,
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    let first_claims = claims_of(&base, first.access_token(), "orders").await;

    // The orders service, holding the token the gateway got for it, calls billing.
    let second = token(
        &base,
        &exchange_form(first.access_token(), "billing", &[("scope", "orders.read")]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    let claims = claims_of(&base, second.access_token(), "billing").await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "billing");
    assert_eq!(claims["scope"], "orders.read");
    assert_eq!(
        claims["act"],
        json!({"sub": "orders-svc", "act": {"sub": "gateway"}})
    );
    assert_eq!(claims["client_id"], "orders-svc");
    assert!(claims["exp"].as_i64() <= first_claims["exp"].as_i64());

    // Never wider than the token exchanged, even if the first subject had more.
    let wider = token(
        &base,
        &exchange_form(
            second.access_token(),
            "billing",
            &[("scope", "orders.write")],
        ),
        ORDERS_SVC,
    )
    .await;
    assert_eq!((wider.status, wider.error()), (400, "invalid_scope"));
    // The orders service may not reach the audience its own token is for.
    let back = token(
        &base,
        &exchange_form(first.access_token(), "orders", &[]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!((back.status, back.error()), (400, "unauthorized_client"));
}

#[tokio::test]
async fn an_actor_token_names_the_actor() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let own = token(&base, &[("grant_type", "client_credentials")], GATEWAY).await;
    assert_eq!(own.status, 200, "{own:?}");
    let actor = own.access_token();

    for actor_type in [ACCESS_TOKEN, "urn:ietf:params:oauth:token-type:jwt"] {
        let answer = token(
            &base,
            &exchange_form(
                &subject,
                "orders",
                &[("actor_token", actor), ("actor_token_type", actor_type)],
            ),
            GATEWAY,
        )
        .await;
        assert_eq!(answer.status, 200, "{actor_type}: {answer:?}");
        let claims = claims_of(&base, answer.access_token(), "orders").await;
        assert_eq!(claims["act"], json!({"sub": "gateway"}));
        assert_eq!(claims["client_id"], "gateway");
    }

    // Another client's token: the gateway may not act as the reports client.
    let reports = token(
        &base,
        &[("grant_type", "client_credentials")],
        Some(("reports", REPORTS_SECRET)),
    )
    .await;
    assert_eq!(reports.status, 200, "{reports:?}");
    let answer = token(
        &base,
        &exchange_form(
            &subject,
            "orders",
            &[
                ("actor_token", reports.access_token()),
                ("actor_token_type", ACCESS_TOKEN),
            ],
        ),
        GATEWAY,
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );
    assert!(
        answer.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("does not belong to this client")),
        "{answer:?}"
    );

    // An actor token that is not one of this server's active tokens.
    let forged = mint_es256("k", &claims("reports", ""));
    for bad in [forged.as_str(), "not-a-token"] {
        let answer = token(
            &base,
            &exchange_form(
                &subject,
                "orders",
                &[("actor_token", bad), ("actor_token_type", ACCESS_TOKEN)],
            ),
            GATEWAY,
        )
        .await;
        assert_eq!((answer.status, answer.error()), (400, "invalid_request"));
    }
}

#[tokio::test]
async fn every_refusal_has_its_code_and_status() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let forged = mint_es256("k", &claims("alice", "orders.read"));
    let s = subject.as_str();
    let cases: Vec<(&str, Form, Basic, &str)> = vec![
        (
            "no subject_token",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", "orders"),
            ],
            GATEWAY,
            "invalid_request",
        ),
        (
            "no subject_token_type",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", s),
                ("audience", "orders"),
            ],
            GATEWAY,
            "invalid_request",
        ),
        (
            "an id_token subject",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", s),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("audience", "orders"),
            ],
            GATEWAY,
            "invalid_request",
        ),
        (
            "a garbage subject token",
            exchange_form("not-a-token", "orders", &[]),
            GATEWAY,
            "invalid_request",
        ),
        (
            "another issuer's subject token",
            exchange_form(&forged, "orders", &[]),
            GATEWAY,
            "invalid_request",
        ),
        (
            "an actor token without its type",
            exchange_form(s, "orders", &[("actor_token", s)]),
            GATEWAY,
            "invalid_request",
        ),
        (
            "a refresh token requested",
            exchange_form(
                s,
                "orders",
                &[(
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                )],
            ),
            GATEWAY,
            "invalid_request",
        ),
        (
            "no target",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", s),
                ("subject_token_type", ACCESS_TOKEN),
            ],
            GATEWAY,
            "invalid_request",
        ),
        (
            "two audiences",
            exchange_form(s, "orders", &[("audience", INVENTORY)]),
            GATEWAY,
            "invalid_target",
        ),
        (
            "an audience and another resource",
            exchange_form(s, "orders", &[("resource", INVENTORY)]),
            GATEWAY,
            "invalid_target",
        ),
        (
            "an audience nobody serves",
            exchange_form(s, "elsewhere", &[]),
            GATEWAY,
            "invalid_target",
        ),
        (
            "a served audience the client does not list",
            exchange_form(s, "billing", &[]),
            GATEWAY,
            "unauthorized_client",
        ),
        (
            "more scope than the subject token had",
            exchange_form(s, "orders", &[("scope", "orders.read admin")]),
            GATEWAY,
            "invalid_scope",
        ),
        (
            "a malformed scope",
            exchange_form(s, "orders", &[("scope", "orders.read  profile")]),
            GATEWAY,
            "invalid_scope",
        ),
        (
            "a client without the grant",
            exchange_form(s, "orders", &[]),
            Some(("reports", REPORTS_SECRET)),
            "unauthorized_client",
        ),
        (
            "a public client",
            exchange_form(s, "orders", &[("client_id", "cli")]),
            None,
            "unauthorized_client",
        ),
    ];
    for (what, pairs, basic, error) in cases {
        let answer = token(&base, &pairs, basic).await;
        assert_eq!(
            (answer.status, answer.error()),
            (400, error),
            "{what}: {answer:?}"
        );
        assert_eq!(answer.challenge, None, "{what}");
        assert!(answer.body.get("access_token").is_none(), "{what}");
    }

    // Bad client credentials: 401 with a Basic challenge.
    for basic in [
        ("gateway", "wrong-secret-0123456789abcdefghij"),
        ("nobody", GATEWAY_SECRET),
    ] {
        let answer = token(&base, &exchange_form(s, "orders", &[]), Some(basic)).await;
        assert_eq!(
            (answer.status, answer.error()),
            (401, "invalid_client"),
            "{basic:?}"
        );
        assert!(
            answer
                .challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Basic realm=")),
            "{answer:?}"
        );
    }

    // The subject token was never spent by the refusals.
    let answer = token(&base, &exchange_form(s, "orders", &[]), GATEWAY).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_revoked_subject_token_is_invalid_request() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let exchanged = token(&base, &exchange_form(&subject, "orders", &[]), GATEWAY).await;
    assert_eq!(exchanged.status, 200, "{exchanged:?}");

    // Logout revokes the access token it was called with.
    let logout = send(
        http()
            .post(format!("{base}/logout"))
            .bearer_auth(&subject)
            .json(&json!({})),
    )
    .await;
    assert_eq!(logout.status, 200, "{logout:?}");
    assert_eq!(logout.json()["access_token_revoked"], true);
    let answer = token(&base, &exchange_form(&subject, "orders", &[]), GATEWAY).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );

    // The token exchanged before is still alice's; logging out everywhere revokes every
    // token of hers issued so far, the exchanged one included.
    let again = token(
        &base,
        &exchange_form(exchanged.access_token(), "billing", &[]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    let fresh = alice(&base).await;
    let everywhere = send(
        http()
            .post(format!("{base}/logout"))
            .bearer_auth(&fresh)
            .json(&json!({"everywhere": true})),
    )
    .await;
    assert_eq!(everywhere.status, 200, "{everywhere:?}");
    let answer = token(
        &base,
        &exchange_form(exchanged.access_token(), "billing", &[]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_expired_subject_token_is_invalid_request() {
    let auth = auth_server(&[("ACCESS_TTL_SECONDS", "1")]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let answer = token(&base, &exchange_form(&subject, "orders", &[]), GATEWAY).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_dpop_proof_binds_the_exchanged_token() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let proof = key
        .proof("POST", &format!("{base}/token"), None, None)
        .unwrap();
    let answer = token_with(
        &base,
        &exchange_form(&subject, "orders", &[]),
        GATEWAY,
        Some(&proof),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(answer.body["issued_token_type"], ACCESS_TOKEN);
    let claims = claims_of(&base, answer.access_token(), "orders").await;
    assert_eq!(claims["cnf"], json!({"jkt": key.thumbprint()}));
    assert_eq!(claims["act"], json!({"sub": "gateway"}));
    // A replayed proof is refused as for any grant.
    let replay = token_with(
        &base,
        &exchange_form(&subject, "orders", &[]),
        GATEWAY,
        Some(&proof),
    )
    .await;
    assert_eq!((replay.status, replay.error()), (400, "invalid_dpop_proof"));
}

#[tokio::test]
async fn a_bound_subject_token_is_exchanged_unbound_unless_the_exchange_proves_a_key() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    // A token bound to the reports client's DPoP key.
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let proof = |key: &DpopKey| {
        key.proof("POST", &format!("{base}/token"), None, None)
            .unwrap()
    };
    let bound = token_with(
        &base,
        &[("grant_type", "client_credentials")],
        Some(("reports", REPORTS_SECRET)),
        Some(&proof(&key)),
    )
    .await;
    assert_eq!(bound.body["token_type"], "DPoP", "{bound:?}");
    let bound_claims = claims_of(&base, bound.access_token(), "api").await;
    assert_eq!(bound_claims["cnf"], json!({"jkt": key.thumbprint()}));

    // The exchanging client is authenticated; the binding is not carried over.
    let answer = token(
        &base,
        &exchange_form(bound.access_token(), "orders", &[]),
        GATEWAY,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["token_type"], "Bearer");
    let claims = claims_of(&base, answer.access_token(), "orders").await;
    assert_eq!(claims["sub"], "reports");
    assert_eq!(claims.get("cnf"), None);

    // With the exchanging client's own proof, the exchanged token is bound to its key.
    let gateway_key = DpopKey::generate(Algorithm::ES256).unwrap();
    let answer = token_with(
        &base,
        &exchange_form(bound.access_token(), "orders", &[]),
        GATEWAY,
        Some(&proof(&gateway_key)),
    )
    .await;
    assert_eq!(answer.body["token_type"], "DPoP", "{answer:?}");
    let claims = claims_of(&base, answer.access_token(), "orders").await;
    assert_eq!(claims["cnf"], json!({"jkt": gateway_key.thumbprint()}));
}

fn grants(metadata: &Value) -> Vec<&str> {
    metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_metadata_names_the_grant_when_a_client_may_exchange() {
    let auth = auth_server(&[]).await;
    let metadata = send(http().get(format!(
        "{}/.well-known/oauth-authorization-server",
        auth.base()
    )))
    .await
    .json();
    assert_eq!(
        grants(&metadata),
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            EXCHANGE
        ]
    );

    // No client with exchange audiences: the grant is not offered, and refused.
    let plain = write_file(
        "plain",
        &json!([{"client_id": "reports", "client_secret": REPORTS_SECRET,
                 "grant_types": ["client_credentials"]}]),
    );
    let auth = auth_server(&[("OAUTH_CLIENTS_FILE", &plain)]).await;
    let base = auth.base();
    let metadata = send(http().get(format!("{base}/.well-known/oauth-authorization-server")))
        .await
        .json();
    assert_eq!(
        grants(&metadata),
        ["authorization_code", "refresh_token", "client_credentials"]
    );
    let subject = alice(&base).await;
    let answer = token(
        &base,
        &exchange_form(&subject, "orders", &[]),
        Some(("reports", REPORTS_SECRET)),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "unauthorized_client")
    );
}

#[test]
fn the_clients_file_is_checked_for_exchange() {
    for (clients, says) in [
        (
            json!([{"client_id": "gw", "client_secret": GATEWAY_SECRET,
                    "exchange_audiences": ["nowhere"]}]),
            "nowhere",
        ),
        (
            json!([{"client_id": "gw", "exchange_audiences": ["orders"]}]),
            "client_secret",
        ),
        (
            json!([{"client_id": "gw", "client_secret": GATEWAY_SECRET,
                    "grant_types": [EXCHANGE]}]),
            "exchange_audiences",
        ),
    ] {
        let path = write_file("bad", &clients);
        let output = run_to_exit("auth_server", &env(&[("OAUTH_CLIENTS_FILE", &path)]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{clients}");
        assert!(
            stderr.contains("OAUTH_CLIENTS_FILE") && stderr.contains(says),
            "{clients}: {stderr}"
        );
    }
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// panva's oauth4webapi, an independent client: discovery, an exchange with every field
/// checked, and the error codes as it surfaces them.
#[tokio::test(flavor = "multi_thread")]
async fn oauth4webapi_exchanges_tokens() {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/oauth4webapi").is_dir(),
        "the npm package oauth4webapi is required: npm ci --prefix tests/node"
    );
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let subject = alice(&base).await;
    let mut command = Command::new("node");
    command
        .arg(dir.join("exchange_client.mjs"))
        .args(["--issuer", &base])
        .args(["--subject", &subject])
        .args(["--client", &format!("gateway:{GATEWAY_SECRET}")])
        .args(["--audience", "orders"])
        .args(["--other-client", &format!("orders-svc:{ORDERS_SECRET}")])
        .args(["--other-audience", "billing"])
        .current_dir(&dir);
    let (passed, printed) =
        tokio::task::spawn_blocking(move || run_client(command, Duration::from_secs(60)))
            .await
            .unwrap();
    assert!(passed, "the oauth4webapi client failed:\n{printed}");
    println!("{printed}");
}

/// What `/introspect` says of `token`, asked by the gateway client.
async fn introspect(base: &str, token: &str) -> Value {
    let reply = send(
        http()
            .post(format!("{base}/introspect"))
            .basic_auth("gateway", Some(GATEWAY_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token)])),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

#[tokio::test]
async fn opaque_tokens_are_exchanged_for_opaque_tokens() {
    let auth = auth_server(&[("ACCESS_TOKEN_FORMAT", "opaque")]).await;
    let base = auth.base();
    let login = send(
        http()
            .post(format!("{base}/login"))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    let subject = login.json()["access_token"].as_str().unwrap().to_owned();
    assert!(!subject.contains('.'), "an opaque subject token: {subject}");
    let subject_expires_in = login.json()["expires_in"].as_i64().unwrap();

    let answer = token(
        &base,
        &exchange_form(&subject, "orders", &[("scope", "orders.read")]),
        GATEWAY,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(answer.body["scope"], "orders.read");
    let exchanged = answer.access_token().to_owned();
    assert!(
        !exchanged.contains('.'),
        "in the configured format: {exchanged}"
    );
    assert!(answer.body["expires_in"].as_i64().unwrap() <= subject_expires_in);

    // Introspection tells what the opaque tokens stand for.
    let subject_claims = introspect(&base, &subject).await;
    let claims = introspect(&base, &exchanged).await;
    assert_eq!(claims["active"], true, "{claims}");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["scope"], "orders.read");
    assert_eq!(claims["act"], json!({"sub": "gateway"}));
    assert_eq!(claims["client_id"], "gateway");
    assert!(claims["exp"].as_i64().unwrap() <= subject_claims["exp"].as_i64().unwrap());

    // The exchanged opaque token is one of this server's: it can be exchanged again,
    // within its own scope.
    let again = token(
        &base,
        &exchange_form(&exchanged, "billing", &[]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["scope"], "orders.read");
    let claims = introspect(&base, again.access_token()).await;
    assert_eq!(claims["aud"], "billing");
    assert_eq!(
        claims["act"],
        json!({"sub": "orders-svc", "act": {"sub": "gateway"}})
    );
    let wider = token(
        &base,
        &exchange_form(&exchanged, "billing", &[("scope", "orders.write")]),
        ORDERS_SVC,
    )
    .await;
    assert_eq!((wider.status, wider.error()), (400, "invalid_scope"));

    // Logging out with the opaque token revokes it: it can no longer be exchanged.
    let logout = send(
        http()
            .post(format!("{base}/logout"))
            .bearer_auth(&subject)
            .json(&json!({})),
    )
    .await;
    assert_eq!(logout.status, 200, "{logout:?}");
    let answer = token(&base, &exchange_form(&subject, "orders", &[]), GATEWAY).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );
    // A made-up opaque token is not one of this server's.
    let made_up = "A".repeat(43);
    let answer = token(&base, &exchange_form(&made_up, "orders", &[]), GATEWAY).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "{answer:?}"
    );
}
