//! `examples/mcp_server` as a process: an rmcp streamable-HTTP server behind `JwtLayer`,
//! driven over real HTTP by raw JSON-RPC (reqwest) and by rmcp's own client, with HS256
//! tokens minted here for the server's resource URL.

mod support;

use jsonwebtoken::Algorithm as JwtAlg;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use support::jwks_server::{JwksServer, document, jwk};
use support::process::{Running, run_to_exit, start};
use support::*;

const ISSUER: &str = "https://auth.e2e.test";
const PROTOCOL: &str = "2025-06-18";

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn secret() -> &'static str {
    std::str::from_utf8(SECRET).unwrap()
}

async fn server(extra: &[(&'static str, &str)]) -> Running {
    let mut vars = env(&[
        ("JWT_HS256_SECRET", secret()),
        ("JWT_KID", "k1"),
        ("JWT_ALGORITHMS", "HS256"),
        ("JWT_ISSUER", ISSUER),
    ]);
    vars.extend(env(extra));
    start("mcp_server", &vars).await
}

/// The server's MCP endpoint: its default `MCP_RESOURCE_URL`, `http://$BIND/mcp`.
fn resource(server: &Running) -> String {
    format!("{}/mcp", server.base())
}

fn metadata_url(server: &Running) -> String {
    format!("{}/.well-known/oauth-protected-resource/mcp", server.base())
}

/// A token of `sub` for `audience`, from client `cli-1`, with `scope`.
fn token_for(audience: &str, sub: &str, scope: &str) -> String {
    mint_hs256(
        "k1",
        &json!({"iss": ISSUER, "aud": audience, "sub": sub, "client_id": "cli-1",
            "scope": scope, "iat": now(), "exp": now() + 600}),
    )
}

/// What a test reads of an MCP response.
#[derive(Debug)]
struct McpReply {
    status: u16,
    challenge: Option<String>,
    session: Option<String>,
    /// The JSON body, or the last JSON-RPC message of an SSE stream; `None` for a body
    /// that is neither.
    message: Option<Value>,
}

/// POSTs one JSON-RPC message to `url` as an MCP client does.
async fn rpc(url: &str, token: Option<&str>, session: Option<&str>, message: &Value) -> McpReply {
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL)
        .body(message.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    read(request.send().await.expect("request failed")).await
}

async fn read(response: reqwest::Response) -> McpReply {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, session) = (header("www-authenticate"), header("mcp-session-id"));
    let sse = header("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let message = if sse {
        // Each event's `data:` line; the priming event's is empty.
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .filter(|data| !data.is_empty())
            .map(|data| serde_json::from_str(data).unwrap())
            .next_back()
    } else {
        // rmcp answers its own errors (an unknown session) in plain text.
        serde_json::from_str(&body).ok()
    };
    McpReply {
        status,
        challenge,
        session,
        message,
    }
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}})
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}

