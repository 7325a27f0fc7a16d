//! The Redis store against a real `redis-server`, started by each test on a free
//! loopback port (and killed when the test ends).
//!
//! Without a `redis-server` binary the tests print a notice and pass, unless `CI` is
//! set: then they fail.

#![cfg(all(feature = "redis", feature = "aws_lc_rs"))]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jwt_tower::refresh::{RefreshError, RefreshTokens, token_hash};
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::store::{Family, MemoryStore, RedisStore, Rotation, Store, StoreError};

// ---------------------------------------------------------------------------------
// A redis-server of our own.

struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// The data directory, when the server persists (append-only file).
    dir: Option<PathBuf>,
}

fn redis_server_present() -> bool {
    let present = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed, and CI is set: the Redis store tests cannot be skipped"
        );
        eprintln!("NOTICE: redis-server not found; skipping the Redis store tests");
    }
    present
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn spawn_redis(port: u16, dir: Option<&PathBuf>) -> Child {
    let mut command = Command::new("redis-server");
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match dir {
        Some(dir) => command.args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            dir.to_str().expect("a UTF-8 temp dir"),
        ]),
        None => command.args(["--appendonly", "no"]),
    };
    command.spawn().expect("redis-server starts")
}

/// Waits until the server on `port` answers PING.
fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pong = TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_millis(500)))?;
            stream.write_all(b"PING\r\n")?;
            let mut buf = [0u8; 16];
            let n = stream.read(&mut buf)?;
            Ok(buf[..n].starts_with(b"+PONG"))
        });
        if matches!(pong, Ok(true)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(port: u16) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "jwt-tower-redis-{}-{port}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

impl RedisServer {
    /// A throwaway server (no persistence), or `None` when redis-server is missing.
    fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// A server whose data survives a restart (append-only file, fsync on every write).
    fn start_persistent() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Option<Self> {
        if !redis_server_present() {
            return None;
        }
        let port = free_port();
        let dir = persistent.then(|| temp_dir(port));
        let child = spawn_redis(port, dir.as_ref());
        wait_ready(port);
        Some(Self {
            child: Some(child),
            port,
            dir,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, on the same port (and data directory).
    fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn_redis(self.port, self.dir.as_ref()));
        wait_ready(self.port);
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Freezes the server: connections stay open, nothing answers.
    fn pause(&self) {
        self.signal("-STOP");
    }

    fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume();
        }
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `let server = redis!();`: a server, or return early (redis-server missing, no CI).
macro_rules! redis {
    () => {
        match RedisServer::start() {
            Some(server) => server,
            None => return,
        }
    };
    (persistent) => {
        match RedisServer::start_persistent() {
            Some(server) => server,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------------
// Helpers.

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url())
        .await
        .expect("connects to the test server")
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection")
}

/// Polls `condition` every 10 ms until it holds or `within` has passed.
async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn sorted(mut revocations: Vec<Revocation>) -> Vec<Revocation> {
    revocations.sort_by_key(|r| format!("{r:?}"));
    revocations
}

fn family(id: &str, created_at: i64, lifetime: i64, idle_timeout: i64) -> Family {
    Family {
        id: id.into(),
        subject: format!("user-of-{id}"),
        scope: "read write".into(),
        created_at,
        expires_at: created_at + lifetime,
        idle_timeout,
        client_id: None,
        audience: None,
        jkt: None,
    }
}

// ---------------------------------------------------------------------------------
// Refresh families.

/// Twenty concurrent rotations of one token, from two instances with their own
/// connections: exactly one wins; the others are reuse (the family is then revoked).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotation_from_two_instances_has_exactly_one_winner() {
    let server = redis!();
    for round in 0..5 {
        let a = RefreshTokens::new(store(&server).await);
        let b = RefreshTokens::new(store(&server).await);
        let first = a.start("alice", "read").await.expect("start");

        let mut tasks = Vec::new();
        for i in 0..20 {
            let refresh = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = first.token.clone();
            tasks.push(tokio::spawn(async move { refresh.rotate(&token).await }));
        }
        let mut winners = Vec::new();
        let mut reused = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(grant) => winners.push(grant),
                Err(RefreshError::Reused) => reused += 1,
                // After the first reuse, the family is revoked: the token is unknown.
                Err(RefreshError::Invalid) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one rotation wins");
        assert!(reused >= 1, "round {round}: the losers saw a reuse");
        // The reuse revoked the family: the winner's new token is dead too.
        assert_eq!(
            b.rotate(&winners[0].token).await,
            Err(RefreshError::Invalid),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn reuse_is_detected_across_instances() {
    let server = redis!();
    let a = RefreshTokens::new(store(&server).await);
    let b = RefreshTokens::new(store(&server).await);

    let first = a.start("alice", "read").await.expect("start");
    let second = b.rotate(&first.token).await.expect("B rotates A's token");
    assert_eq!(second.family, first.family);
    let third = a.rotate(&second.token).await.expect("A rotates B's token");

    // The spent first token replayed on A: reuse, and the whole family is revoked.
    assert_eq!(a.rotate(&first.token).await, Err(RefreshError::Reused));
    assert_eq!(b.rotate(&third.token).await, Err(RefreshError::Invalid));
    assert_eq!(a.rotate(&third.token).await, Err(RefreshError::Invalid));
    // Once revoked, a replay is no longer news.
    assert_eq!(b.rotate(&second.token).await, Err(RefreshError::Invalid));

    // Logout on B of a family started on A.
    let other = a.start("bob", "read").await.expect("start");
    let revoked = b.revoke(&other.token).await.expect("revoke");
    assert_eq!(revoked, Some(other.family.clone()));
    assert_eq!(a.rotate(&other.token).await, Err(RefreshError::Invalid));
    assert_eq!(b.revoke(&"x".repeat(43)).await, Ok(None));
}

/// A family bound to a DPoP key keeps its `jkt` through Redis (JSON), on another
/// instance too; an unbound one (stored without the member, as before binding existed)
/// still loads and rotates.
#[tokio::test]
async fn a_key_bound_family_keeps_its_key_through_redis() {
    let server = redis!();
    let a = RefreshTokens::new(store(&server).await);
    let b = RefreshTokens::new(store(&server).await);

    let bound = a
        .start_for_client_with_key("alice", "read", "cli", None, Some("the-jkt"))
        .await
        .expect("start");
    let seen = b.current_family(&bound.token).await.expect("look-up");
    assert_eq!(seen.and_then(|f| f.jkt).as_deref(), Some("the-jkt"));
    assert_eq!(
        b.rotate_for_client_with_key(&bound.token, "cli", Some("another-jkt"))
            .await,
        Err(RefreshError::KeyMismatch)
    );
    let bound = a
        .start_for_client_with_key("alice", "read", "cli", None, Some("the-jkt"))
        .await
        .expect("start");
    let next = b
        .rotate_for_client_with_key(&bound.token, "cli", Some("the-jkt"))
        .await
        .expect("the same key rotates");
    assert_eq!(next.family.jkt.as_deref(), Some("the-jkt"));

    let unbound = a
        .start_for_client("bob", "read", "cli", None)
        .await
        .expect("start");
    let mut conn = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*fam:*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut stored = Vec::new();
    for key in keys {
        let json: String = redis::cmd("HGET")
            .arg(&key)
            .arg("family")
            .query_async(&mut conn)
            .await
            .expect("family json");
        stored.push(json);
    }
    assert!(
        stored
            .iter()
            .any(|json| json.contains("\"bob\"") && !json.contains("jkt")),
        "{stored:?}"
    );
    let next = b
        .rotate_for_client_with_key(&unbound.token, "cli", None)
        .await
        .expect("an unbound family rotates without a proof");
    assert_eq!(next.family.jkt, None);
}

/// The same operations on the in-memory store and on Redis give the same answers.
#[tokio::test]
async fn behaves_like_the_memory_store() {
    let server = redis!();
    let redis = store(&server).await;
    let memory = MemoryStore::new();
    let t = now();

    async fn both<T: PartialEq + std::fmt::Debug>(
        step: &str,
        memory: impl std::future::Future<Output = Result<T, StoreError>>,
        redis: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> T {
        let memory = memory.await.expect("memory store");
        let redis = redis.await.expect("redis store");
        assert_eq!(redis, memory, "{step}");
        redis
    }

    let f1 = family("f1", t, 100, 30);
    let f2 = family("f2", t, 50, 1_000);
    let f3 = family("f3", t, 100, 100);
    for (f, h) in [(&f1, "h1"), (&f2, "g1"), (&f3, "k1")] {
        both(
            "create",
            memory.create_family(f, h),
            redis.create_family(f, h),
        )
        .await;
    }

    let rotated = Rotation::Rotated(f1.clone());
    let steps: Vec<(&str, &str, &str, i64, Rotation)> = vec![
        ("current token", "h1", "h2", t + 10, rotated.clone()),
        // Idle: last used at t+10, idle timeout 30.
        ("idle timeout", "h2", "h3", t + 40, Rotation::Expired),
        ("just before idle", "h2", "h3", t + 39, rotated.clone()),
        ("unknown token", "nope", "h9", t + 39, Rotation::Unknown),
        (
            "spent token",
            "h1",
            "h8",
            t + 40,
            Rotation::Reused(f1.clone()),
        ),
        ("revoked family", "h3", "h4", t + 41, Rotation::Unknown),
        ("replay after revoke", "h1", "h7", t + 41, Rotation::Unknown),
        // Absolute lifetime: f2 ends at t+50, whatever its idle timeout.
        ("absolute end", "g1", "g2", t + 50, Rotation::Expired),
        (
            "before the end",
            "g1",
            "g2",
            t + 49,
            Rotation::Rotated(f2.clone()),
        ),
        (
            "spent before expiry",
            "g1",
            "g3",
            t + 60,
            Rotation::Reused(f2.clone()),
        ),
    ];
    for (step, presented, next, at, expected) in steps {
        let answer = both(
            step,
            memory.rotate(presented, next, at),
            redis.rotate(presented, next, at),
        )
        .await;
        assert_eq!(answer, expected, "{step}");
    }

    let revoked = both(
        "revoke_family",
        memory.revoke_family("k1"),
        redis.revoke_family("k1"),
    )
    .await;
    assert_eq!(revoked, Some(f3.clone()));
    let again = both(
        "revoke_family again",
        memory.revoke_family("k1"),
        redis.revoke_family("k1"),
    )
    .await;
    assert_eq!(again, Some(f3));
    let none = both(
        "revoke_family unknown",
        memory.revoke_family("nope"),
        redis.revoke_family("nope"),
    )
    .await;
    assert_eq!(none, None);
    both(
        "rotate after logout",
        memory.rotate("k1", "k2", t + 1),
        redis.rotate("k1", "k2", t + 1),
    )
    .await;

    // Revocations: a token revocation past its `exp` plus the default margin (30 s, the
    // default leeway) is forgotten, one within it kept, the latest `exp` of a `jti` and
    // `before` of a subject win, several subjects and tokens are kept.
    let t = now();
    let revocations = [
        Revocation::Token {
            jti: "old".into(),
            exp: t - 40,
        },
        Revocation::Token {
            jti: "within the leeway".into(),
            exp: t - 10,
        },
        Revocation::Token {
            jti: "j1".into(),
            exp: t + 600,
        },
        Revocation::Token {
            jti: "forever".into(),
            exp: i64::MAX,
        },
        Revocation::Subject {
            sub: "bob".into(),
            before: t,
        },
        Revocation::Subject {
            sub: "bob".into(),
            before: t - 100,
        },
        Revocation::Subject {
            sub: "carol".into(),
            before: 5,
        },
        Revocation::Token {
            jti: "j1".into(),
            exp: t + 900,
        },
    ];
    for revocation in revocations {
        both(
            "revoke",
            memory.revoke(revocation.clone()),
            redis.revoke(revocation),
        )
        .await;
    }
    let in_memory = sorted(memory.revocations().await.expect("memory"));
    let in_redis = sorted(redis.revocations().await.expect("redis"));
    assert_eq!(in_redis, in_memory);
    assert_eq!(in_redis.len(), 5, "{in_redis:?}");
    assert!(
        !in_redis
            .iter()
            .any(|r| matches!(r, Revocation::Token { jti, .. } if jti == "old"))
    );
}

/// Keys live under the configured prefix and expire once their family is over.
#[tokio::test]
async fn keys_use_the_prefix_and_expire() {
    let server = redis!();
    let store = RedisStore::builder(server.url())
        .prefix("test-app:")
        .retain_expired(Duration::ZERO)
        .keep_revoked_after_exp(Duration::ZERO)
        .connect()
        .await
        .expect("connect");
    let mut raw = raw(&server).await;
    let refresh = RefreshTokens::new(store.clone())
        .lifetime(Duration::from_secs(2))
        .idle_timeout(Duration::from_secs(60));
    let grant = refresh.start("alice", "read").await.expect("start");
    let family_key = format!("test-app:fam:{}", grant.family.id);
    let token_key = format!("test-app:tok:{}", token_hash(&grant.token));
    let chain_key = format!("test-app:chain:{}", grant.family.id);

    for key in [&family_key, &token_key, &chain_key] {
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut raw)
            .await
            .expect("TTL");
        assert!((1..=3).contains(&ttl), "{key}: TTL {ttl}");
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert!(keys.iter().all(|k| k.starts_with("test-app:")), "{keys:?}");

    // A token revocation expires with its token.
    store
        .revoke(Revocation::Token {
            jti: "j".into(),
            exp: now() + 2,
        })
        .await
        .expect("revoke");
    let ttl: i64 = redis::cmd("TTL")
        .arg("test-app:rev:tok")
        .query_async(&mut raw)
        .await
        .expect("TTL");
    assert!((1..=4).contains(&ttl), "rev:tok TTL {ttl}");

    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&family_key)
        .arg(&token_key)
        .arg(&chain_key)
        .arg("test-app:rev:tok")
        .query_async(&mut raw)
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0, "the keys of an ended family are gone");
    assert_eq!(
        refresh.rotate(&grant.token).await,
        Err(RefreshError::Invalid)
    );
}

/// Within the retention, an ended family answers `Expired`, like the memory store.
#[tokio::test]
async fn an_ended_family_is_expired_not_unknown() {
    let server = redis!();
    let refresh = RefreshTokens::new(store(&server).await).lifetime(Duration::from_secs(1));
    let grant = refresh.start("alice", "read").await.expect("start");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        refresh.rotate(&grant.token).await,
        Err(RefreshError::Expired)
    );
}

// ---------------------------------------------------------------------------------
// Revocations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_reaches_the_other_within_a_second() {
    let server = redis!();
    let a = store(&server).await;
    let b = store(&server).await;

    // Written before B follows: loaded when it does.
    a.revoke(Revocation::Subject {
        sub: "early".into(),
        before: now(),
    })
    .await
    .expect("revoke");
    let list = Revocations::new();
    b.follow(&list);
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            None,
            Some("early"),
            Some(0)
        ))
        .await,
        "follow loads the current set"
    );
    assert!(eventually(Duration::from_secs(2), || b.is_synced()).await);

    let jti = "jti-1";
    let sent = Instant::now();
    a.revoke(Revocation::Token {
        jti: jti.into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            Some(jti),
            None,
            None
        ))
        .await,
        "the revocation reached B"
    );
    eprintln!("token revocation reached B in {:?}", sent.elapsed());

    a.revoke(Revocation::Subject {
        sub: "bob".into(),
        before: now() + 1,
    })
    .await
    .expect("revoke");
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            None,
            Some("bob"),
            Some(now() - 60)
        ))
        .await
    );

    // A second list, followed later, gets the current set at once.
    let late = Revocations::new();
    b.follow(&late);
    assert!(
        eventually(Duration::from_secs(1), || late.is_revoked(
            Some(jti),
            None,
            None
        ) && late.is_revoked(
            None,
            Some("early"),
            Some(0)
        ))
        .await
    );

    // A's own followed list has its writes as soon as `revoke` returns.
    let own = Revocations::new();
    a.follow(&own);
    a.revoke(Revocation::Token {
        jti: "mine".into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");
    assert!(own.is_revoked(Some("mine"), None, None));

    // The subscription's health pings are answered: B never drops out of step.
    assert!(
        !eventually(Duration::from_millis(2_500), || !b.is_synced()).await,
        "the subscription stays up"
    );
    assert!(
        eventually(Duration::from_secs(1), || late.is_revoked(
            Some("mine"),
            None,
            None
        ))
        .await
    );
}

/// Redis dies and comes back: B's subscription reconnects and resyncs the full set, so
/// a revocation written while B was cut off (never published to it) is not lost; the
/// families survived too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_resyncs_after_redis_restarts() {
    let mut server = redis!(persistent);
    let a = store(&server).await;
    let b = store(&server).await;
    let list = Revocations::new();
    b.follow(&list);
    assert!(eventually(Duration::from_secs(2), || b.is_synced()).await);

    let refresh = RefreshTokens::new(a.clone());
    let grant = refresh.start("alice", "read").await.expect("start");
    a.revoke(Revocation::Token {
        jti: "before".into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            Some("before"),
            None,
            None
        ))
        .await
    );

    server.kill();
    assert!(
        eventually(Duration::from_secs(3), || !b.is_synced()).await,
        "B notices the subscription is gone"
    );
    // Verification goes on with what B has.
    assert!(list.is_revoked(Some("before"), None, None));

    // While B is cut off, another server on the same data writes a revocation that is
    // published to nobody; then the real one comes back on its port with that data.
    {
        let port = free_port();
        let mut side = spawn_redis(port, server.dir.as_ref());
        wait_ready(port);
        let side_store = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
            .await
            .expect("side server");
        side_store
            .revoke(Revocation::Subject {
                sub: "offline".into(),
                before: now() + 1,
            })
            .await
            .expect("revoke on the side server");
        drop(side_store);
        let _ = side.kill();
        let _ = side.wait();
    }
    server.restart();

    assert!(
        eventually(Duration::from_secs(5), || b.is_synced()).await,
        "B resubscribes"
    );
    assert!(
        list.is_revoked(None, Some("offline"), Some(now() - 60)),
        "the resync brought what was written while B was cut off"
    );
    assert!(list.is_revoked(Some("before"), None, None));

    // A reconnects by itself; what it writes now reaches B by pub/sub again.
    let mut revoked = Err(StoreError(String::new()));
    for _ in 0..50 {
        revoked = a
            .revoke(Revocation::Token {
                jti: "after".into(),
                exp: now() + 600,
            })
            .await;
        if revoked.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    revoked.expect("A writes again after the restart");
    assert!(
        eventually(Duration::from_secs(1), || list.is_revoked(
            Some("after"),
            None,
            None
        ))
        .await
    );

    // The family survived the restart.
    let next = refresh
        .rotate(&grant.token)
        .await
        .expect("rotate after restart");
    assert_eq!(next.family, grant.family);
    assert_eq!(
        refresh.rotate(&grant.token).await,
        Err(RefreshError::Reused)
    );
}

