//! The public origin of a request behind a TLS-terminating proxy, read from the headers
//! the proxy sets: RFC 7239 `Forwarded`, else `X-Forwarded-Proto` and
//! `X-Forwarded-Host`. Trusted only when configured ([`TrustForwarded::On`]).
//!
//! Which value is trusted: one proxy, the one in front of this server, is trusted. A
//! proxy appends its element to what it received (RFC 7239 §4 and §7.1), so everything
//! before the last element came from the client and may be forged; the last element
//! (the last comma-separated value of `X-Forwarded-Proto` and `X-Forwarded-Host`) is the
//! one the trusted proxy wrote. A proxy that replaces the headers writes a single
//! element, which is then both the first and the last.

use http::HeaderMap;
use http::uri::Authority;

/// Whether the forwarding headers of a request are believed. Off by default: then the
/// configured resource URI is the only truth and the headers are ignored, since any
/// client can send them. Turn it on only behind a proxy that sets (or overwrites) them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustForwarded {
    /// Ignore `Forwarded` and `X-Forwarded-*` (the default).
    #[default]
    Off,
    /// Believe the last element of `Forwarded`, else the last value of
    /// `X-Forwarded-Proto` and `X-Forwarded-Host`: one trusted proxy.
    On,
}

/// The scheme and authority a client used to reach this server, as the trusted proxy in
/// front of it reports them. Either may be absent when the proxy did not say; both are
/// validated: the scheme is `http` or `https`, the authority a host and optional port
/// without userinfo, both lowercased.
///
/// ```
/// use http::HeaderMap;
/// use jwt_tower::resource::{ForwardedOrigin, TrustForwarded};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("forwarded", "for=192.0.2.60;proto=https;host=\"[::1]:8443\"".parse().unwrap());
/// let origin = ForwardedOrigin::from_headers(&headers, TrustForwarded::On).unwrap();
/// assert_eq!(origin.scheme(), Some("https"));
/// assert_eq!(origin.authority(), Some("[::1]:8443"));
///
/// // Off (the default): the headers are never read.
/// assert_eq!(ForwardedOrigin::from_headers(&headers, TrustForwarded::default()), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedOrigin {
    scheme: Option<String>,
    authority: Option<String>,
}

impl ForwardedOrigin {
    /// The origin the trusted proxy reports, or `None` when trust is off, when no
    /// forwarding header names a scheme or host, or when what the trusted element says
    /// is malformed (an unknown scheme, a host with userinfo, a parameter twice, broken
    /// quoting, non-ASCII): a malformed report is ignored whole, never half-believed.
    ///
    /// A `Forwarded` header, when present, is the only source; `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` are read only without one.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap, trust: TrustForwarded) -> Option<Self> {
        if trust == TrustForwarded::Off {
            return None;
        }
        let (scheme, authority) = if headers.contains_key(http::header::FORWARDED) {
            let element = last_forwarded_element(headers)?;
            (element.proto, element.host)
        } else {
            (
                last_value(headers, "x-forwarded-proto")?,
                last_value(headers, "x-forwarded-host")?,
            )
        };
        let scheme = match scheme {
            Some(s) => Some(checked_scheme(&s)?),
            None => None,
        };
        let authority = match authority {
            Some(a) => Some(checked_authority(&a)?),
            None => None,
        };
        if scheme.is_none() && authority.is_none() {
            return None;
        }
        Some(Self { scheme, authority })
    }

    /// The scheme the client used (`http` or `https`), if the proxy said.
    #[must_use]
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// The host and optional port the client used, if the proxy said.
    #[must_use]
    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }
}

fn checked_scheme(value: &str) -> Option<String> {
    let scheme = value.to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "https").then_some(scheme)
}

fn checked_authority(value: &str) -> Option<String> {
    if value.contains('@') {
        return None;
    }
    let authority: Authority = value.parse().ok()?;
    if authority.host().is_empty() {
        return None;
    }
    // `Authority` accepts any digits after the colon; a port must fit in 16 bits.
    let port = &authority.as_str()[authority.host().len()..];
    if let Some(digits) = port.strip_prefix(':') {
        digits.parse::<u16>().ok()?;
    } else if !port.is_empty() {
        return None;
    }
    Some(authority.as_str().to_ascii_lowercase())
}

