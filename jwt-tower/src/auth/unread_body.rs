//! Answering a request whose body was never read.
//!
//! A middleware that refuses a request answers without reading its body. hyper then drains
//! what has arrived and, if more is coming, closes the connection after the response. A
//! keep-alive client that was not told sends its next request on that connection and loses
//! it (an MCP client's discovery, right after its first 401, is such a request).

use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderValue, Request, Response, Version};

/// Adds `Connection: close` to `response` when `req` (HTTP/1) says it has a body, which
/// the caller answers without reading.
pub(crate) fn close_if_body_unread<B, R>(req: &Request<B>, response: &mut Response<R>) {
    let headers = req.headers();
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    // HTTP/2 has no `Connection` header: a stream is reset, not the connection.
    if has_body && req.version() <= Version::HTTP_11 {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(req: Request<()>) -> Option<HeaderValue> {
        let mut response = Response::new(());
        close_if_body_unread(&req, &mut response);
        response.headers().get(CONNECTION).cloned()
    }

    #[test]
    fn only_an_http1_request_with_a_body_closes() {
        let with = |name, value| Request::post("/").header(name, value).body(()).unwrap();
        assert_eq!(answered(with(CONTENT_LENGTH, "2")).unwrap(), "close");
        assert_eq!(
            answered(with(TRANSFER_ENCODING, "chunked")).unwrap(),
            "close"
        );
        assert_eq!(answered(with(CONTENT_LENGTH, "0")), None);
        assert_eq!(answered(Request::get("/").body(()).unwrap()), None);
        let h2 = Request::post("/")
            .version(Version::HTTP_2)
            .header(CONTENT_LENGTH, "2")
            .body(())
            .unwrap();
        assert_eq!(answered(h2), None);
    }
}
