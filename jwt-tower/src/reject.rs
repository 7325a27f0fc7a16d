//! The HTTP form of an [`AuthError`] (RFC 6750 §3), and the hook to replace it.
//!
//! | kind | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no token | 401 | `Bearer realm="…"` |
//! | malformed request | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | bad token (an inactive one too, by introspection) | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | policy not met | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…", scope="…"` |
//! | keys not loaded, revocation list out of step, introspection endpoint unavailable | 503 + `Retry-After` | none |
//!
//! With [`DefaultRejection::resource_metadata`] (or the authenticator's or layer's
//! `resource_metadata`), every challenge also ends with
//! `resource_metadata="<metadata URL>"` (RFC 9728 §5.1).
//!
//! With DPoP allowed or required (the refusal carries a
//! [`DpopChallenge`](crate::dpop::DpopChallenge)), the answer follows RFC 9449 §7.1: a
//! `DPoP` challenge with `algs` (after the Bearer one when DPoP is allowed, alone when
//! it is required), the error in the challenge of the scheme at fault:
//!
//! | kind | status | error |
//! |---|---|---|
//! | bad or missing proof, replay, key not the token's | 401 | `invalid_dpop_proof` (DPoP) |
//! | nonce missing or not current | 401 + `DPoP-Nonce` | `use_dpop_nonce` (DPoP) |
//! | two proof headers | 400 | `invalid_request` |
//! | DPoP-bound token as Bearer, Bearer where DPoP is required, certificate not presented | 401 | `invalid_token` |
//! | replay store unavailable | 503 + `Retry-After` | none |
//!
//! The body is JSON: `{"error": "…", "error_description": "…"}`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::dpop::DpopMode;
use crate::{AuthError, ErrorCategory, ProtectedResourceMetadata};

