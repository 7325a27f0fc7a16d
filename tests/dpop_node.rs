//! An independent DPoP client against our servers: panva's `oauth4webapi`, `dpop` and
//! `jose` (npm; `.ci/run` installs them with `npm ci --prefix tests/node`) in
//! tests/node/dpop_client.mjs, against `auth_server` and two `resource_server` instances
//! with `JWT_DPOP=required` that share one redis-server and one `JWT_PUBLIC_URL` (the
//! script's own load balancer), plus a third that requires server nonces.
//!
//! No skipping: without node or the packages the test fails and says how to install them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::process::{free_addr, run_client, start, start_at};
use support::redis::Redis;

/// A confidential client in `OAUTH_CLIENTS_FILE`, for the client-credentials grant.
const CLIENT: (&str, &str) = ("orders-bot", "orders-bot-secret-0123456789abcdef");
/// The whole script; its checks take a few seconds.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Fails, saying how to install them, when the packages are missing.
fn require_packages(dir: &Path) {
    for package in ["oauth4webapi", "dpop", "jose"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "the npm package {package} is required: npm ci --prefix tests/node"
        );
    }
}

fn clients_file() -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "jwt-tower-dpop-clients-{}.json",
        std::process::id()
    ));
    let clients = serde_json::json!([{
        "client_id": CLIENT.0,
        "client_secret": CLIENT.1,
        "scope": "orders.read",
        "grant_types": ["client_credentials"],
    }]);
    std::fs::write(&path, clients.to_string()).unwrap();
    path
}

/// Runs the script to completion (killed after `SCRIPT_LIMIT`); its exit status and
/// everything it printed.
fn run_script(args: &[String]) -> (bool, String) {
    let dir = node_dir();
    let mut command = Command::new("node");
    command
        .arg(dir.join("dpop_client.mjs"))
        .args(args)
        .current_dir(&dir);
    run_client(command, SCRIPT_LIMIT)
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth4webapi_and_dpop_against_two_instances_sharing_redis() {
    require_packages(&node_dir());
    let Some(redis) = Redis::start() else { return };
    let clients = clients_file();
    // The load balancer's address is the public URL of both instances, and the audience
    // the authorization server issues tokens for.
    let lb = free_addr();
    let public_url = format!("http://{lb}");
    let resource = format!("{public_url}/me");
    let auth = start(
        "auth_server",
        &[
            ("JWT_SIGNING_ALG", "ES256".to_owned()),
            ("OAUTH_CLIENTS_FILE", clients.display().to_string()),
            ("OAUTH_RESOURCES", resource.clone()),
            ("DPOP_NONCE", "1".to_owned()),
            ("REDIS_URL", redis.url()),
        ],
    )
    .await;
    let issuer = auth.base();
    let resource_server = |nonce: bool| {
        let mut env = vec![
            ("JWT_JWKS_URL", format!("{issuer}/.well-known/jwks.json")),
            ("JWT_ALGORITHMS", "ES256".to_owned()),
            ("JWT_ISSUER", issuer.clone()),
            ("JWT_AUDIENCE", resource.clone()),
            ("JWT_DPOP", "required".to_owned()),
            ("JWT_PUBLIC_URL", public_url.clone()),
            ("REDIS_URL", redis.url()),
        ];
        if nonce {
            env.push(("JWT_DPOP_NONCE", "1".to_owned()));
        }
        env
    };
    let a = start("resource_server", &resource_server(false)).await;
    let b = start("resource_server", &resource_server(false)).await;
    let nonce = start_at("resource_server", &free_addr(), &resource_server(true)).await;

    let args = [
        "--issuer".to_owned(),
        issuer,
        "--lb".to_owned(),
        lb,
        "--backend".to_owned(),
        format!("a={}", a.addr),
        "--backend".to_owned(),
        format!("b={}", b.addr),
        "--backend".to_owned(),
        format!("nonce={}", nonce.addr),
        "--client".to_owned(),
        format!("{}:{}", CLIENT.0, CLIENT.1),
        "--token-nonce".to_owned(),
    ];
    let (passed, printed) = tokio::task::spawn_blocking(move || run_script(&args))
        .await
        .unwrap();
    let _ = std::fs::remove_file(&clients);
    assert!(passed, "the DPoP client failed:\n{printed}");
    println!("{printed}");
}