/// A store call, answering whether it failed as it should.
type Call<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// Every call fails with a `StoreError` within the timeout, whether Redis refuses
/// connections (killed) or accepts them and never answers (frozen); the local list
/// keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_when_redis_is_down() {
    let mut server = redis!();
    let timeout = Duration::from_millis(500);
    let bound = timeout + Duration::from_millis(500);
    let store = RedisStore::builder(server.url())
        .timeout(timeout)
        .connect()
        .await
        .expect("connect");
    let list = Revocations::new();
    store.follow(&list);
    store
        .revoke(Revocation::Token {
            jti: "kept".into(),
            exp: now() + 600,
        })
        .await
        .expect("revoke");
    let refresh = RefreshTokens::new(store.clone());
    let grant = refresh.start("alice", "read").await.expect("start");

    async fn all_fail(
        store: &RedisStore,
        refresh: &RefreshTokens,
        token: &str,
        bound: Duration,
        what: &str,
    ) {
        let family = family("down", now(), 100, 100);
        let calls: Vec<(&str, Call<'_>)> = vec![
            (
                "create_family",
                Box::pin(async { store.create_family(&family, "x").await.is_err() }),
            ),
            (
                "rotate",
                Box::pin(async {
                    matches!(
                        refresh.rotate(token).await,
                        Err(RefreshError::Unavailable(_))
                    )
                }),
            ),
            (
                "revoke_family",
                Box::pin(async { store.revoke_family("x").await.is_err() }),
            ),
            (
                "revoke",
                Box::pin(async {
                    store
                        .revoke(Revocation::Token {
                            jti: "y".into(),
                            exp: now() + 60,
                        })
                        .await
                        .is_err()
                }),
            ),
            (
                "revocations",
                Box::pin(async { store.revocations().await.is_err() }),
            ),
        ];
        for (name, call) in calls {
            let started = Instant::now();
            let failed = tokio::time::timeout(Duration::from_secs(10), call)
                .await
                .unwrap_or_else(|_| panic!("{what}: {name} hangs"));
            let took = started.elapsed();
            assert!(failed, "{what}: {name} reports a StoreError");
            assert!(took <= bound, "{what}: {name} took {took:?}");
        }
    }

    // Frozen: the connections are open, nothing answers.
    server.pause();
    all_fail(&store, &refresh, &grant.token, bound, "frozen").await;
    assert!(list.is_revoked(Some("kept"), None, None));
    server.resume();

    // Killed: connections refused.
    server.kill();
    all_fail(&store, &refresh, &grant.token, bound, "killed").await;
    assert!(list.is_revoked(Some("kept"), None, None));
    assert!(eventually(Duration::from_secs(3), || !store.is_synced()).await);

    // Connecting to nothing fails fast as well.
    let started = Instant::now();
    let refused = RedisStore::builder(server.url())
        .timeout(timeout)
        .connect()
        .await;
    assert!(refused.is_err());
    assert!(
        started.elapsed() <= bound,
        "connect took {:?}",
        started.elapsed()
    );
}

