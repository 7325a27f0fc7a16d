//! MCP (Model Context Protocol) servers: scopes per tool, sessions bound to their
//! caller, and the caller's token inside a tool.
//!
//! | piece | what it does |
//! |---|---|
//! | [`ToolScopesLayer`] | refuses a `tools/call` whose tool needs scopes the token lacks (403) |
//! | [`SessionBindingLayer`] | refuses a session (`Mcp-Session-Id`) to anyone but its creator, and an unknown one to all (404) |
//! | [`verified_token`], [`identity`] | the caller's token in a request's `http::request::Parts` |
//! | `Caller` (feature `rmcp`) | an rmcp tool parameter: the caller's [`VerifiedToken`](crate::VerifiedToken) |
//!
//! # Scopes per tool
//!
//! [`ToolScopesLayer`] reads each JSON-RPC `tools/call` an MCP client POSTs and refuses
//! the call when the caller's token lacks the tool's scopes: HTTP 403 with
//! `WWW-Authenticate: Bearer …, error="insufficient_scope", scope="<the tool's scopes>"`,
//! so that the client can ask for them (step-up). It is placed inside (behind) the
//! [`JwtLayer`](crate::JwtLayer), in front of the MCP endpoint (rmcp's
//! `StreamableHttpService`, say), and refuses through that layer's
//! [`Refusal`](crate::auth::Refusal): same realm, same `resource_metadata`, counted in the
//! same metrics. With axum, the layer added last is the outer one, and the open routes
//! are merged in after the layers, so that only the MCP endpoint's POSTs are read:
//!
//! ```text
//! let app = Router::new()
//!     .nest_service("/mcp", StreamableHttpService::new(…))
//!     .layer(ToolScopesLayer::new().tool("orders_create", ["orders.write"]))
//!     .layer(JwtLayer::new(verifier).resource_metadata(&metadata))
//!     .merge(protected_resource_metadata(&metadata))
//!     .route("/health", get(health));
//! ```
//!
//! What it does with each request:
//!
//! | request | answer |
//! |---|---|
//! | not a POST (the SSE `GET`, `DELETE`) | passed on untouched, body unread |
//! | POST body larger than the limit (default 2 MiB, axum's) | 413, JSON-RPC error `-32600` |
//! | POST body that is not JSON | 400, JSON-RPC error `-32700` |
//! | JSON that is not a message or a batch of them, or names a member twice | 400, `-32600` |
//! | `tools/call` without a string `params.name` | 400, `-32602` |
//! | `tools/call` of a configured tool, token lacking a scope | 403 `insufficient_scope` |
//! | `tools/call` of a configured tool, no token (an optional layer) | 401, the layer's |
//! | anything else: other methods, tools not configured, responses | passed on, same bytes |
//!
//! Every POST is read, whatever its `Content-Type`: the check must not depend on the
//! server refusing the bodies it skipped. What it cannot read is refused rather than
//! passed on, since a body read one way here and another way by the server could call a
//! tool unchecked; a JSON-RPC batch is checked call by call and refused whole if one call
//! is. Its errors are JSON-RPC error objects with `"id": null`, as the MCP transport allows
//! with an HTTP error status, so that MCP clients show them. Behind no `JwtLayer` (a
//! misconfiguration, logged as an error), calls of configured tools are refused with the
//! default RFC 6750 challenge, as a missing token.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use jwt_tower::mcp::{ToolScopesBody, ToolScopesLayer};
//! use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier, VerificationKey};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! let verifier = Verifier::<RegisteredClaims>::builder(
//!     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
//! )
//! .algorithms([Algorithm::HS256])
//! .build()?;
//! // Stands in for the MCP endpoint.
//! let mcp = tower::service_fn(|_: Request<ToolScopesBody<String>>| async {
//!     Ok::<_, Infallible>(Response::new(Bytes::from_static(b"{}")))
//! });
//! let service = ServiceBuilder::new()
//!     .layer(JwtLayer::new(verifier).optional())
//!     .layer(ToolScopesLayer::new().tool("orders_create", ["orders.write"]))
//!     .service(mcp);
//!
//! let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"orders_create"}}"#;
//! let request = Request::post("/mcp").body(call.to_owned())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), 401); // no token
//!
//! let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
//! let response = service.oneshot(Request::post("/mcp").body(list.to_owned())?).await?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

