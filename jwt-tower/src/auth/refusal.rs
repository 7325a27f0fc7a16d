//! [`Refusal`]: the layer's refusal, left in every admitted request's extensions so that
//! guards and extractors further in refuse as the layer does.

use std::sync::Arc;

use http::Response;

use crate::AuthError;

/// What a [`Refusal`] reaches: the layer that admitted the request.
pub(crate) trait Refuse<B>: Send + Sync {
    /// Counts `error` in the verifier's metrics, logs it, and renders it with the layer's
    /// rejection (its realm, its form: RFC 6750, gRPC, or the caller's own).
    fn refuse(&self, error: &AuthError) -> Response<B>;
    /// `std::any::type_name` of the claims type the layer verifies.
    fn claims_type(&self) -> &'static str;
}

/// The refusal of the [`JwtLayer`](crate::JwtLayer) a request went through, found in the
/// request's extensions (responses with body `B`). A guard or extractor behind the layer
/// refuses through it, so every refusal is counted in one
/// [`metrics`](crate::Verifier::metrics), challenged with one realm and rendered by one
/// [`OnRejection`](crate::reject::OnRejection).
///
/// ```
/// use bytes::Bytes;
/// use http::Request;
/// use jwt_tower::auth::Refusal;
/// use jwt_tower::{AuthError, RejectionKind};
///
/// fn guard<B>(request: &Request<B>) -> Option<http::Response<Bytes>> {
///     let refusal = request.extensions().get::<Refusal<Bytes>>()?;
///     Some(refusal.refuse(&AuthError::insufficient_scope("admin")))
/// }
/// assert!(guard(&Request::new(())).is_none());
/// ```
pub struct Refusal<B> {
    layer: Arc<dyn Refuse<B>>,
}

impl<B> Clone for Refusal<B> {
    fn clone(&self) -> Self {
        Self {
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<B> std::fmt::Debug for Refusal<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal")
            .field("claims_type", &self.layer.claims_type())
            .finish_non_exhaustive()
    }
}

impl<B> Refusal<B> {
    pub(crate) fn new(layer: Arc<dyn Refuse<B>>) -> Self {
        Self { layer }
    }

    /// The layer's response for `error`, counted in its verifier's metrics and logged.
    #[must_use]
    pub fn refuse(&self, error: &AuthError) -> Response<B> {
        self.layer.refuse(error)
    }

    /// [`refuse`](Self::refuse), for a guard that refuses `request` without reading its
    /// body: on HTTP/1, a request with a body gets `Connection: close` too, so that a
    /// keep-alive client does not send its next request on a connection the server
    /// closes because the body was left unread.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::Request;
    /// use jwt_tower::AuthError;
    /// use jwt_tower::auth::Refusal;
    ///
    /// fn guard<B>(request: &Request<B>) -> Option<http::Response<Bytes>> {
    ///     let refusal = request.extensions().get::<Refusal<Bytes>>()?;
    ///     Some(refusal.refuse_unread(request, &AuthError::insufficient_scope("admin")))
    /// }
    /// assert!(guard(&Request::new(())).is_none());
    /// ```
    #[must_use]
    pub fn refuse_unread<R>(&self, request: &http::Request<R>, error: &AuthError) -> Response<B> {
        let mut response = self.layer.refuse(error);
        crate::unread_body::close_if_body_unread(
            request.version(),
            request.headers(),
            &mut response,
        );
        response
    }

    /// The name of the claims type the layer verifies (`std::any::type_name`), to name
    /// it when a handler asks for another.
    #[must_use]
    pub fn claims_type(&self) -> &'static str {
        self.layer.claims_type()
    }
}