/// With `fail_closed(true)`, verification refuses once the subscription has been down
/// for longer than `out_of_step_after`, not before, and serves again after the resync;
/// a list fed by a default store keeps serving throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_closed_store_refuses_verification_only_past_the_bound() {
    use jwt_tower::issue::{SigningKey, TokenIssuer};
    use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier};

    let mut server = redis!(persistent);
    let bound = Duration::from_millis(1_500);
    let closed_store = RedisStore::builder(server.url())
        .fail_closed(true)
        .out_of_step_after(bound)
        .connect()
        .await
        .expect("connect");
    let open_store = store(&server).await;
    let closed = Revocations::new();
    let open = Revocations::new();
    closed_store.follow(&closed);
    open_store.follow(&open);

    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).expect("key"),
    )
    .build();
    let token = issuer
        .issue("alice", serde_json::json!({}))
        .expect("issue")
        .token;
    let verify = |list: &Revocations| {
        Verifier::<RegisteredClaims>::builder(issuer.keys())
            .algorithms([Algorithm::ES256])
            .revocations(list.clone())
            .build()
            .expect("verifier")
            .verify(&token)
            .map(|_| ())
            .map_err(|e| e.kind())
    };

    assert!(
        eventually(Duration::from_secs(2), || verify(&closed).is_ok()).await,
        "in step once loaded"
    );
    assert_eq!(verify(&open), Ok(()));

    server.kill();
    let killed = Instant::now();
    assert!(eventually(Duration::from_secs(3), || !closed_store.is_synced()).await);
    if killed.elapsed() < bound - Duration::from_millis(300) {
        assert_eq!(verify(&closed), Ok(()), "a short outage goes unnoticed");
    }
    assert!(
        eventually(Duration::from_secs(3), || verify(&closed)
            == Err(RejectionKind::RevocationsOutOfStep))
        .await,
        "refuses once down past the bound"
    );
    assert!(
        killed.elapsed() >= bound,
        "not before the bound: {:?}",
        killed.elapsed()
    );
    assert_eq!(verify(&open), Ok(()), "the default keeps serving");

    // A list that starts following while the store is down is refused at once.
    let late = Revocations::new();
    closed_store.follow(&late);
    assert_eq!(verify(&late), Err(RejectionKind::RevocationsOutOfStep));

    server.restart();
    assert!(
        eventually(Duration::from_secs(5), || verify(&closed).is_ok()
            && verify(&late).is_ok())
        .await,
        "serves again after the resync"
    );
    assert_eq!(verify(&open), Ok(()));
}

