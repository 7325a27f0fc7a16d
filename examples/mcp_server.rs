//! `cargo run --example mcp_server`: an MCP server (rmcp, streamable HTTP) behind
//! `JwtLayer`, an OAuth 2.1 resource server as the MCP specification asks: it publishes
//! its protected resource metadata (RFC 9728), challenges with `resource_metadata`, and
//! accepts only tokens whose audience is itself (RFC 8707).
//!
//! Environment: the `JWT_*` keys exactly as `resource_server` (`JWT_JWKS_URL`,
//! `JWT_OIDC_ISSUER`, `JWT_JWKS_FILE`, `JWT_PUBLIC_KEY_PEM_FILE`, `JWT_HS256_SECRET`,
//! `JWT_KID`; see `examples/common/jwt_env.rs`), `JWT_ALGORITHMS` (required),
//! `JWT_ISSUER` (and `resource_server`'s other options: `JWT_LEEWAY_SECONDS`,
//! `JWT_REQUIRE_TYP`, `JWT_CACHE_ENTRIES`, `REDIS_URL` for revocations), and:
//! - `BIND` (default `127.0.0.1:3100`);
//! - `MCP_RESOURCE_URL` (default `http://$BIND/mcp`): the server's resource identifier,
//!   the metadata's `resource` and the only audience a token may have (`JWT_AUDIENCE`
//!   is refused: this is it). Behind a proxy, the public URL clients connect to;
//! - `MCP_AUTHORIZATION_SERVERS`: comma-separated issuer URLs of the authorization
//!   servers (default `JWT_ISSUER`, else `JWT_OIDC_ISSUER`; with none, the metadata
//!   names none and clients cannot discover where to get a token);
//! - `MCP_TRUST_FORWARDED` (`1`, only with `MCP_RESOURCE_URL` set; default off): the
//!   metadata documents name the scheme and host the proxy in front reports
//!   (`Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`). Only the documents: the challenges' `resource_metadata` stays
//!   the configured metadata URL, and tokens are accepted for `MCP_RESOURCE_URL` alone,
//!   whatever the headers say, so that no request header chooses which tokens pass.
//!
//! Routes: `/mcp` (streamable HTTP: `POST`, `GET`, `DELETE`; a bearer token required;
//! rmcp serves only a `Host` that is a loopback name, `BIND`'s host or
//! `MCP_RESOURCE_URL`'s, its guard against DNS rebinding),
//! `GET /.well-known/oauth-protected-resource/mcp` and
//! `GET /.well-known/oauth-protected-resource` (the metadata, open),
//! `GET /health` (open).
//!
//! Tools: `whoami` (any valid token) answers the JSON text
//! `{"sub": …, "client_id": …, "scope": …}` (`null` for a claim the token lacks);
//! `orders_list` (scope `orders.read`) the orders as a JSON array; `orders_create`
//! (argument `item`, a string; scope `orders.write`) the new order. The orders are kept
//! in memory. A `tools/call` lacking the tool's scope is 403 `insufficient_scope`, with
//! `scope` naming it, before the server sees it. A session (`Mcp-Session-Id`) serves
//! only the subject whose token opened it: any other token gets 404, and so does an id
//! the server did not open for this subject, or one idle for 6 minutes (rmcp closes a
//! session idle for 5). A token without `sub` is refused (401 `invalid_token`).
//!
//! Try it with a token minted for the resource:
//!
//! ```text
//! JWT_ALGORITHMS=HS256 JWT_HS256_SECRET=change-me-to-32-bytes-or-more!!! \
//!   cargo run --example mcp_server
//! curl -i http://127.0.0.1:3100/mcp            # 401, WWW-Authenticate … resource_metadata="…"
//! curl http://127.0.0.1:3100/.well-known/oauth-protected-resource/mcp
//! # a token with "aud": "http://127.0.0.1:3100/mcp", "sub", "scope": "orders.read orders.write"
//! curl -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
//!   -H 'accept: application/json, text/event-stream' http://127.0.0.1:3100/mcp \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//! ```
#![forbid(unsafe_code)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/jwt_env.rs"]
mod jwt_env;

use std::sync::{Arc, Mutex, PoisonError};

