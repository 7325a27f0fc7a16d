//! The extraction itself, over a request's headers and URI.

use std::borrow::Cow;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Uri};

use super::TokenSource;
use crate::{AuthError, RejectionKind};

/// Reads a token from a request's headers and URI, trying each configured
/// [`TokenSource`]. Cheap to clone.
///
/// ```
/// use http::Request;
/// use jwt_tower::token::TokenExtractor;
/// use jwt_tower::{RejectionKind, TokenSource};
///
/// let extractor = TokenExtractor::new([TokenSource::Bearer, TokenSource::cookie("at")]);
/// let req = Request::get("/").header("authorization", "bearer abc.def.ghi").body(()).unwrap();
/// let token = extractor.extract(req.headers(), req.uri()).unwrap();
/// assert_eq!(token.as_deref(), Some("abc.def.ghi"));
///
/// let two = Request::get("/")
///     .header("authorization", "Bearer abc.def.ghi")
///     .header("cookie", "at=xyz.uvw.rst")
///     .body(()).unwrap();
/// let err = extractor.extract(two.headers(), two.uri()).unwrap_err();
/// assert_eq!(err.kind(), RejectionKind::MultipleTokens);
/// ```
#[derive(Debug, Clone)]
pub struct TokenExtractor {
    sources: Arc<[TokenSource]>,
}

impl Default for TokenExtractor {
    fn default() -> Self {
        Self::new([TokenSource::Bearer])
    }
}

fn multiple() -> AuthError {
    AuthError::new(RejectionKind::MultipleTokens)
}

fn bad_authorization() -> AuthError {
    AuthError::new(RejectionKind::InvalidAuthorizationHeader)
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let end = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let body = &token[..end];
    // Every byte of every request's token passes here. Comparisons only, folded without
    // an early exit: the compiler turns this into SIMD, 16 bytes a step.
    !body.is_empty()
        && body.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(b'a') < 26)
                | (b.wrapping_sub(b'A') < 26)
                | (b.wrapping_sub(b'0') < 10)
                | (b == b'-')
                | (b == b'.')
                | (b == b'_')
                | (b == b'~')
                | (b == b'+')
                | (b == b'/'))
        })
}

/// Keeps the one token found so far; a different second one is an error.
fn merge<'a>(found: &mut Option<Cow<'a, str>>, next: Cow<'a, str>) -> Result<(), AuthError> {
    match found {
        Some(existing) if *existing != next => Err(multiple()),
        Some(_) => Ok(()),
        None => {
            *found = Some(next);
            Ok(())
        }
    }
}

impl TokenExtractor {
    /// An extractor trying `sources` (all of them: a token found in two places must be
    /// the same token).
    pub fn new(sources: impl IntoIterator<Item = TokenSource>) -> Self {
        Self {
            sources: sources.into_iter().collect(),
        }
    }

    /// The configured sources.
    #[must_use]
    pub fn sources(&self) -> &[TokenSource] {
        &self.sources
    }

    /// The `Authorization: Bearer` token's bytes, unchecked, when that header is the only
    /// configured source (the default); `None` otherwise, or when the header is missing
    /// or misshapen. [`extract`](Self::extract) still gives the answer, and the error.
    pub(crate) fn sole_bearer_unchecked<'a>(&self, headers: &'a HeaderMap) -> Option<&'a [u8]> {
        match *self.sources {
            [TokenSource::Bearer] => bearer_unchecked(headers).ok().flatten(),
            _ => None,
        }
    }

    /// The error to give for a token taken by
    /// [`sole_bearer_unchecked`](Self::sole_bearer_unchecked) that failed verification
    /// with `error`: the `Authorization` header's own when the token is not a
    /// `b64token` (as [`extract`](Self::extract) would have said), else `error`.
    pub(crate) fn blame_unchecked(token: &[u8], error: AuthError) -> AuthError {
        if is_b64token(token) {
            error
        } else {
            bad_authorization()
        }
    }

    /// The request's token, `None` when there is none.
    ///
    /// # Errors
    /// [`MultipleTokens`](RejectionKind::MultipleTokens) when two sources (or two headers,
    /// cookies or parameters) hold different tokens;
    /// [`InvalidAuthorizationHeader`](RejectionKind::InvalidAuthorizationHeader) when
    /// `Authorization` is present but neither `Bearer <b64token>` nor another scheme
    /// (`Basic …`, which carries no bearer token: `Ok(None)`).
    pub fn extract<'a>(
        &self,
        headers: &'a HeaderMap,
        uri: &'a Uri,
    ) -> Result<Option<Cow<'a, str>>, AuthError> {
        let mut found = None;
        for source in self.sources.iter() {
            match source {
                TokenSource::Bearer => {
                    if let Some(token) = bearer(headers)? {
                        merge(&mut found, Cow::Borrowed(token))?;
                    }
                }
                TokenSource::Cookie(name) => {
                    if let Some(token) = cookie(headers, name)? {
                        merge(&mut found, Cow::Borrowed(token))?;
                    }
                }
                TokenSource::Header(name) => {
                    if let Some(token) = custom_header(headers, name)? {
                        merge(&mut found, Cow::Borrowed(token))?;
                    }
                }
                TokenSource::Query(name) => {
                    if let Some(token) = query(uri, name)? {
                        merge(&mut found, token)?;
                    }
                }
            }
        }
        Ok(found)
    }
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(token) = bearer_unchecked(headers)? else {
        return Ok(None);
    };
    if !is_b64token(token) {
        return Err(bad_authorization());
    }
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| bad_authorization())
}

