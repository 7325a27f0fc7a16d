//! The HTML of `/authorize`: the login form and the error page shown when the client
//! cannot be redirected to. Every value from the request is escaped; the pages may not be
//! framed (clickjacking) and are never cached.
#![allow(dead_code)]

use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::response::{IntoResponse, Response};

/// Text for an HTML body or a quoted attribute. Hand-written: five replacements, and no
/// HTML crate is in the tree to reuse.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title),
    );
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (X_FRAME_OPTIONS, "DENY"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

/// The login form. It posts to `/authorize` with the same query string (`action="?…"`
/// keeps the path, whatever prefix a proxy serves it under).
pub fn login_form(
    status: StatusCode,
    raw_query: &str,
    client: &str,
    scope: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>\n", escape(e)))
        .unwrap_or_default();
    let scope = if scope.is_empty() {
        String::new()
    } else {
        format!("<p>It asks for: <code>{}</code></p>\n", escape(scope))
    };
    let body = format!(
        "<p><strong>{client}</strong> wants to act on your behalf.</p>\n{scope}{error}\
         <form method=\"post\" action=\"?{query}\">\n\
         <p><label>User name <input name=\"username\" autocomplete=\"username\" required></label></p>\n\
         <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\n\
         <p><button type=\"submit\">Log in and allow</button></p>\n</form>",
        client = escape(client),
        query = escape(raw_query),
    );
    page(status, "Log in", &body)
}

/// The error page: the request cannot be answered with a redirect (unknown client, a
/// redirect URI that is not the client's), so the user reads why here.
pub fn error_page(status: StatusCode, description: &str) -> Response {
    page(
        status,
        "Authorization request refused",
        &format!("<p>{}</p>", escape(description)),
    )
}
