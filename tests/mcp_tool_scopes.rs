//! Per-tool scopes for MCP servers over real TCP: `ToolScopesLayer` behind a `JwtLayer`,
//! in front of a handler standing in for the MCP endpoint that echoes the body it gets.

mod support;

use axum::Router;
use axum::body::Bytes;
use axum::routing::any;
use http::Method;
use jwt_tower::mcp::ToolScopesLayer;
use jwt_tower::{
    Algorithm, JwtLayer, ProtectedResourceMetadata, RegisteredClaims, RejectionKind, Verifier,
};
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const METADATA_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";
/// The test servers' body limit, small enough to cross in a test.
const LIMIT: usize = 1024;

/// The MCP endpoint's stand-in: a POST's body comes back as it arrived.
async fn echo(method: Method, body: Bytes) -> String {
    if method == Method::POST {
        String::from_utf8(body.to_vec()).unwrap()
    } else {
        format!("{method} reached the endpoint")
    }
}

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

fn tools() -> ToolScopesLayer {
    ToolScopesLayer::new()
        .tool("orders_create", ["orders.write"])
        .tool("orders_list", ["orders.read"])
        .tool("audit", ["orders.read", "audit.read"])
        .tool("whoami", [] as [&str; 0])
        .max_body_bytes(LIMIT)
}

/// `/mcp` behind `layer` (outside) and the tool scopes (inside).
async fn start(layer: JwtLayer<RegisteredClaims>) -> String {
    let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
        .build()
        .unwrap();
    let app = Router::new()
        .route("/mcp", any(echo))
        .layer(tools())
        .layer(layer.resource_metadata(&metadata));
    format!("http://{}/mcp", serve(app).await)
}

fn token(scope: &str) -> String {
    mint_hs256("k1", &claims("alice", scope))
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": {"item": "tea"}}})
    .to_string()
}

async fn post(url: &str, token: Option<&str>, body: impl Into<reqwest::Body>) -> Reply {
    let request = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    send(match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    })
    .await
}

fn insufficient_scope(scope: &str) -> String {
    format!(
        r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="{scope}", resource_metadata="{METADATA_URL}""#
    )
}

/// A JSON-RPC error object with no id, and its code.
fn json_rpc_code(reply: &Reply) -> i64 {
    let body = reply.json();
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert_eq!(body["id"], Value::Null, "{body}");
    body["error"]["code"].as_i64().expect("an error code")
}

#[tokio::test]
async fn a_call_with_the_tools_scopes_reaches_the_server_unchanged() {
    let url = start(JwtLayer::new(verifier())).await;
    let writer = token("orders.read orders.write");
    for tool in ["orders_create", "orders_list", "whoami"] {
        let body = call(tool);
        let reply = post(&url, Some(&writer), body.clone()).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, body.as_str()),
            "{tool}"
        );
    }
}

#[tokio::test]
async fn a_call_lacking_a_scope_is_403_naming_the_tools_scopes() {
    let url = start(JwtLayer::new(verifier())).await;
    let reader = token("orders.read");
    let reply = post(&url, Some(&reader), call("orders_create")).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(insufficient_scope("orders.write").as_str())
    );
    assert_eq!(reply.json()["error"], "insufficient_scope");

    // Every scope of the tool is named, the ones the token has too.
    let reply = post(&url, Some(&reader), call("audit")).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(insufficient_scope("orders.read audit.read").as_str())
    );
}

#[tokio::test]
async fn unconfigured_tools_and_other_methods_pass_unchanged() {
    let url = start(JwtLayer::new(verifier())).await;
    let nobody = token("");
    let bodies = [
        call("not_configured"),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}})
        .to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        // Whitespace and member order are the client's: the server gets the same bytes.
        " {\"method\" : \"tools/list\",\n \"id\":2, \"jsonrpc\":\"2.0\"} ".to_owned(),
    ];
    for body in bodies {
        let reply = post(&url, Some(&nobody), body.clone()).await;
        assert_eq!((reply.status, reply.body.as_str()), (200, body.as_str()));
    }
}

