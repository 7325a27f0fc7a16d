//! The caller's verified token inside an MCP tool: [`verified_token`] and [`identity`]
//! on the request's HTTP parts, and, with the `rmcp` feature, the [`Caller`] tool
//! parameter.
//!
//! rmcp's `StreamableHttpService` hands each request's `http::request::Parts` to the
//! handler, in the request context's extensions; the [`JwtLayer`](crate::JwtLayer) in
//! front put the [`VerifiedToken`] and the [`Identity`] in those parts' extensions.

use http::request::Parts;

use crate::{Identity, VerifiedToken};

/// The verified token of the request whose HTTP `parts` these are, if the
/// [`JwtLayer`](crate::JwtLayer) in front admitted one with claims of type `C` (the
/// verifier's claims type: another type finds nothing).
///
/// In an rmcp tool, the parts are in the request context's extensions
/// (`context.extensions.get::<http::request::Parts>()`), or the tool takes them as a
/// parameter (`Extension(parts): Extension<http::request::Parts>`).
///
/// ```
/// use jwt_tower::{RegisteredClaims, mcp};
///
/// let (parts, ()) = http::Request::post("/mcp").body(()).unwrap().into_parts();
/// // No JwtLayer in front: no token.
/// assert!(mcp::verified_token::<RegisteredClaims>(&parts).is_none());
/// ```
#[must_use]
pub fn verified_token<C: Send + Sync + 'static>(parts: &Parts) -> Option<&VerifiedToken<C>> {
    parts.extensions.get::<VerifiedToken<C>>()
}

/// The caller's [`Identity`] (subject, issuer, scopes, roles) in the request whose HTTP
/// `parts` these are, whatever the claims type, if the [`JwtLayer`](crate::JwtLayer) in
/// front admitted a token.
///
/// ```
/// use jwt_tower::mcp;
///
/// let (parts, ()) = http::Request::post("/mcp").body(()).unwrap().into_parts();
/// assert!(mcp::identity(&parts).is_none());
/// ```
#[must_use]
pub fn identity(parts: &Parts) -> Option<&Identity> {
    parts.extensions.get::<Identity>()
}

#[cfg(feature = "rmcp")]
pub use self::rmcp_caller::Caller;

#[cfg(feature = "rmcp")]
mod rmcp_caller {
    use http::request::Parts;
    use rmcp::ErrorData;
    use rmcp::handler::server::common::{AsRequestContext, FromContextPart};

    use crate::{RegisteredClaims, VerifiedToken};

    /// An rmcp tool parameter: the caller's [`VerifiedToken`], from the request the
    /// [`JwtLayer`](crate::JwtLayer) in front admitted (feature `rmcp`).
    ///
    /// A tool taking it is not called without one: the client gets the JSON-RPC error
    /// `-32600` (invalid request) "no verified bearer token", as when the layer is
    /// [`optional`](crate::JwtLayer::optional) and the request had no token, when the
    /// server runs on a transport without HTTP (stdio), or when `C` is not the
    /// verifier's claims type.
    ///
    /// ```
    /// use jwt_tower::mcp::Caller;
    /// use rmcp::handler::server::router::tool::ToolRouter;
    /// use rmcp::{ServerHandler, tool, tool_handler, tool_router};
    ///
    /// #[derive(Clone)]
    /// struct Orders {
    ///     tool_router: ToolRouter<Self>,
    /// }
    ///
    /// #[tool_router]
    /// impl Orders {
    ///     #[tool(description = "Who the caller is")]
    ///     fn whoami(&self, Caller(token): Caller) -> String {
    ///         token.subject().unwrap_or_default().to_owned()
    ///     }
    /// }
    ///
    /// #[tool_handler(router = self.tool_router)]
    /// impl ServerHandler for Orders {}
    ///
    /// let orders = Orders { tool_router: Orders::tool_router() };
    /// assert!(orders.tool_router.has_route("whoami"));
    /// ```
    #[derive(Debug, Clone)]
    pub struct Caller<C = RegisteredClaims>(pub VerifiedToken<C>);

    impl<C> std::ops::Deref for Caller<C> {
        type Target = VerifiedToken<C>;

        fn deref(&self) -> &VerifiedToken<C> {
            &self.0
        }
    }

    impl<Context, C> FromContextPart<Context> for Caller<C>
    where
        Context: AsRequestContext,
        C: Send + Sync + 'static,
    {
        fn from_context_part(context: &mut Context) -> Result<Self, ErrorData> {
            context
                .as_request_context()
                .extensions
                .get::<Parts>()
                .and_then(super::verified_token::<C>)
                .map(|token| Self(token.clone()))
                .ok_or_else(|| {
                    ErrorData::invalid_request(
                        "no verified bearer token: this tool needs the caller's token",
                        None,
                    )
                })
        }
    }
}
