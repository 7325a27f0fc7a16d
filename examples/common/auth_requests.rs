//! What the authorization-server routes are sent, as extractors: the login body, and the
//! refresh token of `/refresh` and `/logout` (from the body, else from the cookie). Each
//! refuses with an [`AppError`], so a handler only sees a request it can act on. The
//! including example also includes `app_error.rs` and `refresh_delivery.rs` as sibling
//! modules.
#![allow(dead_code)]

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;

use super::app_error::AppError;
use super::refresh_delivery::{RefreshDelivery, is_json};

/// Longer user names are refused before any work (they would only fill the limiter).
pub const MAX_USERNAME_BYTES: usize = 256;
/// Longer passwords are refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// `POST /login`: JSON `{"username", "password"}`, sent as exactly `Content-Type:
/// application/json`. Anything else is refused (415): a form another site could post
/// would log the browser into the poster's account (and set its refresh cookies).
#[derive(Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl<S: Send + Sync> FromRequest<S> for Login {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        // Checked here rather than by `Json`, which also takes `application/*+json`.
        if !is_json(request.headers()) {
            return Err(AppError::InvalidRequest {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                description: "the body must be Content-Type: application/json",
            });
        }
        let bytes = Bytes::from_request(request, state).await?;
        let Json(login) = Json::<Login>::from_bytes(&bytes).map_err(|_| {
            AppError::bad_request("the body must be JSON {\"username\", \"password\"}")
        })?;
        if login.username.len() > MAX_USERNAME_BYTES || login.password.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::bad_request(
                "the username or the password is too long",
            ));
        }
        Ok(login)
    }
}

/// The optional JSON body of `/refresh` and `/logout`.
#[derive(Deserialize, Default)]
struct RefreshBody {
    refresh_token: Option<String>,
    #[serde(default)]
    everywhere: bool,
}

/// `POST /refresh` and `POST /logout`: the refresh token, from the JSON body
/// (`refresh_token`), else from the cookie, which only a request from this origin may
/// use (see `refresh_delivery.rs`). The body is optional and read whatever its content
/// type: a client with the token in the body needs no cookie rules.
pub struct RefreshRequest {
    /// `None`: neither the body nor a cookie carries one.
    pub token: Option<String>,
    /// `/logout`: revoke every token of the user, not only this one.
    pub everywhere: bool,
}

impl<S> FromRequest<S> for RefreshRequest
where
    S: Send + Sync,
    RefreshDelivery: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let headers = request.headers().clone();
        let bytes = Bytes::from_request(request, state).await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            RefreshBody::default()
        } else {
            let Json(body) = Json::<RefreshBody>::from_bytes(&bytes)
                .map_err(|_| AppError::bad_request("the body is not the expected JSON"))?;
            body
        };
        let token = match body.refresh_token {
            Some(token) => Some(token),
            None => RefreshDelivery::from_ref(state).read(&headers)?,
        };
        Ok(Self {
            token,
            everywhere: body.everywhere,
        })
    }
}