use axum::{Router, routing::get};
use jwt_axum::protected_resource_metadata_with;
use jwt_tower::mcp::{Caller, SessionBindingLayer, ToolScopesLayer};
use jwt_tower::resource::TrustForwarded;
use jwt_tower::{JwtLayer, ProtectedResourceMetadata};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the tools read from a token: `whoami`'s members.
#[derive(Debug, Deserialize)]
struct McpClaims {
    sub: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Order {
    id: u64,
    item: String,
    created_by: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct CreateOrder {
    /// What to order.
    item: String,
}

/// The MCP server: one per session (rmcp makes one for each), sharing the orders.
#[derive(Clone)]
struct Orders {
    orders: Arc<Mutex<Vec<Order>>>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Orders {
    fn new(orders: Arc<Mutex<Vec<Order>>>) -> Self {
        Self {
            orders,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Who the caller is: the token's sub, client_id and scope")]
    fn whoami(&self, Caller(token): Caller<McpClaims>) -> String {
        let claims = token.claims();
        json!({"sub": claims.sub, "client_id": claims.client_id, "scope": claims.scope}).to_string()
    }

    #[tool(description = "The orders (needs scope orders.read)")]
    fn orders_list(&self) -> String {
        let orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::to_string(&*orders).expect("orders serialise to JSON")
    }

    #[tool(description = "Create an order for an item (needs scope orders.write)")]
    fn orders_create(
        &self,
        Caller(token): Caller<McpClaims>,
        Parameters(CreateOrder { item }): Parameters<CreateOrder>,
    ) -> String {
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        let order = Order {
            id: orders.len() as u64 + 1,
            item,
            created_by: token.subject().map(str::to_owned),
        };
        orders.push(order.clone());
        serde_json::to_string(&order).expect("an order serialises to JSON")
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Orders {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp_server", env!("CARGO_PKG_VERSION")))
            .with_instructions("Orders behind OAuth: whoami, orders_list, orders_create.")
    }
}

#[tokio::main]
async fn main() {
    cli::run_and_exit(run()).await;
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bind = jwt_env::bind("127.0.0.1:3100");
    let metadata = metadata(&bind)?;
    let trust = trust_forwarded()?;
    if jwt_env::var("JWT_AUDIENCE").is_some() {
        return Err(config_error(
            "JWT_AUDIENCE",
            "not used by mcp_server: MCP_RESOURCE_URL is the only accepted audience",
        ));
    }
    let revocations = jwt_env::revocations_from_env().await?;
    let verifier =
        jwt_env::build(jwt_env::builder_from_env::<McpClaims>(revocations)?.resource(&metadata))?;

    let orders = Arc::new(Mutex::new(Vec::new()));
    let mcp = StreamableHttpService::new(
        move || Ok(Orders::new(Arc::clone(&orders))),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts(&bind, &metadata)),
    );
    let tools = ToolScopesLayer::new()
        .tool("orders_list", ["orders.read"])
        .tool("orders_create", ["orders.write"]);

    let app = Router::new()
        .route_service("/mcp", mcp)
        .layer(tools)
        .layer(SessionBindingLayer::new())
        .layer(JwtLayer::new(verifier).resource_metadata(&metadata))
        .merge(protected_resource_metadata_with(&metadata, trust))
        .route("/health", get(|| async { "ok" }));

    tracing::info!(
        resource = metadata.resource(),
        metadata = metadata.metadata_url(),
        "MCP endpoint configured"
    );
    cli::serve_http(&bind, app, "mcp server").await
}

fn config_error(variable: &str, problem: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!("configuration error: {variable}: {problem}").into()
}

/// The metadata `MCP_RESOURCE_URL` and `MCP_AUTHORIZATION_SERVERS` describe.
fn metadata(bind: &str) -> Result<ProtectedResourceMetadata, Box<dyn std::error::Error>> {
    let resource = jwt_env::var("MCP_RESOURCE_URL").unwrap_or_else(|| format!("http://{bind}/mcp"));
    let servers = authorization_servers();
    if servers.is_empty() {
        tracing::warn!(
            "no MCP_AUTHORIZATION_SERVERS, JWT_ISSUER or JWT_OIDC_ISSUER: the metadata names \
             no authorization server"
        );
    }
    let builder = || {
        ProtectedResourceMetadata::builder(resource.trim())
            .scopes_supported(["orders.read", "orders.write"])
            .bearer_methods_supported(["header"])
    };
    // The resource alone first, so that an error names the variable at fault.
    builder()
        .build()
        .map_err(|e| config_error("MCP_RESOURCE_URL", e))?;
    if servers.is_empty() {
        return Ok(builder().build()?);
    }
    builder()
        .authorization_servers(servers)
        .build()
        .map_err(|e| config_error("MCP_AUTHORIZATION_SERVERS", e))
}

/// `MCP_AUTHORIZATION_SERVERS`, else `JWT_ISSUER`, else `JWT_OIDC_ISSUER`.
fn authorization_servers() -> Vec<String> {
    ["MCP_AUTHORIZATION_SERVERS", "JWT_ISSUER", "JWT_OIDC_ISSUER"]
        .into_iter()
        .find_map(jwt_env::var)
        .map(|list| {
            list.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `MCP_TRUST_FORWARDED`; on only with `MCP_RESOURCE_URL` set, since the default
/// resource is the socket's URL, which a client behind the proxy does not reach: the
/// documents would name the public URL, and the verifier refuse tokens for it.
fn trust_forwarded() -> Result<TrustForwarded, Box<dyn std::error::Error>> {
    match jwt_env::var("MCP_TRUST_FORWARDED")
        .as_deref()
        .map(str::trim)
    {
        None | Some("0") => Ok(TrustForwarded::Off),
        Some("1") if jwt_env::var("MCP_RESOURCE_URL").is_none() => Err(config_error(
            "MCP_TRUST_FORWARDED",
            "1 needs MCP_RESOURCE_URL, the public URL clients connect to through the proxy \
             (the only accepted audience)",
        )),
        Some("1") => Ok(TrustForwarded::On),
        Some(other) => Err(config_error(
            "MCP_TRUST_FORWARDED",
            format!("{other:?} is neither 1 (on) nor 0 (off)"),
        )),
    }
}

/// The `Host` values rmcp serves (its DNS-rebinding guard): the loopback names, `BIND`'s
/// host and `MCP_RESOURCE_URL`'s.
fn allowed_hosts(bind: &str, metadata: &ProtectedResourceMetadata) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    let resource_host = metadata
        .resource()
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(|h| h.trim_matches(['[', ']']).to_owned()));
    let bind_host = bind
        .rsplit_once(':')
        .map(|(host, _)| host.trim_matches(['[', ']']).to_owned());
    for host in [resource_host, bind_host].into_iter().flatten() {
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}
