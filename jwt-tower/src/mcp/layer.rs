//! [`ToolScopesLayer`]: which scopes each tool needs, and how much body to read.

use std::collections::HashMap;
use std::sync::Arc;

use tower_layer::Layer;

use super::ToolScopesService;

/// The largest body read by default: axum's default body limit (`DefaultBodyLimit`,
/// 2 MiB), so that no request an axum endpoint would read is refused here first.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The scopes a tool needs.
pub(crate) type Scopes = Box<[Box<str>]>;

/// A tower layer refusing a JSON-RPC `tools/call` whose tool needs scopes the caller's
/// token lacks: HTTP 403 `insufficient_scope`, with `scope="…"` naming the tool's
/// scopes, through the [`JwtLayer`](crate::JwtLayer)'s refusal (its realm, its
/// `resource_metadata`, its metrics). Place it inside (behind) the `JwtLayer`. See the
/// [module documentation](super) for what it reads and how it answers.
///
/// ```
/// use jwt_tower::mcp::ToolScopesLayer;
///
/// let tools = ToolScopesLayer::new()
///     .tool("orders_list", ["orders.read"])
///     .tool("orders_create", ["orders.write"])
///     .tool("whoami", [] as [&str; 0])
///     .max_body_bytes(512 * 1024);
/// # let _ = tools;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ToolScopesLayer {
    /// Each configured tool's scopes, every one of them required; shared by the services
    /// the layer makes (axum makes one per route).
    pub(crate) tools: Arc<HashMap<Box<str>, Scopes>>,
    pub(crate) max_body_bytes: usize,
}

impl Default for ToolScopesLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ToolScopesLayer {
    /// A layer with no tool configured (every call passes) and a body limit of
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new() -> Self {
        Self {
            tools: Arc::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Calls of the tool `name` need every one of `scopes`. With no scopes, a call needs
    /// a token and nothing more (which matters behind an
    /// [`optional`](crate::JwtLayer::optional) layer). Configuring a tool again replaces
    /// its scopes. Tools not configured are called with any token, or none.
    pub fn tool<S: Into<Box<str>>>(
        mut self,
        name: impl Into<Box<str>>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        let scopes = scopes.into_iter().map(Into::into).collect();
        Arc::make_mut(&mut self.tools).insert(name.into(), scopes);
        self
    }

    /// The largest request body read (default [`DEFAULT_MAX_BODY_BYTES`]); a larger one
    /// is refused with 413. A body of exactly this many bytes is read.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

impl<S> Layer<S> for ToolScopesLayer {
    type Service = ToolScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolScopesService {
            inner,
            layer: self.clone(),
        }
    }
}
