//! The HTTP form of an [`AuthError`] (RFC 6750 §3), and the hook to replace it.
//!
//! | kind | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no token | 401 | `Bearer realm="…"` |
//! | malformed request | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | bad token | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | policy not met | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…", scope="…"` |
//! | keys not loaded, revocation list out of step | 503 + `Retry-After` | none |
//!
//! The body is JSON: `{"error": "…", "error_description": "…"}`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::{AuthError, ErrorCategory};

/// The status code for an error.
#[must_use]
pub fn status(error: &AuthError) -> StatusCode {
    match error.category() {
        ErrorCategory::MissingToken | ErrorCategory::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCategory::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCategory::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCategory::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Keeps only the characters RFC 6750 allows in a quoted attribute
/// (`%x20-21 / %x23-5B / %x5D-7E`).
fn quoted_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect()
}

/// The `WWW-Authenticate` challenge for an error, if its category has one.
///
/// ```
/// use jwt_tower::{AuthError, RejectionKind, reject};
/// let h = reject::www_authenticate(&AuthError::new(RejectionKind::Expired), "api").unwrap();
/// assert_eq!(h, r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#);
/// let h = reject::www_authenticate(&AuthError::new(RejectionKind::MissingToken), "api").unwrap();
/// assert_eq!(h, r#"Bearer realm="api""#);
/// ```
#[must_use]
pub fn www_authenticate(error: &AuthError, realm: &str) -> Option<HeaderValue> {
    let category = error.category();
    if category == ErrorCategory::Unavailable {
        return None;
    }
    let mut challenge = format!("Bearer realm=\"{}\"", quoted_safe(realm));
    if let Some(code) = category.error_code() {
        challenge.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quoted_safe(error.description())
        ));
    }
    if let Some(scope) = error.required_scope() {
        challenge.push_str(&format!(", scope=\"{}\"", quoted_safe(scope)));
    }
    HeaderValue::from_str(&challenge).ok()
}

/// The JSON body for an error: `{"error": …, "error_description": …}`. `error` is the
/// RFC 6750 code where there is one, else the kind's name (`missing_token`,
/// `keys_unavailable`, `revocations_out_of_step`).
#[must_use]
pub fn json_body(error: &AuthError) -> String {
    let code = error
        .category()
        .error_code()
        .unwrap_or_else(|| error.kind().as_str());
    serde_json::json!({ "error": code, "error_description": error.description() }).to_string()
}

/// Turns a refusal into a response. The layer calls it for every rejected request.
///
/// Implemented by [`DefaultRejection`] (RFC 6750) and by any
/// `Fn(&AuthError) -> Response<B> + Clone`, to replace the response entirely.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot answer a refusal with a `Response<{B}>`",
    label = "no rejection response for this body type",
    note = "on a tonic server, use `jwt_tonic::GrpcAuthLayer::new(verifier)` (or \
            `JwtLayer::new(verifier).on_rejection(jwt_tonic::GrpcRejection)`): gRPC clients \
            need a `grpc-status`, and `JwtLayer`'s HTTP 401 reaches them as UNKNOWN",
    note = "otherwise the response body must implement `From<bytes::Bytes>`, or give \
            `.on_rejection(|error: &AuthError| -> Response<{B}> {{ … }})`"
)]
pub trait OnRejection<B> {
    /// The response for `error`.
    fn on_rejection(&self, error: &AuthError) -> Response<B>;
}

impl<B, F> OnRejection<B> for F
where
    F: Fn(&AuthError) -> Response<B>,
{
    fn on_rejection(&self, error: &AuthError) -> Response<B> {
        self(error)
    }
}

/// The RFC 6750 response: status, `WWW-Authenticate` (or `Retry-After` for 503) and a
/// JSON body, for any body type that can be built from `Bytes`.
#[derive(Debug, Clone)]
pub struct DefaultRejection {
    realm: Arc<str>,
    retry_after_secs: u32,
}

impl Default for DefaultRejection {
    fn default() -> Self {
        Self {
            realm: Arc::from("api"),
            retry_after_secs: 5,
        }
    }
}

impl DefaultRejection {
    /// The realm named in challenges (default `"api"`).
    #[must_use]
    pub fn realm(mut self, realm: impl Into<Arc<str>>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The `Retry-After` seconds sent with 503 (default 5).
    #[must_use]
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// The response for `error`, with any body built from bytes.
    pub fn response<B: From<Bytes>>(&self, error: &AuthError) -> Response<B> {
        let mut response = Response::new(B::from(Bytes::from(json_body(error))));
        *response.status_mut() = status(error);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = www_authenticate(error, &self.realm) {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if error.category() == ErrorCategory::Unavailable {
            headers.insert(RETRY_AFTER, HeaderValue::from(self.retry_after_secs));
        }
        response
    }
}

impl<B: From<Bytes>> OnRejection<B> for DefaultRejection {
    fn on_rejection(&self, error: &AuthError) -> Response<B> {
        self.response(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectionKind;

    #[test]
    fn every_category_has_its_form() {
        let r = DefaultRejection::default();
        let cases = [
            (
                RejectionKind::MissingToken,
                401,
                Some(r#"Bearer realm="api""#),
            ),
            (RejectionKind::MultipleTokens, 400, None),
            (RejectionKind::InvalidSignature, 401, None),
            (RejectionKind::InsufficientScope, 403, None),
            (RejectionKind::KeysUnavailable, 503, None),
            (RejectionKind::RevocationsOutOfStep, 503, None),
        ];
        for (kind, code, exact) in cases {
            let resp: Response<Bytes> = r.response(&AuthError::new(kind));
            assert_eq!(resp.status().as_u16(), code, "{kind}");
            let challenge = resp.headers().get(WWW_AUTHENTICATE);
            if let Some(exact) = exact {
                assert_eq!(challenge.unwrap(), exact);
            }
            match kind.category().error_code() {
                Some(code) => assert!(challenge.unwrap().to_str().unwrap().contains(code)),
                None if kind.category() == ErrorCategory::Unavailable => {
                    assert!(challenge.is_none());
                    assert_eq!(resp.headers()[RETRY_AFTER], "5");
                }
                None => {}
            }
        }
    }

    #[test]
    fn scope_is_named_and_descriptions_are_sanitised() {
        let err = AuthError::insufficient_scope("admin write");
        let h = www_authenticate(&err, "r\"x").unwrap();
        assert!(h.to_str().unwrap().ends_with(r#"scope="admin write""#));
        assert!(h.to_str().unwrap().starts_with(r#"Bearer realm="r?x""#));
        let err = AuthError::with_description(RejectionKind::Rejected, "bad \"tenant\"\n");
        let h = www_authenticate(&err, "api").unwrap();
        assert!(
            h.to_str()
                .unwrap()
                .contains(r#"error_description="bad ?tenant??""#)
        );
    }
}
