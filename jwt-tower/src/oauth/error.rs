//! [`OAuthError`]: the error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2,
//! RFC 8707 §2 and RFC 9449 §5 and §8, each with its HTTP status and its JSON body.

use std::borrow::Cow;

use http::StatusCode;
use serde_json::json;

/// An OAuth error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated, malformed or unsupported.
    InvalidRequest,
    /// The client is unknown, sent no or wrong credentials, or used a method it may not
    /// use. The only code answered with 401.
    InvalidClient,
    /// The authorization code or refresh token is unknown, expired, spent, or was issued
    /// to another client or for another redirect URI or PKCE verifier.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not one this server supports.
    UnsupportedGrantType,
    /// The authorization server supports no such response type (`/authorize`).
    UnsupportedResponseType,
    /// The requested scope is malformed, unknown, or leaves nothing the client and the
    /// user may have.
    InvalidScope,
    /// The requested `resource` is not one tokens are issued for (RFC 8707).
    InvalidTarget,
    /// The resource owner refused, or the login could not go on (`/authorize`).
    AccessDenied,
    /// A registration's redirect URI is refused (RFC 7591).
    InvalidRedirectUri,
    /// A registration's other metadata is refused (RFC 7591).
    InvalidClientMetadata,
    /// The server failed.
    ServerError,
    /// The server cannot answer now (its store is unreachable); retrying may succeed.
    TemporarilyUnavailable,
    /// The token request's DPoP proof is missing where required, malformed, replayed or
    /// fails a check (RFC 9449 §5).
    InvalidDpopProof,
    /// The token request's DPoP proof lacks the server's nonce, or carries one that is
    /// not current (RFC 9449 §8): the answer carries a fresh `DPoP-Nonce`.
    UseDpopNonce,
}

impl OAuthErrorCode {
    /// The code as it goes on the wire, e.g. `invalid_grant`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// An OAuth error: its code, a description for the developer (never a secret or a token),
/// and whether the client tried HTTP Basic authentication.
///
/// ```
/// use jwt_tower::oauth::{OAuthError, OAuthErrorCode};
///
/// let error = OAuthError::new(OAuthErrorCode::InvalidGrant, "the code was already used");
/// assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
/// assert_eq!(
///     error.body(),
///     r#"{"error":"invalid_grant","error_description":"the code was already used"}"#
/// );
///
/// // A client that failed to authenticate gets 401 and a Basic challenge, whichever
/// // method it tried (RFC 6749 §5.2; RFC 9110 §15.5.2: every 401 carries one).
/// let error = OAuthError::invalid_client("unknown client");
/// assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     error.www_authenticate("auth").as_deref(),
///     Some(r#"Basic realm="auth""#)
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    code: OAuthErrorCode,
    description: Cow<'static, str>,
}

impl OAuthError {
    /// An error with `code` and `description`.
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    /// `invalid_target` (RFC 8707).
    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidTarget, description)
    }

    /// The answer to a token request whose DPoP proof was refused (a `Dpop…`
    /// [`RejectionKind`](crate::RejectionKind)): `use_dpop_nonce` for a missing or stale
    /// nonce, `temporarily_unavailable` when the replay store cannot answer, and
    /// `invalid_dpop_proof` for every other refusal (RFC 9449 §5), with the refusal's
    /// description.
    ///
    /// ```
    /// use jwt_tower::oauth::{OAuthError, OAuthErrorCode};
    /// use jwt_tower::{AuthError, RejectionKind};
    ///
    /// let error = OAuthError::from_dpop_refusal(&AuthError::new(RejectionKind::DpopReplay));
    /// assert_eq!(error.code(), OAuthErrorCode::InvalidDpopProof);
    /// assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    /// let error = OAuthError::from_dpop_refusal(&AuthError::new(RejectionKind::DpopNonceRequired));
    /// assert_eq!(error.code(), OAuthErrorCode::UseDpopNonce);
    /// ```
    #[must_use]
    pub fn from_dpop_refusal(refusal: &crate::AuthError) -> Self {
        let code = match refusal.category() {
            crate::ErrorCategory::UseDpopNonce => OAuthErrorCode::UseDpopNonce,
            crate::ErrorCategory::Unavailable => OAuthErrorCode::TemporarilyUnavailable,
            _ => OAuthErrorCode::InvalidDpopProof,
        };
        Self::new(code, refusal.description().to_owned())
    }

    /// The code.
    #[must_use]
    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }

    /// The description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The HTTP status: 401 for `invalid_client`, 500 for `server_error`, 503 for
    /// `temporarily_unavailable`, 400 for every other code (RFC 6749 §5.2).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body: `{"error", "error_description"}`.
    #[must_use]
    pub fn body(&self) -> String {
        json!({"error": self.code.as_str(), "error_description": self.description}).to_string()
    }

    /// The `WWW-Authenticate` value to send, if any: `Basic realm="…"` for every
    /// `invalid_client`, whichever authentication the client tried, since its answer is
    /// a 401 and RFC 9110 §15.5.2 requires a challenge on every 401 (RFC 6749 §5.2).
    /// Quotes and backslashes in `realm` are escaped.
    #[must_use]
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        (self.code == OAuthErrorCode::InvalidClient).then(|| {
            let escaped = realm.replace('\\', "\\\\").replace('"', "\\\"");
            format!("Basic realm=\"{escaped}\"")
        })
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::warn!(%error, "oauth: store unavailable");
        Self::new(
            OAuthErrorCode::TemporarilyUnavailable,
            "the store is unavailable; try again shortly",
        )
    }
}

