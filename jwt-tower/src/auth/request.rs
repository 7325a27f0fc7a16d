//! [`RequestView`]: what the authenticator reads of a request.

use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Request, Uri};

/// The parts of a request the [`Authenticator`](super::Authenticator) reads: the method
/// and URI (a DPoP proof names both), the headers (the token, the proof), and the
/// extensions (a [`ClientCertificate`](crate::confirmation::ClientCertificate) the
/// server put there). Built from a request or its parts.
///
/// ```
/// use jwt_tower::auth::RequestView;
///
/// let request = http::Request::post("/orders").body(()).unwrap();
/// let view = RequestView::from(&request);
/// assert_eq!(view.method(), http::Method::POST);
/// assert_eq!(view.uri().path(), "/orders");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestView<'a> {
    /// A view of these parts, for a request that is not an `http::Request` (a gRPC
    /// call's metadata, for one).
    #[must_use]
    pub fn new(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        extensions: &'a Extensions,
    ) -> Self {
        Self {
            method,
            uri,
            headers,
            extensions,
        }
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The URI.
    #[must_use]
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The headers.
    #[must_use]
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The extensions.
    #[must_use]
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }
}

impl<'a, B> From<&'a Request<B>> for RequestView<'a> {
    fn from(request: &'a Request<B>) -> Self {
        Self::new(
            request.method(),
            request.uri(),
            request.headers(),
            request.extensions(),
        )
    }
}

impl<'a> From<&'a Parts> for RequestView<'a> {
    fn from(parts: &'a Parts) -> Self {
        Self::new(&parts.method, &parts.uri, &parts.headers, &parts.extensions)
    }
}