/// The token of the one `Authorization: Bearer` header, its characters not checked yet.
fn bearer_unchecked(headers: &HeaderMap) -> Result<Option<&[u8]>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(multiple());
    }
    // Checked as bytes: a b64token is ASCII, so one pass over it is all the checking
    // the value needs (no separate `to_str` pass).
    let value = value.as_bytes();
    let space = value.iter().position(|&b| b == b' ');
    let scheme = &value[..space.unwrap_or(value.len())];
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return if is_other_scheme(scheme) {
            // RFC 6750 §3.1: a request in another scheme (`Basic`, `Digest`) carries no
            // bearer credentials; it is answered as one without a token.
            Ok(None)
        } else {
            Err(bad_authorization())
        };
    }
    let space = space.ok_or_else(bad_authorization)?;
    let rest = &value[space + 1..];
    Ok(Some(
        &rest[rest.iter().take_while(|&&b| b == b' ').count()..],
    ))
}

/// The token of the one `Authorization: DPoP <token>` header (RFC 9449 §7.1; the scheme
/// case-insensitive), `None` when the header is absent or of another scheme.
///
/// # Errors
/// [`MultipleTokens`](RejectionKind::MultipleTokens) for two `Authorization` headers,
/// [`InvalidAuthorizationHeader`](RejectionKind::InvalidAuthorizationHeader) for a DPoP
/// header whose token is not a `b64token`.
pub(crate) fn dpop_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let is_dpop = bytes.len() > 5 && bytes[..4].eq_ignore_ascii_case(b"dpop") && bytes[4] == b' ';
    if !is_dpop {
        return Ok(None);
    }
    if values.next().is_some() {
        return Err(multiple());
    }
    let token = value.to_str().map_err(|_| bad_authorization())?[5..].trim_start_matches(' ');
    if !is_b64token(token.as_bytes()) {
        return Err(bad_authorization());
    }
    Ok(Some(token))
}

/// The one `DPoP` proof header of a request (RFC 9449 §4.3: exactly one).
///
/// # Errors
/// [`DpopProofMissing`](RejectionKind::DpopProofMissing),
/// [`DpopMultipleProofs`](RejectionKind::DpopMultipleProofs), or
/// [`DpopMalformed`](RejectionKind::DpopMalformed) for a value that is not visible ASCII.
pub(crate) fn dpop_proof(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Err(AuthError::new(RejectionKind::DpopProofMissing));
    };
    if values.next().is_some() {
        return Err(AuthError::new(RejectionKind::DpopMultipleProofs));
    }
    value
        .to_str()
        .map_err(|_| AuthError::new(RejectionKind::DpopMalformed))
}

/// Whether `scheme` names an authentication scheme other than Bearer: an RFC 9110 `token`
/// not beginning with `bearer` (`Bearerx`, or `Bearer` followed by a tab, is a
/// misspelt Bearer header, refused as malformed).
fn is_other_scheme(scheme: &[u8]) -> bool {
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    !scheme.is_empty()
        && scheme.iter().all(tchar)
        && !scheme
            .get(..6)
            .is_some_and(|start| start.eq_ignore_ascii_case(b"bearer"))
}