impl From<crate::store::PutClientError> for OAuthError {
    fn from(error: crate::store::PutClientError) -> Self {
        match error {
            crate::store::PutClientError::Full(held) => {
                tracing::warn!(
                    held,
                    "oauth: client registration refused: the store is full"
                );
                Self::new(
                    OAuthErrorCode::TemporarilyUnavailable,
                    "this server holds as many registered clients as it can; \
                     unused ones expire, try again later",
                )
            }
            crate::store::PutClientError::Unavailable(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status_and_name() {
        use OAuthErrorCode::*;
        let cases = [
            (InvalidRequest, "invalid_request", 400),
            (InvalidClient, "invalid_client", 401),
            (InvalidGrant, "invalid_grant", 400),
            (UnauthorizedClient, "unauthorized_client", 400),
            (UnsupportedGrantType, "unsupported_grant_type", 400),
            (UnsupportedResponseType, "unsupported_response_type", 400),
            (InvalidScope, "invalid_scope", 400),
            (InvalidTarget, "invalid_target", 400),
            (AccessDenied, "access_denied", 400),
            (InvalidRedirectUri, "invalid_redirect_uri", 400),
            (InvalidClientMetadata, "invalid_client_metadata", 400),
            (ServerError, "server_error", 500),
            (TemporarilyUnavailable, "temporarily_unavailable", 503),
            (InvalidDpopProof, "invalid_dpop_proof", 400),
            (UseDpopNonce, "use_dpop_nonce", 400),
        ];
        for (code, name, status) in cases {
            let error = OAuthError::new(code, "why \"quoted\"");
            assert_eq!(error.status().as_u16(), status, "{name}");
            let body: serde_json::Value = serde_json::from_str(&error.body()).unwrap();
            assert_eq!(body["error"], name);
            assert_eq!(body["error_description"], "why \"quoted\"");
            assert_eq!(body.as_object().unwrap().len(), 2);
        }
    }

    #[test]
    fn dpop_refusals_become_their_token_endpoint_codes() {
        use crate::{AuthError, RejectionKind};
        for (kind, code) in [
            (RejectionKind::DpopMultipleProofs, "invalid_dpop_proof"),
            (RejectionKind::DpopMalformed, "invalid_dpop_proof"),
            (RejectionKind::DpopSignature, "invalid_dpop_proof"),
            (RejectionKind::DpopUri, "invalid_dpop_proof"),
            (RejectionKind::DpopReplay, "invalid_dpop_proof"),
            (RejectionKind::DpopNonceRequired, "use_dpop_nonce"),
            (RejectionKind::DpopNonceInvalid, "use_dpop_nonce"),
            (
                RejectionKind::ReplayStoreUnavailable,
                "temporarily_unavailable",
            ),
        ] {
            let refusal = AuthError::new(kind);
            let error = OAuthError::from_dpop_refusal(&refusal);
            assert_eq!(error.code().as_str(), code, "{kind:?}");
            assert_eq!(error.description(), refusal.description(), "{kind:?}");
        }
    }

    #[test]
    fn every_invalid_client_and_nothing_else_gets_a_basic_challenge() {
        assert_eq!(
            OAuthError::invalid_client("x")
                .www_authenticate("r")
                .as_deref(),
            Some("Basic realm=\"r\"")
        );
        assert_eq!(OAuthError::invalid_grant("x").www_authenticate("r"), None);
        assert_eq!(OAuthError::invalid_request("x").www_authenticate("r"), None);
        assert_eq!(
            OAuthError::invalid_client("x")
                .www_authenticate(r#"a "b" \c"#)
                .unwrap(),
            r#"Basic realm="a \"b\" \\c""#
        );
    }
}
