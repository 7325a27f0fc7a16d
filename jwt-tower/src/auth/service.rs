//! [`JwtService`]: extract, verify, authorize, then call the inner service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{JwtLayer, Mode, ResponseFuture};
use crate::reject::OnRejection;
use crate::token::TokenExtractor;
use crate::{AuthError, RejectionKind, VerifiedToken};

/// The service made by [`JwtLayer`].
pub struct JwtService<S, C, R> {
    pub(crate) inner: S,
    pub(crate) layer: Arc<JwtLayer<C, R>>,
}

impl<S: Clone, C, R> Clone for JwtService<S, C, R> {
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

impl<C: DeserializeOwned + Send + Sync + 'static, R> JwtLayer<C, R> {
    /// Finds, verifies and authorizes the request's token. `Ok(None)`: optional mode and
    /// no token.
    fn authenticate<B>(&self, req: &Request<B>) -> Result<Option<VerifiedToken<C>>, AuthError> {
        let outside_verify = |error: AuthError| {
            self.verifier.record_rejection(error.kind());
            error
        };
        // With the default source, `Authorization: Bearer` alone, the token is verified
        // before any check of its characters: a token that verifies has only base64url
        // characters and dots, so it passed them all (see `Verifier::verify_unchecked`),
        // and they are checked only to blame the right party when it fails. A client
        // reusing its token (the common case) is answered from the verifier's cache, if
        // it has one. Every other request takes the full path below.
        if let Some(raw) = self.extractor.sole_bearer_unchecked(req.headers()) {
            let verified = self
                .verifier
                .verify_unchecked(raw, |e| TokenExtractor::blame_unchecked(raw, e))?;
            self.policy.check(&verified).map_err(outside_verify)?;
            return Ok(Some(verified));
        }
        let token = self
            .extractor
            .extract(req.headers(), req.uri())
            .map_err(outside_verify)?;
        let Some(token) = token else {
            return match self.mode {
                Mode::Optional => Ok(None),
                Mode::Required => Err(outside_verify(AuthError::new(RejectionKind::MissingToken))),
            };
        };
        let verified = self.verifier.verify(&token)?;
        self.policy.check(&verified).map_err(outside_verify)?;
        Ok(Some(verified))
    }

    /// Puts the identity in the request for the inner service.
    fn admit<B>(req: &mut Request<B>, verified: Option<VerifiedToken<C>>) {
        if let Some(verified) = verified {
            tracing::trace!(sub = verified.subject(), "jwt accepted");
            let extensions = req.extensions_mut();
            extensions.insert(verified.identity());
            extensions.insert(verified);
        }
    }

    /// The refusal response, logged with its kind.
    fn refuse<B, ResBody>(&self, req: &Request<B>, error: &AuthError) -> Response<ResBody>
    where
        R: OnRejection<ResBody>,
    {
        tracing::debug!(
            kind = %error.kind(),
            category = ?error.category(),
            method = %req.method(),
            path = req.uri().path(),
            "jwt rejected"
        );
        self.on_rejection.on_rejection(error)
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtService<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    C: DeserializeOwned + Send + Sync + 'static,
    R: OnRejection<ResBody> + Clone + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let error = match self.layer.authenticate(&req) {
            Ok(verified) => {
                #[cfg(feature = "propagate")]
                let identity = verified.as_ref().map(VerifiedToken::identity);
                JwtLayer::<C, R>::admit(&mut req, verified);
                // The common path is synchronous: the service polled ready is called now,
                // with the caller's identity in scope for its call and its future.
                #[cfg(feature = "propagate")]
                if let Some(identity) = identity {
                    let future =
                        crate::propagate::sync_scope(identity.clone(), || self.inner.call(req));
                    return ResponseFuture::scoped(crate::propagate::scope(identity, future));
                }
                return ResponseFuture::inner(self.inner.call(req));
            }
            Err(error) => error,
        };
        let wait = match error.kind() {
            RejectionKind::UnknownKey | RejectionKind::KeysUnavailable => {
                let token = self.layer.extractor.extract(req.headers(), req.uri());
                token
                    .ok()
                    .flatten()
                    .and_then(|token| self.layer.verifier.wait_for_keys(&token, &error))
            }
            _ => None,
        };
        let Some(wait) = wait else {
            return ResponseFuture::rejected(self.layer.refuse(&req, &error));
        };
        // The rare path: this request started a key fetch (or keys were never loaded), so
        // it waits for it, then is authenticated again. The service polled ready moves
        // into the future and a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        ResponseFuture::waiting(Box::pin(async move {
            wait.await;
            match layer.authenticate(&req) {
                Ok(verified) => {
                    #[cfg(feature = "propagate")]
                    if let Some(identity) = verified.as_ref().map(VerifiedToken::identity) {
                        JwtLayer::<C, R>::admit(&mut req, verified);
                        let future =
                            crate::propagate::sync_scope(identity.clone(), || inner.call(req));
                        return crate::propagate::scope(identity, future).await;
                    }
                    JwtLayer::<C, R>::admit(&mut req, verified);
                    inner.call(req).await
                }
                Err(error) => Ok(layer.refuse(&req, &error)),
            }
        }))
    }
}