/// The value of the cookie `name` in a request's `Cookie` headers (surrounding quotes
/// removed), `None` when absent or empty. The one cookie parser of the workspace: token
/// sources and `jwt-axum`'s refresh cookie read through it.
///
/// ```
/// use http::HeaderMap;
/// use jwt_tower::RejectionKind;
/// use jwt_tower::token::cookie;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("cookie", "theme=dark; at=\"a.b.c\"".parse().unwrap());
/// assert_eq!(cookie(&headers, "at").unwrap(), Some("a.b.c"));
/// assert_eq!(cookie(&headers, "missing").unwrap(), None);
/// headers.append("cookie", "at=x.y.z".parse().unwrap());
/// assert_eq!(cookie(&headers, "at").unwrap_err().kind(), RejectionKind::MultipleTokens);
/// ```
///
/// # Errors
/// [`MultipleTokens`](RejectionKind::MultipleTokens) when the cookie appears twice with
/// different values.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut found: Option<&str> = None;
    for value in headers.get_all(COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            if k.trim() != name {
                continue;
            }
            let v = v.trim().trim_matches('"');
            if v.is_empty() {
                continue;
            }
            match found {
                Some(existing) if existing != v => return Err(multiple()),
                _ => found = Some(v),
            }
        }
    }
    Ok(found)
}

fn custom_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, AuthError> {
    let mut found: Option<&str> = None;
    for value in headers.get_all(name) {
        let value = value.to_str().map_err(|_| bad_authorization())?.trim();
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
            _ => value,
        };
        if token.is_empty() {
            continue;
        }
        match found {
            Some(existing) if existing != token => return Err(multiple()),
            _ => found = Some(token),
        }
    }
    Ok(found)
}

