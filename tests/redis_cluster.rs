//! The Redis store on a real Redis Cluster: three primaries the test starts on loopback
//! (`redis-cli --cluster create`), reached with a `redis+cluster://` URL. Every script
//! touches one slot (a cross-slot script would fail here), instances share families,
//! revocations, codes and one-time marks, and a primary killed mid-run fails its keys
//! closed while the others keep serving, until it comes back and the store resyncs.

mod support;

use std::time::{Duration, Instant};

use jwt_tower::oauth::AuthorizationCode;
use jwt_tower::refresh::{RefreshError, RefreshTokens, token_hash};
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::store::{RedisStore, Store};
use serde_json::{Value, json};
use support::process::start;
use support::redis_cluster::RedisCluster;
use support::{Reply, http, key_file, now, send};

macro_rules! cluster {
    () => {
        match RedisCluster::start() {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

async fn store(cluster: &RedisCluster) -> RedisStore {
    RedisStore::builder(cluster.url())
        .timeout(Duration::from_millis(500))
        .out_of_step_after(Duration::from_secs(1))
        .resync_every(Duration::from_millis(500))
        .connect()
        .await
        .expect("connects to the cluster")
}

/// Polls `condition` every 20 ms until it holds or `limit` has passed.
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn code(subject: &str) -> AuthorizationCode {
    AuthorizationCode {
        client_id: "cli".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "c".repeat(43),
        scope: "read".into(),
        subject: subject.into(),
        resource: None,
        dpop_jkt: None,
        expires_at: now() + 60,
    }
}

/// Values of `prefix-<i>` whose one-time mark keys land on node `node` (or not).
fn values_on(cluster: &RedisCluster, prefix: &str, node: usize, on: bool) -> Vec<String> {
    (0..200)
        .map(|i| format!("{prefix}-{i}"))
        .filter(|value| (cluster.node_of(&format!("jwt-tower:once:{value}")) == node) == on)
        .take(5)
        .collect()
}

/// Marks `value` through `store` until the call is answered (the slot is served
/// again), up to 20 s after `since`: the answer, and when it came.
async fn served_again(
    store: &RedisStore,
    value: &str,
    since: Instant,
) -> (Result<bool, jwt_tower::store::StoreError>, Duration) {
    loop {
        let answer = store.mark_once(value, now() + 60, now()).await;
        if answer.is_ok() || since.elapsed() > Duration::from_secs(20) {
            return (answer, since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rotation, reuse detection and logout across two instances, on the cluster: the
/// family's keys share one slot, and the store finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_rotate_reuse_and_revoke_across_the_cluster() {
    let cluster = cluster!();
    let (a, b) = (store(&cluster).await, store(&cluster).await);
    let (on_a, on_b) = (RefreshTokens::new(a.clone()), RefreshTokens::new(b.clone()));

    let first = on_a.start("alice", "read").await.unwrap();
    assert!(cluster.exists(&format!("{{jwt-tower:}}fam:{}", first.family.id)));
    assert!(cluster.exists(&format!("{{jwt-tower:}}tok:{}", token_hash(&first.token))));
    let second = on_b.rotate(&first.token).await.unwrap();
    assert_eq!(second.family.id, first.family.id);
    let third = on_a.rotate(&second.token).await.unwrap();
    // The spent token replayed on the other instance: reuse, the family is revoked.
    assert_eq!(on_b.rotate(&second.token).await, Err(RefreshError::Reused));
    assert_eq!(on_a.rotate(&third.token).await, Err(RefreshError::Invalid));

    let other = on_b.start("bob", "read").await.unwrap();
    assert!(on_a.revoke(&other.token).await.unwrap().is_some(), "logout");
    assert_eq!(on_b.rotate(&other.token).await, Err(RefreshError::Invalid));

    // Codes and clients spread over the cluster: each code is taken exactly once.
    for round in 0..20 {
        let hash = format!("code-{round}");
        a.put_code(&hash, &code("carol")).await.unwrap();
        let (x, y) = tokio::join!(a.take_code(&hash, now()), b.take_code(&hash, now()));
        let taken = [x.unwrap(), y.unwrap()].into_iter().flatten().count();
        assert_eq!(taken, 1, "round {round}");
    }

    // Opaque access tokens spread over the cluster too: issued on one instance, active
    // on the other, revoked on either for both.
    let (at_a, at_b) = (
        jwt_tower::oauth::OpaqueAccessTokens::new(a.clone()),
        jwt_tower::oauth::OpaqueAccessTokens::new(b.clone()),
    );
    for round in 0..8 {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), format!("user-{round}").into());
        let token = at_a.issue(claims.clone(), now() + 60).await.unwrap();
        assert_eq!(at_b.active(&token).await.unwrap(), Some(claims.clone()));
        assert_eq!(at_b.revoke(&token).await.unwrap(), Some(claims));
        assert_eq!(at_a.active(&token).await.unwrap(), None, "round {round}");
    }
}

/// A revocation written through one instance reaches the list another instance keeps
/// in step, over the cluster's pub/sub; a later instance loads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_a_follower_on_another_instance() {
    let cluster = cluster!();
    let (a, b) = (store(&cluster).await, store(&cluster).await);
    let list = Revocations::new();
    b.follow(&list);
    assert!(eventually(Duration::from_secs(5), || b.is_synced()).await);
    let before = now() + 1;
    a.revoke(Revocation::Subject {
        sub: "mallory".into(),
        before,
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            None,
            Some("mallory"),
            Some(before - 1)
        ))
        .await,
        "delivered within a second"
    );
    assert!(cluster.exists("{jwt-tower:rev}:sub"));
    let late = Revocations::new();
    store(&cluster).await.follow(&late);
    assert!(
        eventually(Duration::from_secs(5), || late.is_revoked(
            None,
            Some("mallory"),
            Some(before - 1)
        ))
        .await
    );
}

/// Two instances marking the same values at once: exactly one `true` per value, on
/// whichever node the value's key lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_is_marked_once_across_instances() {
    let cluster = cluster!();
    let (a, b) = (store(&cluster).await, store(&cluster).await);
    let mut nodes = std::collections::HashSet::new();
    for round in 0..30 {
        let value = format!("jti-{round}");
        nodes.insert(cluster.node_of(&format!("jwt-tower:once:{value}")));
        let until = now() + 60;
        let (x, y, z) = tokio::join!(
            a.mark_once(&value, until, now()),
            b.mark_once(&value, until, now()),
            a.mark_once(&value, until, now()),
        );
        let first = [x.unwrap(), y.unwrap(), z.unwrap()]
            .into_iter()
            .filter(|set| *set)
            .count();
        assert_eq!(first, 1, "round {round}");
    }
    assert_eq!(nodes.len(), 3, "the marks spread over every primary");
    let secret = a.shared_secret("nonce", "first").await.unwrap();
    assert_eq!(b.shared_secret("nonce", "second").await.unwrap(), secret);
}

/// A primary killed mid-run (no replica): calls on its slots fail within the timeout
/// (refresh and logout answer 503, a DPoP proof is refused), the other primaries keep
/// serving, the followers go out of step; once it is back (empty), the store resyncs
/// and writes back the revocations the node lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_fails_its_keys_closed_and_the_rest_keeps_working() {
    let mut cluster = cluster!();
    let (a, b) = (store(&cluster).await, store(&cluster).await);
    let list = Revocations::new();
    b.follow(&list);
    assert!(eventually(Duration::from_secs(5), || b.is_synced()).await);
    let before = now() + 1;
    a.revoke(Revocation::Subject {
        sub: "mallory".into(),
        before,
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            None,
            Some("mallory"),
            Some(before - 1)
        ))
        .await
    );
    let refresh = RefreshTokens::new(a.clone());
    let grant = refresh.start("alice", "read").await.unwrap();

    // The victim: the primary holding the revocations.
    let victim = cluster.node_of("{jwt-tower:rev}:tok");
    let families_die = cluster.node_of("{jwt-tower:}fam:x") == victim;
    // A second service whose families live on the victim.
    let prefix = (0..)
        .map(|i| format!("svc{i}:"))
        .find(|prefix| cluster.node_of(&format!("{{{prefix}}}fam:x")) == victim)
        .unwrap();
    let doomed = RefreshTokens::new(
        RedisStore::builder(cluster.url())
            .prefix(prefix)
            .timeout(Duration::from_millis(500))
            .connect()
            .await
            .unwrap(),
    );
    let doomed_grant = doomed.start("bob", "read").await.unwrap();
    let dead_values = values_on(&cluster, "dead", victim, true);
    let live_values = values_on(&cluster, "live", victim, false);
    cluster.kill(victim);

    // Its keys fail, each within the timeout (plus scheduling).
    let mut slowest = Duration::ZERO;
    for value in &dead_values {
        let started = Instant::now();
        let marked = a.mark_once(value, now() + 60, now()).await;
        assert!(marked.is_err(), "{value} on the dead primary: {marked:?}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let revoked = a
        .revoke(Revocation::Subject {
            sub: "eve".into(),
            before: now(),
        })
        .await;
    assert!(
        revoked.is_err(),
        "a revocation cannot be written: {revoked:?}"
    );
    // The other primaries keep serving.
    for value in &live_values {
        assert_eq!(a.mark_once(value, now() + 60, now()).await, Ok(true));
        assert_eq!(b.mark_once(value, now() + 60, now()).await, Ok(false));
    }
    let rotated = refresh.rotate(&grant.token).await;
    if families_die {
        assert!(
            matches!(rotated, Err(RefreshError::Unavailable(_))),
            "{rotated:?}"
        );
    } else {
        assert!(rotated.is_ok(), "families live elsewhere: {rotated:?}");
    }
    let rotated = doomed.rotate(&doomed_grant.token).await;
    assert!(
        matches!(rotated, Err(RefreshError::Unavailable(_))),
        "{rotated:?}"
    );
    // The follower cannot resync: it reports itself out of step, and keeps its list.
    assert!(eventually(Duration::from_secs(5), || !b.is_synced()).await);
    assert!(list.is_revoked(None, Some("mallory"), Some(before - 1)));
    eprintln!(
        "measured: calls on the dead primary failed within {slowest:?} (timeout 500 ms); \
         families on it: {families_die}"
    );

    // Back, empty: the cluster heals, the follower resyncs and gives back what it lost.
    cluster.restart(victim);
    let restarted = Instant::now();
    for index in 0..3 {
        cluster.wait_ok(index, Duration::from_secs(20));
    }
    assert!(
        eventually(Duration::from_secs(15), || b.is_synced()).await,
        "resynced"
    );
    eprintln!(
        "measured: resynced {:?} after the restart",
        restarted.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(5), || b.stats().revocations_restored
            > 0)
        .await,
        "{:?}",
        b.stats()
    );
    for value in &dead_values {
        let mut marked = a.mark_once(value, now() + 60, now()).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while marked.is_err() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            marked = a.mark_once(value, now() + 60, now()).await;
        }
        // The node came back without its data: its old marks are gone.
        assert_eq!(marked, Ok(true), "{value} served again");
    }
    // A new instance loads the revocation written back, and new ones are delivered.
    let late = Revocations::new();
    store(&cluster).await.follow(&late);
    assert!(
        eventually(Duration::from_secs(5), || late.is_revoked(
            None,
            Some("mallory"),
            Some(before - 1)
        ))
        .await,
        "written back"
    );
    a.revoke(Revocation::Subject {
        sub: "trudy".into(),
        before,
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || list.is_revoked(
            None,
            Some("trudy"),
            Some(before - 1)
        ))
        .await
    );
}

