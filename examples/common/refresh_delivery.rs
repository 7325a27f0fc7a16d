//! How the refresh token travels between the auth server and its client.
//!
//! Browsers get it only in `HttpOnly` cookies, never in a JSON body a script could read.
//! The token goes in two cookies of the same name: one scoped to `/refresh`, one to
//! `/logout`, so that a browser sends it to both routes (logout must end the login) and to
//! no other path. A request that authenticates with the cookie must be one a cross-site
//! page cannot forge: `Content-Type: application/json` (a cross-origin page needs a CORS
//! preflight to send that, and this server answers none), and not marked
//! `Sec-Fetch-Site: cross-site` or `same-site` by the browser.
//!
//! Both cookies have one name, so a browser cannot tell them from a cookie of that name
//! that a sibling subdomain set with `Domain=` (the `__Host-` prefix, which would forbid
//! that, requires `Path=/`). A request carrying two different tokens in cookies of that
//! name is refused, rather than trusting whichever comes first: it may be an attacker's
//! token planted to log the victim into the attacker's session.
//!
//! Non-browser clients (`REFRESH_COOKIE=off`) get the token in the JSON body and send it
//! back in the body. The including example also includes `app_error.rs` as a sibling
//! module.
#![allow(dead_code)]

use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::AppendHeaders;
use jwt_axum::RefreshCookie;

use super::app_error::AppError;

/// Where the refresh token goes.
#[derive(Debug, Clone)]
pub enum RefreshDelivery {
    /// In cookies for `/refresh` and `/logout`, not in the body.
    Cookies {
        refresh: RefreshCookie,
        logout: RefreshCookie,
    },
    /// In the JSON body (`refresh_token`), no cookie.
    Body,
}

/// The name of both cookies ([`RefreshCookie`]'s default).
const COOKIE_NAME: &str = "refresh_token";

/// `Set-Cookie` headers, for a response tuple (none without cookies).
pub type SetCookies = AppendHeaders<Vec<(HeaderName, HeaderValue)>>;

impl RefreshDelivery {
    /// Cookies named `refresh_token` for `/refresh` and `/logout`: `HttpOnly; Secure;
    /// SameSite=Strict`.
    pub fn cookies() -> Self {
        Self::Cookies {
            refresh: RefreshCookie::new("/refresh"),
            logout: RefreshCookie::new("/logout"),
        }
    }

    /// Whether the token goes in the response body.
    pub fn in_body(&self) -> bool {
        matches!(self, Self::Body)
    }

    /// The `Set-Cookie` headers carrying `token` for `max_age` seconds.
    pub fn set(&self, token: &str, max_age: u64) -> SetCookies {
        AppendHeaders(match self {
            Self::Cookies { refresh, logout } => vec![
                (SET_COOKIE, refresh.set(token, max_age)),
                (SET_COOKIE, logout.set(token, max_age)),
            ],
            Self::Body => Vec::new(),
        })
    }

    /// The `Set-Cookie` headers that delete both cookies.
    pub fn clear(&self) -> SetCookies {
        AppendHeaders(match self {
            Self::Cookies { refresh, logout } => {
                vec![(SET_COOKIE, refresh.clear()), (SET_COOKIE, logout.clear())]
            }
            Self::Body => Vec::new(),
        })
    }

    /// The token from the request's cookie, if the request may use it: both cookies have
    /// one name (either reads it); two different ones are refused, and so is a request
    /// another site could have sent ([`check_not_cross_site`]).
    pub fn read(&self, headers: &HeaderMap) -> Result<Option<String>, AppError> {
        if !matches!(self, Self::Cookies { .. }) {
            return Ok(None);
        }
        let token = jwt_tower::token::cookie(headers, COOKIE_NAME).map_err(|_| {
            AppError::bad_request("the request carries two different refresh_token cookies")
        })?;
        let Some(token) = token else {
            return Ok(None);
        };
        check_not_cross_site(headers)?;
        Ok(Some(token.to_owned()))
    }
}

/// Whether the request says `Content-Type: application/json`, which a page of another
/// origin cannot send without a CORS preflight.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Refuses a request that carries the cookie but that a page of another origin could have
/// sent: a browser sends cookies along with a cross-site form post.
pub fn check_not_cross_site(headers: &HeaderMap) -> Result<(), AppError> {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return Err(AppError::InvalidRequest {
            status: StatusCode::FORBIDDEN,
            description: "the refresh cookie is not accepted from another site",
        });
    }
    if !is_json(headers) {
        return Err(AppError::bad_request(
            "a request carrying the refresh cookie must be Content-Type: application/json",
        ));
    }
    Ok(())
}