fn query<'a>(uri: &'a Uri, name: &str) -> Result<Option<Cow<'a, str>>, AuthError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found: Option<Cow<'a, str>> = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != name || v.is_empty() {
            continue;
        }
        merge(&mut found, v)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Request};

    /// The layer's cache-first path reads the token with `bearer_unchecked`: whatever
    /// `bearer` accepts, it must find the same bytes, and what it finds must be exactly
    /// what `bearer` accepts once the characters pass.
    #[test]
    fn bearer_unchecked_finds_what_bearer_accepts() {
        let values: &[&[u8]] = &[
            b"Bearer abc.def.ghi",
            b"bearer   abc.def.ghi",
            b"BEARER a",
            b"Bearer ",
            b"Bearer",
            b"Bearerabc",
            b"Token abc",
            b"Bearer abc def",
            b"Bearer abc\tdef",
            b"Bearer ab=c",
            b"Bearer abc==",
            b"Bearer a~b+c/d-e_f.g",
            b"Bearer \xc3\xa9t\xc3\xa9",
            b"Bearer abc!",
            b" Bearer abc",
        ];
        for &value in values {
            let mut headers = HeaderMap::new();
            let Ok(value) = HeaderValue::from_bytes(value) else {
                continue;
            };
            headers.insert(AUTHORIZATION, value.clone());
            let checked = bearer(&headers).ok().flatten();
            let unchecked = bearer_unchecked(&headers).ok().flatten();
            if let Some(token) = checked {
                assert_eq!(unchecked, Some(token.as_bytes()), "{value:?}");
            }
            if let Some(raw) = unchecked {
                let passes = is_b64token(raw) && std::str::from_utf8(raw).is_ok();
                assert_eq!(passes, checked.is_some(), "{value:?}");
            }
            // Two headers: neither reads a token.
            headers.append(AUTHORIZATION, value.clone());
            assert!(bearer(&headers).is_err(), "{value:?}");
            assert!(bearer_unchecked(&headers).is_err(), "{value:?}");
        }
        let only_bearer = TokenExtractor::default();
        let mixed = TokenExtractor::new([TokenSource::Bearer, TokenSource::cookie("at")]);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        assert_eq!(
            only_bearer.sole_bearer_unchecked(&headers),
            Some(&b"a.b.c"[..])
        );
        assert_eq!(mixed.sole_bearer_unchecked(&headers), None);
    }

    fn run(extractor: &TokenExtractor, req: &Request<()>) -> Result<Option<String>, RejectionKind> {
        extractor
            .extract(req.headers(), req.uri())
            .map(|t| t.map(Cow::into_owned))
            .map_err(|e| e.kind())
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_strict() {
        let ex = TokenExtractor::default();
        for (header, expected) in [
            ("Bearer a.b.c", Ok(Some("a.b.c".to_owned()))),
            ("BEARER a.b.c", Ok(Some("a.b.c".to_owned()))),
            ("bearer   a.b.c", Ok(Some("a.b.c".to_owned()))),
            // Another scheme carries no bearer token (RFC 6750 §3.1).
            ("Basic dXNlcjpwYXNz", Ok(None)),
            ("Digest username=\"a\"", Ok(None)),
            ("Negotiate", Ok(None)),
            ("B@sic abc", Err(RejectionKind::InvalidAuthorizationHeader)),
            (
                " Bearer abc",
                Err(RejectionKind::InvalidAuthorizationHeader),
            ),
            ("Bearer", Err(RejectionKind::InvalidAuthorizationHeader)),
            ("Bearer ", Err(RejectionKind::InvalidAuthorizationHeader)),
            (
                "Bearer a.b.c extra",
                Err(RejectionKind::InvalidAuthorizationHeader),
            ),
            ("Bearer a,b", Err(RejectionKind::InvalidAuthorizationHeader)),
            ("Bearer a.b.c==", Ok(Some("a.b.c==".to_owned()))),
            ("Bearer ~+/-_.9Z", Ok(Some("~+/-_.9Z".to_owned()))),
            ("Bearer ==", Err(RejectionKind::InvalidAuthorizationHeader)),
            ("Bearer a=b", Err(RejectionKind::InvalidAuthorizationHeader)),
            (
                "Bearer a.b.c ",
                Err(RejectionKind::InvalidAuthorizationHeader),
            ),
            (
                "Bearer\ta.b.c",
                Err(RejectionKind::InvalidAuthorizationHeader),
            ),
            (
                "Bearerx a.b.c",
                Err(RejectionKind::InvalidAuthorizationHeader),
            ),
        ] {
            let req = Request::get("/")
                .header("authorization", header)
                .body(())
                .unwrap();
            assert_eq!(run(&ex, &req), expected, "{header}");
        }
        let none = Request::get("/").body(()).unwrap();
        assert_eq!(run(&ex, &none), Ok(None));
        // Bytes outside ASCII (allowed in a header value, never in a b64token).
        let req = Request::get("/")
            .header(
                "authorization",
                http::HeaderValue::from_bytes(b"Bearer a.b.\xc3\xa9").unwrap(),
            )
            .body(())
            .unwrap();
        assert_eq!(
            run(&ex, &req),
            Err(RejectionKind::InvalidAuthorizationHeader)
        );
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let req = Request::get("/")
            .header("authorization", "Bearer a.b.c")
            .header("authorization", "Bearer a.b.c")
            .body(())
            .unwrap();
        assert_eq!(
            run(&TokenExtractor::default(), &req),
            Err(RejectionKind::MultipleTokens)
        );
    }

    #[test]
    fn cookie_header_and_query_sources() {
        let ex = TokenExtractor::new([
            TokenSource::cookie("at"),
            TokenSource::header(HeaderName::from_static("x-token")),
            TokenSource::query("access_token"),
        ]);
        let req = Request::get("/")
            .header("cookie", "theme=dark; at=c.o.o; x=1")
            .body(())
            .unwrap();
        assert_eq!(run(&ex, &req), Ok(Some("c.o.o".to_owned())));
        let req = Request::get("/")
            .header("x-token", "Bearer h.d.r")
            .body(())
            .unwrap();
        assert_eq!(run(&ex, &req), Ok(Some("h.d.r".to_owned())));
        let req = Request::get("/p?a=1&access_token=q.u.e").body(()).unwrap();
        assert_eq!(run(&ex, &req), Ok(Some("q.u.e".to_owned())));
        // The same token in two places is one token.
        let req = Request::get("/p?access_token=s.a.m")
            .header("cookie", "at=s.a.m")
            .body(())
            .unwrap();
        assert_eq!(run(&ex, &req), Ok(Some("s.a.m".to_owned())));
        let req = Request::get("/p?access_token=o.n.e")
            .header("cookie", "at=t.w.o")
            .body(())
            .unwrap();
        assert_eq!(run(&ex, &req), Err(RejectionKind::MultipleTokens));
        let req = Request::get("/")
            .header("cookie", "at=o.n.e; at=t.w.o")
            .body(())
            .unwrap();
        assert_eq!(run(&ex, &req), Err(RejectionKind::MultipleTokens));
    }

    #[test]
    fn query_is_not_read_unless_configured() {
        let req = Request::get("/p?access_token=q.u.e").body(()).unwrap();
        assert_eq!(run(&TokenExtractor::default(), &req), Ok(None));
    }
}