#[tokio::test]
async fn a_batch_with_one_forbidden_call_is_refused_whole() {
    let url = start(JwtLayer::new(verifier())).await;
    let reader = token("orders.read");
    let call_value = |tool: &str| serde_json::from_str::<Value>(&call(tool)).unwrap();
    let batch = json!([call_value("orders_list"), call_value("orders_create")]).to_string();
    let reply = post(&url, Some(&reader), batch).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(insufficient_scope("orders.write").as_str())
    );

    // Several refused calls: one refusal naming every scope they need, to step up once.
    let batch = json!([call_value("orders_create"), call_value("audit")]).to_string();
    let reply = post(&url, Some(&token("")), batch).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(insufficient_scope("orders.write orders.read audit.read").as_str())
    );

    let allowed =
        json!([call_value("orders_list"), {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}])
            .to_string();
    let reply = post(&url, Some(&reader), allowed.clone()).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, allowed.as_str()));
}

#[tokio::test]
async fn other_http_methods_pass_unread() {
    let url = start(JwtLayer::new(verifier())).await;
    let reader = token("orders.read");
    for method in [Method::GET, Method::DELETE] {
        let reply = send(
            http()
                .request(method.clone(), &url)
                .header("authorization", format!("Bearer {reader}")),
        )
        .await;
        assert_eq!(reply.status, 200, "{method}: {reply:?}");
        assert_eq!(reply.body, format!("{method} reached the endpoint"));
    }
}

/// A body exactly at the limit: `call` padded with its argument.
fn call_of_length(tool: &str, length: usize) -> String {
    let bare = call(tool).replace("\"tea\"", "\"\"");
    let body = bare.replace("\"\"", &format!("\"{}\"", "x".repeat(length - bare.len())));
    assert_eq!(body.len(), length);
    body
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_and_one_over_is_413() {
    let url = start(JwtLayer::new(verifier())).await;
    let writer = token("orders.write");

    let at_limit = call_of_length("orders_create", LIMIT);
    let reply = post(&url, Some(&writer), at_limit.clone()).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, at_limit.as_str())
    );
    // At the limit, the check still applies.
    let reply = post(&url, Some(&token("orders.read")), at_limit).await;
    assert_eq!(reply.status, 403, "{reply:?}");

    // Over it, by Content-Length: refused before the body is read.
    let reply = post(
        &url,
        Some(&writer),
        call_of_length("orders_create", LIMIT + 1),
    )
    .await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(json_rpc_code(&reply), -32600);
    assert_eq!(
        reply.json()["error"]["message"],
        format!("Invalid Request: the request body is larger than {LIMIT} bytes")
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let url = start(JwtLayer::new(verifier())).await;
    let addr = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // No Content-Length: the limit is met while reading.
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        token("orders.write")
    );
    let body = call_of_length("orders_create", LIMIT + 1);
    let (first, second) = body.split_at(LIMIT / 2);
    let chunks = format!(
        "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(chunks.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
    assert!(response.contains(r#""code":-32600"#), "{response}");
}

#[tokio::test]
async fn unreadable_bodies_are_400_json_rpc_errors() {
    let url = start(JwtLayer::new(verifier())).await;
    let writer = token("orders.read orders.write");
    let cases = [
        ("not json", -32700),
        ("", -32700),
        (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call""#, -32700),
        ("42", -32600),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"orders_create"}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            -32602,
        ),
    ];
    for (body, code) in cases {
        let reply = post(&url, Some(&writer), body).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(json_rpc_code(&reply), code, "{body}");
        assert!(reply.challenge.is_none());
    }
}

#[tokio::test]
async fn behind_an_optional_layer_a_configured_tool_needs_a_token() {
    let url = start(JwtLayer::new(verifier()).optional()).await;
    let reply = post(&url, None, call("whoami")).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(format!(r#"Bearer realm="api", resource_metadata="{METADATA_URL}""#).as_str())
    );
    // Tools not configured, and other methods, are open without a token.
    let body = call("not_configured");
    let reply = post(&url, None, body.clone()).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, body.as_str()));
}

#[tokio::test]
async fn without_a_jwt_layer_configured_tools_are_refused() {
    let app = Router::new().route("/mcp", any(echo)).layer(tools());
    let url = format!("http://{}/mcp", serve(app).await);
    let reply = post(&url, Some(&token("orders.write")), call("orders_create")).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="api""#));
    let body = call("not_configured");
    let reply = post(&url, None, body.clone()).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, body.as_str()));
}

#[tokio::test]
async fn refusals_are_counted_in_the_layers_metrics() {
    let verifier = verifier();
    let url = start(JwtLayer::new(verifier.clone())).await;
    let refused = || {
        verifier
            .metrics()
            .rejected(RejectionKind::InsufficientScope)
    };
    let before = refused();
    let reply = post(&url, Some(&token("orders.read")), call("orders_create")).await;
    assert_eq!(reply.status, 403);
    assert_eq!(refused(), before + 1);
}