/// A primary killed when it has a replica: the cluster fails over, and the store goes
/// on by itself: the dead primary's slots are served again by the promoted replica,
/// with the one-time marks and revocations replicated before the kill, and a follower
/// whose URL named the dead node alone subscribes to another node, resyncs and keeps
/// receiving revocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_to_a_replica_keeps_marks_and_revocations() {
    let mut cluster = match RedisCluster::start_with_replicas() {
        Some(cluster) => cluster,
        None => return,
    };
    // The victim holds the revocations; the follower knows it alone.
    let victim = cluster.node_of("{jwt-tower:rev}:tok");
    assert!(cluster.replica_of(victim).is_some());
    let a = store(&cluster).await;
    let b = RedisStore::builder(format!(
        "redis+cluster://127.0.0.1:{}",
        cluster.port(victim)
    ))
    .timeout(Duration::from_millis(500))
    .out_of_step_after(Duration::from_secs(1))
    .resync_every(Duration::from_millis(500))
    .connect()
    .await
    .unwrap();
    let list = Revocations::new();
    b.follow(&list);
    assert!(eventually(Duration::from_secs(5), || b.is_synced()).await);
    let before = now() + 1;
    a.revoke(Revocation::Subject {
        sub: "mallory".into(),
        before,
    })
    .await
    .unwrap();
    let refresh = RefreshTokens::new(a.clone());
    let grant = refresh.start("alice", "read").await.unwrap();

    // Marks made on the victim before the kill.
    let marked = values_on(&cluster, "marked", victim, true);
    for value in &marked {
        assert_eq!(a.mark_once(value, now() + 60, now()).await, Ok(true));
    }
    cluster.wait_replicated();
    cluster.kill(victim);
    let killed = Instant::now();

    // Served again once the replica took over, without restarting anything: each
    // instance finds the new primary by itself.
    let (answer, failed_over) = served_again(&a, &marked[0], killed).await;
    assert_eq!(answer, Ok(false), "the mark was replicated: still refused");
    let (answer, failed_over_b) = served_again(&b, &marked[1], killed).await;
    assert_eq!(answer, Ok(false), "the mark was replicated: still refused");
    for value in &marked[2..] {
        assert_eq!(b.mark_once(value, now() + 60, now()).await, Ok(false));
    }
    assert!(refresh.rotate(&grant.token).await.is_ok());
    assert!(
        eventually(Duration::from_secs(10), || b.is_synced()).await,
        "the follower subscribes to another node and resyncs from the promoted replica"
    );
    eprintln!(
        "measured: the dead primary's slots served again {failed_over:?} / {failed_over_b:?} \
         after the kill (cluster-node-timeout 1000 ms)"
    );
    assert!(list.is_revoked(None, Some("mallory"), Some(before - 1)));
    a.revoke(Revocation::Subject {
        sub: "trudy".into(),
        before,
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || list.is_revoked(
            None,
            Some("trudy"),
            Some(before - 1)
        ))
        .await,
        "delivered after the failover"
    );
    assert_eq!(b.stats().revocations_restored, 0, "nothing was lost");
}

