//! The HTTP answer of an [`OAuthError`] at the token and registration endpoints: its
//! status, the JSON body `{"error", "error_description"}`, `Cache-Control: no-store`, and
//! `WWW-Authenticate: Basic` for every `invalid_client` (a 401: RFC 9110 §15.5.2).
#![allow(dead_code)]

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};
use jwt_tower::oauth::OAuthError;

/// The realm of the Basic challenge.
pub const REALM: &str = "auth_server";

/// An [`OAuthError`] as a response (a newtype: the error type is jwt-tower's).
pub struct OAuthErrorResponse(pub OAuthError);

impl From<OAuthError> for OAuthErrorResponse {
    fn from(error: OAuthError) -> Self {
        Self(error)
    }
}

impl IntoResponse for OAuthErrorResponse {
    fn into_response(self) -> Response {
        let error = self.0;
        let mut response = (
            error.status(),
            [
                (CONTENT_TYPE, "application/json"),
                (CACHE_CONTROL, "no-store"),
                (PRAGMA, "no-cache"),
            ],
            error.body(),
        )
            .into_response();
        if let Some(challenge) = error.www_authenticate(REALM)
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}