// ---------------------------------------------------------------------------------
// Durability: revocations only grow until they expire.

/// An issuer of short ES256 tokens, and verifiers of them over a revocation list.
struct Tokens {
    issuer: jwt_tower::issue::TokenIssuer,
}

impl Tokens {
    fn new(ttl: Duration) -> Self {
        use jwt_tower::issue::{SigningKey, TokenIssuer};
        let key = SigningKey::generate(jwt_tower::Algorithm::ES256).expect("key");
        Self {
            issuer: TokenIssuer::builder("https://auth.test", key)
                .ttl(ttl)
                .build(),
        }
    }

    fn issue(&self) -> jwt_tower::issue::IssuedToken {
        self.issuer
            .issue("alice", serde_json::json!({}))
            .expect("issue")
    }

    /// What a verifier with this `leeway`, checking `list` (if any), answers for `token`.
    fn verify(
        &self,
        list: Option<&Revocations>,
        leeway: Duration,
        token: &str,
    ) -> Result<(), jwt_tower::RejectionKind> {
        let mut builder =
            jwt_tower::Verifier::<jwt_tower::RegisteredClaims>::builder(self.issuer.keys())
                .algorithms([jwt_tower::Algorithm::ES256])
                .leeway(leeway);
        if let Some(list) = list {
            builder = builder.revocations(list.clone());
        }
        builder
            .build()
            .expect("verifier")
            .verify(token)
            .map(|_| ())
            .map_err(|e| e.kind())
    }
}