/// The last comma-separated value of `name` over all its lines: `Ok(None)` when absent
/// or empty, `None` (malformed) when a line is not visible ASCII.
fn last_value(headers: &HeaderMap, name: &str) -> Option<Option<String>> {
    let mut last = None;
    for line in headers.get_all(name) {
        let line = line.to_str().ok()?;
        if let Some(value) = line.rsplit(',').map(str::trim).find(|v| !v.is_empty()) {
            last = Some(value.to_owned());
        }
    }
    Some(last)
}

/// The `proto` and `host` of one `Forwarded` element.
#[derive(Debug, Default, PartialEq, Eq)]
struct Element {
    proto: Option<String>,
    host: Option<String>,
}

/// The last non-empty element of all `Forwarded` lines (RFC 7239 §4), or `None` when
/// the field is malformed.
fn last_forwarded_element(headers: &HeaderMap) -> Option<Element> {
    let mut field = String::new();
    for line in headers.get_all(http::header::FORWARDED) {
        if !field.is_empty() {
            field.push(',');
        }
        field.push_str(line.to_str().ok()?);
    }
    let elements = split_outside_quotes(&field, ',')?;
    let last = elements.iter().rev().find(|e| !e.trim().is_empty())?;
    parse_element(last)
}

/// `forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )`, each pair
/// `token "=" ( token / quoted-string )`; names are case-insensitive and each may occur
/// once (RFC 7239 §4). Parameters other than `proto` and `host` are checked, not kept.
fn parse_element(element: &str) -> Option<Element> {
    let mut parsed = Element::default();
    let mut seen: Vec<String> = Vec::new();
    for pair in split_outside_quotes(element, ';')? {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        if !is_token(name) {
            return None;
        }
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        let value = unquote(value)?;
        match name.as_str() {
            "proto" => parsed.proto = Some(value),
            "host" => parsed.host = Some(value),
            _ => {}
        }
        seen.push(name);
    }
    Some(parsed)
}

