//! Every way the authorization-server routes refuse, and its answer: a status, a JSON
//! body `{"error", "error_description"}` in the OAuth 2.0 style, and `Retry-After` when
//! trying again later can succeed. Handlers return `Result<_, AppError>` and use `?`.
//! The including example also includes `login_guard.rs` and `retry_after.rs` as sibling
//! modules.
#![allow(dead_code)]

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jwt_tower::refresh::RefreshError;
use serde_json::json;

use super::login_guard::Refused;
use super::retry_after;

/// Why a route refused.
#[derive(Debug)]
pub enum AppError {
    /// The request itself is wrong (`invalid_request`): 400, or the status given (415 for
    /// a body that is not JSON, 403 for a request from another site).
    InvalidRequest {
        status: StatusCode,
        description: &'static str,
    },
    /// The body could not be read at all: axum's own answer (413 for a body too large).
    UnreadableBody(BytesRejection),
    /// Wrong credentials, or a refresh token that is unknown, expired or reused
    /// (`invalid_grant`): 401.
    InvalidGrant(String),
    /// Neither an access token nor a refresh token to act on (`invalid_token`): 401.
    InvalidToken(&'static str),
    /// Too many login attempts for this user or from this address: 429, `Retry-After`.
    TooManyAttempts { retry_after: u64 },
    /// Try again shortly (`temporarily_unavailable`): 503, with `Retry-After` when the
    /// wait is known.
    Unavailable {
        description: &'static str,
        retry_after: Option<u64>,
    },
    /// This server failed (`server_error`): 500.
    Server(String),
}

impl AppError {
    /// `invalid_request` with status 400.
    pub fn bad_request(description: &'static str) -> Self {
        Self::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            description,
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        Self::UnreadableBody(rejection)
    }
}

impl From<RefreshError> for AppError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Unavailable(_) => Self::Unavailable {
                description: "the session store is unavailable; try again shortly",
                retry_after: None,
            },
            other => Self::InvalidGrant(other.to_string()),
        }
    }
}

impl From<jwt_tower::store::StoreError> for AppError {
    fn from(error: jwt_tower::store::StoreError) -> Self {
        RefreshError::Unavailable(error).into()
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            Refused::Busy => Self::Unavailable {
                description: "too many logins in progress; retry shortly",
                retry_after: Some(1),
            },
            Refused::Failed => Self::Server("the password check failed".to_owned()),
            Refused::NoClientAddress => {
                Self::Server("the proxy's client address header holds no address".to_owned())
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, description, retry_after) = match self {
            Self::InvalidRequest {
                status,
                description,
            } => (status, "invalid_request", description.to_owned(), None),
            Self::UnreadableBody(rejection) => return rejection.into_response(),
            Self::InvalidGrant(description) => {
                (StatusCode::UNAUTHORIZED, "invalid_grant", description, None)
            }
            Self::InvalidToken(description) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                description.to_owned(),
                None,
            ),
            Self::TooManyAttempts { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many login attempts for this user or from this address; retry later"
                    .to_owned(),
                Some(retry_after),
            ),
            Self::Unavailable {
                description,
                retry_after,
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                description.to_owned(),
                retry_after,
            ),
            Self::Server(description) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                description,
                None,
            ),
        };
        let body = Json(json!({"error": code, "error_description": description}));
        let mut response = (status, body).into_response();
        if let Some(seconds) = retry_after {
            retry_after::insert(response.headers_mut(), seconds);
        }
        response
    }
}
