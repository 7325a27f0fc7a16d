//! The refresh token in a cookie: `HttpOnly; Secure; SameSite=Strict`, scoped to the
//! refresh path, so scripts cannot read it and other paths never send it.

use axum::http::{HeaderMap, HeaderValue};

/// Builds and reads the refresh-token cookie.
///
/// ```
/// use jwt_axum::RefreshCookie;
///
/// let cookie = RefreshCookie::new("/auth");
/// let header = cookie.set("opaque-token", 3600);
/// assert_eq!(
///     header.to_str().unwrap(),
///     "refresh_token=opaque-token; Path=/auth; Max-Age=3600; HttpOnly; Secure; SameSite=Strict"
/// );
///
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("cookie", "theme=dark; refresh_token=opaque-token".parse().unwrap());
/// assert_eq!(cookie.read(&headers), Some("opaque-token"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RefreshCookie {
    name: String,
    path: String,
    secure: bool,
}

impl RefreshCookie {
    /// A cookie named `refresh_token`, sent only to `path` (the refresh and logout
    /// routes' common prefix).
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            name: "refresh_token".to_owned(),
            path: path.into(),
            secure: true,
        }
    }

    /// Another cookie name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Drops `Secure`, for local development over plain HTTP only.
    pub fn insecure_for_local_development(mut self) -> Self {
        self.secure = false;
        self
    }

    fn attributes(&self, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "; Path={}; Max-Age={max_age}; HttpOnly{secure}; SameSite=Strict",
            self.path
        )
    }

    /// The `Set-Cookie` value carrying `token` for `max_age` seconds.
    #[must_use]
    pub fn set(&self, token: &str, max_age: u64) -> HeaderValue {
        let value = format!("{}={token}{}", self.name, self.attributes(max_age));
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The `Set-Cookie` value that deletes the cookie (logout).
    #[must_use]
    pub fn clear(&self) -> HeaderValue {
        let value = format!("{}={}", self.name, self.attributes(0));
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The token from the request's `Cookie` headers, if present (`None` too when two
    /// different ones are sent).
    #[must_use]
    pub fn read<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        jwt_tower::token::cookie(headers, &self.name).ok().flatten()
    }
}