const LEEWAY: Duration = Duration::from_secs(30);

/// Redis without persistence is killed and restarted empty on its port: both instances
/// resync and still refuse the revoked token (their lists are merged with what Redis
/// holds, not replaced by it), they write the lost revocations back (counted), and a
/// third instance started afterwards loads them from Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_redis_restarting_empty() {
    use jwt_tower::RejectionKind::Revoked;

    let mut server = redis!();
    let a = store(&server).await;
    let b = store(&server).await;
    let (list_a, list_b) = (Revocations::new(), Revocations::new());
    a.follow(&list_a);
    b.follow(&list_b);
    assert!(eventually(Duration::from_secs(2), || a.is_synced() && b.is_synced()).await);

    let tokens = Tokens::new(Duration::from_secs(600));
    let token = tokens.issue();
    assert_eq!(tokens.verify(Some(&list_b), LEEWAY, &token.token), Ok(()));
    a.revoke(Revocation::Token {
        jti: token.token_id.clone(),
        exp: token.expires_at,
    })
    .await
    .expect("revoke");
    a.revoke(Revocation::Subject {
        sub: "bob".into(),
        before: now() + 1,
    })
    .await
    .expect("revoke");
    assert!(
        eventually(Duration::from_secs(1), || tokens.verify(
            Some(&list_b),
            LEEWAY,
            &token.token
        ) == Err(Revoked)
            && list_b.is_revoked(None, Some("bob"), Some(now() - 60)))
        .await,
        "B got the revocations"
    );

    let resyncs = (a.stats().resyncs, b.stats().resyncs);
    server.restart();
    assert!(
        eventually(Duration::from_secs(5), || a.stats().resyncs > resyncs.0
            && b.stats().resyncs > resyncs.1)
        .await,
        "both resubscribed and resynced from the empty server"
    );
    for list in [&list_a, &list_b] {
        assert_eq!(
            tokens.verify(Some(list), LEEWAY, &token.token),
            Err(Revoked),
            "a resync from an empty Redis does not un-revoke the token"
        );
        assert!(list.is_revoked(None, Some("bob"), Some(now() - 60)));
    }

    // Redis holds them again: written back by whichever instance resynced first.
    let mut raw = raw(&server).await;
    let mut held = (None, None);
    for _ in 0..100 {
        held = redis::pipe()
            .cmd("ZSCORE")
            .arg("jwt-tower:rev:tok")
            .arg(&token.token_id)
            .cmd("HGET")
            .arg("jwt-tower:rev:sub")
            .arg("bob")
            .query_async::<(Option<f64>, Option<i64>)>(&mut raw)
            .await
            .expect("read");
        if held.0.is_some() && held.1.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held.0, Some(token.expires_at as f64), "the jti is back");
    assert!(held.1.is_some(), "the subject is back");
    assert!(
        eventually(Duration::from_secs(1), || a.stats().revocations_restored
            + b.stats().revocations_restored
            == 2)
        .await,
        "two revocations restored: {:?} {:?}",
        a.stats(),
        b.stats()
    );

    // A third instance, started after the restart, loads them from Redis.
    let c = store(&server).await;
    let list_c = Revocations::new();
    c.follow(&list_c);
    assert!(eventually(Duration::from_secs(2), || c.is_synced()).await);
    assert_eq!(
        tokens.verify(Some(&list_c), LEEWAY, &token.token),
        Err(Revoked)
    );
    assert!(list_c.is_revoked(None, Some("bob"), Some(now() - 60)));
    assert_eq!(c.stats().revocations_restored, 0);
}

