//! A real MCP client connects through our servers: the Python MCP SDK (`mcp` on PyPI;
//! `.ci/run` installs it) against `examples/mcp_server` and `examples/auth_server` as
//! processes. The client is tests/python/mcp_oauth_client.py; this test starts the two
//! servers on free ports, runs it, and fails with its output.
//!
//! No skipping: without the SDK the test fails and says how to install it.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::process::{run_client, start};

/// The SDK version the script was written and checked against (as `.ci/run` pins it).
const SDK: &str = "mcp==2.3.0";
/// Users of `auth_server` (`DEMO_USERS`): one with both order scopes, one that may only read.
const WRITER: (&str, &str) = ("alice", "alice-password");
const READER: (&str, &str) = ("bob", "bob-password");
/// Confidential clients in `OAUTH_CLIENTS_FILE`, for the client-credentials grant: one with
/// both order scopes, one that may only read.
const CLIENT: (&str, &str) = ("orders-bot", "orders-bot-secret-0123456789abcdef");
const READ_CLIENT: (&str, &str) = ("orders-viewer", "orders-viewer-secret-0123456789abc");
/// Another resource the authorization server issues tokens for: its tokens must not pass
/// the MCP server.
const OTHER_RESOURCE: &str = "https://reports.example/mcp";
/// The whole script; each of its checks has its own, shorter, limit.
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/mcp_oauth_client.py")
}

/// Fails, saying how to install it, when python3 cannot import the SDK.
fn require_sdk() {
    let probe = Command::new("python3")
        .args(["-c", "import mcp, httpx2, jwt; print(mcp.__file__)"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "the Python MCP SDK is required: python3 -m pip install {SDK}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => panic!("python3 is required, with the MCP SDK ({SDK}): {e}"),
    }
}

/// `OAUTH_CLIENTS_FILE`: the confidential clients, as an operator writes them.
fn clients_file() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("jwt-tower-mcp-clients-{}.json", std::process::id()));
    let client = |(id, secret): (&str, &str), scope: &str| {
        serde_json::json!({
            "client_id": id,
            "client_secret": secret,
            "scope": scope,
            "grant_types": ["client_credentials"],
        })
    };
    let clients = serde_json::json!([
        client(CLIENT, "orders.read orders.write"),
        client(READ_CLIENT, "orders.read"),
    ]);
    std::fs::write(&path, clients.to_string()).unwrap();
    path
}

/// Runs the script to completion (killed after `SCRIPT_LIMIT`); its exit status and
/// everything it printed.
fn run_script(args: &[String]) -> (bool, String) {
    let mut command = Command::new("python3");
    command
        .arg(script())
        .args(args)
        .env("PYTHONUNBUFFERED", "1");
    run_client(command, SCRIPT_LIMIT)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_mcp_sdk_connects_through_auth_server() {
    require_sdk();
    let clients = clients_file();
    // Where mcp_server will listen decides the resource URL the authorization server
    // accepts, so the MCP server's address is chosen first.
    let mcp_addr = support::process::free_addr();
    let mcp_url = format!("http://{mcp_addr}/mcp");
    let auth = start(
        "auth_server",
        &[
            ("JWT_SIGNING_ALG", "ES256".to_owned()),
            (
                "DEMO_USERS",
                format!(
                    "{}:{}:orders.read orders.write;{}:{}:orders.read",
                    WRITER.0, WRITER.1, READER.0, READER.1
                ),
            ),
            ("OAUTH_CLIENTS_FILE", clients.display().to_string()),
            ("OAUTH_RESOURCES", format!("{mcp_url},{OTHER_RESOURCE}")),
        ],
    )
    .await;
    let issuer = auth.base();
    let mcp = support::process::start_at(
        "mcp_server",
        &mcp_addr,
        &[
            ("JWT_JWKS_URL", format!("{issuer}/.well-known/jwks.json")),
            ("JWT_ALGORITHMS", "ES256".to_owned()),
            ("JWT_ISSUER", issuer.clone()),
            ("MCP_AUTHORIZATION_SERVERS", issuer.clone()),
        ],
    )
    .await;
    assert_eq!(format!("{}/mcp", mcp.base()), mcp_url);

    let args = [
        "--mcp-url".to_owned(),
        mcp_url,
        "--issuer".to_owned(),
        issuer,
        "--user".to_owned(),
        format!("{}:{}", WRITER.0, WRITER.1),
        "--reader".to_owned(),
        format!("{}:{}", READER.0, READER.1),
        "--client".to_owned(),
        format!("{}:{}", CLIENT.0, CLIENT.1),
        "--read-client".to_owned(),
        format!("{}:{}", READ_CLIENT.0, READ_CLIENT.1),
        "--other-resource".to_owned(),
        OTHER_RESOURCE.to_owned(),
    ];
    let (passed, printed) = tokio::task::spawn_blocking(move || run_script(&args))
        .await
        .unwrap();
    let _ = std::fs::remove_file(&clients);
    assert!(
        passed,
        "the Python MCP client failed against mcp_server and auth_server:\n{printed}"
    );
    println!("{printed}");
}
