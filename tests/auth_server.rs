//! `examples/auth_server` as a process: login (argon2 and bcrypt users), access tokens a
//! resource server accepts through the JWKS, rotating refresh with reuse detection,
//! logout, key rotation, and the well-known documents.

mod support;

use serde_json::{Value, json};
use support::process::{run_to_exit, start};
use support::*;

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

async fn post(url: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
    let mut request = http().post(url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    send(request).await
}

async fn login(base: &str, user: &str, password: &str) -> Reply {
    post(
        &format!("{base}/login"),
        Some(json!({"username": user, "password": password})),
        None,
    )
    .await
}

async fn me(url: &str, token: &str) -> u16 {
    send(http().get(url).bearer_auth(token)).await.status
}

#[tokio::test]
async fn the_whole_flow_across_an_auth_server_and_a_resource_server() {
    let auth = start("auth_server", &env(&[("JWT_AUDIENCE", "api")])).await;
    let base = auth.base();
    let api = start(
        "resource_server",
        &env(&[
            ("JWT_JWKS_URL", &format!("{base}/.well-known/jwks.json")),
            ("JWT_ISSUER", &base),
            ("JWT_AUDIENCE", "api"),
            ("JWT_ALGORITHMS", "ES256"),
            ("JWT_REQUIRE_TYP", "at+jwt"),
            ("JWT_JWKS_COOLDOWN_SECONDS", "1"),
        ]),
    )
    .await;
    let me_url = format!("{}/me", api.base());

    // Bad credentials: 401, and an unknown user looks the same.
    let wrong = login(&base, "alice", "nope").await;
    assert_eq!(
        (wrong.status, wrong.json()["error"].clone()),
        (401, json!("invalid_grant"))
    );
    let unknown = login(&base, "mallory", "nope").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, wrong.body);

    // Login: a Bearer access token the resource server accepts, and a refresh token.
    let response = http()
        .post(format!("{base}/login"))
        .json(&json!({"username": "alice", "password": "alice-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("refresh_token="), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/refresh"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&me_url, &access).await, 200);

    // Refresh rotates; replaying the spent token revokes the whole family.
    let rotated = post(
        &format!("{base}/refresh"),
        Some(json!({"refresh_token": refresh})),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let next_refresh = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next_refresh, refresh);
    assert_eq!(
        me(&me_url, rotated.json()["access_token"].as_str().unwrap()).await,
        200
    );
    let replay = post(
        &format!("{base}/refresh"),
        Some(json!({"refresh_token": refresh})),
        None,
    )
    .await;
    assert_eq!(replay.status, 401);
    let after_replay = post(
        &format!("{base}/refresh"),
        Some(json!({"refresh_token": next_refresh})),
        None,
    )
    .await;
    assert_eq!(after_replay.status, 401, "the family was revoked");

    // The refresh token also works from the cookie.
    let fresh = login(&base, "alice", "alice-password").await.json();
    let by_cookie = send(http().post(format!("{base}/refresh")).header(
        "cookie",
        format!("refresh_token={}", fresh["refresh_token"].as_str().unwrap()),
    ))
    .await;
    assert_eq!(by_cookie.status, 200, "{by_cookie:?}");

    // Key rotation needs scope admin; the old token keeps working (its key is still
    // published) and new tokens, signed by the new key, are accepted after one fetch.
    assert_eq!(
        post(&format!("{base}/rotate-keys"), None, Some(&access))
            .await
            .status,
        403
    );
    let bob = login(&base, "bob", "bob-password").await.json();
    let bob_access = bob["access_token"].as_str().unwrap().to_owned();
    let rotation = post(&format!("{base}/rotate-keys"), None, Some(&bob_access)).await;
    assert_eq!(rotation.status, 200, "{rotation:?}");
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    assert_eq!(jwks.json()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(me(&me_url, &access).await, 200);
    let after_rotation = login(&base, "alice", "alice-password").await.json();
    let new_access = after_rotation["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&me_url, &new_access).await, 200);

    // Logout revokes the access token (at the auth server) and the refresh family.
    let logout = post(
        &format!("{base}/logout"),
        Some(json!({"refresh_token": after_rotation["refresh_token"]})),
        Some(&bob_access),
    )
    .await;
    assert_eq!(logout.status, 200, "{logout:?}");
    assert_eq!(logout.json()["access_token_revoked"], true);
    assert_eq!(logout.json()["refresh_family_revoked"], true);
    assert_eq!(
        post(&format!("{base}/rotate-keys"), None, Some(&bob_access))
            .await
            .status,
        401
    );
    let dead = post(
        &format!("{base}/refresh"),
        Some(json!({"refresh_token": after_rotation["refresh_token"]})),
        None,
    )
    .await;
    assert_eq!(dead.status, 401);

    // Discovery names the issuer and the JWKS.
    let discovery = send(http().get(format!("{base}/.well-known/openid-configuration"))).await;
    assert_eq!(discovery.json()["issuer"], base.as_str());
    assert_eq!(
        discovery.json()["jwks_uri"],
        format!("{base}/.well-known/jwks.json")
    );
}

#[tokio::test]
async fn bcrypt_users_from_an_express_service_can_log_in() {
    let hash = bcrypt::hash("carol-password", 4).unwrap();
    let users = format!("carol:{hash}:read;dave:dave-password:");
    let auth = start(
        "auth_server",
        &env(&[("DEMO_USERS", &users), ("JWT_SIGNING_ALG", "EdDSA")]),
    )
    .await;
    assert_eq!(
        login(&auth.base(), "carol", "carol-password").await.status,
        200
    );
    assert_eq!(login(&auth.base(), "carol", "wrong").await.status, 401);
    assert_eq!(
        login(&auth.base(), "dave", "dave-password").await.status,
        200
    );
    let jwks = send(http().get(format!("{}/.well-known/jwks.json", auth.base()))).await;
    assert_eq!(jwks.json()["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks.json()["keys"][0]["use"], "sig");
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user() {
    let auth = start("auth_server", &env(&[])).await;
    let base = auth.base();
    let first = login(&base, "bob", "bob-password").await.json();
    let second = login(&base, "bob", "bob-password").await.json();
    let access = first["access_token"].as_str().unwrap();
    let logout = post(
        &format!("{base}/logout"),
        Some(json!({"everywhere": true})),
        Some(access),
    )
    .await;
    assert_eq!(logout.status, 200);
    // The other session's refresh token no longer works, nor its access token.
    let refresh = post(
        &format!("{base}/refresh"),
        Some(json!({"refresh_token": second["refresh_token"]})),
        None,
    )
    .await;
    assert_eq!(refresh.status, 401);
    let other = second["access_token"].as_str().unwrap();
    assert_eq!(
        post(&format!("{base}/rotate-keys"), None, Some(other))
            .await
            .status,
        401
    );
    // A new login is a new session. Revocation has one-second granularity (`iat`), and
    // tokens issued in the second of the logout count as before it: wait that out.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let third = login(&base, "bob", "bob-password").await.json();
    let rotate = post(
        &format!("{base}/rotate-keys"),
        None,
        third["access_token"].as_str(),
    )
    .await;
    assert_eq!(rotate.status, 200);
}

#[test]
fn bad_configuration_names_the_variable() {
    for (pairs, variable) in [
        (env(&[("JWT_SIGNING_ALG", "none")]), "JWT_SIGNING_ALG"),
        (
            env(&[("JWT_SIGNING_KEY_PEM_FILE", "/nonexistent.pem")]),
            "JWT_SIGNING_KEY_PEM_FILE",
        ),
        (env(&[("ACCESS_TTL_SECONDS", "0")]), "ACCESS_TTL_SECONDS"),
        (env(&[("DEMO_USERS", "justaname")]), "DEMO_USERS"),
    ] {
        let output = run_to_exit("auth_server", &pairs);
        assert!(!output.status.success(), "{variable}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.trim().lines().count() == 1 && stderr.contains(variable),
            "{variable}: {stderr}"
        );
    }
}