/// A revocation evicted from Redis while every subscription stays up (no reconnect,
/// so no resync on reconnect) is found missing by the periodic resync and written
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_evicted_from_redis_is_written_back() {
    let server = redis!();
    let a = RedisStore::builder(server.url())
        .resync_every(Duration::from_millis(200))
        .connect()
        .await
        .expect("connect");
    let list = Revocations::new();
    a.follow(&list);
    assert!(eventually(Duration::from_secs(2), || a.is_synced()).await);
    a.revoke(Revocation::Token {
        jti: "evicted".into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");

    let mut raw = raw(&server).await;
    let _: i64 = redis::cmd("DEL")
        .arg("jwt-tower:rev:tok")
        .query_async(&mut raw)
        .await
        .expect("DEL");
    let mut score = None;
    for _ in 0..100 {
        score = redis::cmd("ZSCORE")
            .arg("jwt-tower:rev:tok")
            .arg("evicted")
            .query_async::<Option<f64>>(&mut raw)
            .await
            .expect("ZSCORE");
        if score.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(score.is_some(), "written back within two seconds");
    assert!(
        eventually(Duration::from_secs(1), || a.stats().revocations_restored
            == 1)
        .await,
        "counted: {:?}",
        a.stats()
    );
    assert!(list.is_revoked(Some("evicted"), None, None));
    assert!(a.is_synced(), "the subscription never dropped");
}

/// A verifier accepts a token until `exp + leeway`: its revocation is kept that long,
/// in the list and in Redis (a later write prunes only what is past the leeway), and
/// an instance started within the leeway loads it. Past the leeway it is pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stays_refused_for_the_leeway_after_exp() {
    use jwt_tower::RejectionKind::{Expired, Revoked};

    let server = redis!();
    let leeway = Duration::from_secs(3);
    let tokens = Tokens::new(Duration::from_secs(1));
    // The store keeps nothing past `exp` of its own: the verifier's leeway decides.
    let a = RedisStore::builder(server.url())
        .keep_revoked_after_exp(Duration::ZERO)
        .connect()
        .await
        .expect("connect");
    let list_a = Revocations::new();
    a.follow(&list_a);
    let token = tokens.issue();
    // Built now (as a service builds its verifier at start): raises the list's margin.
    let _ = tokens.verify(Some(&list_a), leeway, &token.token);
    assert!(eventually(Duration::from_secs(2), || a.is_synced()).await);
    a.revoke(Revocation::Token {
        jti: token.token_id.clone(),
        exp: token.expires_at,
    })
    .await
    .expect("revoke");

    // Past `exp`, within the leeway: the token itself is still accepted...
    let past_exp = token.expires_at + 1 - now();
    tokio::time::sleep(Duration::from_secs(past_exp.max(0).unsigned_abs())).await;
    assert!(now() > token.expires_at);
    assert_eq!(tokens.verify(None, leeway, &token.token), Ok(()));
    // ...so its revocation must survive the pruning another revocation triggers.
    a.revoke(Revocation::Token {
        jti: "another".into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");
    assert_eq!(
        tokens.verify(Some(&list_a), leeway, &token.token),
        Err(Revoked)
    );

    // An instance started now (with the same settings) loads it from Redis.
    let b = RedisStore::builder(server.url())
        .keep_revoked_after_exp(Duration::ZERO)
        .connect()
        .await
        .expect("connect");
    let list_b = Revocations::new();
    let _ = tokens.verify(Some(&list_b), leeway, &token.token);
    b.follow(&list_b);
    assert!(eventually(Duration::from_secs(2), || b.is_synced()).await);
    assert_eq!(
        tokens.verify(Some(&list_b), leeway, &token.token),
        Err(Revoked)
    );

    // Past `exp + leeway` the token is refused as expired, and its revocation pruned.
    let past_leeway = token.expires_at + 3 + 1 - now();
    tokio::time::sleep(Duration::from_secs(past_leeway.max(0).unsigned_abs())).await;
    assert_eq!(tokens.verify(None, leeway, &token.token), Err(Expired));
    a.revoke(Revocation::Token {
        jti: "a third".into(),
        exp: now() + 600,
    })
    .await
    .expect("revoke");
    let mut raw = raw(&server).await;
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("jwt-tower:rev:tok")
        .arg(&token.token_id)
        .query_async(&mut raw)
        .await
        .expect("ZSCORE");
    assert_eq!(score, None, "pruned once no verifier accepts the token");
    assert!(!list_a.is_revoked(Some(&token.token_id), None, None));
}

/// A refresh loop (a hundred rotations of one family) leaves Redis with the current
/// token and the last `SPENT_TOKENS_KEPT` spent ones, like the memory store; the newest
/// spent token is still recognized as reused, the oldest is unknown.
#[tokio::test]
async fn a_refresh_loop_does_not_grow_redis() {
    use jwt_tower::store::SPENT_TOKENS_KEPT;

    let server = redis!();
    let store = store(&server).await;
    let mut raw = raw(&server).await;
    let start = now();
    store
        .create_family(&family("loop", start, 86_400, 3_600), "t0")
        .await
        .expect("create");
    for i in 0..100 {
        let rotation = store
            .rotate(&format!("t{i}"), &format!("t{}", i + 1), start)
            .await
            .expect("rotate");
        assert!(
            matches!(rotation, Rotation::Rotated(_)),
            "{i}: {rotation:?}"
        );
    }
    let tokens: Vec<String> = redis::cmd("KEYS")
        .arg("jwt-tower:tok:*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert_eq!(tokens.len(), SPENT_TOKENS_KEPT + 1, "{tokens:?}");
    assert_eq!(
        store.rotate("t0", "x", start).await.expect("rotate"),
        Rotation::Unknown
    );
    assert!(matches!(
        store.rotate("t99", "y", start).await.expect("rotate"),
        Rotation::Reused(_)
    ));
    assert_eq!(
        store.rotate("t100", "z", start).await.expect("rotate"),
        Rotation::Unknown,
        "the family is revoked"
    );
}

/// A revocation whose message never reached an instance (written to Redis without a
/// publication, as when a message is lost while the subscription stays up) reaches
/// its list with the next periodic resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_message_was_lost_arrives_with_the_next_resync() {
    let server = redis!();
    let b = RedisStore::builder(server.url())
        .resync_every(Duration::from_millis(200))
        .connect()
        .await
        .expect("connect");
    let list = Revocations::new();
    b.follow(&list);
    assert!(eventually(Duration::from_secs(2), || b.is_synced()).await);
    let mut raw = raw(&server).await;
    let _: i64 = redis::cmd("ZADD")
        .arg("jwt-tower:rev:tok")
        .arg(now() + 600)
        .arg("unpublished")
        .query_async(&mut raw)
        .await
        .expect("ZADD");
    assert!(
        eventually(Duration::from_secs(2), || list.is_revoked(
            Some("unpublished"),
            None,
            None
        ))
        .await,
        "the periodic resync brought it"
    );
    assert_eq!(b.stats().revocations_restored, 0);
}

/// How many connections are subscribed to the revocation channel.
async fn subscribers(server: &RedisServer) -> i64 {
    let mut raw = raw(server).await;
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("jwt-tower:revocations")
        .query_async(&mut raw)
        .await
        .expect("PUBSUB NUMSUB");
    count
}

/// A verifier built with a list that follows the store keeps the subscription running
/// once the store and the list are dropped: revocations still reach it. The
/// subscription ends with the verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_alone_keeps_the_revocation_feed_running() {
    use jwt_tower::issue::{SigningKey, TokenIssuer};
    use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier};

    let server = redis!();
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).expect("key"),
    )
    .build();
    let token = issuer
        .issue("alice", serde_json::json!({}))
        .expect("issue")
        .token;

    let follower = store(&server).await;
    let list = Revocations::new();
    follower.follow(&list);
    let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
        .algorithms([Algorithm::ES256])
        .revocations(list)
        .build()
        .expect("verifier");
    assert!(eventually(Duration::from_secs(2), || follower.is_synced()).await);
    drop(follower);

    // Only the verifier is left: the subscription is still there, and delivers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(subscribers(&server).await, 1, "the verifier keeps it");
    let writer = store(&server).await;
    writer
        .revoke(Revocation::Subject {
            sub: "alice".into(),
            before: now() + 1,
        })
        .await
        .expect("revoke");
    assert!(
        eventually(Duration::from_secs(2), || verifier
            .verify(&token)
            .err()
            .map(|e| e.kind())
            == Some(RejectionKind::Revoked))
        .await,
        "the revocation reached the verifier"
    );

    drop(verifier);
    let deadline = Instant::now() + Duration::from_secs(2);
    while subscribers(&server).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(subscribers(&server).await, 0, "it ends with the verifier");
}

