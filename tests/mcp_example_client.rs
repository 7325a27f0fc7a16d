//! The README's ten-minute path, as a newcomer runs it: `examples/python/mcp_client.py`
//! (the Python MCP SDK) against `auth_server` and `mcp_server` as processes, with a
//! stand-in browser (tests/python/submit_login.py, as `BROWSER`) that logs in through the
//! HTML form. The tools answer alice; bob's `orders_create` is refused for its scope.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::process::{free_addr, start, start_at};

fn path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}

/// The example client's output, logged in as `user`.
fn run_client(mcp_url: &str, user: &str, password: &str) -> String {
    let output = Command::new("python3")
        .arg(path("examples/python/mcp_client.py"))
        .arg(mcp_url)
        .env(
            "BROWSER",
            format!("python3 {} %s", path("tests/python/submit_login.py")),
        )
        .env("LOGIN_USER", user)
        .env("LOGIN_PASSWORD", password)
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .expect("python3 runs (with the MCP SDK: python3 -m pip install mcp==2.3.0)");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the example client failed:\n{printed}"
    );
    printed
}

fn line<'a>(printed: &'a str, prefix: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{printed}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_mcp_client_logs_in_and_calls_the_tools() {
    let mcp_addr = free_addr();
    let mcp_url = format!("http://{mcp_addr}/mcp");
    let auth = start(
        "auth_server",
        &[
            (
                "DEMO_USERS",
                "alice:alice-password:orders.read orders.write;bob:bob-password:orders.read"
                    .to_owned(),
            ),
            ("OAUTH_RESOURCES", mcp_url.clone()),
        ],
    )
    .await;
    let _mcp = start_at(
        "mcp_server",
        &mcp_addr,
        &[
            ("JWT_OIDC_ISSUER", auth.base()),
            ("JWT_ALGORITHMS", "ES256".to_owned()),
        ],
    )
    .await;

    let alice = {
        let url = mcp_url.clone();
        tokio::task::spawn_blocking(move || run_client(&url, "alice", "alice-password"))
            .await
            .unwrap()
    };
    assert_eq!(
        line(&alice, "tools:"),
        "tools: orders_create, orders_list, whoami"
    );
    let whoami: serde_json::Value =
        serde_json::from_str(line(&alice, "whoami:").trim_start_matches("whoami:")).unwrap();
    assert_eq!(whoami["sub"], "alice");
    assert_eq!(whoami["scope"], "orders.read orders.write");
    assert!(whoami["client_id"].is_string(), "{whoami}");
    assert!(
        line(&alice, "orders_create:").contains(r#""item":"widget","created_by":"alice""#),
        "{alice}"
    );
    assert!(line(&alice, "orders_list:").contains("widget"), "{alice}");

    let bob = tokio::task::spawn_blocking(move || run_client(&mcp_url, "bob", "bob-password"))
        .await
        .unwrap();
    assert!(line(&bob, "whoami:").contains(r#""sub":"bob""#), "{bob}");
    assert!(line(&bob, "orders_create:").contains("refused"), "{bob}");
    // alice's order, listed to bob, who may read.
    assert!(line(&bob, "orders_list:").contains("alice"), "{bob}");
}
