//! What a [`PropagateLayer`](super::PropagateLayer) reads of a response and keeps of a
//! request: the response's status and headers (a server's DPoP nonce), and a copy of a
//! request whose body can be copied (to send it again with that nonce).

use std::any::Any;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};

/// The status and headers of a response, for a [`PropagateLayer`](super::PropagateLayer)
/// to read the `DPoP-Nonce` a server sends and its `use_dpop_nonce` challenge.
///
/// Implemented for [`http::Response`], what every `http` client service (a tonic
/// `Channel`, a hyper client) returns. A client service answering something else (a
/// status code, a test's stand-in) implements it with the default method: no headers,
/// so no nonce is learnt from its answers.
///
/// ```
/// use jwt_tower::propagate::ResponseHead;
///
/// /// What a client wrapper returns: the parsed body only.
/// struct Orders(Vec<String>);
/// impl ResponseHead for Orders {}
///
/// assert!(Orders(vec![]).head().is_none());
/// let response = http::Response::builder().status(401).body(()).unwrap();
/// assert_eq!(response.head().unwrap().0, http::StatusCode::UNAUTHORIZED);
/// ```
pub trait ResponseHead {
    /// The status and headers, if this response has them.
    fn head(&self) -> Option<(StatusCode, &HeaderMap)> {
        None
    }
}

impl<B> ResponseHead for http::Response<B> {
    fn head(&self) -> Option<(StatusCode, &HeaderMap)> {
        Some((self.status(), self.headers()))
    }
}

impl ResponseHead for StatusCode {}
impl ResponseHead for () {}
impl ResponseHead for String {}
impl ResponseHead for HeaderMap {}
impl<T> ResponseHead for Option<T> {}
impl<T: ResponseHead, E> ResponseHead for Result<T, E> {
    fn head(&self) -> Option<(StatusCode, &HeaderMap)> {
        self.as_ref().ok()?.head()
    }
}

/// A copy of `req` to send again, if its body is one of the types that can be copied
/// (no body, or a complete one in memory): `()`, `String`, `Vec<u8>`, `Bytes`,
/// `&'static str`, `&'static [u8]`, http-body-util's `Full<Bytes>` and `Empty<Bytes>`.
/// A streaming body (a tonic call's, a hyper `Incoming`) cannot be sent twice.
pub(super) fn copy<B: 'static>(req: &Request<B>) -> Option<Request<B>> {
    let body = copy_body(req.body())?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

fn copy_body<B: 'static>(body: &B) -> Option<B> {
    fn as_b<T: Clone + 'static, B: 'static>(body: &dyn Any) -> Option<B> {
        let copy: Box<dyn Any> = Box::new(body.downcast_ref::<T>()?.clone());
        copy.downcast::<B>().ok().map(|b| *b)
    }
    let body = body as &dyn Any;
    as_b::<(), B>(body)
        .or_else(|| as_b::<String, B>(body))
        .or_else(|| as_b::<Vec<u8>, B>(body))
        .or_else(|| as_b::<Bytes, B>(body))
        .or_else(|| as_b::<&'static str, B>(body))
        .or_else(|| as_b::<&'static [u8], B>(body))
        .or_else(|| as_b::<http_body_util::Full<Bytes>, B>(body))
        .or_else(|| as_b::<http_body_util::Empty<Bytes>, B>(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_memory_are_copied_and_streams_are_not() {
        let req = Request::post("https://a.example/x?y")
            .header("x-a", "1")
            .body(String::from("payload"))
            .unwrap();
        let copied = copy(&req).unwrap();
        assert_eq!(copied.body(), "payload");
        assert_eq!(copied.uri(), req.uri());
        assert_eq!(copied.method(), req.method());
        assert_eq!(copied.headers()["x-a"], "1");
        assert!(copy(&Request::new(())).is_some());
        assert!(copy(&Request::new(Bytes::from_static(b"b"))).is_some());
        assert!(copy(&Request::new(http_body_util::Full::new(Bytes::new()))).is_some());
        // A body of a type it does not know: no copy.
        struct Stream;
        assert!(copy(&Request::new(Stream)).is_none());
    }
}
