//! MCP (Model Context Protocol) servers: scopes per tool.
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

mod jsonrpc;
mod layer;
mod service;

pub use layer::{DEFAULT_MAX_BODY_BYTES, ToolScopesLayer};
pub use service::{ToolScopesBody, ToolScopesFuture, ToolScopesService};