//!
//! # Sessions bound to their caller
//!
//! An MCP server over streamable HTTP gives each client a session, named by the
//! `Mcp-Session-Id` header of the response to its `initialize`, and serves whoever sends
//! that id back. [`SessionBindingLayer`], inside the [`JwtLayer`](crate::JwtLayer) (in
//! front of or behind the `ToolScopesLayer`), remembers who created each session (the
//! token's `iss` and `sub`, or "no token" behind an optional layer), and fails closed: a
//! session id is served only to its creator, so that an id leaked, guessed, or outliving
//! its binding is of no use to anyone else:
//!
//! | request | answer |
//! |---|---|
//! | naming no session, its response carries a new `Mcp-Session-Id` | session bound to the token's `iss` and `sub` (or to "no token") |
//! | naming a bound session, same owner | passed on (the session's idle time restarts) |
//! | naming a bound session, another subject's token or none | 404, JSON-RPC error `-32001` |
//! | naming a session not bound (never issued, forgotten, idle past the timeout, deleted) | 404, JSON-RPC error `-32001`: the client opens a new session |
//! | `DELETE` of a bound session by its owner, answered 2xx | passed on, session forgotten |
//! | naming a session, its response carries an `Mcp-Session-Id` | passed on, nothing bound |
//! | verified token without `sub`, whatever it asks | 401 `invalid_token`, the `JwtLayer`'s challenge |
//! | naming more than one session (`Mcp-Session-Id` twice) | 400, JSON-RPC error `-32600` |
//! | new session, the owner at its limit | bound; the owner's least recently used session forgotten |
//! | new session while the table is full of sessions in use | 503 + `Retry-After`, JSON-RPC error `-32000`, the id withheld |
//! | new session whose id is bound to another owner already | 500, JSON-RPC error `-32603`, the id withheld |
//!
//! The table is in memory, bounded: [`DEFAULT_MAX_SESSIONS`] sessions in all,
//! [`DEFAULT_MAX_SESSIONS_PER_OWNER`] per owner (so that one token holder cannot fill
//! it), each forgotten when idle for [`DEFAULT_IDLE_TIMEOUT`] (6 minutes, a minute more
//! than rmcp's own 5-minute session keep-alive); all three configurable. Each instance
//! of a fleet binds the sessions it created: route a session's requests to the instance
//! that created it, as the MCP server's in-memory sessions need anyway.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use jwt_tower::mcp::SessionBindingLayer;
//! use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier, VerificationKey};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
//! # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
//! let secret = b"an-hmac-secret-of-at-least-32-bytes!";
//! let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
//!     .algorithms([Algorithm::HS256])
//!     .build()?;
//! // Stands in for the MCP endpoint: every response opens session "s1".
//! let mcp = tower::service_fn(|_: Request<()>| async {
//!     let mut response = Response::new(Bytes::new());
//!     response.headers_mut().insert("mcp-session-id", "s1".parse().unwrap());
//!     Ok::<_, Infallible>(response)
//! });
//! let service = ServiceBuilder::new()
//!     .layer(JwtLayer::new(verifier))
//!     .layer(SessionBindingLayer::new())
//!     .service(mcp);
//! let token = |sub: &str| {
//!     let claims = serde_json::json!({"sub": sub, "exp": 4_000_000_000u64});
//!     let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
//!     jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
//! };
//! let request = |sub: &str| {
//!     Request::post("/mcp")
//!         .header("authorization", format!("Bearer {}", token(sub)))
//!         .header("mcp-session-id", "s1")
//!         .body(())
//! };
//!
//! let alice = Request::post("/mcp").header("authorization", format!("Bearer {}", token("alice")));
//! let created = service.clone().oneshot(alice.body(())?).await?;
//! assert_eq!(created.headers()["mcp-session-id"], "s1");
//! assert_eq!(service.clone().oneshot(request("alice")?).await?.status(), 200);
//! assert_eq!(service.oneshot(request("bob")?).await?.status(), 404);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Claims in tools
//!
//! The [`JwtLayer`](crate::JwtLayer) puts the caller's
//! [`VerifiedToken`](crate::VerifiedToken) and [`Identity`](crate::Identity) in the
//! request's extensions; rmcp's `StreamableHttpService` hands the request's
//! `http::request::Parts` to the tool, in its request context's extensions. With the
//! `rmcp` feature, a tool takes `Caller<C>` as a parameter (`Caller(token): Caller`);
//! without it, [`verified_token`] and [`identity`] read them from the parts:
//!
//! ```text
//! #[tool(description = "Who the caller is")]
//! fn whoami(&self, Extension(parts): Extension<http::request::Parts>) -> String {
//!     let token = jwt_tower::mcp::verified_token::<RegisteredClaims>(&parts);
//!     token.and_then(|t| t.subject()).unwrap_or_default().to_owned()
//! }
//! ```

mod caller;
mod jsonrpc;
mod layer;
mod service;
mod session;

#[cfg(feature = "rmcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rmcp")))]
pub use caller::Caller;
pub use caller::{identity, verified_token};
pub use layer::{DEFAULT_MAX_BODY_BYTES, ToolScopesLayer};
pub use service::{ToolScopesBody, ToolScopesFuture, ToolScopesService};
pub use session::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_OWNER, SESSION_ID_HEADER,
    SessionBindingFuture, SessionBindingLayer, SessionBindingService,
};
