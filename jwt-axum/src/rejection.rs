//! The extractors' and guards' rejection: the response of the layer in front of them.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use jwt_tower::auth::Refusal;
use jwt_tower::reject::DefaultRejection;
use jwt_tower::{AuthError, Identity, RejectionKind};

/// Why an extractor refused the request. Behind a [`JwtLayer`](jwt_tower::JwtLayer), its
/// response is the layer's (its realm, its
/// [`on_rejection`](jwt_tower::JwtLayer::on_rejection)), counted in the layer's verifier
/// metrics; without one, the default RFC 6750 response: status, `WWW-Authenticate` and a
/// JSON body (`{"error", "error_description"}`).
///
/// ```
/// use axum::response::IntoResponse;
/// use jwt_axum::AuthRejection;
/// use jwt_tower::{AuthError, RejectionKind};
///
/// let response = AuthRejection::from(AuthError::new(RejectionKind::MissingToken)).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
/// ```
///
/// A handler asking for what no layer provides (claims of another type than the layer's,
/// or no layer in front of it) is a programming error, not the client's: 500 naming both
/// types, logged as an error (as axum does for a missing extension).
#[derive(Debug, Clone)]
pub struct AuthRejection {
    reason: Reason,
}

#[derive(Debug, Clone)]
enum Reason {
    /// The client's request is refused, by the layer it went through if any.
    Refused {
        error: AuthError,
        refusal: Option<Refusal<Body>>,
    },
    /// The server is misconfigured: what went wrong, for the log and the 500.
    Misconfigured(Box<str>),
}

impl AuthRejection {
    /// `error`, answered by the layer the request went through (if any).
    pub(crate) fn from_layer(parts: &Parts, error: AuthError) -> Self {
        let refusal = parts.extensions.get::<Refusal<Body>>().cloned();
        Self {
            reason: Reason::Refused { error, refusal },
        }
    }

    /// A handler asked for `wanted`, which no layer in front of it provides.
    pub(crate) fn misconfigured(parts: &Parts, wanted: &'static str) -> Self {
        let message = match parts.extensions.get::<Refusal<Body>>() {
            Some(refusal) => format!(
                "{wanted} asked for, but the JwtLayer in front of this handler verifies {}",
                refusal.claims_type()
            ),
            None => format!("{wanted} asked for, but no JwtLayer is in front of this handler"),
        };
        tracing::error!(path = parts.uri.path(), "{message}");
        Self {
            reason: Reason::Misconfigured(message.into()),
        }
    }

    /// For an extractor requiring identity that found none: the layer's 401 when an
    /// optional layer let an anonymous request through, else a misconfiguration.
    pub(crate) fn missing(parts: &Parts, wanted: &'static str) -> Self {
        if parts.extensions.get::<Refusal<Body>>().is_some()
            && parts.extensions.get::<Identity>().is_none()
        {
            Self::from_layer(parts, AuthError::new(RejectionKind::MissingToken))
        } else {
            Self::misconfigured(parts, wanted)
        }
    }

    /// Why the client's request was refused; `None` for a server misconfiguration.
    #[must_use]
    pub fn error(&self) -> Option<&AuthError> {
        match &self.reason {
            Reason::Refused { error, .. } => Some(error),
            Reason::Misconfigured(_) => None,
        }
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self {
            reason: Reason::Refused {
                error,
                refusal: None,
            },
        }
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Reason::Refused { error, .. } => error.fmt(f),
            Reason::Misconfigured(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self.reason {
            Reason::Refused {
                error,
                refusal: Some(refusal),
            } => refusal.refuse(&error),
            Reason::Refused {
                error,
                refusal: None,
            } => DefaultRejection::default().response::<Body>(&error),
            Reason::Misconfigured(message) => {
                (StatusCode::INTERNAL_SERVER_ERROR, String::from(message)).into_response()
            }
        }
    }
}
