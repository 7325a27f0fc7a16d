//! What every delegation test shares: the authorization server and its clients, the
//! user's token, the examples' variables, verifiers, and exchanging a token by hand.

use std::sync::LazyLock;

use jwt_tower::{Algorithm, KeySet, RegisteredClaims, Verifier};
use serde_json::json;

use crate::support::process::{Running, start};
use crate::support::{http, send};

pub const USERS: &str = "alice:alice-password:orders.read orders.write profile";
pub const GATEWAY_SECRET: &str = "gateway-secret-0123456789abcdefghij";
pub const SVC_A_SECRET: &str = "svc-a-secret-0123456789abcdefghijkl";
pub const NO_B_SECRET: &str = "no-b-secret-0123456789abcdefghijklmn";

/// The clients file: the gateway may exchange for service A, service A for service B,
/// and `no-b` for service A only.
pub fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(|| {
        let clients = json!([
            {"client_id": "gateway", "client_secret": GATEWAY_SECRET,
             "exchange_audiences": ["svc-a"]},
            {"client_id": "svc-a", "client_secret": SVC_A_SECRET,
             "exchange_audiences": ["svc-b"]},
            {"client_id": "no-b", "client_secret": NO_B_SECRET,
             "exchange_audiences": ["svc-a"]},
        ]);
        let path =
            std::env::temp_dir().join(format!("delegation-clients-{}.json", std::process::id()));
        std::fs::write(&path, clients.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    });
    PATH.clone()
}

/// The authorization server: users' tokens are for the gateway (`aud` `gateway`), and it
/// serves `svc-a` and `svc-b` too.
pub async fn auth_server() -> Running {
    start(
        "auth_server",
        &[
            ("DEMO_USERS", USERS.to_owned()),
            ("JWT_AUDIENCE", "gateway".to_owned()),
            ("OAUTH_RESOURCES", "gateway,svc-a,svc-b".to_owned()),
            ("OAUTH_CLIENTS_FILE", clients_file()),
            ("REFRESH_COOKIE", "off".to_owned()),
            ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
            ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
        ],
    )
    .await
}

/// Alice's access token from `/login`: `aud` `gateway`, no `act`.
pub async fn alice(auth: &Running) -> String {
    let reply = send(
        http()
            .post(format!("{}/login", auth.base()))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// The `JWT_*` variables of an example verifying `auth`'s tokens for `audience`.
pub fn jwt_env(auth: &Running, audience: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "JWT_JWKS_URL",
            format!("{}/.well-known/jwks.json", auth.base()),
        ),
        ("JWT_ALGORITHMS", "ES256".to_owned()),
        ("JWT_ISSUER", auth.base()),
        ("JWT_AUDIENCE", audience.to_owned()),
    ]
}

/// The `EXCHANGE_*` variables: exchange as `client` for `audience`.
pub fn exchange_env(
    auth: &Running,
    client: &str,
    secret: &str,
    audience: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("EXCHANGE_TOKEN_URL", format!("{}/token", auth.base())),
        ("EXCHANGE_CLIENT_ID", client.to_owned()),
        ("EXCHANGE_CLIENT_SECRET", secret.to_owned()),
        ("EXCHANGE_AUDIENCE", audience.to_owned()),
    ]
}

/// A verifier of `auth`'s tokens for `audience`, as a service written here holds it.
pub async fn verifier(auth: &Running, audience: &str) -> Verifier<RegisteredClaims> {
    let jwks = send(http().get(format!("{}/.well-known/jwks.json", auth.base()))).await;
    Verifier::builder(KeySet::from_jwks_str(&jwks.body).unwrap())
        .algorithms([Algorithm::ES256])
        .issuer(auth.base())
        .audience(audience)
        .build()
        .unwrap()
}

/// The `sub`s of a token's `act` chain, current actor first.
pub fn actors(identity: &jwt_tower::Identity) -> Vec<String> {
    identity
        .actor()
        .into_iter()
        .flat_map(|a| a.chain())
        .map(|a| a.sub().to_owned())
        .collect()
}

/// `pairs` form-urlencoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// `subject` exchanged at `auth` by `client` for `audience`.
pub async fn exchanged(
    auth: &Running,
    subject: &str,
    client: (&str, &str),
    audience: &str,
) -> String {
    let reply = send(
        http()
            .post(format!("{}/token", auth.base()))
            .basic_auth(client.0, Some(client.1))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", subject),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("audience", audience),
            ])),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}
