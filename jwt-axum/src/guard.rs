//! Route-level guards: `route_layer(RequireScopes::new(["admin"]))`.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use jwt_tower::auth::{Refusal, ResponseFuture};
use jwt_tower::reject::DefaultRejection;
use jwt_tower::{AuthError, Identity, RejectionKind};
use tower_layer::Layer;
use tower_service::Service;

/// A layer requiring every one of a set of scopes, for one route or a group, under a
/// [`JwtLayer`](jwt_tower::JwtLayer). No identity is 401; missing scopes are 403
/// `insufficient_scope` naming the scopes. Its refusals are the layer's: the layer's
/// realm and [`on_rejection`](jwt_tower::JwtLayer::on_rejection), counted in the layer's
/// verifier metrics.
///
/// ```
/// use axum::{routing::delete, Router};
/// use jwt_axum::RequireScopes;
/// async fn drop_table() {}
/// let admin: Router = Router::new()
///     .route("/tables/{name}", delete(drop_table))
///     .route_layer(RequireScopes::new(["admin", "tables:write"]));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequireScopes {
    scopes: Arc<[Box<str>]>,
    /// Only for a guard with no layer in front of it (a misconfiguration it still refuses).
    without_layer: DefaultRejection,
}

impl RequireScopes {
    /// Requires every one of `scopes`.
    pub fn new<S: Into<Box<str>>>(scopes: impl IntoIterator<Item = S>) -> Self {
        Self {
            scopes: scopes.into_iter().map(Into::into).collect(),
            without_layer: DefaultRejection::default(),
        }
    }

    /// The realm named in the challenge when no [`JwtLayer`](jwt_tower::JwtLayer) is in
    /// front of the guard (default `"api"`). Behind a layer, the layer's realm is used:
    /// set it there, once.
    pub fn realm(mut self, realm: &str) -> Self {
        self.without_layer = self.without_layer.realm(realm);
        self
    }

    fn check(&self, identity: Option<&Identity>) -> Result<(), AuthError> {
        let identity = identity.ok_or_else(|| AuthError::new(RejectionKind::MissingToken))?;
        if self.scopes.iter().all(|s| identity.has_scope(s)) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(self.scopes.join(" ")))
        }
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service made by [`RequireScopes`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    guard: RequireScopes,
}

impl<S, B> Service<Request<B>> for RequireScopesService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, Body, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let Err(error) = self.guard.check(req.extensions().get::<Identity>()) else {
            return ResponseFuture::inner(self.inner.call(req));
        };
        let response = match req.extensions().get::<Refusal<Body>>() {
            Some(layer) => layer.refuse_unread(&req, &error),
            None => {
                tracing::error!(
                    path = req.uri().path(),
                    "RequireScopes has no JwtLayer in front of it: every request is refused"
                );
                self.guard.without_layer.response(&error)
            }
        };
        ResponseFuture::rejected(response)
    }
}