/// Opens a session as `token`'s subject: `initialize`, then `notifications/initialized`.
async fn open_session(url: &str, token: &str) -> String {
    let reply = rpc(url, Some(token), None, &initialize()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let message = reply.message.as_ref().unwrap();
    assert_eq!(message["result"]["protocolVersion"], PROTOCOL, "{message}");
    let session = reply.session.expect("initialize opens a session");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let reply = rpc(url, Some(token), Some(&session), &initialized).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    session
}

/// A tool's result text, parsed as JSON.
fn tool_text(reply: &McpReply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    let result = &reply.message.as_ref().unwrap()["result"];
    assert_eq!(result["isError"], false, "{result}");
    let text = result["content"][0]["text"]
        .as_str()
        .expect("a text result");
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn without_a_token_is_401_naming_the_metadata() {
    let server = server(&[]).await;
    let reply = rpc(&resource(&server), None, None, &initialize()).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.challenge.unwrap(),
        format!(
            r#"Bearer realm="api", resource_metadata="{}""#,
            metadata_url(&server)
        )
    );
    // The SSE stream's GET as well.
    let get = send(http().get(resource(&server))).await;
    assert_eq!(get.status, 401);
    assert!(
        get.challenge
            .unwrap()
            .ends_with(&format!(r#"resource_metadata="{}""#, metadata_url(&server)))
    );
    // /health is open.
    let health = send(http().get(format!("{}/health", server.base()))).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn the_metadata_is_served_at_both_urls_without_a_token() {
    let server = server(&[]).await;
    let expected = json!({
        "resource": resource(&server),
        "authorization_servers": [ISSUER],
        "scopes_supported": ["orders.read", "orders.write"],
        "bearer_methods_supported": ["header"],
    });
    let root = format!("{}/.well-known/oauth-protected-resource", server.base());
    for url in [metadata_url(&server), root] {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, expected, "{url}");
    }
}

#[tokio::test]
async fn authorization_servers_and_resource_come_from_the_environment() {
    let server = server(&[
        (
            "MCP_AUTHORIZATION_SERVERS",
            "https://a.example, https://b.example",
        ),
        ("MCP_RESOURCE_URL", "https://mcp.example.com/mcp"),
    ])
    .await;
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", server.base());
    let body: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["resource"], "https://mcp.example.com/mcp");
    assert_eq!(
        body["authorization_servers"],
        json!(["https://a.example", "https://b.example"])
    );
    // The challenge names the configured metadata URL; the resource is the audience.
    let reply = rpc(&resource(&server), None, None, &initialize()).await;
    assert!(reply.challenge.unwrap().ends_with(
        r#"resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
    ));
    let for_socket = token_for(&resource(&server), "alice", "");
    let reply = rpc(&resource(&server), Some(&for_socket), None, &initialize()).await;
    assert_eq!(reply.status, 401);
    let for_resource = token_for("https://mcp.example.com/mcp", "alice", "");
    open_session(&resource(&server), &for_resource).await;
}

#[tokio::test]
async fn the_oidc_issuer_is_the_authorization_server_by_default() {
    let idp = JwksServer::start(document(vec![jwk(JwtAlg::ES256, "ec-1")])).await;
    let server = start(
        "mcp_server",
        &env(&[
            ("JWT_OIDC_ISSUER", &idp.base()),
            ("JWT_ALGORITHMS", "ES256"),
        ]),
    )
    .await;
    let body: Value = http()
        .get(metadata_url(&server))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["authorization_servers"], json!([idp.base()]));
    let token = mint_es256(
        "ec-1",
        &json!({"iss": idp.base(), "aud": resource(&server), "sub": "dana", "exp": now() + 60}),
    );
    let session = open_session(&resource(&server), &token).await;
    let whoami = call(2, "whoami", json!({}));
    let reply = rpc(&resource(&server), Some(&token), Some(&session), &whoami).await;
    assert_eq!(tool_text(&reply)["sub"], "dana");
}

#[tokio::test]
async fn initialize_list_and_call_tools_over_json_rpc() {
    let server = server(&[]).await;
    let url = resource(&server);
    let token = token_for(&url, "alice", "orders.read orders.write");
    let session = open_session(&url, &token).await;

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let reply = rpc(&url, Some(&token), Some(&session), &list).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let tools = &reply.message.as_ref().unwrap()["result"]["tools"];
    let mut names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["orders_create", "orders_list", "whoami"]);
    let create = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders_create")
        .unwrap();
    assert_eq!(
        create["inputSchema"]["properties"]["item"]["type"],
        "string"
    );
    assert_eq!(create["inputSchema"]["required"], json!(["item"]));

    let whoami = rpc(
        &url,
        Some(&token),
        Some(&session),
        &call(3, "whoami", json!({})),
    )
    .await;
    assert_eq!(
        tool_text(&whoami),
        json!({"sub": "alice", "client_id": "cli-1", "scope": "orders.read orders.write"})
    );

    let created = rpc(
        &url,
        Some(&token),
        Some(&session),
        &call(4, "orders_create", json!({"item": "tea"})),
    )
    .await;
    let order = tool_text(&created);
    assert_eq!(order["item"], "tea");
    assert_eq!(order["created_by"], "alice");
    let listed = rpc(
        &url,
        Some(&token),
        Some(&session),
        &call(5, "orders_list", json!({})),
    )
    .await;
    assert_eq!(tool_text(&listed), json!([order]));
}

