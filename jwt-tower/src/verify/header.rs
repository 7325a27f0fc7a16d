//! The JOSE header: what we read of it, and what a verified token keeps.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::claims::BorrowedStr;
use super::strict::{Member, MemberNames};
use crate::Algorithm;

/// The header as read from the token, borrowed. `jku`, `x5u`, `jwk` and `x5c` are
/// deliberately not fields: a key is never found through the token itself. Read strictly
/// (see `strict`) by [`HeaderSeed`]: an object, each member once, bounded nesting.
#[derive(Default)]
pub(crate) struct RawHeader<'a> {
    pub(crate) alg: Option<BorrowedStr<'a>>,
    pub(crate) kid: Option<BorrowedStr<'a>>,
    pub(crate) typ: Option<BorrowedStr<'a>>,
    pub(crate) cty: Option<BorrowedStr<'a>>,
    /// `"crit": null` is not "absent": RFC 7515 §4.1.11 requires an array, so `null` is a
    /// malformed header (hence read as a list even when `null`).
    pub(crate) crit: Option<Vec<BorrowedStr<'a>>>,
    /// Any `enc`, `null` included, marks a JWE.
    pub(crate) enc: bool,
}

/// Reads a [`RawHeader`].
pub(crate) struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = RawHeader<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawHeader<'de>, D::Error> {
        d.deserialize_map(HeaderSeed)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawHeader<'de>, M::Error> {
        let mut header = RawHeader::default();
        let mut names = MemberNames::default();
        while let Some(BorrowedStr(name)) = map.next_key::<BorrowedStr<'de>>()? {
            names.insert(name.clone())?;
            match &*name {
                "alg" => header.alg = map.next_value()?,
                "kid" => header.kid = map.next_value()?,
                "typ" => header.typ = map.next_value()?,
                "cty" => header.cty = map.next_value()?,
                "crit" => header.crit = Some(map.next_value()?),
                "enc" => {
                    map.next_value_seed(Member)?;
                    header.enc = true;
                }
                _ => {
                    map.next_value_seed(Member)?;
                }
            }
        }
        Ok(header)
    }
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

/// Whether a header `cty` announces a nested JWT (RFC 7519 §5.2): `JWT`, compared as
/// `typ` is.
pub(crate) fn is_nested_jwt(cty: &str) -> bool {
    typ_matches(cty, "JWT")
}

#[cfg(test)]
mod tests {
    use super::{is_nested_jwt, typ_matches};

    #[test]
    fn nested_jwt_cty_in_any_spelling() {
        for cty in ["JWT", "jwt", "Jwt", "application/JWT", "APPLICATION/jwt"] {
            assert!(is_nested_jwt(cty), "{cty}");
        }
        for cty in [
            "",
            "json",
            "application/json",
            "JWT+x",
            "at+jwt",
            "application/",
        ] {
            assert!(!is_nested_jwt(cty), "{cty}");
        }
    }

    #[test]
    fn typ_comparison_follows_rfc_9068() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/at+JWT", "at+jwt"));
        assert!(typ_matches("AT+JWT", "application/at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("application/", "at+jwt"));
    }
}
