//! The `htu` of a proof against the request's URI (RFC 9449 §4.3 check 9): both without
//! query and fragment, compared after RFC 3986 §6.2.2 normalisation (scheme and host
//! case, the scheme's default port, an empty path as `/`, dot segments, the case of
//! percent-encoding hex digits, percent-encoded unreserved characters decoded).
//!
//! The expected URI is built from the configured public base URL and the request's path,
//! never from the `Host` header: a client chooses that header, and a proof for another
//! host must not pass. Forwarding headers are read only when trusted
//! ([`TrustForwarded::On`]), the proxy in front of the server being the one that sets them.

use http::HeaderMap;
use url::Url;

use crate::resource::{ForwardedOrigin, TrustForwarded};

/// `uri` normalised for comparison: scheme, authority and path, without query and
/// fragment; `None` if it is not an absolute `http(s)` URI.
pub(crate) fn normalise(uri: &str) -> Option<String> {
    // The WHATWG parser lowercases scheme and host, drops the default port, turns an
    // empty path into `/` and removes dot segments.
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    let mut out = String::with_capacity(uri.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    push_path(&mut out, url.path());
    Some(out)
}

/// RFC 3986 §2.3: characters that never need percent-encoding.
fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Appends `path` with every percent-escape in upper case, and the escapes of unreserved
/// characters decoded (RFC 3986 §6.2.2.1, §6.2.2.2).
fn push_path(out: &mut String, path: &str) {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(hi), hex(lo))
        {
            let decoded = h << 4 | l;
            if unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(hi.to_ascii_uppercase()));
                out.push(char::from(lo.to_ascii_uppercase()));
            }
            i += 3;
            continue;
        }
        // `Url::path` is ASCII: the parser percent-encodes everything else.
        out.push(char::from(bytes[i]));
        i += 1;
    }
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Whether a proof's `htu` names `expected` (already normalised).
pub(crate) fn matches(htu: &str, expected: &str) -> bool {
    normalise(htu).is_some_and(|htu| htu == expected)
}

/// Where requests reach this server from the outside: the public base URL, and whether
/// a trusted proxy's forwarding headers may replace its scheme and authority.
#[derive(Debug, Clone)]
pub(crate) struct PublicOrigin {
    /// Scheme and authority, e.g. `https://api.example.com` (normalised).
    origin: String,
    /// A path prefix the proxy strips before the request reaches this server (no
    /// trailing `/`; empty for none).
    prefix: String,
    trust: TrustForwarded,
}

impl PublicOrigin {
    /// From a base URL such as `https://api.example.com` or `https://example.com/api`.
    pub(crate) fn new(base: &str, trust: TrustForwarded) -> Option<Self> {
        let normalised = normalise(base)?;
        let url = Url::parse(&normalised).ok()?;
        let path_start = normalised.len() - url.path().len();
        let (origin, path) = normalised.split_at(path_start);
        Some(Self {
            origin: origin.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
            trust,
        })
    }

    /// The normalised URI a proof for a request to `path` must name.
    pub(crate) fn expected(&self, path: &str, headers: &HeaderMap) -> Option<String> {
        let forwarded = ForwardedOrigin::from_headers(headers, self.trust);
        let origin = match &forwarded {
            Some(f) => {
                let (base_scheme, base_authority) =
                    self.origin.split_once("://").unwrap_or(("https", ""));
                format!(
                    "{}://{}",
                    f.scheme().unwrap_or(base_scheme),
                    f.authority().unwrap_or(base_authority)
                )
            }
            None => self.origin.clone(),
        };
        normalise(&format!("{origin}{}{path}", self.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_equivalent_forms_match() {
        let expected = normalise("https://api.example.com/a/b%2Fc").unwrap();
        assert_eq!(expected, "https://api.example.com/a/b%2Fc");
        for same in [
            "https://api.example.com/a/b%2Fc",
            "HTTPS://API.Example.COM/a/b%2fc",
            "https://api.example.com:443/a/b%2Fc",
            "https://api.example.com/a/./x/../b%2Fc",
            "https://api.example.com/%61/b%2Fc",
            "https://api.example.com/a/b%2Fc?q=1#frag",
        ] {
            assert!(matches(same, &expected), "{same}");
        }
        assert_eq!(normalise("http://h:80").unwrap(), "http://h/");
        assert_eq!(normalise("http://h:8080").unwrap(), "http://h:8080/");
    }

    #[test]
    fn different_uris_do_not_match() {
        let expected = normalise("https://api.example.com/a").unwrap();
        for other in [
            "http://api.example.com/a",
            "https://api.example.com:8443/a",
            "https://evil.example.com/a",
            "https://api.example.com/A",
            "https://api.example.com/a/",
            "https://user@api.example.com/a",
            "/a",
            "not a uri",
            "ftp://api.example.com/a",
        ] {
            assert!(!matches(other, &expected), "{other}");
        }
    }

    #[test]
    fn the_expected_uri_ignores_the_host_header_unless_forwarding_is_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "evil.example.com".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "edge.example.com".parse().unwrap());
        let off = PublicOrigin::new("http://127.0.0.1:8080", TrustForwarded::Off).unwrap();
        assert_eq!(
            off.expected("/me", &headers).unwrap(),
            "http://127.0.0.1:8080/me"
        );
        let on = PublicOrigin::new("http://127.0.0.1:8080", TrustForwarded::On).unwrap();
        assert_eq!(
            on.expected("/me", &headers).unwrap(),
            "https://edge.example.com/me"
        );
        let prefixed = PublicOrigin::new("https://example.com/api/", TrustForwarded::Off).unwrap();
        assert_eq!(
            prefixed.expected("/me", &headers).unwrap(),
            "https://example.com/api/me"
        );
    }
}
