//! [`JwtService`]: extract, verify, authorize, then call the inner service.

use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{JwtLayer, Mode, ResponseFuture};
use crate::reject::OnRejection;
use crate::{AuthError, RejectionKind, VerifiedToken};

/// The service made by [`JwtLayer`].
pub struct JwtService<S, C, R> {
    pub(crate) inner: S,
    pub(crate) layer: JwtLayer<C, R>,
}

impl<S: Clone, C, R: Clone> Clone for JwtService<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: std::fmt::Debug, C, R> std::fmt::Debug for JwtService<S, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, C, R> JwtService<S, C, R>
where
    C: DeserializeOwned,
{
    /// Finds, verifies and authorizes the request's token. `Ok(None)`: optional mode and
    /// no token.
    fn authenticate<B>(&self, req: &Request<B>) -> Result<Option<VerifiedToken<C>>, AuthError> {
        let layer = &self.layer;
        let token = layer.extractor.extract(req.headers(), req.uri())?;
        let Some(token) = token else {
            return match layer.mode {
                Mode::Optional => Ok(None),
                Mode::Required => Err(AuthError::new(RejectionKind::MissingToken)),
            };
        };
        let verified = layer.verifier.verify(&token)?;
        layer.policy.check(&verified)?;
        Ok(Some(verified))
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtService<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: DeserializeOwned + Send + Sync + 'static,
    R: OnRejection<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.authenticate(&req) {
            Ok(verified) => {
                if let Some(verified) = verified {
                    tracing::trace!(sub = verified.subject(), "jwt accepted");
                    let extensions = req.extensions_mut();
                    extensions.insert(verified.identity());
                    extensions.insert(verified);
                }
                // Authentication is synchronous, so the service polled ready is the one
                // called: no clone-and-swap is needed on this path.
                ResponseFuture::inner(self.inner.call(req))
            }
            Err(error) => {
                tracing::debug!(
                    kind = %error.kind(),
                    category = ?error.category(),
                    method = %req.method(),
                    path = req.uri().path(),
                    "jwt rejected"
                );
                ResponseFuture::rejected(self.layer.on_rejection.on_rejection(&error))
            }
        }
    }
}
