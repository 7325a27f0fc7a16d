//! Finding the token in a request: `Authorization: Bearer` (default), a cookie, a custom
//! header, or a query parameter (opt-in). Two different tokens in one request are refused.

mod extract;

pub use extract::{TokenExtractor, cookie};
pub(crate) use extract::{dpop_proof, dpop_token};

use http::HeaderName;

/// Where a token may be found in a request.
///
/// ```
/// use jwt_tower::TokenSource;
/// let sources = [TokenSource::Bearer, TokenSource::cookie("access_token")];
/// # let _ = sources;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1); the scheme is case-insensitive.
    Bearer,
    /// A cookie of this name.
    Cookie(Box<str>),
    /// A header of this name whose value is the token (an optional `Bearer ` prefix is
    /// removed).
    Header(HeaderName),
    /// A query parameter of this name (RFC 6750 §2.3). Tokens in URLs end up in logs and
    /// browser history: opt-in only.
    Query(Box<str>),
}

impl TokenSource {
    /// A cookie source.
    #[must_use]
    pub fn cookie(name: impl Into<Box<str>>) -> Self {
        Self::Cookie(name.into())
    }

    /// A custom header source.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        Self::Header(name)
    }

    /// A query parameter source.
    #[must_use]
    pub fn query(name: impl Into<Box<str>>) -> Self {
        Self::Query(name.into())
    }
}
