//! The JOSE header: what we read of it, and what a verified token keeps.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::claims::BorrowedStr;
use crate::Algorithm;

/// The header as read from the token, borrowed. `jku`, `x5u`, `jwk` and `x5c` are
/// deliberately not fields: a key is never found through the token itself.
#[derive(Deserialize)]
pub(crate) struct RawHeader<'a> {
    #[serde(borrow)]
    pub(crate) alg: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) kid: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) typ: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) cty: Option<BorrowedStr<'a>>,
    /// `"crit": null` is not "absent": RFC 7515 §4.1.11 requires an array, so `null` is a
    /// malformed header (hence no plain `Option`, which would read it as absent).
    #[serde(borrow, default, deserialize_with = "present_list")]
    pub(crate) crit: Option<Vec<BorrowedStr<'a>>>,
    /// Any `enc`, `null` included, marks a JWE.
    #[serde(default, deserialize_with = "present_any")]
    pub(crate) enc: Option<IgnoredAny>,
}

fn present_list<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<BorrowedStr<'a>>>, D::Error> {
    Vec::deserialize(d).map(Some)
}

fn present_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<IgnoredAny>, D::Error> {
    IgnoredAny::deserialize(d).map(Some)
}

/// What the verifier keeps of a header that passed its checks: the checks' outcome,
/// and the base64 text it came from, to recognise the same header in the next token.
pub(crate) struct CheckedHeader {
    pub(crate) b64: Box<str>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<Box<str>>,
    pub(crate) typ: Option<Box<str>>,
    pub(crate) cty: Option<Box<str>>,
}

/// The header of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// The algorithm the token was verified with.
    pub alg: Algorithm,
    /// The key id, if the token named one.
    pub kid: Option<String>,
    /// The media type (`typ`), if present.
    pub typ: Option<String>,
    /// The content type (`cty`), if present.
    pub cty: Option<String>,
}

/// Whether a header `typ` is the required one: case-insensitive, with an optional
/// `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §4).
pub(crate) fn typ_matches(actual: &str, required: &str) -> bool {
    fn bare(s: &str) -> &str {
        match s.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &s[12..],
            _ => s,
        }
    }
    bare(actual).eq_ignore_ascii_case(bare(required))
}

#[cfg(test)]
mod tests {
    use super::typ_matches;

    #[test]
    fn typ_comparison_follows_rfc_9068() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/at+JWT", "at+jwt"));
        assert!(typ_matches("AT+JWT", "application/at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("application/", "at+jwt"));
    }
}
