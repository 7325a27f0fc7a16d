//! A fleet sharing Redis, as processes: two auth_server instances and a resource_server.
//! Refresh families are shared (one winner per token, reuse detected across instances),
//! and a logout on one instance is enforced by the resource server within a second,
//! also after Redis restarts, with or without its data.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::process::start;
use support::redis::Redis;
use support::*;

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

async fn post(url: String, body: Value, bearer: Option<&str>) -> Reply {
    let mut request = http().post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    send(request).await
}

/// Polls until `GET url` with `token` answers `status`, up to `limit`.
async fn answers(url: &str, token: &str, status: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if send(http().get(url).bearer_auth(token)).await.status == status {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_shares_sessions_and_revocations_through_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let pem = std::env::temp_dir().join(format!("jwt-tower-fleet-{}.pem", std::process::id()));
    std::fs::write(&pem, key_file("p256-private.pem")).unwrap();
    let issuer = "https://fleet.auth.test";
    let auth_env = env(&[
        ("REDIS_URL", &redis.url()),
        ("JWT_ISSUER", issuer),
        ("JWT_SIGNING_ALG", "ES256"),
        ("JWT_SIGNING_KEY_PEM_FILE", pem.to_str().unwrap()),
        ("JWT_KID", "fleet-1"),
        ("REFRESH_COOKIE", "off"),
    ]);
    let a = start("auth_server", &auth_env).await;
    let b = start("auth_server", &auth_env).await;
    let api = start(
        "resource_server",
        &env(&[
            ("REDIS_URL", &redis.url()),
            (
                "JWT_JWKS_URL",
                &format!("{}/.well-known/jwks.json", a.base()),
            ),
            ("JWT_ISSUER", issuer),
            ("JWT_AUDIENCE", "api"),
            ("JWT_ALGORITHMS", "ES256"),
        ]),
    )
    .await;
    let me = format!("{}/me", api.base());

    // A session started on A refreshes on B; replaying on A is reuse, seen across instances.
    let login = post(
        format!("{}/login", a.base()),
        json!({"username": "alice", "password": "alice-password"}),
        None,
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    let first = login.json()["refresh_token"].clone();
    let on_b = post(
        format!("{}/refresh", b.base()),
        json!({"refresh_token": first}),
        None,
    )
    .await;
    assert_eq!(on_b.status, 200, "{on_b:?}");
    let replay = post(
        format!("{}/refresh", a.base()),
        json!({"refresh_token": first}),
        None,
    )
    .await;
    assert_eq!(replay.status, 401);
    let successor = post(
        format!("{}/refresh", b.base()),
        json!({"refresh_token": on_b.json()["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(successor.status, 401, "the family was revoked everywhere");

    // Concurrent refreshes of one token on both instances: exactly one wins.
    let login = post(
        format!("{}/login", a.base()),
        json!({"username": "bob", "password": "bob-password"}),
        None,
    )
    .await;
    let token = login.json()["refresh_token"].clone();
    let mut attempts = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 { a.base() } else { b.base() };
        let token = token.clone();
        attempts.push(tokio::spawn(async move {
            post(
                format!("{base}/refresh"),
                json!({"refresh_token": token}),
                None,
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );

    // A logout on B is enforced by the resource server within a second.
    let carol = post(
        format!("{}/login", a.base()),
        json!({"username": "alice", "password": "alice-password"}),
        None,
    )
    .await;
    let access = carol.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(http().get(&me).bearer_auth(&access)).await.status, 200);
    let logout = post(format!("{}/logout", b.base()), json!({}), Some(&access)).await;
    assert_eq!(logout.status, 200, "{logout:?}");
    assert!(
        answers(&me, &access, 401, Duration::from_secs(1)).await,
        "revocation not applied within 1 s"
    );

    // Redis restarts: what is revoked afterwards still reaches the resource server.
    let dave = post(
        format!("{}/login", a.base()),
        json!({"username": "bob", "password": "bob-password"}),
        None,
    )
    .await;
    let access = dave.json()["access_token"].as_str().unwrap().to_owned();
    redis.restart();
    // Sessions survive the restart (append-only file), and verification never stopped.
    assert_eq!(send(http().get(&me).bearer_auth(&access)).await.status, 200);
    let mut logged_out = false;
    for _ in 0..50 {
        if post(format!("{}/logout", a.base()), json!({}), Some(&access))
            .await
            .status
            == 200
        {
            logged_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logged_out, "the auth server reconnected to Redis");
    assert!(
        answers(&me, &access, 401, Duration::from_secs(5)).await,
        "resynced after the restart"
    );
    // The revocation made before the restart is still enforced.
    assert_eq!(
        send(
            http()
                .get(&me)
                .bearer_auth(carol.json()["access_token"].as_str().unwrap())
        )
        .await
        .status,
        401
    );
    let _ = std::fs::remove_file(&pem);
}

#[tokio::test]
async fn with_redis_down_refresh_and_logout_answer_503_and_verification_goes_on() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let auth = start(
        "auth_server",
        &env(&[("REDIS_URL", &redis.url()), ("REFRESH_COOKIE", "off")]),
    )
    .await;
    let login = post(
        format!("{}/login", auth.base()),
        json!({"username": "alice", "password": "alice-password"}),
        None,
    )
    .await;
    assert_eq!(login.status, 200);
    let access = login.json()["access_token"].as_str().unwrap().to_owned();
    redis.stop();
    let refresh = post(
        format!("{}/refresh", auth.base()),
        json!({"refresh_token": login.json()["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(refresh.status, 503, "{refresh:?}");
    let logout = post(format!("{}/logout", auth.base()), json!({}), Some(&access)).await;
    assert_eq!(logout.status, 503, "{logout:?}");
    // The auth server still verifies access tokens on its local list: 403 (not admin), not 5xx.
    let rotate = post(
        format!("{}/rotate-keys", auth.base()),
        json!({}),
        Some(&access),
    )
    .await;
    assert_eq!(rotate.status, 403);
}

/// Redis without persistence restarts empty: the resource server that had the logout
/// keeps refusing the token (a resync merges, it does not replace), and the fleet writes
/// the lost revocation back, so a resource server started afterwards refuses it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_survives_redis_restarting_empty() {
    let Some(mut redis) = Redis::start_ephemeral() else {
        return;
    };
    let auth = start("auth_server", &env(&[("REDIS_URL", &redis.url())])).await;
    let api_env = env(&[
        ("REDIS_URL", &redis.url()),
        (
            "JWT_JWKS_URL",
            &format!("{}/.well-known/jwks.json", auth.base()),
        ),
        ("JWT_ALGORITHMS", "ES256"),
        ("JWT_AUDIENCE", "api"),
    ]);
    let api = start("resource_server", &api_env).await;
    let me = format!("{}/me", api.base());

    let login = post(
        format!("{}/login", auth.base()),
        json!({"username": "alice", "password": "alice-password"}),
        None,
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    let access = login.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(http().get(&me).bearer_auth(&access)).await.status, 200);
    let logout = post(format!("{}/logout", auth.base()), json!({}), Some(&access)).await;
    assert_eq!(logout.status, 200, "{logout:?}");
    assert!(answers(&me, &access, 401, Duration::from_secs(1)).await);

    redis.restart();
    // Both processes reconnect and resync from the empty server within this window
    // (reconnect backoff at most 1 s); the token must stay refused throughout.
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        let status = send(http().get(&me).bearer_auth(&access)).await.status;
        assert_eq!(
            status, 401,
            "the token came back after Redis restarted empty"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Written back to Redis: a resource server started now loads it.
    let late = start("resource_server", &api_env).await;
    assert!(
        answers(
            &format!("{}/me", late.base()),
            &access,
            401,
            Duration::from_secs(2)
        )
        .await,
        "a resource server started after the restart refuses the token"
    );
}
