//! Refusing a request without reading its body, on a connection that stays usable.
//!
//! A refusal is sent before the request body is read (reading it would let anyone
//! without a token make the server take in their upload). hyper then closes the HTTP/1
//! connection after the response if the rest of the body has not arrived yet, without
//! saying so: a keep-alive client (an MCP client whose first `POST` is refused, say)
//! sends its next request on that connection and sees it closed under it. Saying
//! `Connection: close` in the refusal makes the client open a new connection instead.

use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Response, Version};

/// Adds `Connection: close` to `response`, a refusal sent without reading the body of
/// an HTTP/1 request of `version` with `headers`, when that request has a body.
pub(crate) fn close_if_body_unread<B>(
    version: Version,
    headers: &HeaderMap,
    response: &mut Response<B>,
) {
    let http1 = version == Version::HTTP_10 || version == Version::HTTP_11;
    if http1 && has_body(headers) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Whether an HTTP/1 request with these headers has a body (RFC 9112 §6.3): a
/// `Transfer-Encoding`, or a `Content-Length` other than zero.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .any(|length| length.as_bytes() != b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closes(version: Version, headers: &[(&str, &str)]) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut response = Response::new(());
        close_if_body_unread(version, &map, &mut response);
        response.headers().get(CONNECTION).is_some()
    }

    #[test]
    fn a_request_with_a_body_closes_its_http1_connection() {
        assert!(closes(Version::HTTP_11, &[("content-length", "42")]));
        assert!(closes(
            Version::HTTP_11,
            &[("transfer-encoding", "chunked")]
        ));
        assert!(closes(Version::HTTP_10, &[("content-length", "1")]));
    }

    #[test]
    fn a_request_without_a_body_keeps_its_connection() {
        assert!(!closes(Version::HTTP_11, &[]));
        assert!(!closes(Version::HTTP_11, &[("content-length", "0")]));
    }

    #[test]
    fn http2_streams_are_not_connections() {
        assert!(!closes(Version::HTTP_2, &[("content-length", "42")]));
    }
}