#[tokio::test]
async fn whoami_names_absent_claims_null() {
    let server = server(&[]).await;
    let url = resource(&server);
    let token = mint_hs256(
        "k1",
        &json!({"iss": ISSUER, "aud": url, "sub": "svc", "exp": now() + 600}),
    );
    let session = open_session(&url, &token).await;
    let whoami = rpc(
        &url,
        Some(&token),
        Some(&session),
        &call(2, "whoami", json!({})),
    )
    .await;
    assert_eq!(
        tool_text(&whoami),
        json!({"sub": "svc", "client_id": null, "scope": null})
    );
}

#[tokio::test]
async fn a_token_without_sub_cannot_open_a_session() {
    let server = server(&[]).await;
    let url = resource(&server);
    let token = mint_hs256(
        "k1",
        &json!({"iss": ISSUER, "aud": url, "client_id": "cli-1", "exp": now() + 600}),
    );
    let reply = rpc(&url, Some(&token), None, &initialize()).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.session, None);
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{}""#, metadata_url(&server))),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_tool_lacking_its_scope_is_403_naming_it() {
    let server = server(&[]).await;
    let url = resource(&server);
    let reader = token_for(&url, "alice", "orders.read");
    let session = open_session(&url, &reader).await;
    let refused = rpc(
        &url,
        Some(&reader),
        Some(&session),
        &call(2, "orders_create", json!({"item": "tea"})),
    )
    .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.challenge.unwrap(),
        format!(
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="orders.write", resource_metadata="{}""#,
            metadata_url(&server)
        )
    );
    // The refused call created nothing.
    let listed = rpc(
        &url,
        Some(&reader),
        Some(&session),
        &call(3, "orders_list", json!({})),
    )
    .await;
    assert_eq!(tool_text(&listed), json!([]));

    let nobody = token_for(&url, "bob", "");
    let session = open_session(&url, &nobody).await;
    let refused = rpc(
        &url,
        Some(&nobody),
        Some(&session),
        &call(2, "orders_list", json!({})),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .challenge
            .unwrap()
            .contains(r#"error="insufficient_scope""#)
    );
    // whoami needs no scope.
    let whoami = rpc(
        &url,
        Some(&nobody),
        Some(&session),
        &call(3, "whoami", json!({})),
    )
    .await;
    assert_eq!(tool_text(&whoami)["sub"], "bob");
}