/// The response header carrying a server nonce (RFC 9449 §8.1).
pub const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// The status code for an error.
#[must_use]
pub fn status(error: &AuthError) -> StatusCode {
    match error.category() {
        ErrorCategory::MissingToken
        | ErrorCategory::InvalidToken
        | ErrorCategory::InvalidDpopProof
        | ErrorCategory::UseDpopNonce => StatusCode::UNAUTHORIZED,
        ErrorCategory::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCategory::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCategory::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Keeps only the characters RFC 6750 allows in a quoted attribute
/// (`%x20-21 / %x23-5B / %x5D-7E`).
fn quoted_safe(s: &str) -> String {
    s.chars()
        .map(|c| if quotable_char(c) { c } else { '?' })
        .collect()
}

/// A character RFC 6750 §3 allows inside a quoted parameter value, where it is taken
/// as is (no `quoted-pair`): `%x20-21 / %x23-5B / %x5D-7E`.
fn quotable_char(c: char) -> bool {
    matches!(c, ' '..='~') && c != '"' && c != '\\'
}

/// A `WWW-Authenticate: Bearer` challenge, one `name="value"` parameter at a time
/// (RFC 6750 §3, RFC 9110 §11.2). Every value is quotable: checked when configured, or
/// replaced by [`quoted_safe`].
struct Challenge {
    text: String,
    scheme_len: usize,
}

impl Challenge {
    fn new(scheme: &str) -> Self {
        Self {
            text: String::from(scheme),
            scheme_len: scheme.len(),
        }
    }

    fn param(mut self, name: &str, value: &str) -> Self {
        debug_assert!(value.chars().all(quotable_char), "{name} is not quotable");
        let separator = if self.text.len() == self.scheme_len {
            " "
        } else {
            ", "
        };
        let text = &mut self.text;
        text.push_str(separator);
        text.push_str(name);
        text.push_str("=\"");
        text.push_str(value);
        text.push('"');
        self
    }
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
    challenge(error, realm, None)
}

/// The challenge with every parameter this crate sends: `realm`, then `error` and
/// `error_description` (RFC 6750 §3), `scope` for `insufficient_scope` (the scopes the
/// operation needs), and `resource_metadata` when configured (RFC 9728 §5.1).
fn challenge(
    error: &AuthError,
    realm: &str,
    resource_metadata: Option<&str>,
) -> Option<HeaderValue> {
    challenges(error, realm, resource_metadata)
        .into_iter()
        .next()
}

/// Every challenge for `error`, in order. Without DPoP, one `Bearer` challenge. With
/// DPoP allowed, `Bearer` then `DPoP` (some clients read parameters by pattern over
/// the whole header, so the Bearer one comes first); with DPoP required, `DPoP` alone.
/// The error is reported in the challenge of the scheme at fault: `DPoP` for a proof,
/// for a request in the `DPoP` scheme and when DPoP is required, else `Bearer`.
fn challenges(error: &AuthError, realm: &str, resource_metadata: Option<&str>) -> Vec<HeaderValue> {
    let category = error.category();
    if category == ErrorCategory::Unavailable {
        return Vec::new();
    }
    let dpop = error.dpop().filter(|d| d.mode() != DpopMode::Off);
    let Some(dpop) = dpop else {
        return one("Bearer", Some(error), realm, None, resource_metadata)
            .into_iter()
            .collect();
    };
    let on_dpop = matches!(
        category,
        ErrorCategory::InvalidDpopProof | ErrorCategory::UseDpopNonce
    ) || dpop.is_dpop_request()
        || dpop.mode() == DpopMode::Required;
    let mut out = Vec::with_capacity(2);
    if dpop.mode() == DpopMode::Allowed {
        out.extend(one(
            "Bearer",
            (!on_dpop).then_some(error),
            realm,
            None,
            resource_metadata,
        ));
    }
    out.extend(one(
        "DPoP",
        on_dpop.then_some(error),
        realm,
        Some(dpop.algs()),
        resource_metadata,
    ));
    out
}

/// One challenge: `realm`, the error's `error`, `error_description` and `scope` when it
/// is reported here, `algs` for DPoP, then `resource_metadata`.
fn one(
    scheme: &str,
    error: Option<&AuthError>,
    realm: &str,
    algs: Option<&str>,
    resource_metadata: Option<&str>,
) -> Option<HeaderValue> {
    let mut challenge = Challenge::new(scheme).param("realm", &quoted_safe(realm));
    if let Some(error) = error {
        if let Some(code) = error.category().error_code() {
            challenge = challenge
                .param("error", code)
                .param("error_description", &quoted_safe(error.description()));
        }
        if let Some(scope) = error.required_scope() {
            challenge = challenge.param("scope", &quoted_safe(scope));
        }
    }
    if let Some(algs) = algs {
        challenge = challenge.param("algs", &quoted_safe(algs));
    }
    if let Some(url) = resource_metadata {
        challenge = challenge.param("resource_metadata", url);
    }
    HeaderValue::from_str(&challenge.text).ok()
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
    resource_metadata: Option<Arc<str>>,
    retry_after_secs: u32,
}

impl Default for DefaultRejection {
    fn default() -> Self {
        Self {
            realm: Arc::from("api"),
            resource_metadata: None,
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

    /// Names `metadata`'s URL as `resource_metadata` in every 401 and 403 challenge
    /// (RFC 9728 §5.1), so that a client can find where to get a token. Unset by default.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use jwt_tower::reject::DefaultRejection;
    /// use jwt_tower::{AuthError, ProtectedResourceMetadata};
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp").build()?;
    /// let rejection = DefaultRejection::default().resource_metadata(&metadata);
    /// let response = rejection.response::<Bytes>(&AuthError::insufficient_scope("orders.write"));
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     "Bearer realm=\"api\", error=\"insufficient_scope\", \
    ///      error_description=\"the token lacks the privileges this resource requires\", scope=\"orders.write\", \
    ///      resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource/mcp\""
    /// );
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn resource_metadata(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.resource_metadata = Some(Arc::from(metadata.metadata_url()));
        self
    }

    /// The `WWW-Authenticate` challenge for `error` with this rejection's parameters, if
    /// its category has one (none for 503); the first of
    /// [`www_authenticate_all`](Self::www_authenticate_all).
    #[must_use]
    pub fn www_authenticate(&self, error: &AuthError) -> Option<HeaderValue> {
        challenge(error, &self.realm, self.resource_metadata.as_deref())
    }

    /// Every `WWW-Authenticate` challenge for `error`, one header field each: `Bearer`,
    /// and `DPoP` beside or instead of it when the refusal carries a
    /// [`DpopChallenge`](crate::dpop::DpopChallenge).
    #[must_use]
    pub fn www_authenticate_all(&self, error: &AuthError) -> Vec<HeaderValue> {
        challenges(error, &self.realm, self.resource_metadata.as_deref())
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
        for challenge in self.www_authenticate_all(error) {
            headers.append(WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = error.dpop().and_then(|d| d.nonce())
            && let Ok(nonce) = HeaderValue::from_str(nonce)
        {
            headers.insert(DPOP_NONCE, nonce);
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
            (RejectionKind::InactiveToken, 401, None),
            (RejectionKind::IntrospectionUnavailable, 503, None),
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
    fn with_metadata(resource: &str) -> DefaultRejection {
        let metadata = ProtectedResourceMetadata::builder(resource)
            .build()
            .unwrap();
        DefaultRejection::default()
            .realm("orders")
            .resource_metadata(&metadata)
    }

    fn challenge_of(rejection: &DefaultRejection, error: &AuthError) -> String {
        let response: Response<Bytes> = rejection.response(error);
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn resource_metadata_ends_every_401_and_403_challenge() {
        let r = with_metadata("https://api.example.com/mcp");
        let url = "https://api.example.com/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            challenge_of(&r, &AuthError::new(RejectionKind::MissingToken)),
            format!(r#"Bearer realm="orders", resource_metadata="{url}""#)
        );
        assert_eq!(
            challenge_of(&r, &AuthError::new(RejectionKind::Expired)),
            format!(
                r#"Bearer realm="orders", error="invalid_token", error_description="the token has expired", resource_metadata="{url}""#
            )
        );
        assert_eq!(
            challenge_of(
                &r,
                &AuthError::insufficient_scope("orders.read orders.write")
            ),
            format!(
                r#"Bearer realm="orders", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="orders.read orders.write", resource_metadata="{url}""#
            )
        );
        let invalid_request = challenge_of(&r, &AuthError::new(RejectionKind::MultipleTokens));
        assert!(invalid_request.starts_with(r#"Bearer realm="orders", error="invalid_request", "#));
        assert!(invalid_request.ends_with(&format!(r#", resource_metadata="{url}""#)));
        let unavailable: Response<Bytes> =
            r.response(&AuthError::new(RejectionKind::KeysUnavailable));
        assert!(unavailable.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn every_parameter_is_one_quoted_string() {
        // Each value is the text between the quotes after `name=`: no quote, backslash or
        // control character inside, so a reader splitting on `", ` finds every parameter.
        let r = with_metadata("https://api.example.com/a%22b/mcp");
        let error =
            AuthError::with_description(RejectionKind::Rejected, "a \"quoted\" \\ value\r\n");
        let challenge = challenge_of(&r, &error);
        let params = challenge.strip_prefix("Bearer ").unwrap();
        let names: Vec<&str> = params
            .split("\", ")
            .map(|param| {
                let (name, value) = param.split_once("=\"").unwrap();
                let value = value.strip_suffix('"').unwrap_or(value);
                assert!(
                    value.chars().all(quotable_char),
                    "{name} has an unquotable value: {value:?}"
                );
                name
            })
            .collect();
        assert_eq!(
            names,
            ["realm", "error", "error_description", "resource_metadata"]
        );
        assert!(challenge.contains(r#"error_description="a ?quoted? ? value??""#));
        assert!(challenge.ends_with(
            r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/a%22b/mcp""#
        ));
    }

    #[test]
    fn unquotable_urls_are_refused_when_configured() {
        for resource in [
            "https://api.example.com/a\"b",
            "https://api.example.com/a\\b",
            "https://api.example.com/a\u{1}b",
            "https://api.example.com/a\rb",
        ] {
            assert!(
                ProtectedResourceMetadata::builder(resource)
                    .build()
                    .is_err(),
                "{resource:?}"
            );
        }
    }

    #[test]
    fn without_resource_metadata_the_challenge_is_unchanged() {
        let plain = DefaultRejection::default().realm("orders");
        for kind in [
            RejectionKind::MissingToken,
            RejectionKind::Expired,
            RejectionKind::InsufficientScope,
        ] {
            let error = AuthError::new(kind);
            assert_eq!(
                plain.www_authenticate(&error),
                www_authenticate(&error, "orders"),
                "{kind}"
            );
            assert!(!challenge_of(&plain, &error).contains("resource_metadata"));
        }
    }
}
