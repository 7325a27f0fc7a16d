//! Route-level guards: `route_layer(RequireScopes::new(["admin"]))`.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use futures_util::future::{Either, Ready, ready};
use http::Request;
use jwt_tower::reject::DefaultRejection;
use jwt_tower::{AuthError, Identity, RejectionKind};
use tower_layer::Layer;
use tower_service::Service;

/// A layer requiring every one of a set of scopes, for one route or a group, under a
/// [`JwtLayer`](jwt_tower::JwtLayer). No identity is 401; missing scopes are 403
/// `insufficient_scope` naming the scopes.
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
    rejection: DefaultRejection,
}

impl RequireScopes {
    /// Requires every one of `scopes`.
    pub fn new<S: Into<Box<str>>>(scopes: impl IntoIterator<Item = S>) -> Self {
        Self {
            scopes: scopes.into_iter().map(Into::into).collect(),
            rejection: DefaultRejection::default(),
        }
    }

    /// The realm named in the challenge (default `"api"`); use the layer's.
    pub fn realm(mut self, realm: &str) -> Self {
        self.rejection = self.rejection.realm(realm);
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
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.guard.check(req.extensions().get::<Identity>()) {
            Ok(()) => Either::Right(self.inner.call(req)),
            Err(error) => Either::Left(ready(Ok(self.guard.rejection.response(&error)))),
        }
    }
}
