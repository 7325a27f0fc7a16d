//! [`JwtService`]: authenticate, then call the inner service or refuse.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::refusal::Refuse;
use super::{Admission, JwtLayer, Refusal, ResponseFuture};
use crate::reject::OnRejection;
use crate::{AuthError, VerifiedToken};

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

/// Puts the identity and the layer's [`Refusal`] in the request for what is behind it.
fn admit<C, B, ResBody>(
    req: &mut Request<B>,
    verified: Option<VerifiedToken<C>>,
    refusal: Arc<dyn Refuse<ResBody>>,
) where
    C: Send + Sync + 'static,
    ResBody: 'static,
{
    let extensions = req.extensions_mut();
    extensions.insert(Refusal::new(refusal));
    if let Some(verified) = verified {
        tracing::trace!(sub = verified.subject(), "jwt accepted");
        extensions.insert(verified.identity());
        extensions.insert(verified);
    }
}

/// The refusal response, logged with its kind and the request it refuses.
fn refuse<B, C, R, ResBody>(
    layer: &JwtLayer<C, R>,
    req: &Request<B>,
    error: &AuthError,
) -> Response<ResBody>
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
    let mut response = layer.on_rejection.on_rejection(error);
    crate::unread_body::close_if_body_unread(req.version(), req.headers(), &mut response);
    response
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
        if self.layer.lets_through(&req) {
            admit::<C, _, _>(&mut req, None, self.layer.clone());
            return ResponseFuture::inner(self.inner.call(req));
        }
        let authenticator = &self.layer.authenticator;
        let error = match authenticator.authenticate(&req) {
            Ok(Admission::Admitted(verified)) => {
                #[cfg(feature = "propagate")]
                let identity = verified.as_ref().map(VerifiedToken::identity);
                admit(&mut req, verified, self.layer.clone());
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
            Ok(pending @ Admission::Pending(_)) => {
                // A DPoP request: its proof is reserved in the store before the inner
                // service sees it, so the call waits, as for keys.
                let inner = self.take_inner();
                let layer = self.layer.clone();
                return ResponseFuture::waiting(Box::pin(async move {
                    admitted(layer, inner, req, pending).await
                }));
            }
            Err(error) => error,
        };
        let Some(wait) = authenticator.wait_for_keys(&req, &error) else {
            return ResponseFuture::rejected(refuse(&self.layer, &req, &error));
        };
        // The rare path: this request started a key fetch (or keys were never loaded), so
        // it waits for it, then is authenticated again.
        let inner = self.take_inner();
        let layer = self.layer.clone();
        ResponseFuture::waiting(Box::pin(async move {
            wait.await;
            match layer.authenticator.authenticate(&req) {
                Ok(admission) => admitted(layer, inner, req, admission).await,
                Err(error) => Ok(refuse(&layer, &req, &error)),
            }
        }))
    }
}

impl<S: Clone, C, R> JwtService<S, C, R> {
    /// The service polled ready, to move into a future; a fresh clone takes its place.
    fn take_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// The slow path's end: reserves a DPoP proof if there is one, then calls `inner` with
/// the identity in scope; a fresh `DPoP-Nonce`, when due, goes on the response.
async fn admitted<S, C, R, ReqBody, ResBody>(
    layer: Arc<JwtLayer<C, R>>,
    mut inner: S,
    mut req: Request<ReqBody>,
    admission: Admission<C>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: DeserializeOwned + Send + Sync + 'static,
    R: OnRejection<ResBody> + Send + Sync + 'static,
    ResBody: 'static,
{
    let nonce = match &admission {
        Admission::Pending(pending) => pending.fresh_nonce().map(str::to_owned),
        Admission::Admitted(_) => None,
    };
    let verified = match layer.authenticator.admit(admission).await {
        Ok(verified) => verified,
        Err(error) => return Ok(refuse(&layer, &req, &error)),
    };
    #[cfg(feature = "propagate")]
    let identity = verified.as_ref().map(VerifiedToken::identity);
    admit(&mut req, verified, layer.clone());
    #[cfg(feature = "propagate")]
    let mut response = match identity {
        Some(identity) => {
            let future = crate::propagate::sync_scope(identity.clone(), || inner.call(req));
            crate::propagate::scope(identity, future).await?
        }
        None => inner.call(req).await?,
    };
    #[cfg(not(feature = "propagate"))]
    let mut response = inner.call(req).await?;
    if let Some(nonce) = nonce.and_then(|n| http::HeaderValue::from_str(&n).ok()) {
        response
            .headers_mut()
            .insert(crate::reject::DPOP_NONCE, nonce);
    }
    Ok(response)
}