#[tokio::test]
async fn a_token_for_another_audience_is_401_invalid_token() {
    let server = server(&[]).await;
    let url = resource(&server);
    for audience in [
        "https://other.example/mcp".to_owned(),
        // The resource's URL with a trailing slash is another resource (RFC 8707 §2).
        format!("{url}/"),
    ] {
        let token = token_for(&audience, "alice", "orders.read orders.write");
        let reply = rpc(&url, Some(&token), None, &initialize()).await;
        assert_eq!(reply.status, 401, "{audience}");
        let challenge = reply.challenge.unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="api", error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            challenge.ends_with(&format!(r#"resource_metadata="{}""#, metadata_url(&server))),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn a_session_serves_only_the_subject_that_opened_it() {
    let server = server(&[]).await;
    let url = resource(&server);
    let alice = token_for(&url, "alice", "orders.read orders.write");
    let bob = token_for(&url, "bob", "orders.read orders.write");
    let session = open_session(&url, &alice).await;

    let whoami = call(2, "whoami", json!({}));
    let stolen = rpc(&url, Some(&bob), Some(&session), &whoami).await;
    assert_eq!(stolen.status, 404, "{stolen:?}");
    assert_eq!(
        stolen.message.unwrap()["error"]["code"],
        -32001,
        "a JSON-RPC error"
    );
    let stream = http()
        .get(&url)
        .bearer_auth(&bob)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", PROTOCOL);
    assert_eq!(stream.send().await.unwrap().status(), 404, "the SSE stream");
    let create = call(3, "orders_create", json!({"item": "stolen"}));
    assert_eq!(
        rpc(&url, Some(&bob), Some(&session), &create).await.status,
        404
    );
    // Its own session is bob's to use.
    let own = open_session(&url, &bob).await;
    assert_eq!(
        tool_text(&rpc(&url, Some(&bob), Some(&own), &whoami).await)["sub"],
        "bob"
    );

    // Another token of alice's (another client, other scopes) is still alice.
    let alice_again = token_for(&url, "alice", "orders.read");
    let reply = rpc(&url, Some(&alice_again), Some(&session), &whoami).await;
    assert_eq!(tool_text(&reply)["sub"], "alice");

    // Bob cannot end it; alice can, and then it is gone for her too.
    let delete = |token: &str| {
        http()
            .delete(&url)
            .bearer_auth(token)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", PROTOCOL)
    };
    assert_eq!(delete(&bob).send().await.unwrap().status(), 404);
    let deleted = delete(&alice).send().await.unwrap().status();
    assert!(deleted.is_success(), "{deleted}");
    assert_eq!(
        rpc(&url, Some(&alice), Some(&session), &whoami)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn rmcps_own_client_lists_and_calls_tools() {
    let server = server(&[]).await;
    let url = resource(&server);
    let token = token_for(&url, "carol", "orders.read orders.write");
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header(token),
    );
    let client = ClientConfig::default().serve(transport).await.unwrap();
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["orders_create", "orders_list", "whoami"]);

    let result = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let result = serde_json::to_value(&result).unwrap();
    let text = result["content"][0]["text"].as_str().unwrap();
    let whoami: Value = serde_json::from_str(text).unwrap();
    assert_eq!(whoami["sub"], "carol");

    let arguments = json!({"item": "coffee"}).as_object().unwrap().clone();
    let result = client
        .call_tool(CallToolRequestParams::new("orders_create").with_arguments(arguments))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true));
    let _ = client.cancel().await;
}

#[tokio::test]
async fn trusted_forwarding_headers_move_the_documents_only() {
    let forwarded = |url: String| {
        http()
            .get(url)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "mcp.example.com")
    };
    let public = "https://public.example/mcp";
    let trusting = server(&[("MCP_TRUST_FORWARDED", "1"), ("MCP_RESOURCE_URL", public)]).await;
    let body: Value = forwarded(metadata_url(&trusting))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["resource"], "https://mcp.example.com/mcp");
    // The challenge and the audience stay the configured ones.
    let reply = rpc(&resource(&trusting), None, None, &initialize()).await;
    assert!(reply.challenge.unwrap().ends_with(
        r#"resource_metadata="https://public.example/.well-known/oauth-protected-resource/mcp""#
    ));
    let moved = token_for("https://mcp.example.com/mcp", "alice", "");
    let reply = rpc(&resource(&trusting), Some(&moved), None, &initialize()).await;
    assert_eq!(reply.status, 401);
    let configured = token_for(public, "alice", "");
    let reply = rpc(&resource(&trusting), Some(&configured), None, &initialize()).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let default = server(&[]).await;
    let body: Value = forwarded(metadata_url(&default))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["resource"], resource(&default));
}

#[test]
fn configuration_errors_name_the_variable() {
    let base = [("JWT_HS256_SECRET", secret()), ("JWT_ALGORITHMS", "HS256")];
    let cases: [(&[(&'static str, &str)], &str); 6] = [
        (&[("JWT_HS256_SECRET", secret())], "JWT_ALGORITHMS"),
        (&[("JWT_AUDIENCE", "orders")], "JWT_AUDIENCE"),
        (&[("MCP_TRUST_FORWARDED", "yes")], "MCP_TRUST_FORWARDED"),
        // Trusting the proxy needs the public URL: the socket's is not it.
        (&[("MCP_TRUST_FORWARDED", "1")], "MCP_TRUST_FORWARDED"),
        (
            &[("MCP_RESOURCE_URL", "https://mcp.example.com/mcp?v=1")],
            "MCP_RESOURCE_URL",
        ),
        (
            &[("MCP_AUTHORIZATION_SERVERS", "not a url")],
            "MCP_AUTHORIZATION_SERVERS",
        ),
    ];
    for (extra, variable) in cases {
        let mut vars = if variable == "JWT_ALGORITHMS" {
            Vec::new()
        } else {
            env(&base)
        };
        vars.extend(env(extra));
        let output = run_to_exit("mcp_server", &vars);
        assert_eq!(output.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("configuration error: {variable}: ")),
            "{variable}: {stderr}"
        );
    }
    // Trusting the proxy without the public URL names both variables.
    let mut vars = env(&base);
    vars.extend(env(&[("MCP_TRUST_FORWARDED", "1")]));
    let output = run_to_exit("mcp_server", &vars);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MCP_TRUST_FORWARDED: 1 needs MCP_RESOURCE_URL"),
        "{stderr}"
    );
}
