//! Registered claims (RFC 7519 §4.1): the public [`RegisteredClaims`] type, and the
//! borrowed view the verifier reads them through before the caller's type is built.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::strict::{Member, MemberNames};

/// `aud`: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

// By hand rather than `untagged`: serde would buffer the value to try each variant in
// turn, on every request that reads `aud`.
impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Audience, E> {
                Ok(Audience::One(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(one) = seq.next_element::<String>()? {
                    many.push(one);
                }
                Ok(Audience::Many(many))
            }
        }
        d.deserialize_any(AudienceVisitor)
    }
}

impl Audience {
    /// Whether `aud` names `audience`.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The registered claims, plus `scope`/`scp`, for those who want no claims type of
/// their own: `Verifier<RegisteredClaims>`.
///
/// ```
/// let claims: jwt_tower::RegisteredClaims =
///     serde_json::from_str(r#"{"sub":"alice","aud":["api","web"],"exp":2000000000}"#).unwrap();
/// assert_eq!(claims.sub.as_deref(), Some("alice"));
/// assert!(claims.aud.unwrap().contains("web"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiration time, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub exp: Option<i64>,
    /// Not before, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub nbf: Option<i64>,
    /// Issued at, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub iat: Option<i64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// OAuth 2.0 scopes, space-separated (RFC 8693 §4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// An optional NumericDate read as the verifier reads it (RFC 7519 §2 allows
/// non-integers): an integer, or a finite number floored.
fn numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<NumericDate>::deserialize(d).map(|date| date.map(|d| d.0))
}

/// A NumericDate: seconds since the epoch, an integer or a finite non-integer (floored).
#[derive(Clone, Copy)]
pub(crate) struct NumericDate(pub(crate) i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since the epoch)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("NumericDate out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // ±2^53: past it a float no longer holds whole seconds exactly.
                const LIMIT: f64 = 9_007_199_254_740_992.0;
                if v.is_finite() && v.abs() < LIMIT {
                    Ok(NumericDate(v.floor() as i64))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or an array of strings (`aud`, `scp`, `roles`).
pub(crate) enum StrOrList<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for StrOrList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StrOrList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrOrList::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOrList::One(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(64));
                while let Some(item) = seq.next_element::<BorrowedStr<'a>>()? {
                    items.push(item.0);
                }
                Ok(StrOrList::Many(items))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl StrOrList<'_> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + Clone {
        let (one, many) = match self {
            Self::One(s) => (Some(&**s), &[][..]),
            Self::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many.iter().map(|s| &**s))
    }
}

/// A string that borrows from the input when it has no escapes.
pub(crate) struct BorrowedStr<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BorrowedStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// What the verifier reads of the claims, borrowed from the decoded payload.
#[derive(Default)]
pub(crate) struct ClaimsView<'a> {
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) aud: Option<StrOrList<'a>>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) jti: Option<Cow<'a, str>>,
    pub(crate) scope: Option<Cow<'a, str>>,
    pub(crate) scp: Option<StrOrList<'a>>,
    pub(crate) roles: Option<StrOrList<'a>>,
    /// `cnf`, boxed: nearly every token has none. A nested object, so the fast path
    /// (`scan`) never reads it: a token with `cnf` is read by serde.
    pub(crate) cnf: Option<Box<super::Confirmation>>,
    /// `act`, boxed and read by serde alone, as `cnf` is: few tokens are delegated.
    pub(crate) act: Option<Box<super::Actor>>,
    /// Bit `i` is set when `required[i]` was present (and not null).
    pub(crate) required_seen: u64,
    /// Set by the fast path (`scan`), which reads no string holding a control character:
    /// then the identity strings need no check of their own.
    pub(crate) no_controls: bool,
}

/// Reads a [`ClaimsView`], noting which of `required` are present and which claim holds
/// roles. Registered claims of the wrong type are errors; the whole object is read
/// strictly (see `strict`): no member twice, at any level, and no deep nesting.
#[derive(Clone, Copy)]
pub(crate) struct ViewSeed<'s> {
    pub(crate) required: &'s [Box<str>],
    /// The claim read as roles; `None` reads none (the issuer router, which reads
    /// before it knows whose roles claim applies).
    pub(crate) roles_claim: Option<&'s str>,
}

impl<'de> DeserializeSeed<'de> for ViewSeed<'_> {
    type Value = ClaimsView<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ClaimsView<'de>, D::Error> {
        d.deserialize_map(ViewVisitor(self))
    }
}

struct ViewVisitor<'s>(ViewSeed<'s>);

impl<'de> Visitor<'de> for ViewVisitor<'_> {
    type Value = ClaimsView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ClaimsView<'de>, M::Error> {
        let seed = self.0;
        let mut view = ClaimsView::default();
        let mut names = MemberNames::default();
        while let Some(BorrowedStr(key)) = map.next_key::<BorrowedStr<'de>>()? {
            names.insert(key.clone())?;
            let present = match &*key {
                "iss" => opt(
                    &mut view.iss,
                    map.next_value::<Option<BorrowedStr<'de>>>()?.map(|s| s.0),
                )?,
                "sub" => opt(
                    &mut view.sub,
                    map.next_value::<Option<BorrowedStr<'de>>>()?.map(|s| s.0),
                )?,
                "jti" => opt(
                    &mut view.jti,
                    map.next_value::<Option<BorrowedStr<'de>>>()?.map(|s| s.0),
                )?,
                "scope" => opt(
                    &mut view.scope,
                    map.next_value::<Option<BorrowedStr<'de>>>()?.map(|s| s.0),
                )?,
                "aud" => opt(&mut view.aud, map.next_value::<Option<StrOrList<'de>>>()?)?,
                "scp" => opt(&mut view.scp, map.next_value::<Option<StrOrList<'de>>>()?)?,
                "exp" => opt(
                    &mut view.exp,
                    map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                )?,
                "nbf" => opt(
                    &mut view.nbf,
                    map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                )?,
                "iat" => opt(
                    &mut view.iat,
                    map.next_value::<Option<NumericDate>>()?.map(|d| d.0),
                )?,
                "cnf" => {
                    view.cnf = map
                        .next_value_seed(super::confirmation::CnfSeed { depth: 1 })?
                        .map(Box::new);
                    view.cnf.is_some()
                }
                "act" => {
                    view.act = map
                        .next_value_seed(super::actor::ActSeed {
                            depth: 1,
                            actors: 0,
                        })?
                        .map(Box::new);
                    view.act.is_some()
                }
                name if Some(name) == seed.roles_claim => {
                    opt(&mut view.roles, map.next_value::<Option<StrOrList<'de>>>()?)?
                }
                _ => map.next_value_seed(Member)?,
            };
            if present && let Some(i) = seed.required.iter().position(|r| **r == *key) {
                view.required_seen |= 1 << i;
            }
        }
        Ok(view)
    }
}

/// Stores a present value (the object names each claim once); returns whether it was
/// present (not null).
fn opt<T, E: de::Error>(slot: &mut Option<T>, value: Option<T>) -> Result<bool, E> {
    let present = value.is_some();
    if present {
        *slot = value;
    }
    Ok(present)
}