async fn post(url: String, body: Value, bearer: Option<&str>) -> Reply {
    let mut request = http().post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    send(request).await
}

/// The examples, unchanged, on the cluster: `REDIS_URL` in the `redis+cluster://` form.
/// A session started on one auth_server refreshes on the other, a replay is refused,
/// and a logout reaches the resource server within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_share_sessions_and_revocations_on_the_cluster() {
    let cluster = cluster!();
    let pem = std::env::temp_dir().join(format!("jwt-tower-cluster-{}.pem", std::process::id()));
    std::fs::write(&pem, key_file("p256-private.pem")).unwrap();
    let issuer = "https://cluster.auth.test";
    let env = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    };
    let auth_env = env(&[
        ("REDIS_URL", &cluster.url()),
        ("JWT_ISSUER", issuer),
        ("JWT_SIGNING_ALG", "ES256"),
        ("JWT_SIGNING_KEY_PEM_FILE", pem.to_str().unwrap()),
        ("JWT_KID", "cluster-1"),
        ("REFRESH_COOKIE", "off"),
    ]);
    let a = start("auth_server", &auth_env).await;
    let b = start("auth_server", &auth_env).await;
    let api = start(
        "resource_server",
        &env(&[
            ("REDIS_URL", &cluster.url()),
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

    let access = on_b.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(http().get(&me).bearer_auth(&access)).await.status, 200);
    let logout = post(format!("{}/logout", a.base()), json!({}), Some(&access)).await;
    assert_eq!(logout.status, 200, "{logout:?}");
    let deadline = Instant::now() + Duration::from_secs(1);
    while send(http().get(&me).bearer_auth(&access)).await.status != 401 {
        assert!(
            Instant::now() < deadline,
            "revocation not applied within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = std::fs::remove_file(&pem);
}
