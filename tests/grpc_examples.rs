//! `examples/grpc_service` and `examples/gateway` as processes, over real sockets:
//! three hops (HTTP gateway → gRPC Relay → gRPC WhoAmI) carry the original subject, a bad
//! token stops at the first hop, failures upstream map to 401/502, quotas answer 429.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use serde_json::json;
use support::process::{Running, free_addr, run_to_exit, start, start_listening};
use support::*;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

const ISSUER: &str = "https://issuer.grpc.test";

fn jwt_env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "JWT_HS256_SECRET",
            std::str::from_utf8(SECRET).unwrap().to_owned(),
        ),
        ("JWT_KID", "k1".to_owned()),
        ("JWT_ALGORITHMS", "HS256".to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
    ];
    env.extend(extra.iter().cloned());
    env
}

fn token(sub: &str, scope: &str, exp_in: i64) -> String {
    mint_hs256(
        "k1",
        &json!({"iss": ISSUER, "sub": sub, "scope": scope, "jti": format!("{sub}-1"), "exp": now() + exp_in}),
    )
}

async fn grpc_service(extra: &[(&'static str, String)]) -> Running {
    start_listening("grpc_service", &jwt_env(extra)).await
}

async fn gateway(upstream: &str, extra: &[(&'static str, String)]) -> Running {
    let mut env = vec![("UPSTREAM_GRPC_URL", upstream.to_owned())];
    env.extend(extra.iter().cloned());
    start("gateway", &jwt_env(&env)).await
}

async fn get(url: &str, token: Option<&str>) -> Reply {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

async fn grpc_client(service: &Running) -> IdentityClient<Channel> {
    IdentityClient::new(
        Channel::from_shared(service.base())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

fn with_token(token: &str) -> Request<WhoAmIRequest> {
    let mut request = Request::new(WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// An upstream written in the test: no authentication, counts the calls that reach it
/// and echoes the token it was sent.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Identity for Counting {
    async fn who_am_i(
        &self,
        r: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let sent = r
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Response::new(WhoAmIResponse {
            subject: sent,
            ..WhoAmIResponse::default()
        }))
    }
    async fn admin(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
    async fn relay(&self, r: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(r).await
    }
}

async fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let service = Counting::default();
    let calls = service.calls.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(IdentityServer::new(service))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (format!("http://{addr}"), calls)
}

#[tokio::test]
async fn three_hops_carry_the_original_subject() {
    let last = grpc_service(&[]).await;
    let middle = grpc_service(&[("DOWNSTREAM_URL", last.base())]).await;
    let gw = gateway(&middle.base(), &[]).await;
    let alice = token("alice", "read write", 600);

    // Gateway → middle (Relay) → last (WhoAmI): the last hop saw alice's own token.
    let reply = get(&format!("{}/relay", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({"gateway": {"sub": "alice"}, "upstream": {"subject": "alice", "issuer": ISSUER, "scopes": ["read", "write"]}})
    );

    // Two hops: gateway → WhoAmI.
    let reply = get(&format!("{}/whoami", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["upstream"]["subject"], "alice");

    // The same relay called with tonic directly, and with another subject.
    let bob = token("bob", "read", 600);
    let reply = grpc_client(&middle)
        .await
        .relay(with_token(&bob))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.subject.as_str(), reply.token_id.as_str()),
        ("bob", "bob-1")
    );

    // Admin is scope-guarded in the example, health is open.
    let status = grpc_client(&last)
        .await
        .admin(with_token(&bob))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let root = token("root", "admin", 600);
    let reply = grpc_client(&last)
        .await
        .admin(with_token(&root))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.subject, "root");
    let channel = Channel::from_shared(last.base())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
}

#[tokio::test]
async fn a_bad_token_stops_at_the_first_hop() {
    let (upstream, calls) = counting_upstream().await;
    let gw = gateway(&upstream, &[]).await;
    let expired = token("alice", "read", -3600);
    for (path, t) in [
        ("/whoami", Some(expired.as_str())),
        ("/relay", Some(expired.as_str())),
        ("/whoami", None),
        ("/whoami", Some("not.a.jwt")),
    ] {
        let reply = get(&format!("{}{path}", gw.base()), t).await;
        assert_eq!(reply.status, 401, "{path} {reply:?}");
        assert!(!reply.body.contains(&expired));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no call reached upstream");

    // A good token goes through, and upstream received exactly the caller's token.
    let alice = token("alice", "read", 600);
    let reply = get(&format!("{}/whoami", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json()["upstream"]["subject"],
        format!("Bearer {alice}")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn upstream_failures_are_401_and_502_never_500() {
    let alice = token("alice", "read", 600);
    // Upstream down.
    let gw = gateway(&format!("http://{}", free_addr()), &[]).await;
    let reply = get(&format!("{}/whoami", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 502, "{reply:?}");

    // Upstream refuses the caller: it trusts another issuer.
    let strict = grpc_service(&[("JWT_ISSUER", "https://someone-else.test".to_owned())]).await;
    let gw = gateway(&strict.base(), &[]).await;
    let reply = get(&format!("{}/whoami", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_token");

    // Relay with no downstream configured is a failed precondition upstream: 502 here.
    let lonely = grpc_service(&[]).await;
    let gw = gateway(&lonely.base(), &[]).await;
    let reply = get(&format!("{}/relay", gw.base()), Some(&alice)).await;
    assert_eq!(reply.status, 502, "{reply:?}");
}

#[tokio::test]
async fn relay_reports_downstream_statuses() {
    let alice = token("alice", "read", 600);
    // Downstream unreachable: UNAVAILABLE.
    let middle = grpc_service(&[("DOWNSTREAM_URL", format!("http://{}", free_addr()))]).await;
    let status = grpc_client(&middle)
        .await
        .relay(with_token(&alice))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // Downstream refuses: its own status comes back.
    let strict = grpc_service(&[("JWT_ISSUER", "https://someone-else.test".to_owned())]).await;
    let middle = grpc_service(&[("DOWNSTREAM_URL", strict.base())]).await;
    let status = grpc_client(&middle)
        .await
        .relay(with_token(&alice))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(!status.message().contains(&alice));
}

#[tokio::test]
async fn quota_per_verified_subject() {
    let (upstream, calls) = counting_upstream().await;
    let gw = gateway(&upstream, &[("QUOTA_PER_SECOND", "2".to_owned())]).await;
    let url = format!("{}/whoami", gw.base());
    let alice = token("alice", "read", 600);
    let bob = token("bob", "read", 600);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(&url, Some(&alice)).await);
    }
    let limited: Vec<_> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert!(statuses.iter().all(|r| r.status == 200 || r.status == 429));
    assert_eq!(limited[0].retry_after.as_deref(), Some("1"));
    // Another subject has its own quota; unverified requests use none.
    assert_eq!(get(&url, Some(&bob)).await.status, 200);
    assert_eq!(get(&url, None).await.status, 401);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        statuses.len() - limited.len() + 1
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(&url, Some(&alice)).await.status, 200);
}

#[tokio::test]
async fn bad_configurations_exit_with_one_line() {
    type Env = Vec<(&'static str, String)>;
    let cases: [(&str, Env, &str); 5] = [
        (
            "grpc_service",
            jwt_env(&[("DOWNSTREAM_URL", "ftp://x".to_owned())]),
            "DOWNSTREAM_URL",
        ),
        (
            "grpc_service",
            vec![("JWT_HS256_SECRET", "x".repeat(32))],
            "JWT_ALGORITHMS",
        ),
        ("gateway", jwt_env(&[]), "UPSTREAM_GRPC_URL"),
        (
            "gateway",
            jwt_env(&[
                ("UPSTREAM_GRPC_URL", "http://127.0.0.1:1".to_owned()),
                ("QUOTA_PER_SECOND", "lots".to_owned()),
            ]),
            "QUOTA_PER_SECOND",
        ),
        (
            "gateway",
            vec![("UPSTREAM_GRPC_URL", "http://127.0.0.1:1".to_owned())],
            "JWT_ALGORITHMS",
        ),
    ];
    for (name, env, variable) in cases {
        let output = run_to_exit(name, &env);
        assert!(!output.status.success(), "{name} {variable}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: {stderr}");
        assert!(
            lines[0].starts_with("configuration error:"),
            "{name}: {stderr}"
        );
        assert!(lines[0].contains(variable), "{name}: {stderr}");
    }
}
