//! `extract`: token extraction from requests built from arbitrary header values
//! (`Authorization`, `Cookie`, a custom `x-token` header; only values
//! `HeaderValue::from_bytes` accepts) and an arbitrary query string.
//!
//! Asserts, besides never panicking:
//! - a token from a header or cookie is a slice of one of the request's header values
//!   (borrowed from it, not copied), and a query token is one of the query's decoded
//!   values of that name; a token is never empty;
//! - a bearer token comes from the only `Authorization` header, whose value is
//!   `bearer` (any case), spaces, then the token, an RFC 6750 `b64token`;
//! - a cookie token has no `;` and no surrounding quotes; a custom-header token has no
//!   surrounding whitespace;
//! - an extractor over all four sources agrees with the four alone: an error if any of
//!   them fails or two find different tokens, else the one token found, if any.
#![no_main]

use std::borrow::Cow;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderName, HeaderValue, Request, Uri};
use jwt_tower::TokenSource;
use jwt_tower::token::TokenExtractor;
use libfuzzer_sys::fuzz_target;

const QUERY_NAME: &str = "access_token";
const COOKIE_NAME: &str = "at";

/// Whether `needle` lies inside `hay`'s memory: borrowed from it.
fn within(hay: &[u8], needle: &str) -> bool {
    let (h, n) = (hay.as_ptr_range(), needle.as_bytes().as_ptr_range());
    h.start <= n.start && n.end <= h.end
}

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fuzz_target!(|input: &[u8]| {
    let custom = HeaderName::from_static("x-token");
    // Records: a kind byte, a length byte, that many bytes.
    let mut request = Request::get("/p").body(()).unwrap();
    let mut query: Option<Vec<u8>> = None;
    let mut rest = input;
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        let name = match kind % 5 {
            0 => AUTHORIZATION,
            1 => COOKIE,
            2 => custom.clone(),
            3 => HeaderName::from_static("x-other"),
            _ => {
                let q = query.get_or_insert_with(Vec::new);
                q.extend_from_slice(bytes);
                continue;
            }
        };
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            request.headers_mut().append(name, value);
        }
    }
    if let Some(q) = query {
        let mut uri = b"/p?".to_vec();
        uri.extend_from_slice(&q);
        if let Ok(uri) = Uri::try_from(uri) {
            *request.uri_mut() = uri;
        }
    }
    let (headers, uri) = (request.headers(), request.uri());

    let sources = [
        TokenSource::Bearer,
        TokenSource::cookie(COOKIE_NAME),
        TokenSource::header(custom.clone()),
        TokenSource::query(QUERY_NAME),
    ];
    let mut singles = Vec::new();
    for source in &sources {
        let found = TokenExtractor::new([source.clone()]).extract(headers, uri);
        if let Ok(Some(token)) = &found {
            assert!(!token.is_empty(), "{source:?}: an empty token");
            match source {
                TokenSource::Bearer => {
                    let values: Vec<_> = headers.get_all(AUTHORIZATION).iter().collect();
                    assert_eq!(values.len(), 1, "a bearer token from several headers");
                    let value = values[0].as_bytes();
                    assert!(
                        within(value, token),
                        "bearer token not borrowed from the header"
                    );
                    assert!(is_b64token(token), "not a b64token: {token:?}");
                    let value = std::str::from_utf8(value).unwrap();
                    let prefix = &value[..value.len() - token.len()];
                    let (scheme, spaces) = prefix.split_at(6.min(prefix.len()));
                    assert!(scheme.eq_ignore_ascii_case("bearer"), "{value:?}");
                    assert!(!spaces.is_empty() && spaces.bytes().all(|b| b == b' '));
                    assert!(value.ends_with(&**token));
                }
                TokenSource::Cookie(_) => {
                    let from_a_cookie = headers
                        .get_all(COOKIE)
                        .iter()
                        .any(|v| within(v.as_bytes(), token));
                    assert!(
                        from_a_cookie,
                        "cookie token not borrowed from a Cookie header"
                    );
                    assert!(!token.contains(';'), "{token:?}");
                    assert!(
                        !token.starts_with('"') && !token.ends_with('"'),
                        "{token:?}"
                    );
                }
                TokenSource::Header(name) => {
                    let from_it = headers
                        .get_all(name)
                        .iter()
                        .any(|v| within(v.as_bytes(), token));
                    assert!(from_it, "header token not borrowed from its header");
                    assert_eq!(token.trim(), &**token);
                }
                TokenSource::Query(name) => {
                    let q = uri.query().expect("a query token without a query");
                    let decoded = form_urlencoded::parse(q.as_bytes())
                        .any(|(k, v)| k == **name && v == *token);
                    assert!(decoded, "query token is none of the query's values");
                    if let Cow::Borrowed(t) = token {
                        assert!(within(q.as_bytes(), t), "borrowed, but not from the query");
                    }
                }
                _ => unreachable!(),
            }
        }
        singles.push(found.map(|t| t.map(Cow::into_owned)).map_err(|e| e.kind()));
    }

    // All four together agree with each alone.
    let all = TokenExtractor::new(sources.clone())
        .extract(headers, uri)
        .map(|t| t.map(Cow::into_owned))
        .map_err(|e| e.kind());
    let mut expected: Result<Option<String>, ()> = Ok(None);
    for single in &singles {
        expected = match (expected, single) {
            (Err(()), _) | (_, Err(_)) => Err(()),
            (Ok(None), Ok(t)) => Ok(t.clone()),
            (Ok(Some(a)), Ok(Some(b))) if a != *b => Err(()),
            (Ok(a), Ok(_)) => Ok(a),
        };
    }
    match (&all, &expected) {
        (Ok(a), Ok(e)) => assert_eq!(a, e, "the combined extractor disagrees: {singles:?}"),
        (Err(_), Err(())) => {}
        _ => panic!("combined {all:?}, alone {singles:?}"),
    }
    // The first failure alone is the combined failure.
    if let Err(kind) = &all {
        let first_error = singles.iter().find_map(|s| s.as_ref().err());
        if let Some(first) = first_error {
            let conflict_before = singles
                .iter()
                .take_while(|s| s.is_ok())
                .filter_map(|s| s.as_ref().ok().and_then(Option::as_ref))
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1;
            if !conflict_before {
                assert_eq!(kind, first, "{singles:?}");
            }
        }
    }
});