// ---------------------------------------------------------------------------------
// OAuth clients and authorization codes.

fn code_for(subject: &str) -> jwt_tower::oauth::AuthorizationCode {
    jwt_tower::oauth::AuthorizationCode {
        client_id: "cli".into(),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        code_challenge: jwt_tower::oauth::pkce::challenge_of(&"v".repeat(43)),
        resource: Some("https://mcp.example.com/mcp".into()),
        dpop_jkt: None,
        scope: "read".into(),
        subject: subject.into(),
        expires_at: now() + 60,
    }
}

/// A code issued through one instance is taken by exactly one of twenty concurrent
/// requests spread over two instances, and is gone afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_is_taken_exactly_once_across_instances() {
    let server = redis!();
    let (a, b) = (store(&server).await, store(&server).await);
    for round in 0..5 {
        let hash = format!("code-hash-{round}");
        a.put_code(&hash, &code_for("alice")).await.expect("put");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let hash = hash.clone();
            tasks.push(tokio::spawn(
                async move { store.take_code(&hash, now()).await },
            ));
        }
        let mut taken = 0;
        for task in tasks {
            if let Some(code) = task.await.expect("task").expect("take") {
                assert_eq!(code, code_for("alice"));
                taken += 1;
            }
        }
        assert_eq!(taken, 1, "round {round}");
    }
}

/// A code expires in Redis with its `expires_at` (its key has that TTL), and a code
/// read past its expiry is refused even before Redis drops it.
#[tokio::test]
async fn codes_expire_and_clients_are_shared() {
    let server = redis!();
    let (a, b) = (store(&server).await, store(&server).await);
    a.put_code("h", &code_for("bob")).await.unwrap();
    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("jwt-tower:code:h")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((55..=60).contains(&ttl), "ttl {ttl}");
    assert_eq!(b.take_code("h", now() + 61).await.unwrap(), None);

    let client = jwt_tower::oauth::ClientConfig::confidential("svc", "secret")
        .into_client(now())
        .unwrap();
    a.put_client(&client, now()).await.unwrap();
    let found = b.client("svc", now()).await.unwrap().expect("shared");
    assert_eq!(found, client);
    assert!(found.verify_secret("secret"));
    let stored: String = redis::cmd("GET")
        .arg("jwt-tower:client:svc")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!stored.contains("secret\""), "no clear secret: {stored}");
    assert_eq!(b.client("nobody", now()).await.unwrap(), None);
    // A registered client expires when unused; a look-up renews it.
    let ttl = || async {
        let mut conn = raw(&server).await;
        redis::cmd("TTL")
            .arg("jwt-tower:client:svc")
            .query_async::<i64>(&mut conn)
            .await
            .unwrap()
    };
    let idle = jwt_tower::store::DEFAULT_CLIENT_IDLE_TIMEOUT.as_secs() as i64;
    assert!(
        (idle - 5..=idle).contains(&ttl().await),
        "ttl {}",
        ttl().await
    );
    redis::cmd("EXPIRE")
        .arg("jwt-tower:client:svc")
        .arg(60)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    b.client("svc", now()).await.unwrap().expect("still there");
    assert!(ttl().await > 60, "renewed by the look-up");
}