/// Splits `text` on `separator` where it is not inside a quoted string; `None` when a
/// quoted string is not closed.
fn split_outside_quotes(text: &str, separator: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    if quoted || escaped {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// A value: a token as is, or a quoted string without its quotes and escapes.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return is_token(value).then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// RFC 9110 §5.6.2 `token`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        map
    }

    fn origin(pairs: &[(&str, &str)]) -> Option<(Option<String>, Option<String>)> {
        ForwardedOrigin::from_headers(&headers(pairs), TrustForwarded::On)
            .map(|o| (o.scheme, o.authority))
    }

    fn both(scheme: &str, authority: &str) -> Option<(Option<String>, Option<String>)> {
        Some((Some(scheme.to_owned()), Some(authority.to_owned())))
    }

    #[test]
    fn off_by_default_ignores_every_header() {
        let all = headers(&[
            ("forwarded", "proto=https;host=evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert_eq!(TrustForwarded::default(), TrustForwarded::Off);
        assert_eq!(
            ForwardedOrigin::from_headers(&all, TrustForwarded::Off),
            None
        );
        assert!(ForwardedOrigin::from_headers(&all, TrustForwarded::On).is_some());
    }

    #[test]
    fn absent_headers_give_nothing() {
        assert_eq!(origin(&[]), None);
        assert_eq!(origin(&[("forwarded", "for=192.0.2.1")]), None);
        assert_eq!(origin(&[("x-forwarded-for", "192.0.2.1")]), None);
        assert_eq!(origin(&[("x-forwarded-host", " , ")]), None);
    }

    #[test]
    fn x_forwarded_proto_and_host() {
        assert_eq!(
            origin(&[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "api.example.com")
            ]),
            both("https", "api.example.com")
        );
        assert_eq!(
            origin(&[("x-forwarded-proto", "HTTPS")]),
            Some((Some("https".into()), None))
        );
        assert_eq!(
            origin(&[("x-forwarded-host", "API.Example.com:8443")]),
            Some((None, Some("api.example.com:8443".into())))
        );
    }

    #[test]
    fn the_last_value_is_the_trusted_proxys() {
        // A client sent the first values; the proxy in front of us appended the last.
        assert_eq!(
            origin(&[
                ("x-forwarded-proto", "http, https"),
                ("x-forwarded-host", "evil.example, api.example.com"),
            ]),
            both("https", "api.example.com")
        );
        // The same over several lines.
        assert_eq!(
            origin(&[
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-host", "api.example.com"),
                ("x-forwarded-proto", "https"),
            ]),
            both("https", "api.example.com")
        );
        assert_eq!(
            origin(&[(
                "forwarded",
                "proto=http;host=evil.example, proto=https;host=api.example.com"
            )]),
            both("https", "api.example.com")
        );
        assert_eq!(
            origin(&[
                ("forwarded", "proto=http;host=evil.example"),
                (
                    "forwarded",
                    "for=192.0.2.43;proto=https;host=api.example.com"
                ),
            ]),
            both("https", "api.example.com")
        );
    }

    #[test]
    fn forwarded_quoting_case_and_ipv6() {
        assert_eq!(
            origin(&[(
                "forwarded",
                r#"For="[2001:db8:cafe::17]:4711";Proto=HTTPS;HOST="[::1]:8443""#
            )]),
            both("https", "[::1]:8443")
        );
        // Separators inside a quoted string do not split; escapes are undone.
        assert_eq!(
            origin(&[(
                "forwarded",
                r#"for="a,b;c";proto="ht\tps";host="api.example.com""#
            )]),
            both("https", "api.example.com")
        );
        assert_eq!(
            origin(&[("forwarded", " ; proto=https ; ; host=api.example.com ,, ")]),
            both("https", "api.example.com")
        );
    }

    #[test]
    fn forwarded_is_the_only_source_when_present() {
        assert_eq!(
            origin(&[
                ("forwarded", "proto=https"),
                ("x-forwarded-host", "evil.example"),
            ]),
            Some((Some("https".into()), None))
        );
        // Malformed: nothing at all, not the X-Forwarded-* headers.
        assert_eq!(
            origin(&[
                ("forwarded", "proto=https;host=\"api.example.com"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "api.example.com"),
            ]),
            None
        );
    }

    #[test]
    fn malformed_reports_are_ignored_whole() {
        for pairs in [
            &[("forwarded", "proto=ftp;host=api.example.com")][..],
            &[("forwarded", "proto=https;host=user@api.example.com")],
            &[("forwarded", "proto=https;host=\"user:pw@api.example.com\"")],
            &[("forwarded", "proto=https;proto=http")],
            &[("forwarded", "proto=https;host=[::1]:8443")], // unquoted `[` is not a token
            &[("forwarded", "proto=https;host")],
            &[("forwarded", "pro to=https")],
            &[("forwarded", "proto=\"https\\")],
            &[("forwarded", "host=\"a\"b\"")],
            &[("forwarded", "host=\"\"")],
            &[("forwarded", "host=\"api.example.com:99999\"")],
            &[("forwarded", "host=\"api.example.com/mcp\"")],
            &[("forwarded", "host=\"api.example.com:x\"")],
            &[("x-forwarded-proto", "javascript")],
            &[("x-forwarded-proto", "https"), ("x-forwarded-host", "a@b")],
            &[("x-forwarded-host", "api.example.com/evil")],
            &[("x-forwarded-host", "api.example.com?x")],
            &[("x-forwarded-host", "api.example.com#x")],
            &[("x-forwarded-host", "api.exam ple.com")],
            &[("x-forwarded-host", "api.example.com:")],
            &[("x-forwarded-host", ":8443")],
            &[("x-forwarded-host", "[::1")],
            &[("x-forwarded-host", "[::1]x")],
        ] {
            assert_eq!(origin(pairs), None, "{pairs:?}");
        }
        // Bytes that are not visible ASCII.
        let mut map = HeaderMap::new();
        map.insert(
            "x-forwarded-host",
            http::HeaderValue::from_bytes(b"api.\xe9xample.com").unwrap(),
        );
        assert_eq!(
            ForwardedOrigin::from_headers(&map, TrustForwarded::On),
            None
        );
    }
}