/// A family started for an OAuth client keeps its client and audience through Redis,
/// and a rotation by another client is refused and ends the family.
#[tokio::test]
async fn client_families_keep_their_client_and_audience() {
    let server = redis!();
    let refresh = RefreshTokens::new(store(&server).await);
    let first = refresh
        .start_for_client("alice", "read", "cli", Some("https://mcp.example.com/mcp"))
        .await
        .unwrap();
    // Looked up without spending it, as a refresh checks its request first.
    let current = refresh.current_family(&first.token).await.unwrap();
    assert_eq!(current.as_ref(), Some(&first.family));
    assert_eq!(refresh.current_family(&first.token).await.unwrap(), current);
    let next = refresh
        .rotate_for_client(&first.token, "cli")
        .await
        .unwrap();
    assert_eq!(next.family.client_id.as_deref(), Some("cli"));
    assert_eq!(
        refresh.current_family(&first.token).await,
        Ok(None),
        "spent"
    );
    assert_eq!(
        next.family.audience.as_deref(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(
        refresh.rotate_for_client(&next.token, "other").await,
        Err(RefreshError::Invalid)
    );
    // The wrong client's attempt revoked the family: its successor is dead too.
    let spent = refresh.rotate_for_client(&next.token, "cli").await;
    assert!(
        matches!(spent, Err(RefreshError::Reused | RefreshError::Invalid)),
        "{spent:?}"
    );
    // A login family (no client) is refused to a client, and the reverse.
    let login = refresh.start("bob", "read").await.unwrap();
    assert_eq!(
        refresh.rotate_for_client(&login.token, "cli").await,
        Err(RefreshError::Invalid)
    );
}

/// Two instances (two connections) marking the same values at once: for each value
/// exactly one gets `true`; the mark lives under the prefix until `until`, and the value
/// can be marked again once it has expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_is_marked_once_across_instances_until_it_expires() {
    let server = redis!();
    let (a, b) = (store(&server).await, store(&server).await);
    for round in 0..20 {
        let value = format!("jti-{round}");
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let value = value.clone();
                tokio::spawn(async move { store.mark_once(&value, now() + 60, now()).await })
            })
            .collect();
        let mut first = 0;
        for attempt in attempts {
            if attempt.await.unwrap().unwrap() {
                first += 1;
            }
        }
        assert_eq!(first, 1, "round {round}");
    }
    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("jwt-tower:once:jti-0")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((55..=60).contains(&ttl), "ttl {ttl}");

    assert!(a.mark_once("short", now() + 1, now()).await.unwrap());
    assert!(!b.mark_once("short", now() + 1, now()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        b.mark_once("short", now() + 60, now()).await.unwrap(),
        "expired"
    );
    assert!(!a.mark_once("short", now() + 60, now()).await.unwrap());
}

/// Of instances offering different candidates for one secret at once, all get the same
/// one back, kept under the prefix; another name is another secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shared_secret_is_the_first_candidate_offered() {
    let server = redis!();
    let (a, b) = (store(&server).await, store(&server).await);
    let offers: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { store.shared_secret("nonce", &format!("c{i}")).await })
        })
        .collect();
    let mut kept = Vec::new();
    for offer in offers {
        kept.push(offer.await.unwrap().unwrap());
    }
    kept.dedup();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(a.shared_secret("nonce", "late").await.unwrap(), kept[0]);
    let mut conn = raw(&server).await;
    let stored: String = redis::cmd("GET")
        .arg("jwt-tower:secret:nonce")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, kept[0]);
    assert_eq!(b.shared_secret("other", "o1").await.unwrap(), "o1");
}

// ---------------------------------------------------------------------------------
// Opaque access tokens.

fn access_record(expires_at: i64) -> jwt_tower::store::AccessTokenRecord {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "alice".into());
    claims.insert("scope".into(), "read".into());
    claims.insert("exp".into(), expires_at.into());
    jwt_tower::store::AccessTokenRecord { claims, expires_at }
}

/// A record put through one instance is read by another, under the prefix, with the
/// token's lifetime as its TTL; removed on one, it is gone on both, and only one of
/// twenty concurrent removals gets it.
#[tokio::test]
async fn access_token_records_are_shared_expire_and_are_removed_once() {
    let server = redis!();
    let (a, b) = (store(&server).await, store(&server).await);
    let record = access_record(now() + 60);
    a.put_access_token("at-hash", &record).await.unwrap();
    assert_eq!(
        b.access_token("at-hash", now()).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(b.access_token("other", now()).await.unwrap(), None);
    // Past its expiry it is not active, even before Redis drops it.
    assert_eq!(b.access_token("at-hash", now() + 61).await.unwrap(), None);
    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("jwt-tower:at:at-hash")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((55..=60).contains(&ttl), "ttl {ttl}");

    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.remove_access_token("at-hash", now()).await
        }));
    }
    let mut removed = 0;
    for task in tasks {
        if let Some(found) = task.await.expect("task").expect("remove") {
            assert_eq!(found, record);
            removed += 1;
        }
    }
    assert_eq!(removed, 1);
    assert_eq!(a.access_token("at-hash", now()).await.unwrap(), None);
    assert_eq!(b.access_token("at-hash", now()).await.unwrap(), None);
}

/// The memory store answers as Redis does.
#[tokio::test]
async fn access_token_records_behave_like_the_memory_store() {
    let server = redis!();
    let redis = store(&server).await;
    let memory = MemoryStore::new();
    let stores: [&dyn Store; 2] = [&redis, &memory];
    for store in stores {
        let live = access_record(now() + 60);
        store.put_access_token("live", &live).await.unwrap();
        store
            .put_access_token("old", &access_record(now() + 1))
            .await
            .unwrap();
        assert_eq!(
            store.access_token("live", now()).await.unwrap(),
            Some(live.clone())
        );
        assert_eq!(store.access_token("old", now() + 2).await.unwrap(), None);
        assert_eq!(
            store.remove_access_token("old", now() + 2).await.unwrap(),
            None
        );
        assert_eq!(
            store.remove_access_token("live", now()).await.unwrap(),
            Some(live)
        );
        assert_eq!(store.access_token("live", now()).await.unwrap(), None);
    }
}

/// A family past its lifetime or its idle timeout is no current family, in Redis as in
/// memory (introspection answers from it): only a live one is.
#[tokio::test]
async fn an_ended_family_is_no_current_family() {
    let server = redis!();
    let redis = store(&server).await;
    let memory = MemoryStore::new();
    let stores: [&dyn Store; 2] = [&redis, &memory];
    for store in stores {
        let t = now();
        let live = family("live", t - 100, 1_000, 1_000);
        store.create_family(&live, "tok-live").await.unwrap();
        store
            .create_family(&family("idle", t - 100, 1_000, 50), "tok-idle")
            .await
            .unwrap();
        store
            .create_family(&family("old", t - 100, 50, 1_000), "tok-old")
            .await
            .unwrap();
        assert_eq!(store.current_family("tok-live").await.unwrap(), Some(live));
        assert_eq!(store.current_family("tok-idle").await.unwrap(), None);
        assert_eq!(store.current_family("tok-old").await.unwrap(), None);
    }
}
